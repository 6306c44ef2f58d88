package shop

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"veil/server/store"
)

func TestTicketLifecycleAndReplacement(t *testing.T) {
	e := newEnv(t)
	p := e.product("game", Unique)
	keys := keyList("TK", 4)
	e.importKeys(p.ID, keys)
	pl := e.buy(p.ID, 1)
	var ie *InputError
	if _, err := e.shop.OpenTicket(pl.Token, ReasonKeyInvalid, ""); !errors.As(err, &ie) {
		t.Fatalf("ticket on an unpaid order: %v", err)
	}
	e.pay(pl.Order)
	got := e.keysOf(pl.Token)
	tk, err := e.shop.OpenTicket(pl.Token, ReasonKeyInvalid, pl.Order.Items[0])
	if err != nil || tk.Status != TicketOpen {
		t.Fatalf("open: %+v %v", tk, err)
	}
	if _, err := e.shop.AnswerTicket(tk.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.shop.AnswerTicket(tk.ID, "bob"); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("second staff answered: %v", err)
	}
	if _, err := e.shop.HandOver(tk.ID, "alice", "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.shop.AnswerTicket(tk.ID, "bob"); err != nil {
		t.Fatalf("after handover: %v", err)
	}
	if _, _, _, err := e.shop.CheckRemedy(tk.ID, RemedyPartialRefund, 100); !errors.Is(err, ErrRemedyRefused) {
		t.Fatalf("partial refund not in policy: %v", err)
	}
	if _, _, auto, err := e.shop.CheckRemedy(tk.ID, RemedyReplace, 0); err != nil || auto {
		t.Fatalf("replace: auto=%v %v", auto, err)
	}
	// The approval executed twice, concurrently: one replacement only.
	var wg sync.WaitGroup
	var okCount, failCount int
	var mu sync.Mutex
	for range 2 {
		wg.Go(func() {
			err := e.db.Update(func(tx *store.Txn) error {
				_, err := e.shop.ReplaceTx(tx, pl.Order.Ref, pl.Order.Items[0], tk.ID)
				return err
			})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				okCount++
			} else {
				failCount++
			}
		})
	}
	wg.Wait()
	if okCount != 1 || failCount != 1 {
		t.Fatalf("replacements ok=%d failed=%d", okCount, failCount)
	}
	v, err := e.shop.Retrieve(pl.Token)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Items) != 2 || v.Items[0].Key != got[0] || v.Items[0].State != KeyReportedBad || v.Items[1].Key != keys[1] || v.Items[1].State != "" {
		t.Fatalf("items after replacement: %+v", v.Items)
	}
	if v.Order.Status != StatusReplaced {
		t.Fatalf("status %s", v.Order.Status)
	}
	if tk, _ := e.shop.Ticket(tk.ID); tk.Status != TicketResolved {
		t.Fatalf("ticket %s", tk.Status)
	}
	if e.stock(p.ID) != 3 { // pool is stale until reconciled
		t.Fatalf("stock before reconcile %d", e.stock(p.ID))
	}
	if err := e.shop.Reconcile(p.ID); err != nil {
		t.Fatal(err)
	}
	if e.stock(p.ID) != 2 {
		t.Fatalf("stock %d", e.stock(p.ID))
	}
	// Out of the window: no more tickets about keys.
	e.clock.Add(73 * time.Hour)
	if _, err := e.shop.OpenTicket(pl.Token, ReasonKeyInvalid, ""); !errors.Is(err, ErrWindowClosed) {
		t.Fatalf("after window: %v", err)
	}
}

func TestRecallBatchOf50(t *testing.T) {
	e := newEnv(t)
	var refundDue []string
	e.shop.cfg.OnRefundDue = func(_ *store.Txn, o Order) error { refundDue = append(refundDue, o.Ref); return nil }
	p := e.product("game", Unique)
	bad := e.importKeys(p.ID, keyList("BAD", 50))
	var toks []string
	for range 25 {
		pl := e.buy(p.ID, 2)
		e.pay(pl.Order)
		toks = append(toks, pl.Token)
	}
	e.importKeys(p.ID, keyList("GOOD", 40)) // enough for 40 of the 50
	var res RecallResult
	err := e.db.Update(func(tx *store.Txn) error {
		refundDue = refundDue[:0]
		var err error
		res, err = e.shop.RecallTx(tx, bad.BatchID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Recalled != 50 || res.Replaced != 40 || res.RefundDue != 5 || len(refundDue) != 5 {
		t.Fatalf("recall %+v, refund_due hook %d", res, len(refundDue))
	}
	replaced, owed := 0, 0
	seen := map[string]bool{}
	for _, tok := range toks {
		v, err := e.shop.Retrieve(tok)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range v.Items {
			if seen[it.Key] {
				t.Fatalf("key %s twice", it.Key)
			}
			seen[it.Key] = true
			if strings.HasPrefix(it.Key, "BAD") != (it.State == KeyRecalled) {
				t.Fatalf("item %+v", it)
			}
		}
		switch v.Order.Status {
		case StatusReplaced:
			replaced++
		case StatusRefundDue:
			owed++
		default:
			t.Fatalf("order %s after recall", v.Order.Status)
		}
		if len(v.Order.Notices) == 0 {
			t.Fatal("no notice for the buyer")
		}
	}
	if replaced != 20 || owed != 5 {
		t.Fatalf("replaced %d, refund_due %d", replaced, owed)
	}
	if err := e.shop.Reconcile(p.ID); err != nil {
		t.Fatal(err)
	}
	if e.stock(p.ID) != 0 {
		t.Fatalf("stock %d", e.stock(p.ID))
	}
	d, _ := e.shop.Dashboard(3)
	var bs BatchStat
	for _, b := range d.Batches {
		if b.Batch.ID == bad.BatchID {
			bs = b
		}
	}
	if bs.Recalled != 50 {
		t.Fatalf("dashboard batch %+v", bs)
	}
}

func TestCoolingOffAndLookupDoesNotReveal(t *testing.T) {
	e := newEnv(t)
	p, err := e.shop.CreateProduct(Product{Slug: "cool", Name: Text{"en": "c"}, PriceMinor: 100, Currency: "CNY",
		Policy: Policy{WindowHours: 24, Remedies: []Remedy{RemedyRefund}, CoolingOffMinutes: 30}})
	if err != nil {
		t.Fatal(err)
	}
	e.importKeys(p.ID, keyList("C", 2))
	pl := e.buy(p.ID, 1)
	e.pay(pl.Order)
	v, err := e.shop.Lookup(pl.Token)
	if err != nil || len(v.Items) != 0 || !e.shop.CoolingOffOK(v.Order, v.Product) {
		t.Fatalf("lookup: %v items=%d", err, len(v.Items))
	}
	e.keysOf(pl.Token)
	v, _ = e.shop.Lookup(pl.Token)
	if e.shop.CoolingOffOK(v.Order, v.Product) {
		t.Fatal("cooling-off offered after the keys were shown")
	}
}

// TestCoolingOffRefundWithholdsKeys: refunded under the cooling-off offer,
// before the keys were shown, the order keeps them hidden for good; once
// shown, the offer is gone.
func TestCoolingOffRefundWithholdsKeys(t *testing.T) {
	e := newEnv(t)
	p, err := e.shop.CreateProduct(Product{Slug: "cool", Name: Text{"en": "c"}, PriceMinor: 100, Currency: "CNY",
		Policy: Policy{WindowHours: 24, Remedies: []Remedy{RemedyRefund}, CoolingOffMinutes: 30}})
	if err != nil {
		t.Fatal(err)
	}
	e.importKeys(p.ID, keyList("W", 2))
	a, b := e.buy(p.ID, 1), e.buy(p.ID, 1)
	e.pay(a.Order)
	e.pay(b.Order)
	err = e.db.Update(func(tx *store.Txn) error { _, err := e.shop.CoolingOffRefundTx(tx, a.Order.Ref); return err })
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.shop.Retrieve(a.Token)
	if err != nil || len(v.Items) != 0 || v.Order.Status != StatusRefunded {
		t.Fatalf("refunded before reveal: %d items, %s, %v", len(v.Items), v.Order.Status, err)
	}
	if got := e.keysOf(b.Token); len(got) != 1 {
		t.Fatalf("b's keys: %v", got)
	}
	err = e.db.Update(func(tx *store.Txn) error { _, err := e.shop.CoolingOffRefundTx(tx, b.Order.Ref); return err })
	if !errors.Is(err, ErrCoolingOffOver) {
		t.Fatalf("cooling-off after reveal: %v", err)
	}
}

// TestRefundBetweenRetrievalSnapshotAndRecord: a first retrieval opens the
// keys in a snapshot and records the showing afterwards; a cooling-off
// refund committed in between is seen (the retrieval opens again) — the
// keys stay withheld and the refund is not overwritten.
func TestRefundBetweenRetrievalSnapshotAndRecord(t *testing.T) {
	e := newEnv(t)
	p, err := e.shop.CreateProduct(Product{Slug: "cool", Name: Text{"en": "c"}, PriceMinor: 100, Currency: "CNY",
		Policy: Policy{WindowHours: 24, Remedies: []Remedy{RemedyRefund}, CoolingOffMinutes: 30}})
	if err != nil {
		t.Fatal(err)
	}
	e.importKeys(p.ID, keyList("S", 1))
	a := e.buy(p.ID, 1)
	e.pay(a.Order)
	refunds := 0
	e.shop.beforeRecord = func() {
		if refunds > 0 {
			return
		}
		refunds++
		if err := e.db.Update(func(tx *store.Txn) error { _, err := e.shop.CoolingOffRefundTx(tx, a.Order.Ref); return err }); err != nil {
			t.Errorf("cooling-off refund: %v", err)
		}
	}
	v, err := e.shop.Retrieve(a.Token)
	e.shop.beforeRecord = nil
	if err != nil || refunds != 1 {
		t.Fatalf("retrieve: %v (refunds %d)", err, refunds)
	}
	if len(v.Items) != 0 || v.Order.Status != StatusRefunded || v.Order.Revealed {
		t.Fatalf("refunded between snapshot and record: %d items shown, status %s, revealed %v", len(v.Items), v.Order.Status, v.Order.Revealed)
	}
	o, err := e.shop.OrderByRef(a.Order.Ref)
	if err != nil || o.Refunded() != o.AmountMinor || o.Revealed {
		t.Fatalf("stored order: refunded %d of %d, revealed %v, %v", o.Refunded(), o.AmountMinor, o.Revealed, err)
	}
}
