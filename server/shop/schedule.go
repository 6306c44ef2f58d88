package shop

import (
	"container/heap"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"veil/server/store"
)

// What the sweep waits for (issue 15, "write less"). Pending orders used to
// be indexed under expiry/<unix>/<ref> (set when placed, deleted when paid)
// and delivered ones under settle/<unix>/<ref> (set on delivery, deleted
// when settled): three of a purchase's twelve entries, four of an order's
// life. Now the sweep keeps both lists in memory (expiring: pending orders
// by ExpiresAt; settling: delivered ones by WindowEnds), and a start
// rebuilds them by walking ordtime/ (admin.go), newest first, down to the
// durable mark kSweepFrom:
//
//	every order created before the mark (unix seconds) was, when the mark
//	was written, neither pending nor waiting to settle; whatever makes such
//	an order wait again (a delivery long after the order was placed: a late
//	or held payment, a delivery queued while the vault was locked) lowers
//	the mark in its own transaction.
//
// Each list entry is added inside the transaction that makes the order wait
// (Place, deliver), on the store's committer, so advanceSweepFrom, which
// also runs there, sees every entry of the transactions before it; an entry
// whose transaction then fails is harmless (the sweep reads the order
// before it acts). The mark moves at most once an hour and stays an hour
// behind, so a purchase only reads it. With no mark (a new store, or one
// written before) the whole of ordtime/ is walked once.
//
// Stores written before keep their expiry/ and settle/ entries: the sweep
// still walks both indexes and deletes each entry once its order is done
// (only where there is one: no blind deletes).
const (
	kSweepFrom = "sweep-from" // decimal unix seconds, a whole hour: see above

	sweepFromLag   = time.Hour // the mark stays at least this far behind now
	sweepFromEvery = time.Hour // and is written at most this often
)

// dueList is the orders one job waits for, by the time each is due. An
// entry stays (and holds the mark back) until the job is done with it.
type dueList struct {
	mu sync.Mutex
	at map[string]dueAt
	h  dueHeap // may hold stale items: at says which are current
}

type dueAt struct{ due, created int64 } // unix seconds

// add makes ref due at due (or earlier, if it already is).
func (l *dueList) add(ref string, due, created time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.at == nil {
		l.at = map[string]dueAt{}
	}
	d, c := due.Unix(), created.Unix()
	if cur, ok := l.at[ref]; ok {
		c = min(c, cur.created)
		if cur.due <= d {
			l.at[ref] = dueAt{cur.due, c}
			return
		}
	}
	l.at[ref] = dueAt{d, c}
	heap.Push(&l.h, dueItem{d, ref})
}

// set makes ref due at due, later or earlier than it was.
func (l *dueList) set(ref string, due time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	cur, ok := l.at[ref]
	if !ok {
		return
	}
	cur.due = due.Unix()
	l.at[ref] = cur
	heap.Push(&l.h, dueItem{cur.due, ref})
}

// taken lists the refs due by now. They stay in the list (and count for
// the mark) until done; retry puts one back in the queue.
func (l *dueList) taken(now time.Time) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var refs []string
	seen := map[string]bool{}
	for l.h.Len() > 0 && l.h[0].due <= now.Unix() {
		it := heap.Pop(&l.h).(dueItem)
		if cur, ok := l.at[it.ref]; ok && cur.due == it.due && !seen[it.ref] {
			seen[it.ref] = true
			refs = append(refs, it.ref)
		}
	}
	return refs
}

func (l *dueList) retry(ref string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if cur, ok := l.at[ref]; ok {
		heap.Push(&l.h, dueItem{cur.due, ref})
	}
}

func (l *dueList) done(ref string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.at, ref)
}

// oldest is the creation time of the oldest order in the list; ok is false
// when it is empty.
func (l *dueList) oldest() (created int64, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, d := range l.at {
		if !ok || d.created < created {
			created, ok = d.created, true
		}
	}
	return created, ok
}

func (l *dueList) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.at)
}

type dueItem struct {
	due int64
	ref string
}

type dueHeap []dueItem

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].due < h[j].due }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(dueItem)) }
func (h *dueHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	return it
}

// expiresAt is when the pending order o expires; zero when o is not pending.
func expiresAt(o Order) time.Time {
	if o.Status != StatusPending {
		return time.Time{}
	}
	return o.ExpiresAt
}

// settlesAt is when the delivered order o settles; zero when it will not
// (refunded, owed, settled already).
func settlesAt(o Order) time.Time {
	switch o.Status {
	case StatusDelivered, StatusReplaced, StatusPartiallyRefunded:
		if o.SettledAt.IsZero() {
			return o.WindowEnds
		}
	}
	return time.Time{}
}

// getSweepFrom reads the mark; ok is false when there is none (or it is
// unreadable, which walks everything: the safe side).
func getSweepFrom(tx *store.Txn) (from int64, ok bool, err error) {
	v, err := tx.Get(kSweepFrom)
	if errors.Is(err, store.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	from, perr := strconv.ParseInt(string(v), 10, 64)
	return from, perr == nil, nil
}

// keepSwept lowers the mark, inside tx, to o's creation if o is older: o
// is about to wait for the sweep, and a start must find it.
func keepSwept(tx *store.Txn, o *Order) error {
	from, ok, err := getSweepFrom(tx)
	if err != nil || !ok {
		return err
	}
	if c := o.CreatedAt.Unix(); c < from {
		return tx.Set(kSweepFrom, []byte(strconv.FormatInt(hourOf(c), 10)))
	}
	return nil
}

// hourOf rounds a mark down to the hour: the mark never names an order's
// exact time, and walking a little more is safe.
func hourOf(unix int64) int64 { return unix - unix%3600 }

// scheduleExpiry puts the order o, just placed in tx, on the expiry list.
func (s *Shop) scheduleExpiry(tx *store.Txn, o *Order) error {
	s.expiring.add(o.Ref, o.ExpiresAt, o.CreatedAt)
	return keepSwept(tx, o)
}

// scheduleSettle puts the order o, just delivered in tx, on the settle
// list.
func (s *Shop) scheduleSettle(tx *store.Txn, o *Order) error {
	s.settling.add(o.Ref, o.WindowEnds, o.CreatedAt)
	return keepSwept(tx, o)
}

// loadSchedule fills both lists at start from the orders created since the
// mark (all of them without one).
func (s *Shop) loadSchedule() error {
	return s.db.View(func(tx *store.Txn) error {
		from, ok, err := getSweepFrom(tx)
		if err != nil {
			return err
		}
		return tx.Iterate(pOrderTime, "", true, func(k string, _ []byte) error {
			inv, ref, _ := strings.Cut(strings.TrimPrefix(k, pOrderTime), "/")
			n, err := strconv.ParseInt(inv, 10, 64)
			if err != nil {
				return nil
			}
			if ok && 999_999_999_999-n < from {
				return store.ErrStop
			}
			o, err := getOrderMeta(tx, ref)
			if errors.Is(err, store.ErrNotFound) {
				return nil // purged
			}
			if err != nil { // the sweep would fail on it too: not a reason not to start
				s.log.Warn("shop: schedule: unreadable order", "ref", ref, "err", err)
				return nil
			}
			if t := expiresAt(o); !t.IsZero() {
				s.expiring.add(o.Ref, t, o.CreatedAt)
			}
			if t := settlesAt(o); !t.IsZero() {
				s.settling.add(o.Ref, t, o.CreatedAt)
			}
			return nil
		})
	})
}

// dueOrders lists the orders of l due by now for which when (expiresAt,
// settlesAt) still names a time by now. The others leave l, or move to the
// time when names.
func (s *Shop) dueOrders(l *dueList, now time.Time, when func(Order) time.Time) ([]string, error) {
	refs := l.taken(now)
	if len(refs) == 0 {
		return nil, nil
	}
	next := make([]time.Time, len(refs)) // zero: done with it
	gone := make([]bool, len(refs))
	err := s.db.View(func(tx *store.Txn) error {
		for i, ref := range refs {
			o, err := getOrderMeta(tx, ref)
			if errors.Is(err, store.ErrNotFound) {
				gone[i] = true
				continue
			}
			if err != nil {
				return err
			}
			next[i] = when(o)
		}
		return nil
	})
	if err != nil {
		for _, ref := range refs {
			l.retry(ref)
		}
		return nil, err
	}
	var out []string
	for i, ref := range refs {
		switch t := next[i]; {
		case gone[i] || t.IsZero():
			l.done(ref)
		case t.After(now):
			l.set(ref, t)
		default:
			out = append(out, ref)
		}
	}
	return out, nil
}

// after records the job's outcome for ref, one of the orders of l: next
// is the time the order turned out to be due (zero: the job is done
// with it); after an error it is tried again on the next sweep.
func (l *dueList) after(ref string, next time.Time, err error) {
	switch {
	case err != nil && !errors.Is(err, errSkip):
		l.retry(ref)
	case !next.IsZero():
		l.set(ref, next)
	default:
		l.done(ref)
	}
}

// advanceSweepFrom moves the mark up to the oldest order either list
// holds (at most to an hour ago), at most once an hour.
func (s *Shop) advanceSweepFrom(now time.Time) error {
	s.sweepMu.Lock()
	if now.Before(s.nextSweepFrom) {
		s.sweepMu.Unlock()
		return nil
	}
	s.nextSweepFrom = now.Add(sweepFromEvery)
	s.sweepMu.Unlock()
	err := s.db.Update(func(tx *store.Txn) error {
		// Here, on the committer: every list entry of a transaction
		// before this one is in the lists.
		to := now.Add(-sweepFromLag).Unix()
		for _, l := range []*dueList{&s.expiring, &s.settling} {
			if c, ok := l.oldest(); ok {
				to = min(to, c)
			}
		}
		to = hourOf(to)
		from, ok, err := getSweepFrom(tx)
		if err != nil || (ok && to <= from) {
			return err
		}
		return tx.Set(kSweepFrom, []byte(strconv.FormatInt(to, 10)))
	})
	if err != nil {
		s.sweepMu.Lock()
		s.nextSweepFrom = time.Time{}
		s.sweepMu.Unlock()
		return fmt.Errorf("shop: advance the sweep's mark: %w", err)
	}
	return nil
}

// dropIfPresent deletes key if it is there (a read costs less than a
// write): the expiry/ and settle/ entries of orders stored before the
// lists above.
func dropIfPresent(tx *store.Txn, key string) error {
	ok, err := tx.Has(key)
	if err != nil || !ok {
		return err
	}
	return tx.Delete(key)
}
