package shop

import (
	"strings"
	"testing"
	"time"

	"veil/server/store"
)

// TestReportResaleChannel: orders resellers place at agent prices count in
// the report as sales of their own channel, in the period they were placed
// (shop time), with their refunds to the balance, the cost of every key
// they were given (the replacement too) and their tickets as after-sales
// of the batch — and in the supplier review list.
//
//	buyer   2026-11-01 15:30 UTC (SH 11-01 23:30) 1 acme key (cost 300) at 990
//	reseller 2026-11-02 02:00 UTC (SH 11-02 10:00) 2 acme keys at 20% off:
//	   2 × 792 = 1584; item 2 reported invalid and replaced (a third acme
//	   key), item 1 refunded 500 to the balance
func TestReportResaleChannel(t *testing.T) {
	e := newEnv(t)
	at := func(s string) {
		ts, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		e.clock.ns.Store(ts.UnixNano())
	}
	p := e.product("game", Unique)
	at("2026-11-01 12:00")
	res, err := e.shop.ImportKeys(p.ID, BatchInfo{Supplier: "acme", CostMinor: 300}, strings.NewReader(strings.Join(keyList("A", 4), "\n")))
	if err != nil {
		t.Fatal(err)
	}
	acme := res.BatchID
	at("2026-11-01 15:30")
	e.pay(e.buy(p.ID, 1).Order)
	at("2026-11-02 02:00")
	r, _ := e.reseller("agent", 10000, ResellerSpec{PercentOff: 20})
	pl, err := e.shop.PlaceResale(ResaleRequest{Reseller: r.ID, Product: p.ID, Quantity: 2, IdemKey: "o1"})
	if err != nil || pl.Order.AmountMinor != 1584 {
		t.Fatalf("resale order %+v %v", pl.Order, err)
	}
	at("2026-11-03 09:00")
	t1, err := e.shop.OpenResaleTicket(ResaleTicketRequest{Reseller: r.ID, Order: pl.Order.ID, ItemID: pl.Order.Items[1],
		Reason: ReasonKeyInvalid, IdemKey: "t1"})
	if err != nil {
		t.Fatal(err)
	}
	t2, err := e.shop.OpenResaleTicket(ResaleTicketRequest{Reseller: r.ID, Order: pl.Order.ID, ItemID: pl.Order.Items[0],
		Reason: ReasonKeyAlreadyUsed, IdemKey: "t2"})
	if err != nil {
		t.Fatal(err)
	}
	err = e.db.Update(func(tx *store.Txn) error {
		if _, err := e.shop.ResaleReplaceTx(tx, t1.Ticket.ID); err != nil {
			return err
		}
		_, err := e.shop.ResaleRefundTx(tx, t2.Ticket.ID, 500, "approval-1")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	rep := e.report(ReportQuery{Grain: GrainDay, From: "2026-11-01", To: "2026-11-02"})
	// shop: 990 − 300 = 690 (69.7%); resale: 1584 − 500 − 3 × 300 = 184
	// of 1084 kept (17.0%); together 874 of 2074 (42.1%).
	var ch []string
	for _, c := range rep.Channels {
		ch = append(ch, c.Channel+" "+figs(c.SalesFigures))
	}
	if got, want := strings.Join(ch, "\n"), "shop CNY 1/1/990/0/300/690/697\nresale CNY 1/3/1584/500/900/184/170"; got != want {
		t.Errorf("channels:\n%s\nwant\n%s", got, want)
	}
	if len(rep.Totals) != 1 || figs(rep.Totals[0]) != "CNY 2/4/2574/500/1200/874/421" {
		t.Errorf("totals %+v", rep.Totals)
	}
	want := "2026-11-01@2026-11-01 CNY 1/1/990/0/300/690/697\n" +
		"2026-11-02@2026-11-02 CNY 1/3/1584/500/900/184/170"
	if got := periodsOf(rep); got != want {
		t.Errorf("days:\n%s\nwant\n%s", got, want)
	}
	wantB := acme + " acme 2026-11-01 cost 300: CNY 2/4/2574/500/1200/874/421 after-sales 2 recalled 0 rate 500"
	if got := batchesOf(rep.Batches); got != wantB {
		t.Errorf("batches:\n%s\nwant\n%s", got, wantB)
	}
	// The resale falls outside a range that ends before it.
	rep = e.report(ReportQuery{Grain: GrainDay, From: "2026-11-01", To: "2026-11-01"})
	if len(rep.Channels) != 1 || rep.Channels[0].Channel != ChannelShop || figs(rep.Totals[0]) != "CNY 1/1/990/0/300/690/697" {
		t.Errorf("a range before the resale: %+v", rep.Channels)
	}
	rev, err := e.shop.ReviewList()
	if err != nil || len(rev.Batches) != 1 || rev.Batches[0].AfterSales != 2 || rev.Batches[0].Units != 4 || rev.Batches[0].RatePermille != 500 {
		t.Fatalf("review list %+v %v", rev, err)
	}
}
