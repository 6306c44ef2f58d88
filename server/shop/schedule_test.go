package shop

import (
	"strconv"
	"testing"
	"time"

	"veil/server/store"
)

func (e *env) reopen() {
	e.t.Helper()
	if err := e.db.Close(); err != nil {
		e.t.Fatal(err)
	}
	n := openEnv(e.t, e.dir, e.clock)
	e.db, e.shop = n.db, n.shop
	if err := e.shop.Unlock(testPass); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) sweepFrom() (int64, bool) {
	e.t.Helper()
	var from int64
	var ok bool
	err := e.db.View(func(tx *store.Txn) error {
		var err error
		from, ok, err = getSweepFrom(tx)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return from, ok
}

func (e *env) keysUnder(prefix string) int {
	e.t.Helper()
	n := 0
	err := e.db.View(func(tx *store.Txn) error {
		return tx.Iterate(prefix, "", true, func(string, []byte) error { n++; return nil })
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) sweep(want SweepResult) {
	e.t.Helper()
	r, err := e.shop.Sweep()
	if err != nil || r != want {
		e.t.Fatalf("sweep: %+v %v, want %+v", r, err, want)
	}
}

func (e *env) status(ref string) Status {
	e.t.Helper()
	o, err := e.shop.OrderByRef(ref)
	if err != nil {
		e.t.Fatal(err)
	}
	return o.Status
}

// TestScheduleAfterRestart: with no expiry/ or settle/ index, a restarted
// shop still expires the pending order and settles the delivered one, each
// at its time; the mark moves past them, and a late payment of an order
// older than the mark lowers it, so a restart still finds that order and
// settles it.
func TestScheduleAfterRestart(t *testing.T) {
	e := newEnv(t)
	p := e.product("sched", Unique)
	e.importKeys(p.ID, keyList("SCHED", 4))
	a := e.buy(p.ID, 1)
	b := e.buy(p.ID, 1)
	e.pay(b.Order)
	if n := e.keysUnder(pExpiry) + e.keysUnder(pSettle); n != 0 {
		t.Fatalf("%d expiry/settle index entries written", n)
	}
	e.reopen()
	if e.shop.expiring.len() != 1 || e.shop.settling.len() != 1 {
		t.Fatalf("after restart: %d expiring, %d settling", e.shop.expiring.len(), e.shop.settling.len())
	}
	e.clock.Add(14 * time.Minute)
	e.sweep(SweepResult{})
	e.clock.Add(2 * time.Minute)
	e.sweep(SweepResult{Expired: 1})
	if e.status(a.Order.Ref) != StatusExpired || e.stock(p.ID) != 3 {
		t.Fatalf("a %s, stock %d", e.status(a.Order.Ref), e.stock(p.ID))
	}
	e.reopen()
	e.clock.Add(71 * time.Hour)
	e.sweep(SweepResult{})
	e.clock.Add(time.Hour)
	e.sweep(SweepResult{Settled: 1})
	if e.status(b.Order.Ref) != StatusSettled {
		t.Fatalf("b %s", e.status(b.Order.Ref))
	}
	if e.shop.expiring.len() != 0 || e.shop.settling.len() != 0 {
		t.Fatalf("left: %d expiring, %d settling", e.shop.expiring.len(), e.shop.settling.len())
	}
	from, ok := e.sweepFrom()
	if !ok || from != hourOf(e.clock.Now().Add(-sweepFromLag).Unix()) {
		t.Fatalf("mark %d %v, want an hour ago", from, ok)
	}

	// c expires, the mark passes it, then its late payment delivers it.
	c := e.buy(p.ID, 1)
	e.clock.Add(16 * time.Minute)
	e.sweep(SweepResult{Expired: 1})
	e.clock.Add(2 * time.Hour)
	e.sweep(SweepResult{})
	if from, _ := e.sweepFrom(); from <= c.Order.CreatedAt.Unix() {
		t.Fatalf("mark %d not past c (%d)", from, c.Order.CreatedAt.Unix())
	}
	if o := e.pay(c.Order); o.Status != StatusDelivered {
		t.Fatalf("late payment: %s", o.Status)
	}
	if from, _ := e.sweepFrom(); from != hourOf(c.Order.CreatedAt.Unix()) {
		t.Fatalf("mark %d, want the hour of c's creation %d", from, c.Order.CreatedAt.Unix())
	}
	e.reopen()
	e.clock.Add(73 * time.Hour)
	e.sweep(SweepResult{Settled: 1})
	if e.status(c.Order.Ref) != StatusSettled {
		t.Fatalf("c %s", e.status(c.Order.Ref))
	}
}

// TestScheduleOldIndexes: a store written before the schedule keeps its
// expiry/ and settle/ entries (and its orders may be older than any walk):
// they still expire and settle, and each entry goes with its order's
// change, a payment included.
func TestScheduleOldIndexes(t *testing.T) {
	e := newEnv(t)
	p := e.product("oldidx", Unique)
	e.importKeys(p.ID, keyList("OLDIDX", 4))
	a, b, c := e.buy(p.ID, 1), e.buy(p.ID, 1), e.buy(p.ID, 1)
	e.pay(b.Order)
	b.Order, _ = e.shop.OrderByRef(b.Order.Ref)
	e.toOldForm(a.Order.Ref)
	keys := []string{
		pExpiry + unixKey(a.Order.ExpiresAt) + "/" + a.Order.Ref,
		pSettle + unixKey(b.Order.WindowEnds) + "/" + b.Order.Ref,
		pExpiry + unixKey(c.Order.ExpiresAt) + "/" + c.Order.Ref,
	}
	err := e.db.Update(func(tx *store.Txn) error {
		for _, k := range keys {
			if err := tx.Set(k, nil); err != nil {
				return err
			}
		}
		// A mark past all three: the start's walk does not see them.
		return tx.Set(kSweepFrom, []byte(strconv.FormatInt(e.clock.Now().Add(time.Minute).Unix(), 10)))
	})
	if err != nil {
		t.Fatal(err)
	}
	e.reopen()
	if e.shop.expiring.len() != 0 || e.shop.settling.len() != 0 {
		t.Fatalf("walked past the mark: %d expiring, %d settling", e.shop.expiring.len(), e.shop.settling.len())
	}
	e.pay(c.Order)
	if e.keysUnder(pExpiry) != 1 {
		t.Fatal("a payment left its order's expiry entry")
	}
	e.clock.Add(16 * time.Minute)
	e.sweep(SweepResult{Expired: 1})
	if e.status(a.Order.Ref) != StatusExpired || e.keysUnder(pExpiry) != 0 {
		t.Fatalf("a %s, %d expiry entries", e.status(a.Order.Ref), e.keysUnder(pExpiry))
	}
	e.clock.Add(72 * time.Hour)
	e.sweep(SweepResult{Settled: 2}) // b from its entry, c from the list
	if e.status(b.Order.Ref) != StatusSettled || e.status(c.Order.Ref) != StatusSettled || e.keysUnder(pSettle) != 0 {
		t.Fatalf("b %s, c %s, %d settle entries", e.status(b.Order.Ref), e.status(c.Order.Ref), e.keysUnder(pSettle))
	}
}

func TestDueList(t *testing.T) {
	var l dueList
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	l.add("R-A", at(10), at(0))
	l.add("R-B", at(5), at(1))
	l.add("R-A", at(20), at(0)) // later: kept at 10
	l.add("R-C", at(30), at(2))
	l.add("R-C", at(3), at(2)) // earlier: moves
	if got := l.taken(at(4)); len(got) != 1 || got[0] != "R-C" {
		t.Fatalf("due at 4: %v", got)
	}
	l.retry("R-C")
	if got := l.taken(at(10)); len(got) != 3 {
		t.Fatalf("due at 10: %v", got)
	}
	l.after("R-A", time.Time{}, nil)       // done
	l.after("R-B", at(60), errSkip)        // not yet: due at 60
	l.after("R-C", time.Time{}, errNoSave) // failed: tried again
	if got := l.taken(at(59)); len(got) != 1 || got[0] != "R-C" {
		t.Fatalf("due at 59: %v", got)
	}
	if c, ok := l.oldest(); !ok || c != at(1).Unix() || l.len() != 2 {
		t.Fatalf("oldest %d %v, %d left", c, ok, l.len())
	}
	if got := l.taken(at(60)); len(got) != 1 || got[0] != "R-B" {
		t.Fatalf("due at 60: %v", got)
	}
}
