// Package store is veil's only door to Badger. It owns the keyspace layout
// (versioned and prefixed), durable transactions with conflict retry, and
// value-log garbage collection. No other package imports Badger.
package store

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"
)

// Version is the keyspace version. Every key starts with it, so a future
// layout can live beside this one during a migration.
const Version = "v1/"

// ErrNotFound is returned when a key does not exist.
var ErrNotFound = errors.New("store: not found")

// ErrConflict is returned when a transaction still conflicts after all retries.
var ErrConflict = errors.New("store: transaction conflict")

// ErrClosed is returned by every operation that starts after Close began.
var ErrClosed = errors.New("store: closed")

// maxRetries bounds the optimistic retry loop. Conflicts are rare because the
// shop serialises per-product reservation in memory; this is the safety net.
const maxRetries = 64

// Options tune the store; zero values pick defaults suited to a 2-core,
// 24 GiB machine.
type Options struct {
	// InMemory runs Badger without a directory (tests of code above the store
	// that do not care about durability). Real tests use a temp dir.
	InMemory bool
	// GCInterval is how often value-log GC runs; 0 means 10 minutes.
	GCInterval time.Duration
	// Logger receives Badger's warnings and errors; nil discards them.
	Logger *slog.Logger
	// MinFree is the space (bytes) that must stay free on the data
	// directory's filesystem: below it writes are refused with
	// ErrUnavailable until space returns. 0 means 128 MiB; negative turns
	// the guard off.
	MinFree int64
}

// DB is an open veil store.
type DB struct {
	bdb    *badger.DB
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}

	// Close must not close Badger under a transaction: one that starts on
	// a closed Badger fails or hangs (in Badger's own mode it waited
	// forever for its read watermark). Every
	// operation is admitted under mu (refused once closed is set) and
	// counted in inflight, which Close waits for.
	mu       sync.Mutex
	closed   bool
	inflight sync.WaitGroup
	closing  sync.Once
	closeErr error
	// admitted, when set (tests only), runs after an operation is admitted
	// and before it touches Badger.
	admitted func()
	// beforeCommit, when set (tests only), runs before each batch commits;
	// an error aborts the batch with it.
	beforeCommit func() error
	// afterCommit, when set (tests only), sees what each batch's CommitAt
	// returned and returns what the committer takes as the result.
	afterCommit func(error) error

	// clock hands out the timestamps of managed mode (managed.go); undo
	// holds the keys a failed commit may have left behind, committer only.
	clock clock
	undo  map[string]struct{}

	// queue feeds the committer (group.go); stopCommitter ends it.
	queue         chan *request
	stopCommitter chan struct{}
	committerDone chan struct{}
	stats         counters

	// The free-space guard and failed commits (space.go), kept by the
	// committer alone. freeSpace is nil where it cannot be measured.
	minFree      int64
	freeSpace    func() (uint64, error)
	spaceChecked time.Time
	spaceErr     error
	failed       error
	failedAt     time.Time
	down         bool
}

// Open opens (creating if needed) the store in dir.
func Open(dir string, o Options) (*DB, error) {
	opt := badger.DefaultOptions(dir)
	if o.InMemory {
		opt = badger.DefaultOptions("").WithInMemory(true)
	} else if err := privateDir(dir); err != nil {
		return nil, err
	}
	// Durability first: an acknowledgement leaves only after its commit is on disk.
	opt.SyncWrites = !o.InMemory
	opt = sized(opt)
	opt.NumVersionsToKeep = 1
	// No compression: our values are mostly ciphertext, which does not
	// compress, and plain files keep the privacy scan honest (compressed
	// blocks could hide a leaked plaintext from a byte search).
	opt.Compression = options.None
	opt.MetricsEnabled = false
	opt.Logger = badgerLogger{o.Logger}
	// Managed mode: the committer numbers the commits and Views read at the
	// newest durable one without waiting (managed.go). One writer cannot
	// conflict with itself, so Badger need not track conflicts.
	opt.DetectConflicts = false
	bdb, err := badger.OpenManaged(opt)
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	db := &DB{bdb: bdb, log: o.Logger, cancel: cancel, done: make(chan struct{}),
		queue: make(chan *request, batchRequests), stopCommitter: make(chan struct{}), committerDone: make(chan struct{})}
	db.startClock()
	if !o.InMemory && o.MinFree >= 0 {
		db.minFree = cmp.Or(o.MinFree, defaultMinFree)
		db.freeSpace = freeSpaceOf(dir)
	}
	go db.commitLoop(db.stopCommitter)
	if db.log == nil {
		db.log = slog.New(slog.DiscardHandler)
	}
	interval := o.GCInterval
	if interval <= 0 {
		interval = 10 * time.Minute
	}
	if o.InMemory {
		close(db.done)
	} else {
		go db.gcLoop(ctx, interval)
	}
	return db, nil
}

// Close refuses new operations (ErrClosed), waits for those in flight to
// finish, stops background work and closes Badger. Calling it again
// waits for the first call and returns its result.
func (db *DB) Close() error {
	db.closing.Do(func() {
		db.mu.Lock()
		db.closed = true
		db.mu.Unlock()
		db.cancel()
		<-db.done
		db.inflight.Wait()
		close(db.stopCommitter)
		<-db.committerDone
		if err := db.bdb.Close(); err != nil {
			db.closeErr = fmt.Errorf("store: close: %w", err)
		}
	})
	return db.closeErr
}

// begin admits one operation, or refuses it with ErrClosed once Close has
// begun. An admitted operation must call end.
func (db *DB) begin() error {
	db.mu.Lock()
	if db.closed {
		db.mu.Unlock()
		return ErrClosed
	}
	db.inflight.Add(1)
	db.mu.Unlock()
	if db.admitted != nil {
		db.admitted()
	}
	return nil
}

func (db *DB) end() { db.inflight.Done() }

func (db *DB) gcLoop(ctx context.Context, every time.Duration) {
	defer close(db.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			db.RunGC()
		}
	}
}

// RunGC rewrites value-log files while Badger finds one worth rewriting.
func (db *DB) RunGC() {
	if db.begin() != nil {
		return
	}
	defer db.end()
	db.advanceDiscard()
	for i := 0; i < 16; i++ {
		if err := db.bdb.RunValueLogGC(0.5); err != nil {
			if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, badger.ErrRejected) {
				db.log.Warn("store: value log gc", "err", err)
			}
			return
		}
	}
}

// Update runs fn in a read-write transaction and commits it durably. On a
// conflict the whole function runs again (with jittered backoff), so fn must
// have no side effects outside the transaction other than ones that are safe
// to repeat.
//
// Writes go through one committer (group.go): fn runs there, after the
// writes of requests queued before it, and its writes share one durable
// commit (one fsync) with theirs. fn must not call Update or UpdateUnder.
func (db *DB) Update(fn func(*Txn) error) error {
	return db.retry(nil, fn)
}

// UpdateUnder is Update with fn run while holding mu, which is released as
// soon as the commit is ordered (fn has run and taken its place in the
// queue), before the wait for the disk. Callers that serialise on mu
// (reservations of one product) thus see each other's writes in order, yet
// their commits still share one fsync.
func (db *DB) UpdateUnder(mu sync.Locker, fn func(*Txn) error) error {
	return db.retry(mu, fn)
}

// retry submits fn until it commits or fails for a reason a retry cannot
// cure. A batch aborted for another request's sake reports ErrConflict, and
// Compact holds writes for a moment (ErrBlockedWrites); both run fn again.
func (db *DB) retry(mu sync.Locker, fn func(*Txn) error) error {
	for attempt := 0; ; attempt++ {
		err := db.submit(mu, fn)
		if errors.Is(err, badger.ErrBlockedWrites) {
			time.Sleep(10 * time.Millisecond)
			if attempt < 1000 {
				continue
			}
		}
		if !errors.Is(err, badger.ErrConflict) {
			return err
		}
		if attempt >= maxRetries {
			return ErrConflict
		}
		time.Sleep(time.Duration(rand.IntN(1+min(attempt, 10)*200)) * time.Microsecond)
	}
}

// View runs fn in a read-only snapshot: every Update acknowledged before
// View was called, and possibly some being acknowledged, never one whose
// commit is not yet durable. It never waits for a commit (managed.go).
func (db *DB) View(fn func(*Txn) error) error {
	if err := db.begin(); err != nil {
		return err
	}
	defer db.end()
	bt, done := db.readTxn()
	defer done()
	return fn(&Txn{t: bt})
}

// Txn is a transaction. Keys are given without the version prefix. Inside
// Update, writes go to ov (group.go) and reads see ov first.
type Txn struct {
	t  *badger.Txn
	ov *overlay
}

func vkey(k string) []byte { return []byte(Version + k) }

// Get returns the raw value of k, or ErrNotFound.
func (tx *Txn) Get(k string) ([]byte, error) {
	if tx.ov != nil {
		if e, ok := tx.ov.m[Version+k]; ok {
			if e.del {
				return nil, ErrNotFound
			}
			return bytes.Clone(e.v), nil
		}
	}
	it, err := tx.t.Get(vkey(k))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: get: %w", err)
	}
	return it.ValueCopy(nil)
}

// Has reports whether k exists.
func (tx *Txn) Has(k string) (bool, error) {
	if tx.ov != nil {
		if e, ok := tx.ov.m[Version+k]; ok {
			return !e.del, nil
		}
	}
	_, err := tx.t.Get(vkey(k))
	if errors.Is(err, badger.ErrKeyNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: get: %w", err)
	}
	return true, nil
}

// Set writes the raw value v under k.
func (tx *Txn) Set(k string, v []byte) error {
	if tx.ov != nil {
		if v == nil {
			v = []byte{}
		}
		tx.ov.set(vkey(k), v, false)
		return nil
	}
	if err := tx.t.Set(vkey(k), v); err != nil {
		return fmt.Errorf("store: set: %w", err)
	}
	return nil
}

// Delete removes k; deleting a missing key is not an error.
func (tx *Txn) Delete(k string) error {
	if tx.ov != nil {
		tx.ov.set(vkey(k), nil, true)
		return nil
	}
	if err := tx.t.Delete(vkey(k)); err != nil {
		return fmt.Errorf("store: delete: %w", err)
	}
	return nil
}

// GetJSON decodes the JSON value of k into v.
func (tx *Txn) GetJSON(k string, v any) error {
	b, err := tx.Get(k)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("store: decode value: %w", err)
	}
	return nil
}

// SetJSON encodes v as JSON under k.
func (tx *Txn) SetJSON(k string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode value: %w", err)
	}
	return tx.Set(k, b)
}

// ErrStop ends an iteration early without error.
var ErrStop = errors.New("store: stop iteration")

// Iterate calls fn for each key under prefix in ascending order, starting at
// start (a full key without version prefix; "" means the prefix itself). The
// key passed to fn has the version prefix removed. Returning ErrStop ends the
// walk without error. Keys read this way join the transaction's read set, so
// a concurrent write to them makes this transaction conflict.
func (tx *Txn) Iterate(prefix, start string, keysOnly bool, fn func(k string, v []byte) error) error {
	opt := badger.DefaultIteratorOptions
	opt.Prefix = vkey(prefix)
	opt.PrefetchValues = !keysOnly
	it := tx.t.NewIterator(opt)
	defer it.Close()
	seek := vkey(prefix)
	if start != "" {
		seek = vkey(start)
	}
	// Inside Update, this fn's own pending writes (sorted) merge into the
	// walk: a key in the overlay hides the stored one, a deleted key is
	// skipped.
	var pending []string
	if tx.ov != nil {
		pending = tx.ov.under(string(opt.Prefix), string(seek))
	}
	emit := func(k string, v []byte) error {
		err := fn(k[len(Version):], v)
		if errors.Is(err, ErrStop) {
			return errOverlayStop
		}
		return err
	}
	emitPending := func(k string) error {
		e := tx.ov.m[k]
		if e.del {
			return nil
		}
		var v []byte
		if !keysOnly {
			v = bytes.Clone(e.v)
		}
		return emit(k, v)
	}
	err := func() error {
		for it.Seek(seek); it.Valid(); it.Next() {
			item := it.Item()
			key := string(item.Key())
			for len(pending) > 0 && pending[0] < key {
				if err := emitPending(pending[0]); err != nil {
					return err
				}
				pending = pending[1:]
			}
			if len(pending) > 0 && pending[0] == key {
				if err := emitPending(pending[0]); err != nil {
					return err
				}
				pending = pending[1:]
				continue
			}
			var v []byte
			if !keysOnly {
				var err error
				if v, err = item.ValueCopy(nil); err != nil {
					return fmt.Errorf("store: iterate value: %w", err)
				}
			}
			if err := emit(key, v); err != nil {
				return err
			}
		}
		for _, k := range pending {
			if err := emitPending(k); err != nil {
				return err
			}
		}
		return nil
	}()
	if errors.Is(err, errOverlayStop) {
		return nil
	}
	return err
}

type badgerLogger struct{ l *slog.Logger }

func (b badgerLogger) Errorf(f string, a ...any) {
	if b.l != nil {
		b.l.Error("badger: " + fmt.Sprintf(f, a...))
	}
}
func (b badgerLogger) Warningf(f string, a ...any) {
	if b.l != nil {
		b.l.Warn("badger: " + fmt.Sprintf(f, a...))
	}
}
func (badgerLogger) Infof(string, ...any)  {}
func (badgerLogger) Debugf(string, ...any) {}

// Backup writes a full, consistent snapshot of the store to w in Badger's
// backup format (the caller encrypts it). It runs while the store serves.
func (db *DB) Backup(w io.Writer) error {
	if err := db.begin(); err != nil {
		return err
	}
	defer db.end()
	ts := db.snapshot()
	defer db.release(ts)
	stream := db.bdb.NewStreamAt(ts)
	stream.LogPrefix = "store.Backup"
	if _, err := stream.Backup(w, 0); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	return nil
}

// Load reads a backup written by Backup into the store, which should be
// empty. A corrupt backup is an error, and the store may then hold part of
// it (restore throws the directory away).
func (db *DB) Load(r io.Reader) (err error) {
	if err := db.begin(); err != nil {
		return err
	}
	defer db.end()
	defer func() {
		// Badger panics on some corrupt input (a record length it cannot
		// allocate) instead of returning an error.
		if p := recover(); p != nil {
			err = fmt.Errorf("store: load backup: corrupt backup: %v", p)
		}
	}()
	// Load writes the backup's entries with their own versions: move the
	// clock past them, even after a failure (part of it may be there).
	defer db.refreshClock()
	if err := db.bdb.Load(r, 64); err != nil {
		return fmt.Errorf("store: load backup: %w", err)
	}
	return nil
}

// Empty reports whether the store holds no key at all.
func (db *DB) Empty() (bool, error) {
	empty := true
	err := db.View(func(tx *Txn) error {
		it := tx.t.NewIterator(badger.IteratorOptions{})
		defer it.Close()
		it.Rewind()
		empty = !it.Valid()
		return nil
	})
	return empty, err
}

// Compact makes deletions final on disk: it flushes the memtables (whose
// write-ahead files still hold every write since the last flush) and
// compacts the tree into one level, which drops deleted and overwritten
// versions. The purge runs it so that a purged order's plain fields (its
// times, amount, references) do not linger in old files. Writes wait while it
// runs (Update retries them).
func (db *DB) Compact() error {
	if err := db.begin(); err != nil {
		return err
	}
	defer db.end()
	// DropPrefix is Badger's way to flush every memtable; it needs a prefix
	// that exists, so write one (through the committer, which numbers every
	// commit) and drop it.
	const barrier = "compact-barrier"
	if err := db.Update(func(tx *Txn) error { return tx.Set(barrier, []byte{1}) }); err != nil {
		return fmt.Errorf("store: compact: %w", err)
	}
	if err := db.bdb.DropPrefix(vkey(barrier)); err != nil {
		return fmt.Errorf("store: compact: flush: %w", err)
	}
	// Let the compaction drop every version no running reader needs.
	db.advanceDiscard()
	if err := db.bdb.Flatten(1); err != nil {
		return fmt.Errorf("store: compact: flatten: %w", err)
	}
	return nil
}
