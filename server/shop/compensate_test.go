package shop

import (
	"errors"
	"strings"
	"testing"

	"veil/server/store"
)

func (e *env) compensate(approval string, p CompensationParams) (Order, error) {
	var o Order
	err := e.db.Update(func(tx *store.Txn) error {
		var err error
		o, err = e.shop.CompensateKeyTx(tx, approval, p)
		return err
	})
	return o, err
}

// A compensation key from another product reaches the order once, marked,
// and leaves that product's stock; the same approval run again gives
// nothing more.
func TestCompensationKeyOnce(t *testing.T) {
	e := newEnv(t)
	game := e.product("game", Unique)
	gift := e.product("gift", Unique)
	e.importKeys(game.ID, keyList("GAME", 2))
	giftKeys := keyList("GIFT", 3)
	e.importKeys(gift.ID, giftKeys)
	pl := e.buy(game.ID, 1)
	e.pay(pl.Order)
	bought := e.keysOf(pl.Token)
	tk, err := e.shop.OpenTicket(pl.Token, ReasonKeyInvalid, pl.Order.Items[0])
	if err != nil {
		t.Fatal(err)
	}
	p := CompensationParams{Ref: pl.Order.Ref, Product: gift.ID, Ticket: tk.ID}
	if _, _, err := e.shop.CheckCompensation(p); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the executor run twice for one approval
		if _, err := e.compensate("a1", p); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.shop.Reconcile(gift.ID); err != nil {
		t.Fatal(err)
	}
	v, err := e.shop.Retrieve(pl.Token)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Items) != 2 || v.Items[0].Key != bought[0] || v.Items[0].Compensation {
		t.Fatalf("items %+v", v.Items)
	}
	c := v.Items[1]
	if !c.Compensation || c.Key != giftKeys[0] || c.Product != gift.ID {
		t.Fatalf("compensation item %+v", c)
	}
	if len(v.Order.Compensations) != 1 || v.Order.Compensations[0].Ticket != tk.ID || !hasNotice(v.Order, "compensation") {
		t.Fatalf("order %+v", v.Order.Compensations)
	}
	if len(v.Order.Items) != 1 { // the sold items stay as they were
		t.Fatalf("order items %v", v.Order.Items)
	}
	if e.stock(gift.ID) != 2 {
		t.Fatalf("gift stock %d", e.stock(gift.ID))
	}
	// A second approval gives a second key.
	if _, err := e.compensate("a2", p); err != nil {
		t.Fatal(err)
	}
	if ks := e.keysOf(pl.Token); len(ks) != 3 || ks[2] != giftKeys[1] {
		t.Fatalf("keys after a second approval %v", ks)
	}
}

func TestCompensationRefusals(t *testing.T) {
	e := newEnv(t)
	game := e.product("game", Unique)
	gift := e.product("gift", Unique)
	e.importKeys(game.ID, keyList("GAME", 3))
	unpaid := e.buy(game.ID, 1)
	var ie *InputError
	if _, err := e.compensate("a1", CompensationParams{Ref: unpaid.Order.Ref, Product: game.ID}); !errors.As(err, &ie) {
		t.Fatalf("unpaid order compensated: %v", err)
	}
	pl := e.buy(game.ID, 1)
	e.pay(pl.Order)
	if _, err := e.compensate("a1", CompensationParams{Ref: pl.Order.Ref, Product: gift.ID}); !errors.Is(err, ErrOutOfStock) {
		t.Fatalf("empty product: %v", err)
	}
	if _, _, err := e.shop.CheckCompensation(CompensationParams{Ref: pl.Order.Ref, Product: gift.ID}); !errors.Is(err, ErrOutOfStock) {
		t.Fatalf("check on an empty product: %v", err)
	}
	other := e.buy(game.ID, 1)
	e.pay(other.Order)
	otk, err := e.shop.OpenTicket(other.Token, ReasonOther, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.shop.CheckCompensation(CompensationParams{Ref: pl.Order.Ref, Product: game.ID, Ticket: otk.ID}); !errors.As(err, &ie) {
		t.Fatalf("another order's ticket: %v", err)
	}
	e.importKeys(gift.ID, keyList("GIFT", 1))
	e.shop.Lock()
	if _, err := e.compensate("a1", CompensationParams{Ref: pl.Order.Ref, Product: gift.ID}); !errors.Is(err, ErrLocked) {
		t.Fatalf("locked vault: %v", err)
	}
	if o, _ := e.shop.OrderByRef(pl.Order.Ref); len(o.Compensations) != 0 || len(o.Payloads) != 1 {
		t.Fatalf("a failed compensation left %+v", o.Compensations)
	}
}

// A shared product's key given as compensation takes one seat.
func TestCompensationSharedSeat(t *testing.T) {
	e := newEnv(t)
	game := e.product("game", Unique)
	e.importKeys(game.ID, keyList("GAME", 1))
	vip := e.product("vip", Shared)
	if _, err := e.shop.ImportKeys(vip.ID, BatchInfo{Seats: 5}, strings.NewReader("VIP-SHARED-KEY-1")); err != nil {
		t.Fatal(err)
	}
	pl := e.buy(game.ID, 1)
	e.pay(pl.Order)
	if _, err := e.compensate("a1", CompensationParams{Ref: pl.Order.Ref, Product: vip.ID}); err != nil {
		t.Fatal(err)
	}
	if ks := e.keysOf(pl.Token); len(ks) != 2 || ks[1] != "VIP-SHARED-KEY-1" {
		t.Fatalf("keys %v", ks)
	}
	if e.stock(vip.ID) != 4 {
		t.Fatalf("seats %d", e.stock(vip.ID))
	}
}
