package store

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
)

// TestConflictRetriedThenGivesUp makes every attempt conflict (another
// transaction writes the key fn read before fn commits): Update and
// UpdateUnder run fn again, maxRetries+1 times in all, then give up with
// ErrConflict and write nothing; a conflict that stops after three
// attempts is retried to success.
func TestConflictRetriedThenGivesUp(t *testing.T) {
	db := open(t, t.TempDir())
	defer db.Close()
	var mu sync.Mutex
	for name, update := range map[string]func(func(*Txn) error) error{
		"Update":      db.Update,
		"UpdateUnder": func(fn func(*Txn) error) error { return db.UpdateUnder(&mu, fn) },
	} {
		t.Run(name, func(t *testing.T) {
			key := "conflict/" + name
			attempts := 0
			// conflictFor returns an fn that reads key, lets a concurrent
			// writer change it while it is open for its first n attempts,
			// then writes its own value.
			conflictFor := func(n int) func(*Txn) error {
				return func(tx *Txn) error {
					attempts++
					if _, err := tx.Get(key); err != nil && !errors.Is(err, ErrNotFound) {
						return err
					}
					if attempts <= n {
						if err := db.Update(func(o *Txn) error { return o.Set(key, []byte("other "+strconv.Itoa(attempts))) }); err != nil {
							return err
						}
					}
					return tx.Set(key, []byte("mine"))
				}
			}

			err := update(conflictFor(1 << 30))
			if !errors.Is(err, ErrConflict) || attempts != maxRetries+1 {
				t.Fatalf("always conflicting: %v after %d attempts, want ErrConflict after %d", err, attempts, maxRetries+1)
			}
			if got := get(t, db, key); got != "other "+strconv.Itoa(maxRetries+1) {
				t.Fatalf("after giving up the key holds %q", got)
			}

			attempts = 0
			if err := update(conflictFor(3)); err != nil || attempts != 4 {
				t.Fatalf("conflicting three times: %v after %d attempts, want success on the 4th", err, attempts)
			}
			if got := get(t, db, key); got != "mine" {
				t.Fatalf("after the retried commit the key holds %q", got)
			}
		})
	}
}

// TestIterationReadsConflict: keys read by Iterate join the read set, so a
// concurrent write to one of them makes the transaction run again.
func TestIterationReadsConflict(t *testing.T) {
	db := open(t, t.TempDir())
	defer db.Close()
	if err := db.Update(func(tx *Txn) error { return tx.Set("list/a", nil) }); err != nil {
		t.Fatal(err)
	}
	attempts := 0
	err := db.Update(func(tx *Txn) error {
		attempts++
		n := 0
		if err := tx.Iterate("list/", "", true, func(string, []byte) error { n++; return nil }); err != nil {
			return err
		}
		if attempts == 1 {
			if err := db.Update(func(o *Txn) error { return o.Delete("list/a") }); err != nil {
				return err
			}
		}
		return tx.Set("count", []byte(strconv.Itoa(n)))
	})
	if err != nil || attempts != 2 {
		t.Fatalf("%v after %d attempts, want a retry", err, attempts)
	}
	if got := get(t, db, "count"); got != "0" {
		t.Fatalf("count %q: the retry did not see the concurrent delete", got)
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
