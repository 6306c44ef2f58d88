package store

import (
	"bytes"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// hangLimit bounds every wait on an operation that would hang if the store
// let it start on a closed Badger; reaching it fails the test.
const hangLimit = 20 * time.Second

// within runs f in a goroutine and returns its error, or fails the test if
// f has not returned after hangLimit.
func within(t *testing.T, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(hangLimit):
		t.Fatalf("%s: still blocked after %v (a transaction started on a closed store waits forever)", what, hangLimit)
		return nil
	}
}

func (db *DB) isClosing() bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.closed
}

// TestCloseRaceDeterministic forces the interleaving that hung shutdowns:
// an operation passes the closed check, then Close begins, then the
// operation starts its Badger transaction. Close must wait for it (its
// commit is durable after a reopen), and every operation that arrives
// after Close began is refused with ErrClosed instead of waiting forever.
func TestCloseRaceDeterministic(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	db.admitted = func() {
		if calls.Add(1) == 1 {
			close(entered)
			<-release
		}
	}

	first := make(chan error, 1)
	go func() {
		first <- db.Update(func(tx *Txn) error { return tx.Set("admitted", []byte("before close")) })
	}()
	<-entered // admitted, Badger transaction not started yet

	closed := make(chan error, 1)
	go func() { closed <- db.Close() }()
	for deadline := time.Now().Add(hangLimit); !db.isClosing(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Close never began")
		}
	}

	// Close has begun: everything new is refused, none of it runs fn.
	var mu sync.Mutex
	ran := false
	fn := func(tx *Txn) error { ran = true; return tx.Set("late", []byte("x")) }
	for name, op := range map[string]func() error{
		"View":        func() error { return db.View(func(*Txn) error { ran = true; return nil }) },
		"Update":      func() error { return db.Update(fn) },
		"UpdateUnder": func() error { return db.UpdateUnder(&mu, fn) },
		"Backup":      func() error { return db.Backup(&bytes.Buffer{}) },
		"Load":        func() error { return db.Load(&bytes.Buffer{}) },
		"Compact":     db.Compact,
		"Empty":       func() error { _, err := db.Empty(); return err },
	} {
		if err := within(t, name+" during Close", op); !errors.Is(err, ErrClosed) {
			t.Errorf("%s during Close: %v, want ErrClosed", name, err)
		}
	}
	if ran {
		t.Error("a refused operation ran its function")
	}
	if !mu.TryLock() {
		t.Error("a refused UpdateUnder left its lock held")
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while an admitted transaction was in flight", err)
	default:
	}

	close(release)
	if err := within(t, "the admitted Update", func() error { return <-first }); err != nil {
		t.Fatalf("admitted Update: %v", err)
	}
	if err := within(t, "Close", func() error { return <-closed }); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	db = open(t, dir)
	defer db.Close()
	err := db.View(func(tx *Txn) error {
		if v, err := tx.Get("admitted"); err != nil || string(v) != "before close" {
			t.Errorf("admitted write after reopen: %q %v", v, err)
		}
		if ok, err := tx.Has("late"); ok || err != nil {
			t.Errorf("a refused write reached the store (%v)", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestClosedRefusesEverything: on a closed store every operation returns
// ErrClosed at once; none waits for Badger's watermark (1edcb0e made
// UpdateUnder refuse a closed DB; without that it blocked forever).
func TestClosedRefusesEverything(t *testing.T) {
	db := open(t, t.TempDir())
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	fn := func(*Txn) error { t.Error("fn ran on a closed store"); return nil }
	for name, op := range map[string]func() error{
		"View":        func() error { return db.View(fn) },
		"Update":      func() error { return db.Update(fn) },
		"UpdateUnder": func() error { return db.UpdateUnder(&mu, fn) },
		"Backup":      func() error { return db.Backup(&bytes.Buffer{}) },
		"Load":        func() error { return db.Load(&bytes.Buffer{}) },
		"Compact":     db.Compact,
		"Empty":       func() error { _, err := db.Empty(); return err },
	} {
		if err := within(t, name+" after Close", op); !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", name, err)
		}
	}
	within(t, "RunGC after Close", func() error { db.RunGC(); return nil })
	if err := within(t, "second Close", db.Close); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if !mu.TryLock() {
		t.Error("UpdateUnder on a closed store left its lock held")
	}
}

// TestCloseUnderLoad closes the store while writers and readers run flat
// out: nothing hangs, every operation either succeeds or gets ErrClosed,
// and after a reopen the counter equals the increments acknowledged.
func TestCloseUnderLoad(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	inc := func(tx *Txn) error {
		n := 0
		if b, err := tx.Get("n"); err == nil {
			n, _ = strconv.Atoi(string(b))
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
		return tx.Set("n", []byte(strconv.Itoa(n+1)))
	}
	var (
		mu      sync.Mutex
		acked   atomic.Int64
		started atomic.Int64
		wg      sync.WaitGroup
		errs    = make(chan error, 32)
	)
	for w := range 12 {
		wg.Go(func() {
			for {
				var err error
				switch w % 3 {
				case 0:
					err = db.Update(inc)
				case 1:
					err = db.UpdateUnder(&mu, inc)
				default:
					err = db.View(func(tx *Txn) error { _, err := tx.Get("n"); return err })
					if errors.Is(err, ErrNotFound) {
						err = nil
					}
				}
				switch {
				case errors.Is(err, ErrClosed):
					return
				case err != nil:
					errs <- err
					return
				case w%3 != 2:
					acked.Add(1)
				}
				started.Add(1)
			}
		})
	}
	// Wait for acknowledged writes, not only operations: views alone can
	// reach any count while the writers wait for their first fsync.
	for deadline := time.Now().Add(hangLimit); started.Load() < 200 || acked.Load() < 20; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the workers made no progress")
		}
	}
	if err := within(t, "Close under load", db.Close); err != nil {
		t.Fatal(err)
	}
	if err := within(t, "workers after Close", func() error { wg.Wait(); return nil }); err != nil {
		t.Fatal(err)
	}
	close(errs)
	for err := range errs {
		t.Errorf("operation failed with something other than ErrClosed: %v", err)
	}
	db = open(t, dir)
	defer db.Close()
	var got string
	if err := db.View(func(tx *Txn) error { b, err := tx.Get("n"); got = string(b); return err }); err != nil {
		t.Fatal(err)
	}
	if want := strconv.FormatInt(acked.Load(), 10); got != want {
		t.Fatalf("counter %s after reopen, %s increments acknowledged", got, want)
	}
}
