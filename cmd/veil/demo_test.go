package main

import (
	"testing"
)

// TestDemoCatalog: the demo seeds at least three products, in both
// languages, each with stock.
func TestDemoCatalog(t *testing.T) {
	a := newInitApp(t)
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
