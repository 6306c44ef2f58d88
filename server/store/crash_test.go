package store

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// recordParts is how many keys one update writes: a record is whole or
// absent, never part-written.
const recordParts = 5

// TestCrashDuringGroupCommit kills (SIGKILL) a process whose 64 writers keep
// the committer busy, so batches are in flight when it dies, and then checks
// in the reopened store that every acknowledged update is there whole and
// no update is there in part. Three cycles on one directory.
func TestCrashDuringGroupCommit(t *testing.T) {
	if os.Getenv("VEIL_STORE_CRASH_CHILD") != "" {
		crashChild(os.Getenv("VEIL_STORE_CRASH_CHILD"))
		return
	}
	dir := t.TempDir()
	for cycle := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashDuringGroupCommit$")
		cmd.Env = append(os.Environ(), "VEIL_STORE_CRASH_CHILD="+dir+"|"+strconv.Itoa(cycle))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acked := map[string]bool{}
		sc := bufio.NewScanner(out)
		// Kill after a few hundred acknowledgements: by then the writers
		// are all queued behind the committer.
		for sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
				acked[id] = true
			}
			if len(acked) == 300+100*cycle {
				cmd.Process.Signal(syscall.SIGKILL)
				break
			}
		}
		for sc.Scan() { // acks already written before the kill count too
			if id, ok := strings.CutPrefix(sc.Text(), "ack "); ok {
				acked[id] = true
			}
		}
		cmd.Wait()
		if len(acked) < 300+100*cycle {
			t.Fatalf("cycle %d: child ended after %d acks", cycle, len(acked))
		}

		db, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		parts := map[string]int{}
		err = db.View(func(tx *Txn) error {
			return tx.Iterate("rec/", "", false, func(k string, v []byte) error {
				id, _, _ := strings.Cut(strings.TrimPrefix(k, "rec/"), "/")
				if string(v) != id {
					return fmt.Errorf("%s holds %q", k, v)
				}
				parts[id]++
				return nil
			})
		})
		db.Close()
		if err != nil {
			t.Fatal(err)
		}
		for id := range acked {
			if parts[id] != recordParts {
				t.Errorf("cycle %d: acknowledged %s has %d of %d parts", cycle, id, parts[id], recordParts)
			}
		}
		half := 0
		for id, n := range parts {
			if n != recordParts {
				half++
				t.Errorf("cycle %d: %s is half-applied (%d of %d parts)", cycle, id, n, recordParts)
			}
		}
		t.Logf("cycle %d: %d acknowledged, %d records on disk, %d half-applied", cycle, len(acked), len(parts), half)
	}
}

// crashChild writes records from 64 goroutines until it is killed, printing
// "ack ID" after each Update returns.
func crashChild(arg string) {
	dir, cycle, _ := strings.Cut(arg, "|")
	db, err := Open(dir, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var out sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Go(func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("c%s-g%02d-%06d", cycle, g, i)
				err := db.Update(func(tx *Txn) error {
					for p := range recordParts {
						if err := tx.Set(fmt.Sprintf("rec/%s/%d", id, p), []byte(id)); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				out.Lock()
				fmt.Fprintln(w, "ack", id)
				w.Flush()
				out.Unlock()
			}
		})
	}
	wg.Wait()
}
