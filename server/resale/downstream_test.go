package resale

import (
	"context"
	"errors"
	"testing"
	"time"

	"veil/server/shop"
	"veil/server/staff"
	"veil/server/store"
)

// downstream is a second shop, sourcing "dgame" from the upstream of e.
func (e *env) downstream(dir string, hook func(string)) (*shop.Shop, *store.DB, shop.Product) {
	e.t.Helper()
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	sh, err := shop.New(db, shop.Config{Now: e.clock, VaultWorkFactor: 10, AfterUpstreamPurchase: hook})
	if err != nil {
		e.t.Fatal(err)
	}
	if !sh.Initialized() {
		if _, err := sh.InitVault("downstream passphrase"); err != nil {
			e.t.Fatal(err)
		}
	} else if err := sh.Unlock("downstream passphrase"); err != nil {
		e.t.Fatal(err)
	}
	p, err := sh.Product("dgame")
	if errors.Is(err, shop.ErrProductNotFound) {
		if p, err = sh.CreateProduct(shop.Product{Slug: "dgame", Name: shop.Text{"en": "Game (sourced)"}, PriceMinor: 1500,
			Currency: "CNY", Kind: shop.Unique, Policy: shop.Policy{WindowHours: 72, Remedies: []shop.Remedy{shop.RemedyReplace}}}); err != nil {
			e.t.Fatal(err)
		}
		if p, err = sh.SetUpstream(p.ID, &shop.Upstream{BaseURL: e.srv.URL, KeyID: e.acct.ID, Product: "game"},
			shop.UpstreamCredentials{Secret: e.secret, Identity: e.id.String()}); err != nil {
			e.t.Fatal(err)
		}
	}
	sh.SetSourcer(Sourcer{Now: e.clock})
	sh.RefreshUpstreamStock(context.Background(), true)
	return sh, db, p
}

func (e *env) upstreamOrders() int {
	e.t.Helper()
	led, err := e.shop.Ledger(e.acct.ID, 0, 200)
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, l := range led {
		if l.Kind == shop.LedgerOrder {
			n++
		}
	}
	return n
}

func TestSourcedProductBuysUpstreamOnce(t *testing.T) {
	e := newEnv(t, 5000)
	dir := t.TempDir()
	crash := true
	down, db, p := e.downstream(dir, func(string) {
		if crash {
			panic("crash between the upstream purchase and the local commit")
		}
	})
	if got, _ := down.Product(p.ID); got.InStock != 4 {
		t.Fatalf("stock shown %d, want the upstream's 4", got.InStock)
	}
	pl, err := down.PlaceOrder("dgame", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if o, err := down.Pay(pl.Order.Ref, shop.Payment{Provider: "demo", AmountMinor: 1500}); err != nil || o.Status != shop.StatusPaid {
		t.Fatalf("pay: %+v %v", o.Status, err)
	}
	func() {
		defer func() { _ = recover() }()
		down.PurchaseQueued(context.Background())
		t.Fatal("the hook did not run")
	}()
	if e.upstreamOrders() != 1 {
		t.Fatalf("upstream orders %d after the first attempt", e.upstreamOrders())
	}
	o, _ := down.OrderByRef(pl.Order.Ref)
	if o.Status != shop.StatusPaid || o.Upstream == nil || !o.Upstream.Purchasing {
		t.Fatalf("after the crash: %s %+v", o.Status, o.Upstream)
	}
	// "Restart": a new shop over the same store, no hook.
	crash = false
	down2, err := shop.New(db, shop.Config{Now: e.clock, VaultWorkFactor: 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := down2.Unlock("downstream passphrase"); err != nil {
		t.Fatal(err)
	}
	down2.SetSourcer(Sourcer{Now: e.clock})
	res, err := down2.PurchaseQueued(context.Background())
	if err != nil || res.Delivered != 1 {
		t.Fatalf("after restart: %+v %v", res, err)
	}
	if e.upstreamOrders() != 1 {
		t.Fatalf("bought twice: %d upstream orders", e.upstreamOrders())
	}
	v, err := down2.Retrieve(pl.Token)
	if err != nil || len(v.Items) != 1 || v.Items[0].Key != e.keys[0] || v.Order.Status != shop.StatusDelivered {
		t.Fatalf("buyer sees %+v %v", v.Items, err)
	}
	if res, _ := down2.PurchaseQueued(context.Background()); res != (shop.PurchaseResult{}) {
		t.Fatalf("a second pass did something: %+v", res)
	}
	if b, _ := e.shop.Reseller(e.acct.ID); b.BalanceMinor != 5000-800 {
		t.Fatalf("upstream balance %d", b.BalanceMinor)
	}
}

func TestSourcedUpstreamOutOfStockRefundsAfterDeadline(t *testing.T) {
	e := newEnv(t, 10000)
	down, _, _ := e.downstream(t.TempDir(), nil)
	pl, err := down.PlaceOrder("dgame", 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Someone else empties the upstream meanwhile.
	if _, _, err := e.client().PlaceOrder(context.Background(), OrderRequest{Product: "game", Quantity: 2}, "other"); err != nil {
		t.Fatal(err)
	}
	if _, err := down.Pay(pl.Order.Ref, shop.Payment{Provider: "demo", AmountMinor: 4500}); err != nil {
		t.Fatal(err)
	}
	if res, _ := down.PurchaseQueued(context.Background()); res.Waiting != 1 {
		t.Fatalf("first attempt %+v", res)
	}
	if o, _ := down.OrderByRef(pl.Order.Ref); o.Status != shop.StatusPaid {
		t.Fatalf("before the deadline: %s", o.Status)
	}
	e.now.Add(int64((31 * time.Minute).Seconds()))
	if res, _ := down.PurchaseQueued(context.Background()); res.RefundDue != 1 {
		t.Fatalf("after the deadline %+v", res)
	}
	if o, _ := down.OrderByRef(pl.Order.Ref); o.Status != shop.StatusRefundDue {
		t.Fatalf("status %s", o.Status)
	}
	if e.upstreamOrders() != 1 { // only "other"
		t.Fatalf("upstream orders %d", e.upstreamOrders())
	}
}

func TestForwardedTicketBringsReplacementToBuyer(t *testing.T) {
	e := newEnv(t, 5000)
	down, _, _ := e.downstream(t.TempDir(), nil)
	ctx := context.Background()
	pl, err := down.PlaceOrder("dgame", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := down.Pay(pl.Order.Ref, shop.Payment{Provider: "demo", AmountMinor: 1500}); err != nil {
		t.Fatal(err)
	}
	if res, err := down.PurchaseQueued(ctx); err != nil || res.Delivered != 1 {
		t.Fatalf("purchase %+v %v", res, err)
	}
	v, _ := down.Retrieve(pl.Token)
	tk, err := down.OpenTicket(pl.Token, shop.ReasonKeyInvalid, v.Items[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := down.ForwardTicket(ctx, tk.ID, "the buyer reports the key as invalid"); err != nil {
		t.Fatal(err)
	}
	fwd, err := down.ForwardTicket(ctx, tk.ID, "again")
	if err != nil || fwd.Upstream == nil || fwd.Upstream.Ticket == "" {
		t.Fatalf("forward again: %+v %v", fwd, err)
	}
	if ts, _ := e.shop.ResaleTickets(); len(ts) != 1 || ts[0].ID != fwd.Upstream.Ticket {
		t.Fatalf("upstream tickets %+v", ts)
	}
	if n, err := down.SyncForwarded(ctx); err != nil || n != 0 {
		t.Fatalf("sync while open: %d %v", n, err)
	}
	// The upstream's staff replace the key.
	err = e.db.Update(func(tx *store.Txn) error {
		_, err := e.staff.AutoApproveTx(tx, "system", staff.KindResellerReplacement, fwd.Upstream.Ticket, "replace",
			RemedyParams{Ticket: fwd.Upstream.Ticket, Product: e.prod.ID}, "test")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := down.SyncForwarded(ctx); err != nil || n != 1 {
		t.Fatalf("sync after the remedy: %d %v", n, err)
	}
	v, err = down.Retrieve(pl.Token)
	if err != nil || len(v.Items) != 2 || v.Items[0].Key != e.keys[0] || v.Items[0].State != shop.KeyReportedBad ||
		v.Items[1].Key != e.keys[1] || v.Items[1].State != "" || v.Order.Status != shop.StatusReplaced {
		t.Fatalf("buyer sees %+v (%s) %v", v.Items, v.Order.Status, err)
	}
	if got, _ := down.Ticket(tk.ID); got.Status != shop.TicketResolved || got.Remedy != shop.RemedyReplace {
		t.Fatalf("local ticket %+v", got)
	}
	if n, _ := down.SyncForwarded(ctx); n != 0 {
		t.Fatal("applied twice")
	}
}
