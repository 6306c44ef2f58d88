package shop

import (
	"bytes"
	"encoding/csv"
	"errors"
	"strings"
	"testing"
	"time"

	"veil/server/store"
)

func refsOf(os []Order) []string {
	var out []string
	for _, o := range os {
		out = append(out, o.Ref)
	}
	return out
}

// TestSearchOrders: each criterion alone and together, days counted in the
// shop's time zone, pages that follow on without gaps or repeats.
func TestSearchOrders(t *testing.T) {
	e := newEnv(t)
	p := e.product("game", Unique)
	q := e.product("other", Unique)
	e.importKeys(p.ID, keyList("SO", 20))
	e.importKeys(q.ID, keyList("SQ", 5))
	// 2026-11-01 20:00 in Shanghai (12:00 UTC).
	a := e.buy(p.ID, 1)
	e.apply(a.Order.Ref, gw("TRADE-A", 990), nil)
	// Five hours later: 2026-11-02 01:00 in Shanghai, still 11-01 in UTC.
	e.clock.Add(5 * time.Hour)
	b := e.buy(q.ID, 1)
	e.apply(b.Order.Ref, gw("=TRADE-B", 990), nil)
	e.clock.Add(time.Hour)
	var later []string
	for range 7 {
		e.clock.Add(time.Minute)
		later = append(later, e.buy(p.ID, 1).Order.Ref)
	}

	search := func(oq OrderQuery) []string {
		t.Helper()
		got, next, err := e.shop.SearchOrders(oq, "", 50)
		if err != nil || next != "" {
			t.Fatalf("%+v: %v next %q", oq, err, next)
		}
		return refsOf(got)
	}
	eq := func(got []string, want ...string) {
		t.Helper()
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	eq(search(OrderQuery{TradeNo: "TRADE-A"}), a.Order.Ref)
	eq(search(OrderQuery{TradeNo: " =TRADE-B "}), b.Order.Ref)
	eq(search(OrderQuery{TradeNo: "TRADE"}))
	eq(search(OrderQuery{Ref: strings.ToLower(a.Order.Ref)}), a.Order.Ref)
	eq(search(OrderQuery{Ref: a.Order.Ref, Status: StatusPending}))
	eq(search(OrderQuery{ProductID: "other"}), b.Order.Ref)
	eq(search(OrderQuery{From: "2026-11-01", To: "2026-11-01"}), a.Order.Ref)
	eq(search(OrderQuery{From: "2026-11-02", ProductID: "other"}), b.Order.Ref)
	eq(search(OrderQuery{To: "2026-10-31"}))
	if got := search(OrderQuery{Status: StatusPending}); len(got) != 7 || got[0] != later[6] {
		t.Fatalf("pending: %v", got)
	}

	// Pages of 3 walk all nine orders once.
	var all []string
	cursor := ""
	for i := 0; ; i++ {
		page, next, err := e.shop.SearchOrders(OrderQuery{}, cursor, 3)
		if err != nil || i > 5 {
			t.Fatalf("page %d: %v", i, err)
		}
		all = append(all, refsOf(page)...)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(all) != 9 || all[8] != a.Order.Ref || all[7] != b.Order.Ref {
		t.Fatalf("paged: %v", all)
	}

	for _, bad := range []OrderQuery{
		{Ref: "R-1"}, {From: "2026-13-01"}, {To: "yesterday"}, {From: "2026-11-02", To: "2026-11-01"},
		{Status: "lost"}, {TradeNo: strings.Repeat("x", 129)},
	} {
		if _, _, err := e.shop.SearchOrders(bad, "", 10); err == nil {
			t.Fatalf("%+v accepted", bad)
		}
	}
	if _, _, err := e.shop.SearchOrders(OrderQuery{ProductID: "nope"}, "", 10); err != ErrProductNotFound {
		t.Fatalf("unknown product: %v", err)
	}

	// The CSV: the same selection, metadata only, formulas defused.
	var buf bytes.Buffer
	n, err := e.shop.ExportOrdersCSV(&buf, OrderQuery{From: "2026-11-01", To: "2026-11-02"})
	if err != nil || n != 9 {
		t.Fatalf("export: %d %v", n, err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil || len(rows) != 10 {
		t.Fatalf("csv: %d rows %v", len(rows), err)
	}
	if rows[0][0] != "ref" || rows[9][0] != a.Order.Ref || rows[9][11] != "2026-11-01 20:00 UTC+08:00" || rows[9][15] != "TRADE-A" {
		t.Fatalf("row of a: %v", rows[9])
	}
	if rows[8][15] != "'=TRADE-B" {
		t.Fatalf("formula not defused: %q", rows[8][15])
	}
	text := strings.Join(func() []string {
		var s []string
		for _, r := range rows {
			s = append(s, strings.Join(r, ","))
		}
		return s
	}(), "\n")
	for _, secret := range []string{a.Token, b.Token, a.Order.RecipientString(), "SO-0", "SQ-0"} {
		if strings.Contains(text, secret) {
			t.Fatal("the export holds a token, recipient or key")
		}
	}
}

func TestOrdersExportOnce(t *testing.T) {
	e := newEnv(t)
	e.product("game", Unique)
	q := OrderQuery{ProductID: "game", From: "2026-11-01"}
	if err := e.db.Update(func(tx *store.Txn) error { return e.shop.ApproveOrdersExportTx(tx, "x1", q) }); err != nil {
		t.Fatal(err)
	}
	got, err := e.shop.TakeOrdersExport("x1")
	if err != nil || got.From != "2026-11-01" || got.ProductID == "" {
		t.Fatalf("take: %+v %v", got, err)
	}
	if _, err := e.shop.TakeOrdersExport("x1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second take: %v", err)
	}
	if err := e.db.Update(func(tx *store.Txn) error { return e.shop.ApproveOrdersExportTx(tx, "x2", q) }); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(OrdersExportTTL + time.Minute)
	if _, err := e.shop.TakeOrdersExport("x2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("stale take: %v", err)
	}
	if err := e.db.Update(func(tx *store.Txn) error {
		return e.shop.ApproveOrdersExportTx(tx, "x3", OrderQuery{From: "junk"})
	}); err == nil {
		t.Fatal("a bad query approved")
	}
}
