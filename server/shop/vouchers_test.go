package shop

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"veil/server/store"
)

// compEnv is a shop whose compensation hook records proposals.
type compEnv struct {
	*env
	mu       sync.Mutex
	proposed []VoucherProposal
}

func newCompEnv(t *testing.T) *compEnv {
	t.Helper()
	ce := &compEnv{}
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c := newClock()
	sh, err := New(db, Config{Now: c.Now, VaultWorkFactor: 10, OnCompensate: func(_ *store.Txn, x VoucherProposal) error {
		ce.mu.Lock()
		defer ce.mu.Unlock()
		ce.proposed = append(ce.proposed, x)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	ce.env = &env{t: t, dir: dir, db: db, shop: sh, clock: c}
	if _, err := sh.InitVault(testPass); err != nil {
		t.Fatal(err)
	}
	return ce
}

func (ce *compEnv) setRule(r CompensationRule) {
	ce.t.Helper()
	if err := ce.db.Update(func(tx *store.Txn) error { return ce.shop.SetCompensationRuleTx(tx, r) }); err != nil {
		ce.t.Fatal(err)
	}
}

func (ce *compEnv) issue(ref string, amount int64, approval string) IssuedVoucher {
	ce.t.Helper()
	var iv IssuedVoucher
	err := ce.db.Update(func(tx *store.Txn) error {
		var err error
		iv, err = ce.shop.IssueVoucherTx(tx, ref, amount, approval, CauseStaff)
		return err
	})
	if err != nil {
		ce.t.Fatal(err)
	}
	return iv
}

// TestVoucherReachesBuyerOnceAndSpendsOnce: an approved voucher is issued
// once per approval, shows only to the token holder, pays once, and is
// given back with an order that expires.
func TestVoucherReachesBuyerOnceAndSpendsOnce(t *testing.T) {
	e := newCompEnv(t)
	p := e.product("game", Unique)
	e.importKeys(p.ID, keyList("VR", 10))
	a := e.buy(p.ID, 1)
	e.pay(a.Order)

	unpaid := e.buy(p.ID, 1)
	if err := e.db.Update(func(tx *store.Txn) error {
		_, err := e.shop.IssueVoucherTx(tx, unpaid.Order.Ref, 100, "1", CauseStaff)
		return err
	}); !errors.Is(err, ErrNotCompensable) {
		t.Fatalf("voucher for an unpaid order: %v", err)
	}

	e.issue(a.Order.Ref, 300, "7")
	e.issue(a.Order.Ref, 300, "7") // the same approval again: nothing more
	v, err := e.shop.Retrieve(a.Token)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Vouchers) != 1 || v.Vouchers[0].AmountMinor != 300 || v.Vouchers[0].Used || len(v.Vouchers[0].Code) != 23 {
		t.Fatalf("vouchers on the order page: %+v", v.Vouchers)
	}
	code := v.Vouchers[0].Code
	// Retrieved again (now from the symmetric re-seal): the same code.
	if v2, err := e.shop.Retrieve(a.Token); err != nil || len(v2.Vouchers) != 1 || v2.Vouchers[0].Code != code {
		t.Fatalf("second retrieval: %+v %v", v2.Vouchers, err)
	}
	// Staff see the order, never the code.
	o := e.order(a.Order.Ref)
	if len(o.Vouchers) != 1 || !o.Vouchers[0].Sym {
		t.Fatalf("stored voucher: %+v", o.Vouchers)
	}
	scanDir(t, e.dir, []string{code})

	b, err := e.shop.Place(OrderRequest{Product: p.ID, Quantity: 1, Coupon: code})
	if err != nil || b.Order.AmountMinor != 690 || b.Order.CouponCode != "" || b.Order.CouponOff != 300 {
		t.Fatalf("pay with the voucher: %+v %v", b.Order.AmountMinor, err)
	}
	if _, err := e.shop.Place(OrderRequest{Product: p.ID, Quantity: 1, Coupon: code}); couponCode(err) != CouponUsedUp {
		t.Fatalf("voucher twice: %v", err)
	}
	if v, _ := e.shop.Retrieve(a.Token); !v.Vouchers[0].Used {
		t.Fatal("the order page does not show the voucher used")
	}
	// b expires: the voucher is back, once.
	e.expireAll()
	if v, _ := e.shop.Retrieve(a.Token); v.Vouchers[0].Used {
		t.Fatal("voucher of an expired order not given back")
	}
	stats, err := e.shop.Vouchers()
	if err != nil || len(stats) != 1 || stats[0].Issued != 1 || stats[0].IssuedMinor != 300 || stats[0].Used != 0 {
		t.Fatalf("stats: %+v %v", stats, err)
	}
	if _, err := e.shop.Place(OrderRequest{Product: p.ID, Quantity: 1, Coupon: code}); err != nil {
		t.Fatal(err)
	}
	if stats, _ := e.shop.Vouchers(); stats[0].Used != 1 || stats[0].UsedMinor != 300 {
		t.Fatalf("stats after use: %+v", stats)
	}
}

// TestProactiveCompensation: with the owner's rule on, a paid order
// delivered late from the queue and one that became refund_due each get
// one proposal of the rule's percent; a prompt delivery gets none; with
// the rule off, nothing is proposed.
func TestProactiveCompensation(t *testing.T) {
	e := newCompEnv(t)
	p := e.product("game", Unique)
	e.importKeys(p.ID, keyList("PC", 10))

	// Off by default.
	a := e.buy(p.ID, 1)
	e.shop.Lock()
	e.pay(a.Order)
	e.clock.Add(31 * time.Minute)
	if _, err := e.shop.Sweep(); err != nil {
		t.Fatal(err)
	}
	if len(e.proposed) != 0 {
		t.Fatalf("rule off, yet proposed %+v", e.proposed)
	}
	if err := e.shop.Unlock(testPass); err != nil {
		t.Fatal(err)
	}

	e.setRule(CompensationRule{Percent: 20, LateMinutes: 10, Late: true, RefundDue: true})
	// Late: locked for 12 minutes, then delivered by the sweep.
	b := e.buy(p.ID, 1)
	e.shop.Lock()
	e.pay(b.Order)
	e.clock.Add(12 * time.Minute)
	if err := e.shop.Unlock(testPass); err != nil {
		t.Fatal(err)
	}
	if r, err := e.shop.Sweep(); err != nil || r.Delivered != 1 {
		t.Fatalf("sweep: %+v %v", r, err)
	}
	// Prompt: queued for 2 minutes only.
	c := e.buy(p.ID, 1)
	e.shop.Lock()
	e.pay(c.Order)
	e.clock.Add(2 * time.Minute)
	if err := e.shop.Unlock(testPass); err != nil {
		t.Fatal(err)
	}
	if _, err := e.shop.Sweep(); err != nil {
		t.Fatal(err)
	}
	// Refund due: locked past the deadline.
	d := e.buy(p.ID, 1)
	e.shop.Lock()
	e.pay(d.Order)
	e.clock.Add(31 * time.Minute)
	if _, err := e.shop.Sweep(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.shop.Sweep(); err != nil { // nothing twice
		t.Fatal(err)
	}
	want := []VoucherProposal{
		{Ref: b.Order.Ref, AmountMinor: 198, Currency: "CNY", Cause: CauseLate, Percent: 20},
		{Ref: d.Order.Ref, AmountMinor: 198, Currency: "CNY", Cause: CauseRefundDue, Percent: 20},
	}
	if !slices.Equal(e.proposed, want) {
		t.Fatalf("proposed %+v, want %+v", e.proposed, want)
	}
	if o := e.order(d.Order.Ref); !slices.Contains(o.Compensated, CauseRefundDue) {
		t.Fatalf("refund_due order does not record its proposal: %+v", o.Compensated)
	}

	for _, r := range []CompensationRule{{Percent: -1, LateMinutes: 10}, {Percent: 101, LateMinutes: 10}, {Percent: 10}} {
		if err := r.Validate(); err == nil {
			t.Fatalf("rule %+v accepted", r)
		}
	}
}
