package store

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
)

// Group commit. Badger batches concurrent commits but syncs its write-ahead
// log once per transaction and starts each new transaction only after every
// earlier commit is durable, so N concurrent writers pay N fsyncs in a row.
// Here one committer goroutine owns every write: it takes all requests
// queued while the previous batch was syncing, runs them one after another
// in one Badger transaction, commits that once (one fsync) and only then
// answers each request. Running them in order in one transaction makes them
// serial: each fn sees the writes of those before it and none can conflict.
//
// A fn that fails must leave no write behind, and Badger has no savepoints,
// so a fn writes into an overlay of its own (reads see the overlay first);
// the overlay joins the batch's transaction only when fn returns nil.

// batchBytes and batchEntries bound one batch well below Badger's own limit
// on a transaction (15% of the 8 MiB memtable, options.go): a request that would carry
// a batch past them starts the next batch instead, so a write that is too big
// for Badger can only ever be alone in its transaction.
const (
	batchBytes    = 1 << 20
	batchEntries  = 4096
	batchRequests = 256
)

// request is one Update waiting for the committer.
type request struct {
	fn func(*Txn) error
	// ordered is closed once fn has run (UpdateUnder releases its lock then).
	ordered chan struct{}
	done    chan error
	// panicked carries a panic of fn back to the caller's goroutine.
	panicked any
	// ov holds fn's writes once it joined a batch.
	ov *overlay
}

// Stats counts what the store has committed since it opened.
type Stats struct {
	Commits int64 // durable Badger commits (one per batch)
	Updates int64 // Update / UpdateUnder calls committed
	Entries int64 // keys set or deleted
	Bytes   int64 // key and value bytes written
}

type counters struct{ commits, updates, entries, bytes atomic.Int64 }

// Stats returns the store's write counters.
func (db *DB) Stats() Stats {
	return Stats{Commits: db.stats.commits.Load(), Updates: db.stats.updates.Load(),
		Entries: db.stats.entries.Load(), Bytes: db.stats.bytes.Load()}
}

// submit queues fn for the committer and waits for its answer. With mu, fn
// runs while the caller holds mu, which is released once fn has run.
func (db *DB) submit(mu sync.Locker, fn func(*Txn) error) error {
	if err := db.begin(); err != nil {
		return err
	}
	defer db.end()
	r := &request{fn: fn, ordered: make(chan struct{}), done: make(chan error, 1)}
	if mu != nil {
		mu.Lock()
	}
	db.queue <- r
	<-r.ordered
	if mu != nil {
		mu.Unlock()
	}
	err := <-r.done
	if r.panicked != nil {
		panic(r.panicked)
	}
	return err
}

// commitLoop is the committer. It stops when stop is closed, which Close
// does only after every admitted request has been answered.
func (db *DB) commitLoop(stop <-chan struct{}) {
	defer close(db.committerDone)
	var batch []*request
	for {
		select {
		case <-stop:
			return
		case r := <-db.queue:
			batch = append(batch[:0], r)
		}
	more:
		for len(batch) < batchRequests {
			select {
			case r := <-db.queue:
				batch = append(batch, r)
			default:
				break more
			}
		}
		db.runBatch(batch)
		clear(batch)
	}
}

// runBatch runs and commits one batch, splitting it where it grows too big.
func (db *DB) runBatch(batch []*request) {
	if err := db.writable(); err != nil {
		for _, r := range batch {
			close(r.ordered)
			r.done <- err
		}
		return
	}
	if err := db.repair(); err != nil {
		for _, r := range batch {
			close(r.ordered)
			r.done <- err
		}
		return
	}
	bt := db.batchTxn()
	var members []*request
	var size, entries int
	for i := 0; i < len(batch); i++ {
		r := batch[i]
		ov, err := runFn(r, bt)
		if err != nil {
			close(r.ordered)
			r.done <- err
			continue
		}
		if len(members) > 0 && (size+ov.bytes > batchBytes || entries+len(ov.m) > batchEntries) {
			// Commit what fits, then run r again on top of it: its reads
			// came from a transaction that may not commit.
			db.commit(bt, members, size, entries)
			bt = db.batchTxn()
			members, size, entries = nil, 0, 0
			i--
			continue
		}
		if err := ov.apply(bt); err != nil {
			bt.Discard()
			close(r.ordered)
			r.done <- err
			// Too big for Badger with nothing else in the batch is r's
			// own error; with others, their writes are half-joined with
			// r's, so all of them run again (ErrConflict means "retry").
			for _, m := range members {
				m.done <- badger.ErrConflict
			}
			bt = db.batchTxn()
			members, size, entries = nil, 0, 0
			continue
		}
		close(r.ordered)
		r.ov = ov
		members = append(members, r)
		size += ov.bytes
		entries += len(ov.m)
	}
	if len(members) == 0 {
		bt.Discard()
		return
	}
	db.commit(bt, members, size, entries)
}

// runFn runs r's fn on an overlay of bt, turning a panic into an error the
// caller re-raises in its own goroutine.
func runFn(r *request, bt *badger.Txn) (ov *overlay, err error) {
	ov = &overlay{m: map[string]ovEntry{}}
	defer func() {
		if p := recover(); p != nil {
			r.panicked = p
			err = fmt.Errorf("store: update panicked: %v", p)
		}
	}()
	return ov, r.fn(&Txn{t: bt, ov: ov})
}

// batchTxn opens the committer's transaction: it reads at the newest
// durable timestamp (managed.go).
func (db *DB) batchTxn() *badger.Txn {
	db.clock.mu.Lock()
	ts := db.clock.durable
	db.clock.mu.Unlock()
	return db.bdb.NewTransactionAt(ts, true)
}

// commit makes the batch durable at the next timestamp, publishes that
// timestamp to new Views, and only then answers the batch's members.
func (db *DB) commit(bt *badger.Txn, members []*request, size, entries int) {
	var err error
	if db.beforeCommit != nil {
		err = db.beforeCommit()
	}
	if err == nil {
		ts := db.nextCommitTs()
		err = bt.CommitAt(ts, nil)
		if db.afterCommit != nil {
			err = db.afterCommit(err)
		}
		if err == nil {
			db.publish(ts)
		} else if mayHaveWritten(err) {
			for _, m := range members {
				db.remember(m.ov)
			}
		}
		err = db.commitDone(err)
	} else {
		bt.Discard()
	}
	if err == nil {
		db.stats.commits.Add(1)
		db.stats.updates.Add(int64(len(members)))
		db.stats.entries.Add(int64(entries))
		db.stats.bytes.Add(int64(size))
	}
	for _, m := range members {
		m.done <- err
	}
}

// overlay holds one fn's writes until it returns. Keys are versioned.
type overlay struct {
	m     map[string]ovEntry
	bytes int
}

type ovEntry struct {
	v   []byte
	del bool
}

func (o *overlay) set(k []byte, v []byte, del bool) {
	ks := string(k)
	if old, ok := o.m[ks]; ok {
		o.bytes -= len(ks) + len(old.v)
	}
	if v != nil {
		v = bytes.Clone(v)
	}
	o.m[ks] = ovEntry{v: v, del: del}
	o.bytes += len(ks) + len(v)
}

func (o *overlay) apply(bt *badger.Txn) error {
	for k, e := range o.m {
		var err error
		if e.del {
			err = bt.Delete([]byte(k))
		} else {
			err = bt.Set([]byte(k), e.v)
		}
		if err != nil {
			return fmt.Errorf("store: commit: %w", err)
		}
	}
	return nil
}

// under returns the overlay's keys under prefix from seek on, sorted.
func (o *overlay) under(prefix, seek string) []string {
	var ks []string
	for k := range o.m {
		if strings.HasPrefix(k, prefix) && k >= seek {
			ks = append(ks, k)
		}
	}
	slices.Sort(ks)
	return ks
}

var errOverlayStop = errors.New("overlay: stop")
