package store

import (
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// ErrUnavailable means the store cannot write now: its filesystem is (nearly)
// full or a write or sync failed. Nothing of the refused update was applied;
// reads still work, and writes work again by themselves once space returns.
var ErrUnavailable = errors.New("store: storage unavailable")

// defaultMinFree is the space a write needs left on the data directory's
// filesystem. Badger maps its write-ahead file sparse and writes into the
// mapping, so running out of space under it is a SIGBUS, not an error; the
// store therefore stops writing while enough is left for what Badger may
// still touch: the rest of the current memtable file (≈ MemTableSize plus a
// batch), a flush of it to a table, and compaction's new tables.
const defaultMinFree = 128 << 20

// spaceCheckEvery spaces the free-space probes: one statfs per batch at most
// this often while writes flow.
const spaceCheckEvery = 100 * time.Millisecond

// writable reports whether the store may write now. Only the committer
// calls it (and commitDone), so the fields it keeps need no lock. It probes
// the free space at most every spaceCheckEvery while there is room, before
// every batch while there is not, and logs one line when writes stop and
// one when they resume, never one per request.
func (db *DB) writable() error {
	now := time.Now()
	if db.failed != nil && now.Sub(db.failedAt) < spaceCheckEvery {
		return db.failed
	}
	if db.minFree <= 0 || db.freeSpace == nil {
		return nil
	}
	if db.spaceErr == nil && now.Sub(db.spaceChecked) < spaceCheckEvery {
		return nil
	}
	db.spaceChecked = now
	free, err := db.freeSpace()
	if err != nil {
		return nil // cannot tell: the commit will show
	}
	if free < uint64(db.minFree) {
		if !db.down {
			db.log.Error("store: refusing writes: filesystem nearly full", "free_bytes", free, "min_free_bytes", db.minFree)
			db.down = true
		}
		db.spaceErr = fmt.Errorf("%w: %d bytes free, %d needed", ErrUnavailable, free, db.minFree)
		return db.spaceErr
	}
	db.spaceErr = nil
	return nil
}

// commitDone records how a durable commit ended and returns the error its
// requests get: a failure becomes ErrUnavailable, refuses writes for a
// moment and logs once per episode; the first success after it logs that
// writes resumed.
func (db *DB) commitDone(err error) error {
	if err == nil {
		if db.down {
			db.log.Info("store: writes resumed")
			db.down = false
		}
		db.failed = nil
		return nil
	}
	if errors.Is(err, badger.ErrConflict) || errors.Is(err, badger.ErrBlockedWrites) {
		return err // retried by the caller
	}
	if !db.down {
		db.log.Error("store: commit failed; refusing writes for a moment", "err", err)
		db.down = true
	}
	db.failed = fmt.Errorf("%w: %w", ErrUnavailable, err)
	db.failedAt = time.Now()
	return db.failed
}
