package store

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// smallFS mounts a 192 MiB tmpfs for the test and returns its path and the
// way to learn its free space; where mounting is not allowed (not root) it
// returns a plain directory and reports false, and the caller simulates a
// full disk through the store's freeSpace instead.
func smallFS(t *testing.T) (string, bool) {
	dir := t.TempDir()
	if err := exec.Command("mount", "-t", "tmpfs", "-o", "size=192m,mode=0700", "tmpfs", dir).Run(); err != nil {
		t.Logf("no tmpfs (%v): simulating a full disk", err)
		return dir, false
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir, true
}

// TestFullDiskRefusesWritesThenRecovers fills the data directory's
// filesystem: updates are refused with ErrUnavailable and write nothing,
// reads go on, one line is logged for the whole episode, and writes resume
// by themselves once space returns.
func TestFullDiskRefusesWritesThenRecovers(t *testing.T) {
	fsDir, real := smallFS(t)
	dir := filepath.Join(fsDir, "data")
	var logs lockedBuffer
	const minFree = 64 << 20
	db, err := Open(dir, Options{MinFree: minFree, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var fake struct {
		sync.Mutex
		full bool
	}
	if !real {
		db.freeSpace = func() (uint64, error) {
			fake.Lock()
			defer fake.Unlock()
			if fake.full {
				return minFree / 2, nil
			}
			return 1 << 30, nil
		}
	}
	if err := db.Update(func(tx *Txn) error { return tx.Set("before", []byte("x")) }); err != nil {
		t.Fatal(err)
	}

	// Fill: leave half of MinFree.
	filler := filepath.Join(fsDir, "filler")
	fill := func() {
		if !real {
			fake.Lock()
			fake.full = true
			fake.Unlock()
			return
		}
		free, err := freeSpaceOf(fsDir)()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filler, bytes.Repeat([]byte{0xAA}, int(free)-minFree/2), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fill()
	time.Sleep(spaceCheckEvery + 10*time.Millisecond) // the next probe sees it

	var wg sync.WaitGroup
	for i := range 32 {
		wg.Go(func() {
			err := db.Update(func(tx *Txn) error { return tx.Set("during/"+string(rune('a'+i)), []byte("y")) })
			if !errors.Is(err, ErrUnavailable) {
				t.Errorf("update on a full disk: %v, want ErrUnavailable", err)
			}
		})
	}
	wg.Wait()
	if got := get(t, db, "before"); got != "x" {
		t.Fatalf("read on a full disk: %q", got)
	}
	var during int
	db.View(func(tx *Txn) error {
		return tx.Iterate("during/", "", true, func(string, []byte) error { during++; return nil })
	})
	if during != 0 {
		t.Fatalf("%d refused updates wrote", during)
	}

	// Free the space: writes resume without a restart.
	if real {
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
	} else {
		fake.Lock()
		fake.full = false
		fake.Unlock()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := db.Update(func(tx *Txn) error { return tx.Set("after", []byte("z")) })
		if err == nil {
			break
		}
		if !errors.Is(err, ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("after freeing space: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := get(t, db, "after"); got != "z" {
		t.Fatalf("after recovery: %q", got)
	}
	out := logs.String()
	if n := strings.Count(out, "refusing writes"); n != 1 {
		t.Errorf("%d 'refusing writes' lines for one episode, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "writes resumed"); n != 1 {
		t.Errorf("%d 'writes resumed' lines, want 1:\n%s", n, out)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
