package shop

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"veil/crypto"
	"veil/server/notify"
	"veil/server/store"
)

// TestNotifyHooks: the shop queues each event in the transaction of its
// state change — paid while locked (order_paid, delivery_queued), the
// delivery deadline missed (delivery_failed), a held payment
// (payment_held, with the amount that arrived), a ticket (ticket_opened).
func TestNotifyHooks(t *testing.T) {
	c := newClock()
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var sh *Shop
	n := notify.New(db, notify.Options{Now: c.Now, Identity: func() (*crypto.Identity, error) { return sh.NotifyIdentity() }})
	if sh, err = New(db, Config{Now: c.Now, VaultWorkFactor: 10, Notify: n}); err != nil {
		t.Fatal(err)
	}
	if _, err := sh.InitVault(testPass); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, db: db, shop: sh, clock: c}
	all := notify.Kinds()
	url, secret := "https://hooks.example/veil", "a-webhook-secret-of-some-length"
	p, _, err := n.Prepare(notify.Change{Webhook: &notify.ChannelChange{Target: &url, Secret: &secret, Events: &all}})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(p)
	if err := db.Update(func(tx *store.Txn) error { _, err := n.ApplyTx(tx, raw); return err }); err != nil {
		t.Fatal(err)
	}
	prod := e.product("game", Unique)
	e.importKeys(prod.ID, keyList("N", 3))
	a, b := e.buy(prod.ID, 1), e.buy(prod.ID, 1)
	sh.Lock()
	e.pay(a.Order)
	c.Add(31 * time.Minute)
	if r, err := sh.Sweep(); err != nil || r.RefundDue != 1 {
		t.Fatalf("deadline sweep: %+v %v", r, err)
	}
	if _, err := sh.ApplyPayment(b.Order.Ref, Payment{Provider: "epay", TradeNo: "T1", AmountMinor: 500}, nil); err != nil {
		t.Fatal(err)
	}
	if err := sh.Unlock(testPass); err != nil {
		t.Fatal(err)
	}
	d := e.buy(prod.ID, 1)
	e.pay(d.Order)
	if _, err := sh.OpenTicket(d.Token, ReasonKeyInvalid, ""); err != nil {
		t.Fatal(err)
	}
	ds, err := n.Deliveries(0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range ds {
		ev := x.Event
		got = append(got, string(ev.Kind)+" "+ev.Ref+" "+ev.Product+" "+ev.Reason+" "+itoa(ev.AmountMinor))
	}
	slices.Reverse(got) // oldest first
	want := []string{
		"order_paid " + a.Order.Ref + " game  990",
		"delivery_queued " + a.Order.Ref + " game  990",
		"delivery_failed " + a.Order.Ref + " game  990",
		"payment_held " + b.Order.Ref + " game amount_mismatch 500",
		"order_paid " + d.Order.Ref + " game  990",
		"ticket_opened " + d.Order.Ref + "  key_invalid 0",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("queued\n%q\nwant\n%q", got, want)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestNotifyBatchFrozen: the freeze queues batch_frozen in the ticket's
// transaction, naming the crossing order and ticket, the product and the
// keys held back.
func TestNotifyBatchFrozen(t *testing.T) {
	c := newClock()
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	var sh *Shop
	n := notify.New(db, notify.Options{Now: c.Now, Identity: func() (*crypto.Identity, error) { return sh.NotifyIdentity() }})
	if sh, err = New(db, Config{Now: c.Now, VaultWorkFactor: 10, Notify: n}); err != nil {
		t.Fatal(err)
	}
	if _, err := sh.InitVault(testPass); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, db: db, shop: sh, clock: c}
	events := []notify.Kind{notify.BatchFrozen}
	url, secret := "https://hooks.example/veil", "a-webhook-secret-of-some-length"
	p, _, err := n.Prepare(notify.Change{Webhook: &notify.ChannelChange{Target: &url, Secret: &secret, Events: &events}})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(p)
	if err := db.Update(func(tx *store.Txn) error { _, err := n.ApplyTx(tx, raw); return err }); err != nil {
		t.Fatal(err)
	}
	prod := e.product("game", Unique)
	e.importKeys(prod.ID, keyList("F", 10))
	var last Placed
	for range 3 {
		last = e.buy(prod.ID, 1)
		e.pay(last.Order)
		if _, err := sh.OpenTicket(last.Token, ReasonKeyInvalid, ""); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := n.Deliveries(0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 {
		t.Fatalf("%d deliveries", len(ds))
	}
	ev := ds[0].Event
	if ev.Kind != notify.BatchFrozen || ev.Ref != last.Order.Ref || ev.Product != "game" || ev.Quantity != 7 || ev.Reason != "key_invalid" || ev.Ticket == "" {
		t.Fatalf("event %+v", ev)
	}
}
