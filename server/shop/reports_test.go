package shop

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"veil/server/store"
)

// figs prints figures as orders/units/revenue/refunds/cost/profit/margin‰.
func figs(f SalesFigures) string {
	m := "-"
	if f.HasMargin {
		m = fmt.Sprint(f.MarginPermille)
	}
	return fmt.Sprintf("%s %d/%d/%d/%d/%d/%d/%s", f.Currency, f.Orders, f.Units, f.RevenueMinor, f.RefundsMinor,
		f.CostMinor, f.ProfitMinor, m)
}

func periodsOf(r Report) string {
	var b []string
	for _, p := range r.Periods {
		b = append(b, p.Period+"@"+p.Start+" "+figs(p.SalesFigures))
	}
	return strings.Join(b, "\n")
}

func batchesOf(bs []BatchSales) string {
	var b []string
	for _, x := range bs {
		b = append(b, fmt.Sprintf("%s %s %s cost %d: %s after-sales %d recalled %d rate %d", x.BatchID, x.Supplier, x.Date,
			x.UnitCostMinor, figs(x.SalesFigures), x.AfterSales, x.Recalled, x.RatePermille))
	}
	return strings.Join(b, "\n")
}

// reportShop builds the sales the report tests count (times in UTC; the
// shop's zone is Asia/Shanghai, UTC+8):
//
//	o1 2026-11-01 15:30 (SH 11-01 23:30) 2 keys of batch acme (cost 300): 1980
//	o2 2026-11-01 16:30 (SH 11-02 00:30) 1 acme key, reported invalid on
//	   11-02 12:00 and replaced by a beta key (cost 700): 990
//	o3 2026-11-02 10:00 (SH 11-02 18:00) 1 acme key: 990, 300 refunded on 11-03
//	o4 2026-11-02 17:00 (SH 11-03 01:00) 1 beta key: 990
//	o5 2026-11-02 18:00 never paid
func reportShop(t *testing.T) (e *env, acme, beta string, refs []string) {
	e = newEnv(t)
	at := func(s string) {
		ts, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		e.clock.ns.Store(ts.UnixNano())
	}
	p := e.product("game", Unique)
	imp := func(supplier string, cost int64, keys []string) string {
		res, err := e.shop.ImportKeys(p.ID, BatchInfo{Supplier: supplier, CostMinor: cost}, strings.NewReader(strings.Join(keys, "\n")))
		if err != nil {
			t.Fatal(err)
		}
		return res.BatchID
	}
	at("2026-11-01 12:00")
	acme = imp("acme", 300, keyList("A", 4))
	at("2026-11-01 12:01")
	beta = imp("beta", 700, keyList("B", 4))
	buy := func(when string, qty int) Placed {
		at(when)
		pl := e.buy(p.ID, qty)
		e.pay(pl.Order)
		refs = append(refs, pl.Order.Ref)
		return pl
	}
	buy("2026-11-01 15:30", 2)
	o2 := buy("2026-11-01 16:30", 1)
	o3 := buy("2026-11-02 10:00", 1)
	at("2026-11-02 12:00")
	e.keysOf(o2.Token)
	tk, err := e.shop.OpenTicket(o2.Token, ReasonKeyInvalid, o2.Order.Items[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := e.db.Update(func(tx *store.Txn) error {
		_, err := e.shop.ReplaceTx(tx, o2.Order.Ref, o2.Order.Items[0], tk.ID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.shop.Reconcile(p.ID); err != nil {
		t.Fatal(err)
	}
	buy("2026-11-02 17:00", 1)
	at("2026-11-02 18:00")
	e.buy(p.ID, 1)
	at("2026-11-03 02:00")
	if err := e.db.Update(func(tx *store.Txn) error {
		_, err := e.shop.RefundTx(tx, o3.Order.Ref, 300)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return e, acme, beta, refs
}

func (e *env) report(q ReportQuery) Report {
	e.t.Helper()
	r, err := e.shop.Report(q)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) setZone(name string) {
	e.t.Helper()
	if err := e.db.Update(func(tx *store.Txn) error { return e.shop.SetTimeZoneTx(tx, name) }); err != nil {
		e.t.Fatal(err)
	}
}

// TestReportProfitByShopDay: revenue, refunds, cost and profit per day and
// week fall on the shop's days, so the same sales split differently in
// Asia/Shanghai and in UTC; per batch, the replaced key's cost stays with
// its batch and the replacement's with the other.
func TestReportProfitByShopDay(t *testing.T) {
	e, acme, beta, _ := reportShop(t)
	day := ReportQuery{Grain: GrainDay, From: "2026-11-01", To: "2026-11-02"}

	r := e.report(day)
	if r.TimeZone != "Asia/Shanghai" || r.From != "2026-11-01" || r.To != "2026-11-02" {
		t.Fatalf("report header %+v", r)
	}
	want := "2026-11-01@2026-11-01 CNY 1/2/1980/0/600/1380/697\n" +
		"2026-11-02@2026-11-02 CNY 2/3/1980/300/1300/380/226"
	if got := periodsOf(r); got != want {
		t.Errorf("Shanghai days:\n%s\nwant\n%s", got, want)
	}
	if len(r.Totals) != 1 || figs(r.Totals[0]) != "CNY 3/5/3960/300/1900/1760/481" {
		t.Errorf("totals %+v", r.Totals)
	}
	if len(r.Products) != 1 || figs(r.Products[0].SalesFigures) != "CNY 3/5/3960/300/1900/1760/481" {
		t.Errorf("products %+v", r.Products)
	}
	// acme: o1's two keys, o2's replaced key (cost, no revenue: it was
	// taken back) and o3's; beta: o2's replacement.
	wantB := acme + " acme 2026-11-01 cost 300: CNY 2/4/2970/300/1200/1470/551 after-sales 1 recalled 0 rate 250\n" +
		beta + " beta 2026-11-01 cost 700: CNY 1/1/990/0/700/290/293 after-sales 0 recalled 0 rate 0"
	if got := batchesOf(r.Batches); got != wantB {
		t.Errorf("batches:\n%s\nwant\n%s", got, wantB)
	}
	if r.PurgedIncluded || len(r.Purged) != 0 {
		t.Errorf("nothing purged yet: %+v", r.Purged)
	}

	week := e.report(ReportQuery{Grain: GrainWeek, From: "2026-11-01", To: "2026-11-03"})
	want = "2026-W44@2026-10-26 CNY 1/2/1980/0/600/1380/697\n" +
		"2026-W45@2026-11-02 CNY 3/4/2970/300/2000/670/251"
	if got := periodsOf(week); got != want {
		t.Errorf("Shanghai weeks:\n%s\nwant\n%s", got, want)
	}

	e.setZone("UTC")
	r = e.report(day)
	want = "2026-11-01@2026-11-01 CNY 2/4/2970/0/1600/1370/461\n" +
		"2026-11-02@2026-11-02 CNY 2/2/1980/300/1000/680/405"
	if got := periodsOf(r); got != want {
		t.Errorf("UTC days:\n%s\nwant\n%s", got, want)
	}
	week = e.report(ReportQuery{Grain: GrainWeek, From: "2026-11-01", To: "2026-11-03"})
	want = "2026-W44@2026-10-26 CNY 2/4/2970/0/1600/1370/461\n" +
		"2026-W45@2026-11-02 CNY 2/2/1980/300/1000/680/405"
	if got := periodsOf(week); got != want {
		t.Errorf("UTC weeks:\n%s\nwant\n%s", got, want)
	}
	// A range without sales has no currency and so no lines (the page
	// shows its empty state).
	r = e.report(ReportQuery{Grain: GrainDay, From: "2026-10-31", To: "2026-10-31"})
	if got := periodsOf(r); got != "" || len(r.Currencies) != 0 {
		t.Errorf("a day without sales: %q %v", got, r.Currencies)
	}
}

// TestReportSurvivesPurge: once every order is purged, the month report
// is what it was (the monthly aggregates carry it), a day report lists the
// purged month apart, and the review list keeps the batch's rate.
func TestReportSurvivesPurge(t *testing.T) {
	e, acme, _, refs := reportShop(t)
	month := ReportQuery{Grain: GrainMonth, From: "2026-11-01", To: "2026-11-30"}
	before := e.report(month)
	if got := periodsOf(before); got != "2026-11@2026-11-01 CNY 4/6/4950/300/2600/2050/441" {
		t.Fatalf("month before purge: %s", got)
	}
	reviewBefore, err := e.shop.ReviewList()
	if err != nil {
		t.Fatal(err)
	}
	if len(reviewBefore.Batches) != 1 || reviewBefore.Batches[0].BatchID != acme || reviewBefore.Batches[0].RatePermille != 250 {
		t.Fatalf("review before purge: %s", batchesOf(reviewBefore.Batches))
	}

	if err := e.db.Update(func(tx *store.Txn) error { return e.shop.SetRetentionDaysTx(tx, 1) }); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(80 * time.Hour)
	if _, err := e.shop.Sweep(); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(10 * 24 * time.Hour)
	if res, err := e.shop.Purge(false, nil); err != nil || res.Purged != 5 {
		t.Fatalf("purge %+v %v", res, err)
	}
	for _, ref := range refs {
		if _, err := e.shop.OrderByRef(ref); err == nil {
			t.Fatalf("%s survived its purge", ref)
		}
	}
	after := e.report(month)
	if !reflect.DeepEqual(before, after) {
		t.Errorf("month report changed by the purge:\n%s\n%s\nwant\n%s\n%s", periodsOf(after), batchesOf(after.Batches),
			periodsOf(before), batchesOf(before.Batches))
	}
	reviewAfter, err := e.shop.ReviewList()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(reviewBefore, reviewAfter) {
		t.Errorf("review list changed by the purge:\n%s\nwant\n%s", batchesOf(reviewAfter.Batches), batchesOf(reviewBefore.Batches))
	}
	day := e.report(ReportQuery{Grain: GrainDay, From: "2026-11-01", To: "2026-11-02"})
	if day.PurgedIncluded || len(day.Totals) != 0 || len(day.Purged) != 1 ||
		day.Purged[0].Period != "2026-11" || figs(day.Purged[0].SalesFigures) != "CNY 4/6/4950/300/2600/2050/441" {
		t.Errorf("day report after purge: totals %+v purged %+v", day.Totals, day.Purged)
	}
	// The aggregates name no order.
	err = e.db.View(func(tx *store.Txn) error {
		return tx.Iterate(pReport, "", false, func(k string, v []byte) error {
			for _, ref := range refs {
				if strings.Contains(k+string(v), ref) {
					t.Errorf("aggregate %s names %s", k, ref)
				}
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestReportSharedAndRecall: a shared product costs its batch's cost per
// seat sold; a recalled key keeps its cost on its batch (counted as
// recalled, not as after-sales) and its replacement's revenue goes to the
// other batch; a key given as compensation is a cost on its own batch.
func TestReportSharedAndRecall(t *testing.T) {
	e := newEnv(t)
	u := e.product("game", Unique)
	sh := e.product("vpn", Shared)
	imp := func(pid string, info BatchInfo, keys []string) string {
		res, err := e.shop.ImportKeys(pid, info, strings.NewReader(strings.Join(keys, "\n")))
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Add(time.Second)
		return res.BatchID
	}
	x := imp(u.ID, BatchInfo{Supplier: "x", CostMinor: 100}, keyList("X", 2))
	y := imp(u.ID, BatchInfo{Supplier: "y", CostMinor: 200}, keyList("Y", 2))
	s := imp(sh.ID, BatchInfo{Supplier: "s", CostMinor: 50, Seats: 10}, keyList("S", 1))
	bought := e.buy(u.ID, 1)
	e.pay(bought.Order)
	seats := e.buy(sh.ID, 1) // a shared product sells one seat per order
	e.pay(seats.Order)
	if _, err := e.shop.OpenTicket(seats.Token, ReasonKeyAlreadyUsed, ""); err != nil {
		t.Fatal(err)
	}
	if err := e.db.Update(func(tx *store.Txn) error {
		res, err := e.shop.RecallTx(tx, x)
		if err == nil && res.Replaced != 1 {
			err = fmt.Errorf("recall %+v", res)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// A seat of the shared product given to the unique order as
	// compensation: a cost of that sale, on the seat's batch.
	if err := e.db.Update(func(tx *store.Txn) error {
		_, err := e.shop.CompensateKeyTx(tx, "a1", CompensationParams{Ref: bought.Order.Ref, Product: sh.ID})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	r := e.report(ReportQuery{})
	if len(r.Totals) != 1 || r.Totals[0].CompensationMinor != 50 || figs(r.Totals[0]) != "CNY 2/4/1980/0/400/1580/798" {
		t.Errorf("totals %+v", r.Totals)
	}
	want := x + " x 2026-11-01 cost 100: CNY 0/1/0/0/100/-100/- after-sales 0 recalled 1 rate 0\n" +
		y + " y 2026-11-01 cost 200: CNY 1/1/990/0/200/790/798 after-sales 0 recalled 0 rate 0\n" +
		s + " s 2026-11-01 cost 50: CNY 1/2/990/0/100/890/899 after-sales 1 recalled 0 rate 500"
	// Batches are listed by product id, then batch.
	got := batchesOf(r.Batches)
	if u.ID > sh.ID {
		want = want[strings.Index(want, s):] + "\n" + want[:strings.Index(want, s)-1]
	}
	if got != want {
		t.Errorf("batches:\n%s\nwant\n%s", got, want)
	}
}

func TestReportQueryErrors(t *testing.T) {
	e := newEnv(t)
	var ie *InputError
	for _, q := range []ReportQuery{
		{Grain: "year"},
		{From: "2026-13-01"},
		{From: "2026-11-02", To: "2026-11-01"},
		{To: "yesterday"},
		{Grain: GrainDay, From: "2020-01-01", To: "2026-01-01"},
	} {
		if _, err := e.shop.Report(q); err == nil || !asInput(err, &ie) {
			t.Errorf("%+v: %v", q, err)
		}
	}
	// Defaults: 30 days, 12 weeks, 12 months ending today (2026-11-01 in
	// Shanghai at the test clock's 12:00 UTC).
	for g, want := range map[Grain][2]string{
		GrainDay: {"2026-10-03", "2026-11-01"}, GrainWeek: {"2026-08-10", "2026-11-01"}, GrainMonth: {"2025-12-01", "2026-11-30"},
	} {
		r := e.report(ReportQuery{Grain: g})
		if r.From != want[0] || r.To != want[1] {
			t.Errorf("%s default %s..%s, want %s..%s", g, r.From, r.To, want[0], want[1])
		}
	}
	if err := e.shop.SetReviewThreshold(1001); err == nil || !asInput(err, &ie) {
		t.Errorf("threshold 1001: %v", err)
	}
	if err := e.shop.SetReviewThreshold(120); err != nil || e.shop.ReviewThreshold() != 120 {
		t.Errorf("threshold: %v %d", err, e.shop.ReviewThreshold())
	}
}

func asInput(err error, ie **InputError) bool {
	e, ok := err.(*InputError)
	*ie = e
	return ok
}

// BenchmarkReport10k: the report and the review list over 10,000 paid
// orders (one a few minutes apart, over about a month; a ticket on every
// 50th). Run with -bench Report -benchtime 20x.
func BenchmarkReport10k(b *testing.B) {
	const n = 10_000
	e := openEnv(&testing.T{}, b.TempDir(), newClock())
	defer e.db.Close()
	if _, err := e.shop.InitVault(testPass); err != nil {
		b.Fatal(err)
	}
	e.t = &testing.T{}
	p, err := e.shop.CreateProduct(Product{Slug: "bench", Name: Text{"en": "Bench"}, PriceMinor: 990, Currency: "CNY",
		Kind: Unique, Policy: Policy{WindowHours: 72, Remedies: []Remedy{RemedyReplace}}})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 5 {
		if _, err := e.shop.ImportKeys(p.ID, BatchInfo{Supplier: fmt.Sprint("s", i), CostMinor: int64(300 + i)},
			strings.NewReader(strings.Join(keyList(fmt.Sprint("K", i), n/5), "\n"))); err != nil {
			b.Fatal(err)
		}
		e.clock.Add(time.Second)
	}
	for i := range n {
		pl, err := e.shop.PlaceOrder(p.ID, 1, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.shop.Pay(pl.Order.Ref, Payment{Provider: "demo", AmountMinor: pl.Order.AmountMinor}); err != nil {
			b.Fatal(err)
		}
		if i%50 == 0 {
			if _, err := e.shop.OpenTicket(pl.Token, ReasonKeyInvalid, ""); err != nil {
				b.Fatal(err)
			}
		}
		e.clock.Add(4 * time.Minute)
	}
	b.Run("month-by-day", func(b *testing.B) {
		for b.Loop() {
			r, err := e.shop.Report(ReportQuery{Grain: GrainDay})
			if err != nil || r.Totals[0].Orders == 0 {
				b.Fatal(r.Totals, err)
			}
		}
	})
	b.Run("review-list", func(b *testing.B) {
		for b.Loop() {
			r, err := e.shop.ReviewList()
			if err != nil || r.Considered != 5 {
				b.Fatal(r, err)
			}
		}
	})
}
