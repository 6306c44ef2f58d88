package shop

import (
	"errors"
	"slices"
	"testing"
	"time"

	"veil/server/store"
)

// coolingProduct is a product with a 30-minute cooling-off offer.
func (e *env) coolingProduct(slug string) Product {
	e.t.Helper()
	p, err := e.shop.CreateProduct(Product{Slug: slug, Name: Text{"en": "c"}, PriceMinor: 100, Currency: "CNY",
		Policy: Policy{WindowHours: 24, Remedies: []Remedy{RemedyRefund}, CoolingOffMinutes: 30}})
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// TestWithheldKeysStayWithheld: an order refunded under the cooling-off
// offer before its keys were shown keeps them hidden whatever arrives
// later — a second payment (the order turns refund_due: money owed back,
// never a delivery), a recall of its batch — and its sealed delivery is
// gone from the order record.
func TestWithheldKeysStayWithheld(t *testing.T) {
	e := newEnv(t)
	p := e.coolingProduct("cool")
	keys := keyList("WH", 3)
	e.importKeys(p.ID, keys)
	pl := e.buy(p.ID, 1)
	if r := e.apply(pl.Order.Ref, gw("T-1", 100), nil); r.Order.Status != StatusDelivered {
		t.Fatalf("paid: %s", r.Order.Status)
	}
	if err := e.db.Update(func(tx *store.Txn) error { _, err := e.shop.CoolingOffRefundTx(tx, pl.Order.Ref); return err }); err != nil {
		t.Fatal(err)
	}
	o := e.order(pl.Order.Ref)
	if o.Status != StatusRefunded || !o.Withheld || len(o.Payloads) != 0 {
		t.Fatalf("after the cooling-off refund: %s withheld=%v payloads=%d", o.Status, o.Withheld, len(o.Payloads))
	}

	// A second, signed payment with a new trade number: owed back.
	r := e.apply(pl.Order.Ref, gw("T-2", 100), nil)
	if r.Outcome != OutcomeOwed || r.Order.Status != StatusRefundDue {
		t.Fatalf("later payment: %s %s", r.Outcome, r.Order.Status)
	}
	v, err := e.shop.Retrieve(pl.Token)
	if err != nil || len(v.Items) != 0 {
		t.Fatalf("after a later payment: %d items, %v", len(v.Items), err)
	}
	if v.Order.Revealed {
		t.Fatal("a withheld order was recorded as revealed")
	}

	// A recall of its batch gives it nothing either.
	var batch string
	err = e.db.View(func(tx *store.Txn) error {
		var rec keyRecord
		if err := getKeyRec(tx, o.Items[0], &rec); err != nil {
			return err
		}
		batch = rec.Batch
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var res RecallResult
	if err := e.db.Update(func(tx *store.Txn) (err error) { res, err = e.shop.RecallTx(tx, batch); return err }); err != nil {
		t.Fatal(err)
	}
	if res.Replaced != 0 || res.RefundDue != 0 {
		t.Fatalf("recall replaced or owed on a refunded order: %+v", res)
	}
	v, err = e.shop.Retrieve(pl.Token)
	if err != nil || len(v.Items) != 0 || v.Order.Status != StatusRefundDue {
		t.Fatalf("after a recall: %d items, %s, %v", len(v.Items), v.Order.Status, err)
	}
}

// TestPaidOrdersStopCountingAsUnpaid: the cap on unpaid orders per client
// counts only orders still waiting for payment — one paid (or held for
// staff, or expired) leaves the count at once.
func TestPaidOrdersStopCountingAsUnpaid(t *testing.T) {
	e := newEnv(t)
	p := e.product("game", Unique)
	e.importKeys(p.ID, keyList("PU", 10))
	max := DefaultTierRules().MaxUnpaid[0]
	place := func() (Placed, error) {
		return e.shop.Place(OrderRequest{Product: p.ID, Quantity: 1, Holder: "client-a"})
	}
	for i := range max {
		pl, err := place()
		if err != nil {
			t.Fatalf("order %d: %v", i+1, err)
		}
		if i == 0 {
			e.pay(pl.Order) // demo payment
		} else {
			e.apply(pl.Order.Ref, gw("PU-"+pl.Order.Ref, pl.Order.AmountMinor), nil) // gateway
		}
	}
	if _, err := place(); err != nil {
		t.Fatalf("a newcomer who paid %d orders: %v", max, err)
	}
	// A payment held for staff (another amount) also stops the count.
	for range max - 1 {
		if _, err := place(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := place(); !errors.Is(err, ErrTierLimit) {
		t.Fatalf("over the cap with %d unpaid: %v", max, err)
	}
}

// TestHeldPaymentStopsCountingAsUnpaid: a payment of another amount is
// still a payment; the order leaves the unpaid count.
func TestHeldPaymentStopsCountingAsUnpaid(t *testing.T) {
	e := newEnv(t)
	p := e.product("game", Unique)
	e.importKeys(p.ID, keyList("PH", 10))
	max := DefaultTierRules().MaxUnpaid[0]
	var first Placed
	for i := range max {
		pl, err := e.shop.Place(OrderRequest{Product: p.ID, Quantity: 1, Holder: "client-h"})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = pl
		}
	}
	if r := e.apply(first.Order.Ref, gw("PH-1", first.Order.AmountMinor-1), nil); r.Outcome != OutcomeHeld {
		t.Fatalf("held: %s", r.Outcome)
	}
	if _, err := e.shop.Place(OrderRequest{Product: p.ID, Quantity: 1, Holder: "client-h"}); err != nil {
		t.Fatalf("after a held payment: %v", err)
	}
}

// rewardFor returns a fresh discount code of pct percent, as a loyal
// buyer would get one.
func (e *env) rewardFor(pct int) string {
	e.t.Helper()
	code := newRewardCode()
	if err := e.db.Update(func(tx *store.Txn) error { return tx.SetJSON(rewardKey(code), reward{Percent: pct}) }); err != nil {
		e.t.Fatal(err)
	}
	return code
}

func (e *env) rewardUsed(code string) bool {
	e.t.Helper()
	var rw reward
	if err := e.db.View(func(tx *store.Txn) error { return tx.GetJSON(rewardKey(code), &rw) }); err != nil {
		e.t.Fatal(err)
	}
	return rw.Used
}

func (e *env) expireAll() {
	e.t.Helper()
	e.clock.Add(e.shop.cfg.ReservationTTL + time.Minute)
	if _, err := e.shop.Sweep(); err != nil {
		e.t.Fatal(err)
	}
}

// TestDiscountGivenBackOnExpiry: a code spent by an order that expires
// unpaid can be used again, exactly once.
func TestDiscountGivenBackOnExpiry(t *testing.T) {
	e := newEnv(t)
	p := e.product("game", Unique)
	e.importKeys(p.ID, keyList("DG", 10))
	code := e.rewardFor(10)
	a, err := e.shop.Place(OrderRequest{Product: p.ID, Quantity: 1, Discount: code})
	if err != nil || a.Order.AmountMinor != 891 {
		t.Fatalf("discounted order: %v", err)
	}
	e.expireAll()
	if o := e.order(a.Order.Ref); o.Status != StatusExpired {
		t.Fatalf("not expired: %s", o.Status)
	}
	if e.rewardUsed(code) {
		t.Fatal("the code of an expired order was not given back")
	}
	// A second sweep gives nothing back twice.
	if _, err := e.shop.Sweep(); err != nil {
		t.Fatal(err)
	}
	b, err := e.shop.Place(OrderRequest{Product: p.ID, Quantity: 1, Discount: code})
	if err != nil || b.Order.AmountMinor != 891 {
		t.Fatalf("the code given back: %v", err)
	}
	if _, err := e.shop.Place(OrderRequest{Product: p.ID, Quantity: 1, Discount: code}); err == nil {
		t.Fatal("a code given back worked twice")
	}
}

// TestLatePaymentDoesNotDoubleSpendDiscount: an expired order's code was
// given back; paid late, the order takes the code again if it is still
// unused, and if another order spent it meanwhile the late payment is held
// for staff instead of buying at a discount twice.
func TestLatePaymentDoesNotDoubleSpendDiscount(t *testing.T) {
	e := newEnv(t)
	p := e.product("game", Unique)
	e.importKeys(p.ID, keyList("DL", 10))

	// Unused meanwhile: the late payment takes the code again.
	code := e.rewardFor(10)
	a, err := e.shop.Place(OrderRequest{Product: p.ID, Quantity: 1, Discount: code})
	if err != nil {
		t.Fatal(err)
	}
	e.expireAll()
	if r := e.apply(a.Order.Ref, gw("DL-A", 891), nil); r.Outcome != OutcomeApplied || r.Order.Status != StatusDelivered {
		t.Fatalf("late payment: %s %s", r.Outcome, r.Order.Status)
	}
	if !e.rewardUsed(code) {
		t.Fatal("a late payment left its code free to spend again")
	}
	if _, err := e.shop.Place(OrderRequest{Product: p.ID, Quantity: 1, Discount: code}); err == nil {
		t.Fatal("the code worked again after the late payment took it")
	}

	// Spent by another order meanwhile: held for staff.
	code2 := e.rewardFor(10)
	b, err := e.shop.Place(OrderRequest{Product: p.ID, Quantity: 1, Discount: code2})
	if err != nil {
		t.Fatal(err)
	}
	e.expireAll()
	if _, err := e.shop.Place(OrderRequest{Product: p.ID, Quantity: 1, Discount: code2}); err != nil {
		t.Fatalf("the code given back: %v", err)
	}
	held := 0
	onHeld := func(*store.Txn, PaymentRecord) (string, error) { held++; return "9", nil }
	r := e.apply(b.Order.Ref, gw("DL-B", 891), onHeld)
	if r.Outcome != OutcomeHeld || r.Order.Status != StatusPaymentHeld || r.Record.Reason != "discount_spent" || held == 0 {
		t.Fatalf("late payment with the code spent elsewhere: %s %s %q", r.Outcome, r.Order.Status, r.Record.Reason)
	}
	if slices.ContainsFunc(r.Order.Notices, func(n Notice) bool { return n.Code == "late_payment_reserved" }) {
		t.Fatal("delivered at a discount twice")
	}
}

// A held payment that staff refuse bought nothing: the order's discount
// code is given back, once.
func TestRefusedHeldPaymentGivesDiscountBack(t *testing.T) {
	e := newEnv(t)
	p := e.product("game", Unique)
	e.importKeys(p.ID, keyList("DH", 10))
	code := e.rewardFor(10)
	a, err := e.shop.Place(OrderRequest{Product: p.ID, Quantity: 1, Discount: code})
	if err != nil {
		t.Fatal(err)
	}
	onHeld := func(tx *store.Txn, rec PaymentRecord) (string, error) { return "AP-" + rec.Payment.TradeNo, nil }
	if r := e.apply(a.Order.Ref, gw("DH-1", 500), onHeld); r.Order.Status != StatusPaymentHeld {
		t.Fatalf("underpaid: %s", r.Order.Status)
	}
	if !e.rewardUsed(code) {
		t.Fatal("the code is free while its order's payment is held")
	}
	if _, err := e.shop.RefuseHeld(a.Order.Ref, "AP-DH-1"); err != nil {
		t.Fatal(err)
	}
	if e.rewardUsed(code) {
		t.Fatal("the code of a refused payment was not given back")
	}
	if _, err := e.shop.Place(OrderRequest{Product: p.ID, Quantity: 1, Discount: code}); err != nil {
		t.Fatalf("the code given back: %v", err)
	}
	if _, err := e.shop.Place(OrderRequest{Product: p.ID, Quantity: 1, Discount: code}); err == nil {
		t.Fatal("a code given back worked twice")
	}
}
