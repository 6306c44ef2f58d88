package store

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkCommit measures durable Update commits (fsync on) with 1, 16 and
// 64 concurrent writers. Each commit reads one shared key and writes a 1 KiB
// value under its own key plus an index entry — the shape of one purchase
// step. ns/op is per commit across all writers.
func BenchmarkCommit(b *testing.B) {
	for _, writers := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			db, err := Open(b.TempDir(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if err := db.Update(func(tx *Txn) error { return tx.Set("shared", []byte("rules")) }); err != nil {
				b.Fatal(err)
			}
			val := make([]byte, 1024)
			var next atomic.Int64
			b.SetBytes(int64(len(val)))
			b.ResetTimer()
			var wg sync.WaitGroup
			for w := 0; w < writers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						err := db.Update(func(tx *Txn) error {
							if _, err := tx.Get("shared"); err != nil {
								return err
							}
							k := fmt.Sprintf("order/%012d", i)
							if err := tx.Set(k, val); err != nil {
								return err
							}
							return tx.Set("idx/"+k, nil)
						})
						if err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}

// BenchmarkViewUnderWrites measures Views (one Get of a key) while 16
// writers keep the committer busy with durable commits, with 1, 16 and 64
// concurrent readers. ns/op is per View across all readers. In Badger's own
// mode every View waited for the batch being synced; in managed mode it
// reads the newest durable snapshot at once.
func BenchmarkViewUnderWrites(b *testing.B) {
	for _, readers := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("readers=%d", readers), func(b *testing.B) {
			db, err := Open(b.TempDir(), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if err := db.Update(func(tx *Txn) error { return tx.Set("shared", []byte("rules")) }); err != nil {
				b.Fatal(err)
			}
			stop := make(chan struct{})
			var writers sync.WaitGroup
			for w := range 16 {
				writers.Go(func() {
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						err := db.Update(func(tx *Txn) error {
							return tx.Set(fmt.Sprintf("w/%02d/%09d", w, i), make([]byte, 512))
						})
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			var next atomic.Int64
			b.ResetTimer()
			var wg sync.WaitGroup
			for range readers {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						err := db.View(func(tx *Txn) error { _, err := tx.Get("shared"); return err })
						if err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			close(stop)
			writers.Wait()
		})
	}
}
