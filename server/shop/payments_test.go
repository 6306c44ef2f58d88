package shop

import (
	"errors"
	"testing"
	"time"

	"veil/server/store"
)

func gw(trade string, amount int64) Payment {
	return Payment{Provider: "epay", TradeNo: trade, AmountMinor: amount}
}

func (e *env) apply(ref string, p Payment, onHeld HeldFunc) PayResult {
	e.t.Helper()
	r, err := e.shop.ApplyPayment(ref, p, onHeld)
	if err != nil {
		e.t.Fatalf("apply %s: %v", p.TradeNo, err)
	}
	return r
}

func (e *env) order(ref string) Order {
	e.t.Helper()
	o, err := e.shop.OrderByRef(ref)
	if err != nil {
		e.t.Fatal(err)
	}
	return o
}

func hasNotice(o Order, code string) bool {
	for _, n := range o.Notices {
		if n.Code == code {
			return true
		}
	}
	return false
}

func TestApplyPaymentEdgeStates(t *testing.T) {
	e := newEnv(t)
	p := e.product("edge", Unique)
	e.importKeys(p.ID, keyList("E", 10))

	t.Run("exact payment delivers once, repeat is a no-op", func(t *testing.T) {
		pl := e.buy(p.ID, 1)
		if r := e.apply(pl.Order.Ref, gw("T-ok", 990), nil); r.Outcome != OutcomeApplied || r.Order.Status != StatusDelivered {
			t.Fatalf("got %s %s", r.Outcome, r.Order.Status)
		}
		if r := e.apply(pl.Order.Ref, gw("T-ok", 990), nil); r.Outcome != OutcomeRepeat || len(r.Order.Payloads) != 1 {
			t.Fatalf("repeat: %s, %d payloads", r.Outcome, len(r.Order.Payloads))
		}
		if n := len(e.keysOf(pl.Token)); n != 1 {
			t.Fatalf("%d keys", n)
		}
	})

	t.Run("one trade number cannot pay two orders", func(t *testing.T) {
		a, b := e.buy(p.ID, 1), e.buy(p.ID, 1)
		e.apply(a.Order.Ref, gw("T-one", 990), nil)
		if _, err := e.shop.ApplyPayment(b.Order.Ref, gw("T-one", 990), nil); !errors.Is(err, ErrNotPayable) {
			t.Fatalf("got %v", err)
		}
		if o := e.order(b.Order.Ref); o.Status != StatusPending {
			t.Fatalf("b is %s", o.Status)
		}
	})

	t.Run("second distinct payment on a paid order is owed back", func(t *testing.T) {
		pl := e.buy(p.ID, 1)
		e.apply(pl.Order.Ref, gw("T-first", 990), nil)
		r := e.apply(pl.Order.Ref, gw("T-second", 990), nil)
		if r.Outcome != OutcomeOwed || r.Order.Status != StatusDelivered || len(r.Order.Payloads) != 1 {
			t.Fatalf("got %s %s %d payloads", r.Outcome, r.Order.Status, len(r.Order.Payloads))
		}
		if !hasNotice(r.Order, noticeExtraPayment) {
			t.Fatal("no extra_payment notice")
		}
		owed, err := e.shop.OwedPayments()
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, rec := range owed {
			if rec.Ref == pl.Order.Ref && rec.Payment.TradeNo == "T-second" && rec.Reason == "extra" {
				found = true
			}
		}
		if !found {
			t.Fatalf("owed payments: %+v", owed)
		}
		if n := len(e.keysOf(pl.Token)); n != 1 {
			t.Fatalf("%d keys", n)
		}
	})

	t.Run("payment on a refunded order makes it refund_due", func(t *testing.T) {
		pl := e.buy(p.ID, 1)
		e.apply(pl.Order.Ref, gw("T-r1", 990), nil)
		err := e.db.Update(func(tx *store.Txn) error {
			_, err := e.shop.RefundTx(tx, pl.Order.Ref, 0)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		r := e.apply(pl.Order.Ref, gw("T-r2", 990), nil)
		if r.Outcome != OutcomeOwed || r.Order.Status != StatusRefundDue || r.Record.Reason != "after_refund" {
			t.Fatalf("got %s %s %+v", r.Outcome, r.Order.Status, r.Record)
		}
		// Giving it back settles the order again.
		var o Order
		err = e.db.Update(func(tx *store.Txn) error {
			var err error
			o, err = e.shop.PaymentReturnedTx(tx, pl.Order.Ref, "epay", "T-r2")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if o.Status != StatusRefunded {
			t.Fatalf("after return: %s", o.Status)
		}
	})

	t.Run("demo payments keep their strict rules", func(t *testing.T) {
		pl := e.buy(p.ID, 1)
		if _, err := e.shop.Pay(pl.Order.Ref, Payment{Provider: "demo", AmountMinor: 1}); !errors.Is(err, ErrAmountMismatch) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestHeldPayment(t *testing.T) {
	e := newEnv(t)
	p := e.product("held", Unique)
	e.importKeys(p.ID, keyList("H", 3))
	proposed := 0
	onHeld := func(tx *store.Txn, rec PaymentRecord) (string, error) {
		proposed++
		return "A" + rec.Payment.TradeNo, tx.Set("test/proposed/"+rec.Ref, nil)
	}

	t.Run("held, then accepted", func(t *testing.T) {
		pl := e.buy(p.ID, 1)
		r := e.apply(pl.Order.Ref, gw("T-h1", 989), onHeld)
		if r.Outcome != OutcomeHeld || r.Order.Status != StatusPaymentHeld || r.Record.ApprovalID != "AT-h1" {
			t.Fatalf("got %s %s %+v", r.Outcome, r.Order.Status, r.Record)
		}
		if !hasNotice(r.Order, noticePaymentHeld) || len(r.Order.Items) != 1 {
			t.Fatalf("held order: %+v", r.Order)
		}
		// A held order does not expire: its keys stay reserved.
		e.clock.Add(time.Hour)
		if _, err := e.shop.Sweep(); err != nil {
			t.Fatal(err)
		}
		if o := e.order(pl.Order.Ref); o.Status != StatusPaymentHeld {
			t.Fatalf("after sweep: %s", o.Status)
		}
		var o Order
		err := e.db.Update(func(tx *store.Txn) error {
			var err error
			o, err = e.shop.ConfirmHeldTx(tx, pl.Order.Ref, "epay", "T-h1")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if o.Status != StatusDelivered || o.Payment == nil || o.Payment.AmountMinor != 989 {
			t.Fatalf("accepted: %+v", o)
		}
		if n := len(e.keysOf(pl.Token)); n != 1 {
			t.Fatalf("%d keys", n)
		}
		err = e.db.Update(func(tx *store.Txn) error {
			_, err := e.shop.ConfirmHeldTx(tx, pl.Order.Ref, "epay", "T-h1")
			return err
		})
		if !errors.Is(err, ErrNotHeld) {
			t.Fatalf("second accept: %v", err)
		}
	})

	t.Run("held, then refused: refund_due and stock back", func(t *testing.T) {
		before := e.stock(p.ID)
		pl := e.buy(p.ID, 1)
		e.apply(pl.Order.Ref, gw("T-h2", 1000), onHeld)
		if _, err := e.shop.RefuseHeld(pl.Order.Ref, "wrong"); !errors.Is(err, ErrNotHeld) {
			t.Fatalf("wrong approval: %v", err)
		}
		o, err := e.shop.RefuseHeld(pl.Order.Ref, "AT-h2")
		if err != nil {
			t.Fatal(err)
		}
		if o.Status != StatusRefundDue || len(o.Items) != 0 {
			t.Fatalf("refused: %+v", o)
		}
		if got := e.stock(p.ID); got != before {
			t.Fatalf("stock %d, want %d", got, before)
		}
		recs, err := e.shop.Payments(pl.Order.Ref)
		if err != nil || len(recs) != 1 || recs[0].State != PaymentOwed || recs[0].Reason != "rejected" {
			t.Fatalf("records %+v %v", recs, err)
		}
	})

	t.Run("an exact payment supersedes a held one", func(t *testing.T) {
		pl := e.buy(p.ID, 1)
		e.apply(pl.Order.Ref, gw("T-h3", 100), onHeld)
		r := e.apply(pl.Order.Ref, gw("T-h4", 990), onHeld)
		if r.Order.Status != StatusDelivered {
			t.Fatalf("got %s", r.Order.Status)
		}
		recs, _ := e.shop.Payments(pl.Order.Ref)
		states := map[string]PaymentState{}
		for _, rec := range recs {
			states[rec.Payment.TradeNo] = rec.State
		}
		if states["T-h3"] != PaymentOwed || states["T-h4"] != PaymentApplied {
			t.Fatalf("states %v", states)
		}
		held, _ := e.shop.HeldPayments()
		if len(held) != 0 {
			t.Fatalf("still held: %+v", held)
		}
	})
	if proposed == 0 {
		t.Fatal("onHeld never ran")
	}
}

func TestConfirmPaymentTxLate(t *testing.T) {
	e := newEnv(t)
	p := e.product("manual", Unique)
	e.importKeys(p.ID, keyList("M", 1))
	pl := e.buy(p.ID, 1)
	e.clock.Add(time.Hour)
	if _, err := e.shop.Sweep(); err != nil {
		t.Fatal(err)
	}
	if o := e.order(pl.Order.Ref); o.Status != StatusExpired {
		t.Fatalf("not expired: %s", o.Status)
	}
	confirm := func(amount int64, trade string) (Order, error) {
		var o Order
		err := e.db.Update(func(tx *store.Txn) error {
			var err error
			o, err = e.shop.ConfirmPaymentTx(tx, pl.Order.Ref, Payment{Provider: "manual", TradeNo: trade, AmountMinor: amount})
			return err
		})
		return o, err
	}
	if _, err := confirm(100, "approval-1"); !errors.Is(err, ErrAmountMismatch) {
		t.Fatalf("wrong amount: %v", err)
	}
	o, err := confirm(990, "approval-2")
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != StatusDelivered || len(e.keysOf(pl.Token)) != 1 {
		t.Fatalf("late confirm: %s", o.Status)
	}
	if _, err := confirm(990, "approval-3"); !errors.Is(err, ErrNotPayable) {
		t.Fatalf("second confirm: %v", err)
	}
}
