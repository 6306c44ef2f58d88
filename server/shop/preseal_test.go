package shop

import (
	"slices"
	"testing"
)

// TestPresealUsedOnlyForTheSameKeys: a payment takes the delivery sealed
// ahead of its transaction when it was made for exactly the order's
// reserved keys and recipient, and seals in the transaction otherwise —
// either way the buyer gets exactly the reserved keys, and nothing sealed
// ahead is left behind.
func TestPresealUsedOnlyForTheSameKeys(t *testing.T) {
	e := newEnv(t)
	p := e.product("pre", Unique)
	keys := keyList("PRE", 6)
	e.importKeys(p.ID, keys)

	// Sealed ahead and taken: the payment's own preseal.
	a := e.buy(p.Slug, 2)
	e.shop.preseal(a.Order.Ref)
	if got := e.shop.takePresealed(&a.Order, a.Order.Items); got == nil {
		t.Fatal("nothing was sealed ahead for a pending order with reserved keys")
	}
	e.pay(a.Order)
	gotA := e.keysOf(a.Token)

	// Sealed ahead for other keys (a stale entry): never taken; the
	// transaction seals the order's own keys.
	b := e.buy(p.Slug, 2)
	c := e.buy(p.Slug, 1)
	e.shop.preseal(c.Order.Ref)
	e.shop.presealMu.Lock()
	stale := e.shop.presealed[c.Order.Ref]
	delete(e.shop.presealed, c.Order.Ref)
	e.shop.presealed[b.Order.Ref] = presealEntry{recipient: recipientID(&b.Order), kids: c.Order.Items, sealed: stale.sealed}
	e.shop.presealMu.Unlock()
	if got := e.shop.takePresealed(&b.Order, b.Order.Items); got != nil {
		t.Fatal("a delivery sealed for other keys was taken")
	}
	e.pay(b.Order)
	gotB := e.keysOf(b.Token)

	if len(gotA) != 2 || len(gotB) != 2 {
		t.Fatalf("delivered %v and %v, want two keys each", gotA, gotB)
	}
	for _, k := range append(slices.Clone(gotA), gotB...) {
		if !slices.Contains(keys, k) {
			t.Fatalf("delivered %q, not an imported key", k)
		}
	}
	if slices.ContainsFunc(gotA, func(k string) bool { return slices.Contains(gotB, k) }) {
		t.Fatalf("a key in two orders: %v %v", gotA, gotB)
	}
	e.shop.presealMu.Lock()
	left := len(e.shop.presealed)
	e.shop.presealMu.Unlock()
	if left != 0 {
		t.Fatalf("%d deliveries sealed ahead are left behind", left)
	}
}
