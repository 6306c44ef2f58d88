package store

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// holdCommit makes the committer stop at a hook (set by install) until the
// test releases it; held is closed once a batch sits in the hook.
type holdCommit struct {
	held, release chan struct{}
}

func newHold() *holdCommit {
	return &holdCommit{held: make(chan struct{}), release: make(chan struct{})}
}

func (h *holdCommit) wait() {
	close(h.held)
	<-h.release
}

// TestViewDoesNotWaitForCommit: a View started while a batch is held in its
// commit returns at once with the snapshot before the batch, both while the
// batch has not reached Badger (beforeCommit) and while it sits durable in
// Badger but is not yet published and acknowledged (afterCommit: in Badger's
// own mode such a View waited for the batch's sync and then saw it). The
// proof is the order of events, not a clock: the View returns while the
// committer is still blocked in the hook.
func TestViewDoesNotWaitForCommit(t *testing.T) {
	for _, stage := range []string{"beforeCommit", "afterCommit"} {
		t.Run(stage, func(t *testing.T) {
			db := open(t, t.TempDir())
			defer db.Close()
			if err := db.Update(func(tx *Txn) error { return tx.Set("k", []byte("old")) }); err != nil {
				t.Fatal(err)
			}
			h := newHold()
			if stage == "beforeCommit" {
				db.beforeCommit = func() error { h.wait(); return nil }
			} else {
				db.afterCommit = func(err error) error { h.wait(); return err }
			}
			updated := make(chan error, 1)
			go func() {
				updated <- db.Update(func(tx *Txn) error {
					if err := tx.Set("k", []byte("new")); err != nil {
						return err
					}
					return tx.Set("added", []byte("x"))
				})
			}()
			<-h.held // the batch is in its commit; the committer is blocked

			viewed := make(chan error, 1)
			var v string
			var added bool
			go func() {
				viewed <- db.View(func(tx *Txn) error {
					b, err := tx.Get("k")
					v = string(b)
					if err != nil {
						return err
					}
					added, err = tx.Has("added")
					return err
				})
			}()
			if err := within(t, "View during a held commit", func() error { return <-viewed }); err != nil {
				t.Fatal(err)
			}
			if v != "old" || added {
				t.Errorf("View during the commit saw k=%q added=%v, want the previous snapshot", v, added)
			}
			select {
			case err := <-updated:
				t.Fatalf("Update returned (%v) while its commit was held", err)
			default:
			}

			close(h.release)
			if err := within(t, "the held Update", func() error { return <-updated }); err != nil {
				t.Fatal(err)
			}
			if got := get(t, db, "k"); got != "new" || !has(t, db, "added") {
				t.Errorf("after the acknowledgement k=%q added=%v", got, has(t, db, "added"))
			}
		})
	}
}

// TestOpenStoreWrittenInBadgersOwnMode: a store written before managed mode
// (Badger's own timestamps, overwrites, a delete, a value in the value log)
// opens with every value, and new writes supersede the old ones, also after
// a reopen.
func TestOpenStoreWrittenInBadgersOwnMode(t *testing.T) {
	dir := t.TempDir()
	if err := privateDir(dir); err != nil {
		t.Fatal(err)
	}
	opt := sized(badger.DefaultOptions(dir))
	opt.SyncWrites = true
	opt.NumVersionsToKeep = 1
	opt.Compression = options.None
	opt.Logger = nil
	old, err := badger.Open(opt)
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("v"), 100<<10) // above ValueThreshold: in the value log
	for i, set := range []map[string][]byte{
		{"a": []byte("1"), "b": []byte("doomed"), "c": []byte("1")},
		{"a": []byte("2"), "big": big},
		{"a": []byte("3"), "b": nil},
	} {
		err := old.Update(func(tx *badger.Txn) error {
			for k, v := range set {
				var err error
				if v == nil {
					err = tx.Delete(vkey(k))
				} else {
					err = tx.Set(vkey(k), v)
				}
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("old-mode write %d: %v", i, err)
		}
	}
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	db := open(t, dir)
	check := func(when string, a, c string) {
		t.Helper()
		if got := get(t, db, "a"); got != a {
			t.Errorf("%s: a=%q, want %q", when, got, a)
		}
		if got := get(t, db, "c"); got != c {
			t.Errorf("%s: c=%q, want %q", when, got, c)
		}
		if has(t, db, "b") {
			t.Errorf("%s: the deleted b is back", when)
		}
		if got := get(t, db, "big"); got != string(big) {
			t.Errorf("%s: big has %d bytes, want %d", when, len(got), len(big))
		}
	}
	check("opened in managed mode", "3", "1")
	if err := db.Update(func(tx *Txn) error { return tx.Set("a", []byte("4")) }); err != nil {
		t.Fatal(err)
	}
	check("after a managed write", "4", "1")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open(t, dir)
	defer db.Close()
	check("reopened", "4", "1")
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	check("compacted", "4", "1")
}

// versions counts the versions of k Badger still holds, superseded ones
// included.
func versions(t *testing.T, db *DB, k string) int {
	t.Helper()
	bt := db.bdb.NewTransactionAt(math.MaxUint64, false)
	defer bt.Discard()
	opt := badger.DefaultIteratorOptions
	opt.AllVersions = true
	opt.PrefetchValues = false
	it := bt.NewKeyIterator(vkey(k), opt)
	defer it.Close()
	n := 0
	for it.Rewind(); it.Valid(); it.Next() {
		n++
	}
	return n
}

// TestLongViewKeepsItsSnapshotThroughCompaction: a View that runs while
// later writes and a forced compaction happen keeps reading its snapshot
// (compaction may not drop a version a running reader can see); once it
// ends, the next compaction drops the superseded versions (the discard
// timestamp moves on).
func TestLongViewKeepsItsSnapshotThroughCompaction(t *testing.T) {
	db := open(t, t.TempDir())
	defer db.Close()
	err := db.Update(func(tx *Txn) error {
		for _, k := range []string{"k", "gone", "list/1", "list/2"} {
			if err := tx.Set(k, []byte(k+" v0")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	snapshot := func(tx *Txn) string {
		var s []string
		err := tx.Iterate("", "", false, func(k string, v []byte) error {
			s = append(s, k+"="+string(v))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(s)
	}
	err = db.View(func(tx *Txn) error {
		before := snapshot(tx)
		for i := 1; i <= 20; i++ {
			err := db.Update(func(tx *Txn) error {
				if err := tx.Set("k", fmt.Appendf(nil, "k v%d", i)); err != nil {
					return err
				}
				if err := tx.Set(fmt.Sprintf("list/%d", i+2), []byte("later")); err != nil {
					return err
				}
				return tx.Delete("gone")
			})
			if err != nil {
				return err
			}
		}
		if err := db.Compact(); err != nil {
			return err
		}
		if after := snapshot(tx); after != before {
			t.Errorf("the View's snapshot changed under writes and a compaction:\nbefore %s\nafter  %s", before, after)
		}
		if n := versions(t, db, "k"); n < 2 {
			t.Errorf("k has %d versions while a View needs the first", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := get(t, db, "k"); got != "k v20" || has(t, db, "gone") {
		t.Errorf("after the View: k=%q, gone present %v", got, has(t, db, "gone"))
	}
	// The View's compaction moved the kept versions to the bottom level;
	// a compaction rewrites them only with newer writes over that range.
	err = db.Update(func(tx *Txn) error {
		if err := tx.Set("k", []byte("k v21")); err != nil {
			return err
		}
		return tx.Delete("gone")
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Compact(); err != nil {
		t.Fatal(err)
	}
	if n := versions(t, db, "k"); n != 1 {
		t.Errorf("k has %d versions after a compaction with no reader, want 1", n)
	}
	if n := versions(t, db, "gone"); n != 0 {
		t.Errorf("the deleted key has %d versions after a compaction with no reader, want 0", n)
	}
}

// TestBackupLoadThenWrite: a store loaded from a backup serves the backup's
// newest values, and a write after Load supersedes them (the clock moved
// past the backup's versions).
func TestBackupLoadThenWrite(t *testing.T) {
	src := open(t, t.TempDir())
	defer src.Close()
	for i := range 50 {
		if err := src.Update(func(tx *Txn) error { return tx.Set("k", fmt.Appendf(nil, "v%d", i)) }); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := src.Backup(&buf); err != nil {
		t.Fatal(err)
	}
	dst := open(t, t.TempDir())
	defer dst.Close()
	if err := dst.Load(&buf); err != nil {
		t.Fatal(err)
	}
	if got := get(t, dst, "k"); got != "v49" {
		t.Fatalf("loaded k=%q", got)
	}
	if err := dst.Update(func(tx *Txn) error { return tx.Set("k", []byte("after load")) }); err != nil {
		t.Fatal(err)
	}
	if got := get(t, dst, "k"); got != "after load" {
		t.Errorf("a write after Load is hidden: k=%q", got)
	}
}

// TestFailedCommitNeverShows: a batch whose commit reached Badger but failed
// (a failed sync after the write) is never seen, not even after later
// commits publish newer timestamps or after a reopen: the next commit first
// writes back what was durable before it.
func TestFailedCommitNeverShows(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	if err := db.Update(func(tx *Txn) error { return tx.Set("k", []byte("durable")) }); err != nil {
		t.Fatal(err)
	}
	fail := true
	db.afterCommit = func(err error) error {
		if err == nil && fail {
			fail = false
			return errors.New("injected: sync failed after the write")
		}
		return err
	}
	err := db.Update(func(tx *Txn) error {
		if err := tx.Set("k", []byte("failed")); err != nil {
			return err
		}
		return tx.Set("phantom", []byte("failed"))
	})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("the failed commit answered %v, want ErrUnavailable", err)
	}
	if versions(t, db, "phantom") != 1 {
		t.Fatal("the injected failure did not leave the batch in Badger; the test proves nothing")
	}
	// Writes are refused for a moment after a failure; poll until one lands.
	for deadline := time.Now().Add(hangLimit); ; time.Sleep(10 * time.Millisecond) {
		err := db.Update(func(tx *Txn) error { return tx.Set("other", []byte("later")) })
		if err == nil {
			break
		}
		if !errors.Is(err, ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("write after the failure: %v", err)
		}
	}
	check := func(when string) {
		t.Helper()
		if got := get(t, db, "k"); got != "durable" {
			t.Errorf("%s: k=%q, want the durable value", when, got)
		}
		if has(t, db, "phantom") {
			t.Errorf("%s: a key of the failed batch shows", when)
		}
		if got := get(t, db, "other"); got != "later" {
			t.Errorf("%s: other=%q", when, got)
		}
	}
	check("after a later commit")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open(t, dir)
	defer db.Close()
	check("after a reopen")
	var keys []string
	err = db.View(func(tx *Txn) error {
		return tx.Iterate("", "", true, func(k string, _ []byte) error { keys = append(keys, k); return nil })
	})
	if err != nil || !slices.Equal(keys, []string{"k", "other"}) {
		t.Errorf("keys after reopen %v %v", keys, err)
	}
}
