package shop

import (
	"errors"
	"strings"
	"testing"
	"time"

	"veil/crypto"
	"veil/server/store"
)

// TestReceipt: a delivered order's receipt verifies under the shop's notice
// key, commits to exactly the keys delivered (and names a replaced one's
// state), shows neither key nor token, and does not count as showing the
// keys; an unpaid order has none, nor does a locked shop sign one.
func TestReceipt(t *testing.T) {
	e := newEnv(t)
	p := e.product("game", Unique)
	p.Name = Text{"en": "Game\u202e card\n100", "zh-CN": "游戏点卡"}
	if _, _, err := e.shop.UpdateDetails(p); err != nil {
		t.Fatal(err)
	}
	e.importKeys(p.ID, keyList("G", 5))
	pl := e.buy(p.Slug, 2)
	if _, _, err := e.shop.Receipt(pl.Token, "en"); !errors.Is(err, ErrNotDelivered) {
		t.Fatalf("unpaid: %v", err)
	}
	e.clock.Add(37 * time.Minute)
	e.pay(pl.Order)
	block, ref, err := e.shop.Receipt(pl.Token, "en")
	if err != nil || ref != pl.Order.Ref {
		t.Fatal(ref, err)
	}
	r, err := crypto.VerifyReceipt(block)
	if err != nil {
		t.Fatal(err)
	}
	o := e.order(pl.Order.Ref)
	if o.Revealed {
		t.Fatal("a receipt counted as showing the keys")
	}
	if r.Fingerprint != e.shop.NoticeFingerprint() || r.Ref != o.Ref || r.Product != "game" || r.ProductName != "Game card 100" ||
		r.Quantity != 2 || r.AmountMinor != 1980 || r.Currency != "CNY" || r.Status != "delivered" ||
		!r.Delivered.Equal(o.DeliveredAt.Truncate(time.Hour)) || !r.WindowEnds.Equal(o.WindowEnds.Truncate(time.Hour)) || len(r.Items) != 2 {
		t.Fatalf("receipt %+v\n%s", r, block)
	}
	keys := e.keysOf(pl.Token)
	for _, k := range keys {
		if strings.Contains(block, k) {
			t.Fatal("receipt shows a key")
		}
		if _, ok := r.Match("", k); !ok {
			t.Fatalf("receipt does not commit to a delivered key")
		}
	}
	if _, ok := r.Match("", keyList("G", 5)[4]); ok {
		t.Fatal("receipt commits to a key not delivered")
	}
	if strings.Contains(strings.ToUpper(strings.ReplaceAll(block, "-", "")), strings.ReplaceAll(pl.Token, "-", "")) {
		t.Fatal("receipt shows the token")
	}
	if zh, _, _ := e.shop.Receipt(pl.Token, "zh-CN"); !strings.Contains(zh, "Product-Name: 游戏点卡\n") {
		t.Fatalf("zh-CN receipt:\n%s", zh)
	}

	// A replaced key stays on the receipt with its state, next to the new one.
	var tk Ticket
	if tk, err = e.shop.OpenTicket(pl.Token, ReasonKeyInvalid, r.Items[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := e.db.Update(func(tx *store.Txn) error {
		_, err := e.shop.ReplaceTx(tx, o.Ref, r.Items[0].ID, tk.ID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	block, _, err = e.shop.Receipt(pl.Token, "en")
	if err != nil {
		t.Fatal(err)
	}
	if r, err = crypto.VerifyReceipt(block); err != nil || len(r.Items) != 3 || r.Items[0].State != string(KeyReportedBad) || r.Items[2].State != "" {
		t.Fatalf("after replacement: %v\n%s", err, block)
	}

	e.shop.Lock()
	if _, _, err := e.shop.Receipt(pl.Token, "en"); !errors.Is(err, ErrLocked) {
		t.Fatalf("locked: %v", err)
	}
	if _, _, err := e.shop.Receipt("0000", "en"); err == nil {
		t.Fatal("malformed token accepted")
	}
}
