package store

import (
	"errors"
	"strconv"
	"sync"
	"testing"
)

func open(t *testing.T, dir string) *DB {
	t.Helper()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestGetSetIterateReopen(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	err := db.Update(func(tx *Txn) error {
		for i := range 5 {
			if err := tx.SetJSON("a/"+strconv.Itoa(i), i); err != nil {
				return err
			}
		}
		return tx.Set("b/x", []byte("y"))
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = open(t, dir)
	defer db.Close()
	var keys []string
	err = db.View(func(tx *Txn) error {
		var n int
		if err := tx.GetJSON("a/3", &n); err != nil || n != 3 {
			t.Fatalf("a/3 = %d, %v", n, err)
		}
		if _, err := tx.Get("a/9"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing key: %v", err)
		}
		return tx.Iterate("a/", "a/2", true, func(k string, _ []byte) error {
			keys = append(keys, k)
			if len(keys) == 2 {
				return ErrStop
			}
			return nil
		})
	})
	if err != nil || len(keys) != 2 || keys[0] != "a/2" || keys[1] != "a/3" {
		t.Fatalf("iterate: %v %v", keys, err)
	}
}

// TestConflictsRetried: concurrent read-modify-write of one counter, with
// and without a lock, loses no increment.
func TestConflictsRetried(t *testing.T) {
	db := open(t, t.TempDir())
	defer db.Close()
	var mu sync.Mutex
	var wg sync.WaitGroup
	inc := func(tx *Txn) error {
		n := 0
		if b, err := tx.Get("n"); err == nil {
			n, _ = strconv.Atoi(string(b))
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		return tx.Set("n", []byte(strconv.Itoa(n+1)))
	}
	for i := range 40 {
		wg.Go(func() {
			var err error
			if i%2 == 0 {
				err = db.Update(inc)
			} else {
				err = db.UpdateUnder(&mu, inc)
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var got string
	db.View(func(tx *Txn) error { b, _ := tx.Get("n"); got = string(b); return nil })
	if got != "40" {
		t.Fatalf("counter %s, want 40", got)
	}
}

func TestErrorAbortsTransaction(t *testing.T) {
	db := open(t, t.TempDir())
	defer db.Close()
	boom := errors.New("boom")
	err := db.Update(func(tx *Txn) error {
		if err := tx.Set("k", []byte("v")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	db.View(func(tx *Txn) error {
		if ok, _ := tx.Has("k"); ok {
			t.Fatal("a failed transaction wrote")
		}
		return nil
	})
}
