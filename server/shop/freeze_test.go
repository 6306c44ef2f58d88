package shop

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"veil/server/store"
)

// freezeEnv: a product whose first batch (100 keys) sold 80 keys to sixteen
// paid orders of five, and a second batch of 10 from another supplier.
type freezeEnv struct {
	*env
	prod   Product
	bad    ImportResult
	good   ImportResult
	goodKs []string
	paid   []Placed
	frozen []Freeze // what OnBatchFrozen saw
}

func newFreezeEnv(t *testing.T) *freezeEnv { return newFreezeEnvGood(t, 10) }

func newFreezeEnvGood(t *testing.T, good int) *freezeEnv {
	e := &freezeEnv{env: newEnv(t)}
	e.shop.cfg.OnBatchFrozen = func(_ *store.Txn, f Freeze) error {
		e.frozen = append(e.frozen, f)
		return nil
	}
	e.prod = e.product("game", Unique)
	e.bad = e.importKeys(e.prod.ID, keyList("BAD", 100))
	for range 16 {
		pl := e.buy(e.prod.ID, 5)
		e.pay(pl.Order)
		e.paid = append(e.paid, pl)
	}
	e.clock.Add(time.Millisecond) // a later batch id
	e.goodKs = keyList("GOOD", good)
	if good == 0 {
		return e
	}
	res, err := e.shop.ImportKeys(e.prod.ID, BatchInfo{Supplier: "other"}, strings.NewReader(strings.Join(e.goodKs, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	e.good = res
	return e
}

func (e *freezeEnv) report(i int, reason Reason) Ticket {
	e.t.Helper()
	e.frozen = e.frozen[:0:0]
	tk, err := e.shop.OpenTicket(e.paid[i].Token, reason, e.paid[i].Order.Items[0])
	if err != nil {
		e.t.Fatal(err)
	}
	return tk
}

// TestFreezeAtThresholdNotBefore: 80 delivered keys make 5% four orders, so
// the default rule (3 orders and ≥ 5%) freezes at the fourth distinct
// order, not at the third; a second ticket of one order and tickets of
// other kinds do not count. The freeze takes the batch's unsold keys out of
// stock, swaps a pending order's keys to the other batch, tells the owner
// once and leaves the product "temporarily unavailable" when only frozen
// keys remain.
func TestFreezeAtThresholdNotBefore(t *testing.T) {
	e := newFreezeEnv(t)
	pending := e.buy(e.prod.ID, 2) // holds BAD keys 81 and 82
	if !strings.HasPrefix(pending.Order.Items[0], e.bad.BatchID) {
		t.Fatalf("pending order holds %v", pending.Order.Items)
	}
	if e.stock(e.prod.ID) != 28 {
		t.Fatalf("stock %d", e.stock(e.prod.ID))
	}
	e.report(0, ReasonKeyInvalid)
	e.report(0, ReasonKeyAlreadyUsed) // the same order again
	e.report(1, ReasonWrongRegion)    // not about a bad key
	e.report(2, ReasonKeyAlreadyUsed)
	e.report(3, ReasonKeyInvalid) // three distinct orders: 3 < 5% of 80
	if _, err := e.shop.FrozenBatch(e.bad.BatchID); !errors.Is(err, ErrNotFrozen) || e.stock(e.prod.ID) != 28 {
		t.Fatalf("frozen before the threshold: %v, stock %d", err, e.stock(e.prod.ID))
	}
	ev, err := e.shop.BatchEvidence(e.bad.BatchID)
	if err != nil || len(ev.Reports) != 3 || ev.Delivered != 80 {
		t.Fatalf("evidence %+v %v", ev, err)
	}
	tk := e.report(4, ReasonKeyInvalid) // the fourth: 4 ≥ 5% of 80
	f, err := e.shop.FrozenBatch(e.bad.BatchID)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Reports) != 4 || f.Delivered != 80 || f.Held != 18 || f.Swapped != 2 || f.Unswapped != 0 || f.Supplier != "acme" {
		t.Fatalf("freeze %+v", f)
	}
	if !slices.ContainsFunc(f.Reports, func(r BatchReport) bool { return r.Ref == e.paid[4].Order.Ref && r.Ticket == tk.ID }) {
		t.Fatalf("evidence %+v", f.Reports)
	}
	if len(e.frozen) != 1 || e.frozen[0].Batch != e.bad.BatchID {
		t.Fatalf("owner told %+v", e.frozen)
	}
	st, err := e.shop.Stock(e.prod.ID)
	if err != nil || len(st) != 2 || st[0].Frozen != 20 || st[0].Available != 0 || !st[0].FrozenAt.Equal(f.At) || !st[1].FrozenAt.IsZero() {
		t.Fatalf("stock by batch %+v %v", st, err)
	}
	p, _ := e.shop.Product(e.prod.ID)
	if p.InStock != 8 || p.FrozenStock != 20 || p.TemporarilyUnavailable { // 18 unsold, 2 swapped out
		t.Fatalf("stock %d frozen %d", p.InStock, p.FrozenStock)
	}
	// The pending order now holds keys of the good batch; paid, it gets them.
	e.pay(pending.Order)
	if ks := e.keysOf(pending.Token); len(ks) != 2 || ks[0] != e.goodKs[0] || ks[1] != e.goodKs[1] {
		t.Fatalf("pending order delivered %v", ks)
	}
	// The rest sells only good keys, then the product pauses.
	for i := range 8 {
		pl := e.buy(e.prod.ID, 1)
		e.pay(pl.Order)
		if ks := e.keysOf(pl.Token); ks[0] != e.goodKs[2+i] {
			t.Fatalf("sold %v", ks)
		}
	}
	if _, err := e.shop.PlaceOrder(e.prod.ID, 1, nil); !errors.Is(err, ErrOutOfStock) {
		t.Fatalf("sold a frozen key: %v", err)
	}
	p, _ = e.shop.Product(e.prod.ID)
	if !p.TemporarilyUnavailable {
		t.Fatalf("not temporarily unavailable: %+v", p)
	}
	// A fifth report does not freeze twice.
	e.report(5, ReasonKeyInvalid)
	if len(e.frozen) != 0 {
		t.Fatal("frozen twice")
	}
	// After a restart the frozen keys stay out of stock.
	e.db.Close()
	re := openEnv(t, e.dir, e.clock)
	t.Cleanup(func() { re.db.Close() })
	if p, _ := re.shop.Product(e.prod.ID); p.InStock != 0 || p.FrozenStock != 20 {
		t.Fatalf("after restart: stock %d frozen %d", p.InStock, p.FrozenStock)
	}
}

// Reports older than the window do not count.
func TestFreezeWindow(t *testing.T) {
	e := newFreezeEnv(t)
	setRule := func(r FreezeRule) error {
		return e.db.Update(func(tx *store.Txn) error { return e.shop.SetFreezeRuleTx(tx, r) })
	}
	if err := setRule(FreezeRule{MinReports: 3, MinPermille: 0, WindowHours: 24}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		e.report(i, ReasonKeyInvalid)
	}
	e.clock.Add(24*time.Hour + time.Minute)
	e.report(2, ReasonKeyInvalid)
	if _, err := e.shop.FrozenBatch(e.bad.BatchID); !errors.Is(err, ErrNotFrozen) {
		t.Fatalf("old reports counted: %v", err)
	}
	// The owner's rule: 1 report within the hour is enough.
	if err := setRule(FreezeRule{MinReports: 1, MinPermille: 0, WindowHours: 1}); err != nil {
		t.Fatal(err)
	}
	var ie *InputError
	if err := setRule(FreezeRule{}); !errors.As(err, &ie) {
		t.Fatalf("zero rule accepted: %v", err)
	}
	e.report(4, ReasonKeyInvalid)
	if _, err := e.shop.FrozenBatch(e.bad.BatchID); err != nil {
		t.Fatalf("owner's rule: %v", err)
	}
}

// Unfreezing puts the keys back on sale and starts the count afresh;
// recalling a frozen batch withdraws its frozen keys; an order that held a
// frozen key it could not swap gives it back frozen when it expires.
func TestUnfreezeRecallAndExpiry(t *testing.T) {
	e := newFreezeEnvGood(t, 0) // no other batch to swap to
	pending := e.buy(e.prod.ID, 1)
	if !strings.HasPrefix(pending.Order.Items[0], e.bad.BatchID) {
		t.Fatalf("pending holds %v", pending.Order.Items)
	}
	for i := range 4 {
		e.report(i, ReasonKeyInvalid)
	}
	f, err := e.shop.FrozenBatch(e.bad.BatchID)
	if err != nil || f.Held != 19 || f.Unswapped != 1 {
		t.Fatalf("freeze %+v %v", f, err)
	}
	e.expireAll()
	if p, _ := e.shop.Product(e.prod.ID); p.InStock != 0 || p.FrozenStock != 20 {
		t.Fatalf("after expiry: stock %d frozen %d", p.InStock, p.FrozenStock)
	}
	var n int
	err = e.db.Update(func(tx *store.Txn) error {
		var err error
		_, n, err = e.shop.UnfreezeTx(tx, e.bad.BatchID)
		return err
	})
	if err != nil || n != 20 {
		t.Fatalf("unfreeze %d %v", n, err)
	}
	if err := e.shop.Reconcile(e.prod.ID); err != nil {
		t.Fatal(err)
	}
	if p, _ := e.shop.Product(e.prod.ID); p.InStock != 20 || p.FrozenStock != 0 {
		t.Fatalf("after unfreeze: stock %d frozen %d", p.InStock, p.FrozenStock)
	}
	active, past, err := e.shop.Freezes(10)
	if err != nil || len(active) != 0 || len(past) != 1 || past[0].EndedBy != "unfrozen" {
		t.Fatalf("freezes %+v %+v %v", active, past, err)
	}
	if err := e.db.Update(func(tx *store.Txn) error { _, _, err := e.shop.UnfreezeTx(tx, e.bad.BatchID); return err }); !errors.Is(err, ErrNotFrozen) {
		t.Fatalf("unfreeze twice: %v", err)
	}
	// Old reports were cleared: one more does not freeze again.
	e.report(5, ReasonKeyInvalid)
	if _, err := e.shop.FrozenBatch(e.bad.BatchID); !errors.Is(err, ErrNotFrozen) {
		t.Fatalf("froze again on old evidence: %v", err)
	}
	for i := 6; i < 8; i++ {
		e.report(i, ReasonKeyInvalid)
	}
	e.report(4, ReasonKeyAlreadyUsed) // the order was counted before the unfreeze: counts again as new evidence
	if _, err := e.shop.FrozenBatch(e.bad.BatchID); err != nil {
		t.Fatalf("not frozen again: %v", err)
	}
	// Recalling the frozen batch withdraws its 20 frozen keys.
	var res RecallResult
	err = e.db.Update(func(tx *store.Txn) error {
		var err error
		res, err = e.shop.RecallTx(tx, e.bad.BatchID)
		return err
	})
	if err != nil || res.Withdrawn != 20 {
		t.Fatalf("recall %+v %v", res, err)
	}
	_ = e.shop.Reconcile(e.prod.ID)
	if p, _ := e.shop.Product(e.prod.ID); p.InStock != 0 || p.FrozenStock != 0 {
		t.Fatalf("after recall: stock %d frozen %d", p.InStock, p.FrozenStock)
	}
	if _, past, _ := e.shop.Freezes(10); len(past) != 2 || past[0].EndedBy == past[1].EndedBy {
		t.Fatalf("history %+v", past)
	}
}

// freezeOff turns automatic freezes off, for tests of other things that
// report many keys of one batch as bad.
func (e *env) freezeOff() {
	e.t.Helper()
	r := DefaultFreezeRule
	r.Off = true
	if err := e.db.Update(func(tx *store.Txn) error { return e.shop.SetFreezeRuleTx(tx, r) }); err != nil {
		e.t.Fatal(err)
	}
}
