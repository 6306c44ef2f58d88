package shop

import (
	"errors"
	"strings"
	"testing"
	"time"

	"veil/crypto"
	"veil/server/store"
)

func TestRefunds(t *testing.T) {
	e := newEnv(t)
	p := e.product("game", Unique)
	e.importKeys(p.ID, keyList("RF", 6))
	refund := func(ref string, amount int64) (Order, error) {
		var o Order
		err := e.db.Update(func(tx *store.Txn) error {
			var err error
			o, err = e.shop.RefundTx(tx, ref, amount)
			return err
		})
		return o, err
	}
	// Unpaid: nothing to refund.
	a := e.buy(p.ID, 1)
	if _, err := refund(a.Order.Ref, 0); !errors.Is(err, ErrNotRefundable) {
		t.Fatalf("unpaid refund: %v", err)
	}
	// Delivered: partial, then the rest.
	b := e.buy(p.ID, 2)
	e.pay(b.Order)
	o, err := refund(b.Order.Ref, 500)
	if err != nil || o.Status != StatusPartiallyRefunded || o.Refunded() != 500 {
		t.Fatalf("partial: %+v %v", o.Status, err)
	}
	if _, err := refund(b.Order.Ref, 5000); err == nil {
		t.Fatal("refund over the amount accepted")
	}
	o, err = refund(b.Order.Ref, 0)
	if err != nil || o.Status != StatusRefunded || o.Refunded() != b.Order.AmountMinor {
		t.Fatalf("rest: %+v %v", o, err)
	}
	if _, err := refund(b.Order.Ref, 0); !errors.Is(err, ErrNotRefundable) {
		t.Fatalf("second full refund: %v", err)
	}
	// Paid while locked, refunded before delivery: keys back in stock.
	c := e.buy(p.ID, 2)
	e.shop.Lock()
	e.pay(c.Order)
	before := e.stock(p.ID)
	if o, err := refund(c.Order.Ref, 0); err != nil || o.Status != StatusRefunded {
		t.Fatalf("undelivered refund: %v", err)
	}
	if err := e.shop.Reconcile(p.ID); err != nil {
		t.Fatal(err)
	}
	if e.stock(p.ID) != before+2 {
		t.Fatalf("stock %d, want %d", e.stock(p.ID), before+2)
	}
	if err := e.shop.Unlock(testPass); err != nil {
		t.Fatal(err)
	}
	if r, err := e.shop.Sweep(); err != nil || r.Delivered != 0 {
		t.Fatalf("a refunded order was delivered: %+v %v", r, err)
	}
}

func TestExportWithdrawsAndPoolStaysRight(t *testing.T) {
	e := newEnv(t)
	p := e.product("game", Unique)
	keys := keyList("EX", 10)
	res := e.importKeys(p.ID, keys)
	sold := e.buy(p.ID, 3)
	e.pay(sold.Order)
	to, _ := crypto.NewIdentity(crypto.X25519)
	var n int
	err := e.db.Update(func(tx *store.Txn) error {
		var err error
		n, err = e.shop.ExportTx(tx, p.ID, res.BatchID, to.Recipient(), "exp1")
		return err
	})
	if err != nil || n != 7 {
		t.Fatalf("export: %d %v", n, err)
	}
	// Without a reconcile the pool still lists the withdrawn keys; an order
	// must skip them and find the stock gone.
	if _, err := e.shop.PlaceOrder(p.ID, 1, nil); !errors.Is(err, ErrOutOfStock) {
		t.Fatalf("order after export: %v", err)
	}
	if err := e.shop.Reconcile(p.ID); err != nil || e.stock(p.ID) != 0 {
		t.Fatalf("stock after reconcile: %d %v", e.stock(p.ID), err)
	}
	file, err := e.shop.TakeExport("exp1")
	if err != nil {
		t.Fatal(err)
	}
	pt, err := crypto.Open(file, to.Age())
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Fields(string(pt))
	if strings.Join(got, ",") != strings.Join(keys[3:], ",") {
		t.Fatalf("exported %v, want %v", got, keys[3:])
	}
	if _, err := e.shop.TakeExport("exp1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second download: %v", err)
	}
	st, err := e.shop.Stock(p.ID)
	if err != nil || len(st) != 1 || st[0].Delivered != 3 || st[0].Withdrawn != 7 || st[0].Available != 0 {
		t.Fatalf("stock view %+v %v", st, err)
	}
}

func TestKeysMaskedAndOrdersListed(t *testing.T) {
	e := newEnv(t)
	p := e.product("game", Unique)
	e.importKeys(p.ID, []string{"ABCD-1111-2222-WXYZ", "EFGH-3333-4444-STUV", "short"})
	pl := e.buy(p.ID, 1)
	e.pay(pl.Order)
	ks, next, err := e.shop.Keys(p.ID, "", "", 2, true)
	if err != nil || len(ks) != 2 || next == "" {
		t.Fatalf("page 1: %+v %q %v", ks, next, err)
	}
	if ks[0].State != KeyDelivered || ks[0].Mask != "" || ks[1].Mask != "…STUV" {
		t.Fatalf("masks: %+v", ks)
	}
	ks2, next2, err := e.shop.Keys(p.ID, "", next, 2, true)
	if err != nil || len(ks2) != 1 || next2 != "" || ks2[0].Mask != "…t" {
		t.Fatalf("page 2: %+v %q %v", ks2, next2, err)
	}
	if ks, _, _ := e.shop.Keys(p.ID, "", "", 10, false); ks[1].Mask != "" {
		t.Fatal("mask shown unasked")
	}
	e.shop.Lock()
	if ks, _, _ := e.shop.Keys(p.ID, "", "", 10, true); ks[1].Mask != "" {
		t.Fatal("mask shown while locked")
	}
	if err := e.shop.Unlock(testPass); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		e.importKeys(p.ID, keyList("L"+crypto.RandomID("", 2), 1))
	}
	var refs []string
	for range 3 {
		e.clock.Add(time.Second)
		refs = append(refs, e.buy(p.ID, 1).Order.Ref)
	}
	os, next, err := e.shop.Orders(OrderFilter{}, "", 2)
	if err != nil || len(os) != 2 || next == "" {
		t.Fatalf("orders: %d %q %v", len(os), next, err)
	}
	if os[0].Ref != refs[2] || os[1].Ref != refs[1] {
		t.Fatalf("not newest first: %s %s, want %s %s", os[0].Ref, os[1].Ref, refs[2], refs[1])
	}
	os2, _, _ := e.shop.Orders(OrderFilter{}, next, 10)
	if len(os)+len(os2) != 4 {
		t.Fatalf("orders total %d", len(os)+len(os2))
	}
	pend, _, _ := e.shop.Orders(OrderFilter{Status: StatusPending}, "", 10)
	if len(pend) != 3 {
		t.Fatalf("pending %d", len(pend))
	}
	d, err := e.shop.Dashboard(7)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, day := range d.Days {
		total += day.Orders
	}
	if total != 1 || len(d.Products) != 1 || d.Products[0].Delivered != 1 || !d.Products[0].Low {
		t.Fatalf("dashboard %+v", d)
	}
}
