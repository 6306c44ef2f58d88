package store

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// TestAbortedBatchRetriedThenGivesUp: a batch that cannot commit for
// another request's sake answers ErrConflict, and Update and UpdateUnder run
// fn again, maxRetries+1 times in all, then give up with ErrConflict and
// write nothing; an abort that stops after three attempts is retried to
// success.
func TestAbortedBatchRetriedThenGivesUp(t *testing.T) {
	db := open(t, t.TempDir())
	defer db.Close()
	var mu sync.Mutex
	for name, update := range map[string]func(func(*Txn) error) error{
		"Update":      db.Update,
		"UpdateUnder": func(fn func(*Txn) error) error { return db.UpdateUnder(&mu, fn) },
	} {
		t.Run(name, func(t *testing.T) {
			key := "abort/" + name
			attempts, aborts := 0, 0
			fn := func(tx *Txn) error { attempts++; return tx.Set(key, []byte("mine")) }
			abortFor := func(n int) { aborts = n; attempts = 0 }
			db.beforeCommit = func() error {
				if aborts > 0 {
					aborts--
					return badger.ErrConflict
				}
				return nil
			}
			defer func() { db.beforeCommit = nil }()

			abortFor(1 << 30)
			if err := update(fn); !errors.Is(err, ErrConflict) || attempts != maxRetries+1 {
				t.Fatalf("always aborted: %v after %d attempts, want ErrConflict after %d", err, attempts, maxRetries+1)
			}
			if has(t, db, key) {
				t.Fatal("an aborted batch wrote its key")
			}
			abortFor(3)
			if err := update(fn); err != nil || attempts != 4 {
				t.Fatalf("aborted three times: %v after %d attempts, want success on the 4th", err, attempts)
			}
			if got := get(t, db, key); got != "mine" {
				t.Fatalf("after the retried commit the key holds %q", got)
			}
		})
	}
}

// TestGroupCommitIsolatesFailures: concurrent updates share commits, and one
// that fails leaves none of its writes behind while the others in its batch
// commit; each sees the writes of those ordered before it, its own pending
// writes in Get and Iterate, and its own deletes hide stored keys.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	db := open(t, t.TempDir())
	defer db.Close()
	if err := db.Update(func(tx *Txn) error { return tx.Set("seen/stored", []byte("x")) }); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	const writers = 64
	var wg sync.WaitGroup
	before := db.Stats()
	for i := range writers {
		wg.Go(func() {
			err := db.Update(func(tx *Txn) error {
				k := "w/" + strconv.Itoa(i)
				if err := tx.Set(k, []byte(k)); err != nil {
					return err
				}
				if err := tx.Delete("seen/stored"); err != nil {
					return err
				}
				if ok, err := tx.Has(k); err != nil || !ok {
					return fmt.Errorf("own write not visible: %v", err)
				}
				var under []string
				if err := tx.Iterate("", "", true, func(k string, _ []byte) error { under = append(under, k); return nil }); err != nil {
					return err
				}
				if !slices.Contains(under, k) || slices.Contains(under, "seen/stored") {
					return fmt.Errorf("iterate saw %v", under)
				}
				if i%3 == 0 {
					return boom
				}
				return nil
			})
			if want := error(nil); i%3 == 0 {
				if !errors.Is(err, boom) {
					t.Errorf("writer %d: %v, want boom", i, err)
				}
			} else if err != want {
				t.Errorf("writer %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	for i := range writers {
		if got := has(t, db, "w/"+strconv.Itoa(i)); got != (i%3 != 0) {
			t.Errorf("w/%d present = %v", i, got)
		}
	}
	if has(t, db, "seen/stored") {
		t.Error("the committed deletes did not delete")
	}
	st := db.Stats()
	if st.Updates-before.Updates != writers-(writers+2)/3 {
		t.Errorf("%d updates counted, want %d", st.Updates-before.Updates, writers-(writers+2)/3)
	}
	t.Logf("%d updates in %d commits", st.Updates-before.Updates, st.Commits-before.Commits)
}

// TestPanicInUpdateReachesCaller: a panic in fn is raised again in the
// caller's goroutine, and the committer goes on serving.
func TestPanicInUpdateReachesCaller(t *testing.T) {
	db := open(t, t.TempDir())
	defer db.Close()
	func() {
		defer func() {
			if p := recover(); p != "kaboom" {
				t.Fatalf("recovered %v, want kaboom", p)
			}
		}()
		_ = db.Update(func(tx *Txn) error {
			_ = tx.Set("half", []byte("x"))
			panic("kaboom")
		})
	}()
	if has(t, db, "half") {
		t.Fatal("a panicking update wrote")
	}
	if err := db.Update(func(tx *Txn) error { return tx.Set("after", []byte("y")) }); err != nil {
		t.Fatal(err)
	}
}

// TestUpdateUnderOrdering: transactions serialised on one lock never
// conflict with each other, because each starts only after the earlier
// ones' commits are applied and so reads their writes. Every fn runs
// exactly once and the shared list holds every writer once.
func TestUpdateUnderOrdering(t *testing.T) {
	db := open(t, t.TempDir())
	defer db.Close()
	const writers = 32
	var (
		mu    sync.Mutex
		calls [writers]int
		wg    sync.WaitGroup
	)
	for i := range writers {
		wg.Go(func() {
			err := db.UpdateUnder(&mu, func(tx *Txn) error {
				calls[i]++
				var list []int
				if err := tx.GetJSON("list", &list); err != nil && !errors.Is(err, ErrNotFound) {
					return err
				}
				return tx.SetJSON("list", append(list, i))
			})
			if err != nil {
				t.Errorf("writer %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	for i, n := range calls {
		if n != 1 {
			t.Errorf("writer %d ran %d times: it conflicted with an earlier writer on the same lock", i, n)
		}
	}
	var list []int
	if err := db.View(func(tx *Txn) error { return tx.GetJSON("list", &list) }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(list)
	want := make([]int, writers)
	for i := range want {
		want[i] = i
	}
	if !slices.Equal(list, want) {
		t.Fatalf("list %v, want 0..%d once each", list, writers-1)
	}
}

// TestIterate covers the prefix bounds, the start key, keys-only walks,
// ErrStop, an error from fn, and the transaction's own pending writes.
func TestIterate(t *testing.T) {
	db := open(t, t.TempDir())
	defer db.Close()
	err := db.Update(func(tx *Txn) error {
		for _, k := range []string{"a", "a/1", "a/2", "a/3", "a/30", "ab/1", "b/1"} {
			if err := tx.Set(k, []byte("v"+k)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	walk := func(tx *Txn, prefix, start string, keysOnly bool, stopAt string) ([]string, error) {
		var out []string
		err := tx.Iterate(prefix, start, keysOnly, func(k string, v []byte) error {
			if keysOnly && v != nil || !keysOnly && string(v) != "v"+k {
				return fmt.Errorf("key %s with value %q", k, v)
			}
			out = append(out, k)
			if k == stopAt {
				return ErrStop
			}
			return nil
		})
		return out, err
	}
	for _, c := range []struct {
		prefix, start, stopAt string
		keysOnly              bool
		want                  []string
	}{
		{"a/", "", "", false, []string{"a/1", "a/2", "a/3", "a/30"}},
		{"a/", "", "", true, []string{"a/1", "a/2", "a/3", "a/30"}},
		{"a/", "a/3", "", false, []string{"a/3", "a/30"}},
		{"a/", "a/25", "", true, []string{"a/3", "a/30"}},
		{"a/", "", "a/2", false, []string{"a/1", "a/2"}},
		{"a", "", "", true, []string{"a", "a/1", "a/2", "a/3", "a/30", "ab/1"}},
		{"c/", "", "", true, nil},
	} {
		err := db.View(func(tx *Txn) error {
			got, err := walk(tx, c.prefix, c.start, c.keysOnly, c.stopAt)
			if err != nil || !slices.Equal(got, c.want) {
				t.Errorf("Iterate(%q, %q, keysOnly %v, stop at %q) = %v %v, want %v", c.prefix, c.start, c.keysOnly, c.stopAt, got, err, c.want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	boom := errors.New("boom")
	err = db.View(func(tx *Txn) error {
		return tx.Iterate("a/", "", true, func(string, []byte) error { return boom })
	})
	if !errors.Is(err, boom) {
		t.Fatalf("an error from fn: %v", err)
	}

	// Inside a write transaction the walk sees its own pending writes.
	err = db.Update(func(tx *Txn) error {
		if err := tx.Delete("a/2"); err != nil {
			return err
		}
		if err := tx.Set("a/4", []byte("va/4")); err != nil {
			return err
		}
		got, err := walk(tx, "a/", "", false, "")
		if want := []string{"a/1", "a/3", "a/30", "a/4"}; err != nil || !slices.Equal(got, want) {
			t.Errorf("walk with pending writes = %v %v, want %v", got, err, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestBackupLoad: a backup taken while the store holds live, overwritten
// and deleted keys loads into an empty store as exactly the live keys.
func TestBackupLoad(t *testing.T) {
	src := open(t, t.TempDir())
	defer src.Close()
	want := map[string]string{}
	err := src.Update(func(tx *Txn) error {
		for i := range 200 {
			k, v := fmt.Sprintf("k/%03d", i), fmt.Sprintf("value %d", i)
			want[k] = v
			if err := tx.Set(k, []byte(v)); err != nil {
				return err
			}
		}
		return tx.Set("gone", []byte("deleted before the backup"))
	})
	if err != nil {
		t.Fatal(err)
	}
	err = src.Update(func(tx *Txn) error {
		want["k/007"] = "overwritten"
		if err := tx.Set("k/007", []byte("overwritten")); err != nil {
			return err
		}
		return tx.Delete("gone")
	})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := src.Backup(&buf); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(buf.Bytes(), []byte("deleted before the backup")) {
		t.Error("the backup holds a deleted value")
	}

	dst := open(t, t.TempDir())
	defer dst.Close()
	if empty, err := dst.Empty(); !empty || err != nil {
		t.Fatalf("new store: empty %v %v", empty, err)
	}
	if err := dst.Load(&buf); err != nil {
		t.Fatal(err)
	}
	if empty, err := dst.Empty(); empty || err != nil {
		t.Fatalf("loaded store: empty %v %v", empty, err)
	}
	got := map[string]string{}
	err = dst.View(func(tx *Txn) error {
		return tx.Iterate("", "", false, func(k string, v []byte) error { got[k] = string(v); return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("loaded %d keys, want %d", len(got), len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if err := dst.Load(bytes.NewReader([]byte("not a backup"))); err == nil {
		t.Error("Load accepted garbage")
	}
}

// TestCompactKeepsData: Compact drops nothing live and writes go on after.
func TestCompactKeepsData(t *testing.T) {
	db := open(t, t.TempDir())
	defer db.Close()
	err := db.Update(func(tx *Txn) error {
		if err := tx.Set("keep", []byte("1")); err != nil {
			return err
		}
		return tx.Set("drop", []byte("2"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *Txn) error { return tx.Delete("drop") }); err != nil {
		t.Fatal(err)
	}
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *Txn) error { return tx.Set("after", []byte("3")) }); err != nil {
		t.Fatal(err)
	}
	var keys []string
	err = db.View(func(tx *Txn) error {
		return tx.Iterate("", "", true, func(k string, _ []byte) error { keys = append(keys, k); return nil })
	})
	if err != nil || !slices.Equal(keys, []string{"after", "keep"}) {
		t.Fatalf("keys after Compact %v %v", keys, err)
	}
}

func get(t *testing.T, db *DB, k string) string {
	t.Helper()
	var v []byte
	if err := db.View(func(tx *Txn) error { var err error; v, err = tx.Get(k); return err }); err != nil {
		t.Fatalf("get %s: %v", k, err)
	}
	return string(v)
}

func has(t *testing.T, db *DB, k string) bool {
	t.Helper()
	var ok bool
	if err := db.View(func(tx *Txn) error {
		var err error
		ok, err = tx.Has(k)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return ok
}
