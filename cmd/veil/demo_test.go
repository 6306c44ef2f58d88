package main

import (
	"log/slog"
	"testing"

	"veil/server/shop"
)

// TestDemoCatalog: the demo seeds at least three products, in both
// languages, each with stock.
func TestDemoCatalog(t *testing.T) {
	a, err := openAppWith(t.TempDir(), slog.New(slog.DiscardHandler), shop.Config{VaultWorkFactor: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, err := initShop(a, "owner", "a long password", "vault passphrase"); err != nil {
		t.Fatal(err)
	}
	if _, err := seedDemo(a.shop); err != nil {
		t.Fatal(err)
	}
	ps, err := a.shop.Products()
	if err != nil || len(ps) < 3 {
		t.Fatalf("%d products, %v", len(ps), err)
	}
	for _, p := range ps {
		if p.Name["en"] == "" || p.Name["zh-CN"] == "" || p.InStock == 0 {
			t.Errorf("%s: names %v, stock %d", p.Slug, p.Name, p.InStock)
		}
	}
}
