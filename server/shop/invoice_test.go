package shop

import (
	"errors"
	"testing"
)

// TestAbandonGivesEverythingBack: an order whose payment could not be
// started (a gateway failure) gives its keys and its discount code back at
// once, keeps its choice of provider, and takes no invoice or second
// abandon afterwards; a held key is never handed to another order twice.
func TestAbandonGivesEverythingBack(t *testing.T) {
	e := newEnv(t)
	p := e.product("usdt", Unique)
	e.importKeys(p.ID, keyList("U", 2))
	code := e.rewardFor(10)
	pl, err := e.shop.Place(OrderRequest{Product: p.ID, Quantity: 2, Discount: code, PayWith: "epusdt", Holder: "h1"})
	if err != nil {
		t.Fatal(err)
	}
	if pl.Order.PayWith != "epusdt" || e.stock(p.ID) != 0 || !e.rewardUsed(code) {
		t.Fatalf("placed: %+v stock %d", pl.Order, e.stock(p.ID))
	}
	if err := e.shop.Abandon(pl.Order.Ref); err != nil {
		t.Fatal(err)
	}
	o := e.order(pl.Order.Ref)
	if o.Status != StatusExpired || len(o.Items) != 0 || o.PayWith != "epusdt" {
		t.Fatalf("abandoned: %+v", o)
	}
	if e.stock(p.ID) != 2 || e.rewardUsed(code) {
		t.Fatalf("after abandon: stock %d, code used %v", e.stock(p.ID), e.rewardUsed(code))
	}
	if err := e.shop.Abandon(pl.Order.Ref); !errors.Is(err, ErrNotPayable) {
		t.Fatalf("second abandon: %v", err)
	}
	if err := e.shop.SetInvoice(pl.Order.Ref, Invoice{URL: "https://gw.example/pay/1"}); !errors.Is(err, ErrNotPayable) {
		t.Fatalf("invoice on an abandoned order: %v", err)
	}
	// The keys are whole again: two orders of one each get them.
	for range 2 {
		if _, err := e.shop.Place(OrderRequest{Product: p.ID, Quantity: 1}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.shop.Place(OrderRequest{Product: p.ID, Quantity: 1}); !errors.Is(err, ErrOutOfStock) {
		t.Fatalf("a third order: %v", err)
	}
	// The expiry sweep later finds nothing left to do for it.
	e.expireAll()
	if got := e.order(pl.Order.Ref); got.Status != StatusExpired {
		t.Fatalf("after the sweep: %s", got.Status)
	}
}

// TestSetInvoiceKeepsTrade: a pending order keeps the gateway's invoice.
func TestSetInvoiceKeepsTrade(t *testing.T) {
	e := newEnv(t)
	p := e.product("usdt", Unique)
	e.importKeys(p.ID, keyList("U", 1))
	pl, err := e.shop.Place(OrderRequest{Product: p.ID, Quantity: 1, PayWith: "epusdt"})
	if err != nil {
		t.Fatal(err)
	}
	inv := Invoice{TradeID: "T1", URL: "https://gw.example/pay/T1", Amount: "1.3888", Unit: "USDT", Address: "TWallet"}
	if err := e.shop.SetInvoice(pl.Order.Ref, inv); err != nil {
		t.Fatal(err)
	}
	if got := e.order(pl.Order.Ref).Invoice; got == nil || *got != inv {
		t.Fatalf("invoice: %+v", got)
	}
	if err := e.shop.SetInvoice(pl.Order.Ref, Invoice{URL: "https://x\n"}); err == nil {
		t.Fatal("a malformed invoice was kept")
	}
}
