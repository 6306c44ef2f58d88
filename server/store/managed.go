package store

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/dgraph-io/badger/v4"
)

// Timestamps: Badger runs in managed mode, and the store hands out every
// transaction timestamp itself.
//
// Why. In Badger's own mode every transaction, read-only View included,
// takes its read timestamp from Badger's oracle, which waits until every
// earlier commit has been synced. With group commit (group.go) a batch is
// almost always syncing, so nearly every View waited for an fsync it had no
// use for: at 64 concurrent requests that wait was most of the handlers'
// blocked time. The store has exactly one writer, the committer, so it can
// number the commits itself and give readers a timestamp that needs no wait.
//
// The invariant: a View sees exactly the batches that were acknowledged or
// are being acknowledged, never a batch that may still fail. The committer's
// batch transaction reads at the newest durable timestamp and commits at the
// next one; only after CommitAt has returned (SyncWrites is on, so the batch
// is on disk) does it publish that timestamp as the read timestamp for new
// Views, and only then does it answer the batch's members. A View reads at
// the published timestamp and never waits: a batch still syncing carries a
// higher timestamp and stays invisible to it even though its entries may
// already sit in Badger's memtable. A reader therefore never acts on a write
// that a crash could still lose.
//
// A commit that fails uses up its timestamp (the next commit takes a fresh
// one) but is never published. Badger may have put some of its entries in
// the memtable before the failure (a failed sync of the write-ahead log), and
// they would show through once a later timestamp is published, so the keys
// of a batch that may have been written are remembered (undo) and the next
// commit first writes back, at its own timestamp, each one's value as of the
// newest durable timestamp (or deletes it). That is at least as strict as
// Badger's own mode, which marks a failed commit's timestamp done and lets
// readers see whatever reached the memtable. (If the failed sync did in fact
// reach the disk and the process dies before the repair commits, the batch
// reappears after a restart; no one was told it succeeded, and its writes
// are whole or absent because Badger replays a transaction only whole.)
//
// Conflict detection is off (DetectConflicts): one writer cannot conflict
// with itself. A batch aborted for another request's sake still answers
// badger.ErrConflict, which Update's retry loop understands.
//
// Start-up takes the newest version on disk (MaxVersion), so a store written
// in Badger's own mode keeps every value; a restore (Load) writes the
// backup's own versions and refreshes it the same way.
//
// Old versions: managed mode leaves it to the store to say which versions no
// reader can need any more (the discard timestamp). Every View and Backup
// stream registers the timestamp it reads at while it runs; after each commit
// (and before GC and Compact) the discard timestamp becomes the oldest of
// them, or the newest durable timestamp when none runs. (The committer's own
// batch reads at the newest durable timestamp, which the discard timestamp
// never passes.) Compaction then drops superseded versions without pulling one
// from under a running View or backup.
type clock struct {
	mu sync.Mutex
	// durable is the newest durable, published commit timestamp: new
	// Views read at it.
	durable uint64
	// last is the newest timestamp handed to a commit (a failed one's too).
	last uint64
	// readers counts the transactions reading at each timestamp.
	readers map[uint64]int
	// discard is the discard timestamp last given to Badger.
	discard uint64
}

// startClock sets the clock from what is on disk.
func (db *DB) startClock() {
	v := db.bdb.MaxVersion()
	db.clock = clock{durable: v, last: v, readers: map[uint64]int{}}
	db.bdb.SetDiscardTs(v)
	db.clock.discard = v
}

// refreshClock moves the clock past versions written outside the committer
// (Load writes a backup's entries with their own versions).
func (db *DB) refreshClock() {
	v := db.bdb.MaxVersion()
	c := &db.clock
	c.mu.Lock()
	c.last = max(c.last, v)
	c.durable = max(c.durable, v)
	c.mu.Unlock()
}

// snapshot returns the newest durable timestamp and registers a reader at
// it; the caller must call release with it.
func (db *DB) snapshot() uint64 {
	c := &db.clock
	c.mu.Lock()
	ts := c.durable
	c.readers[ts]++
	c.mu.Unlock()
	return ts
}

func (db *DB) release(ts uint64) {
	c := &db.clock
	c.mu.Lock()
	if c.readers[ts]--; c.readers[ts] <= 0 {
		delete(c.readers, ts)
	}
	c.mu.Unlock()
}

// readTxn opens a read-only Badger transaction at the newest durable
// timestamp; done discards it and unregisters the reader.
func (db *DB) readTxn() (bt *badger.Txn, done func()) {
	ts := db.snapshot()
	bt = db.bdb.NewTransactionAt(ts, false)
	return bt, func() { bt.Discard(); db.release(ts) }
}

// nextCommitTs hands out the timestamp of the next commit.
func (db *DB) nextCommitTs() uint64 {
	c := &db.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last++
	return c.last
}

// publish makes the durable commit at ts visible to new Views and moves the
// discard timestamp along. Only the committer calls it, after CommitAt
// returned nil.
func (db *DB) publish(ts uint64) {
	c := &db.clock
	c.mu.Lock()
	c.durable = max(c.durable, ts)
	c.mu.Unlock()
	db.advanceDiscard()
}

// advanceDiscard lets compaction drop versions no running reader can see:
// everything superseded at or below the oldest registered read timestamp (the
// newest durable one when none runs). A reader registering later reads at a
// durable timestamp at least as new, so it is never below the discard mark.
func (db *DB) advanceDiscard() {
	c := &db.clock
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.durable
	for ts := range c.readers {
		m = min(m, ts)
	}
	if m != c.discard {
		c.discard = m
		db.bdb.SetDiscardTs(m)
	}
}

// mayHaveWritten reports whether a failed commit may have left entries in
// Badger's memtable: every failure except those Badger reports before it
// queues the write.
func mayHaveWritten(err error) bool {
	return !errors.Is(err, badger.ErrBlockedWrites) && !errors.Is(err, badger.ErrTxnTooBig) &&
		!errors.Is(err, badger.ErrConflict)
}

// remember notes the keys of a batch member whose commit failed after it may
// have reached the memtable; repair writes them back.
func (db *DB) remember(ov *overlay) {
	if ov == nil {
		return
	}
	if db.undo == nil {
		db.undo = map[string]struct{}{}
	}
	for k := range ov.m {
		db.undo[k] = struct{}{}
	}
}

// repair writes back, at new timestamps, the value as of the newest durable
// timestamp of every key a failed commit may have left in the memtable (or
// deletes it), so that publishing a later timestamp does not show the failed
// batch. It runs in the committer before the next batch; until it succeeds
// no batch commits. A repair write is always harmless to show: it holds what
// readers already see.
func (db *DB) repair() error {
	if len(db.undo) == 0 {
		return nil
	}
	keys := slices.Sorted(maps.Keys(db.undo))
	for len(keys) > 0 {
		bt := db.batchTxn()
		n, size := 0, 0
		for ; n < len(keys) && n < batchEntries && size < batchBytes; n++ {
			k := []byte(keys[n])
			item, err := bt.Get(k)
			switch {
			case errors.Is(err, badger.ErrKeyNotFound):
				err = bt.Delete(k)
			case err == nil:
				var v []byte
				if v, err = item.ValueCopy(nil); err == nil {
					size += len(v)
					err = bt.Set(k, v)
				}
			}
			if err != nil {
				bt.Discard()
				return db.commitDone(fmt.Errorf("store: repair after a failed commit: %w", err))
			}
			size += len(k)
		}
		ts := db.nextCommitTs()
		if err := db.commitDone(bt.CommitAt(ts, nil)); err != nil {
			return err
		}
		db.publish(ts)
		for _, k := range keys[:n] {
			delete(db.undo, k)
		}
		keys = keys[n:]
	}
	return nil
}
