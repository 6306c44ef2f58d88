package shop

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"veil/server/store"
)

// Reports: revenue, refunds, cost and profit per period of the shop's time
// zone, per product and per supplier batch, and the after-sales rate of
// each batch (the supplier review list).
//
// Money is counted by sale ("cohort"): an order's revenue, its refunds and
// the cost of every key it was ever given (replacements too) fall in the
// period in which it was paid, so a period's figures keep their meaning
// when a refund comes later. Revenue is the order's price (an excess
// payment is owed back, not revenue); cost is the batch's cost per key for
// each key delivered (a shared product: per seat sold).
//
// Reports are computed from the orders still kept, read through the
// creation-time index from the start of the range less reportSlack (for
// late payments): the cost is bounded by the orders placed in the range,
// not by the shop's history. When an order is purged its figures are
// folded into monthly aggregates (rpt/), which hold no time finer than a
// month and no reference: the month report includes them, day and week
// reports list them apart (they cannot be split into days).

const (
	// pReport holds the figures of purged orders:
	// rpt/<YYYY-MM>/<currency>/<pid>/<batch or "-"> -> reportAgg (JSON).
	pReport = "rpt/"
	// kReviewThreshold is the after-sales rate (permille) above which a
	// batch is on the supplier review list.
	kReviewThreshold = "setting/review-threshold"
	// reportSlack is how long before a report's range an order may have
	// been placed and still be paid in the range: an unpaid order is purged
	// a week after it expired (so a late payment comes within that), and a
	// held payment is confirmed by staff within days. A sale paid later than
	// this after its order was placed shows in reports only once purged
	// (month aggregates).
	reportSlack = 14 * 24 * time.Hour
	// MaxReportPeriods bounds a report's periods (and so its scan).
	MaxReportPeriods = 400
	// DefaultReviewThreshold is the review threshold until the owner sets
	// one: 5.0%, the share at which the trade starts asking a supplier.
	DefaultReviewThreshold = 50
)

// Grain is a report's period.
type Grain string

const (
	GrainDay   Grain = "day"
	GrainWeek  Grain = "week" // ISO weeks, Monday first
	GrainMonth Grain = "month"
)

// ReportQuery asks for a report. From and To are dates of the shop's time
// zone (YYYY-MM-DD, both included); empty picks a default span ending
// today (30 days, 12 weeks or 12 months). ProductID narrows it to one
// product.
type ReportQuery struct {
	Grain     Grain
	From, To  string
	ProductID string
}

// SalesFigures are the money and counts of a set of sales, in one currency.
type SalesFigures struct {
	Currency     string `json:"currency"`
	Orders       int    `json:"orders"`
	Units        int    `json:"units"` // keys (seats) delivered, replacements included
	RevenueMinor int64  `json:"revenue_minor"`
	RefundsMinor int64  `json:"refunds_minor"`
	CostMinor    int64  `json:"cost_minor"`
	// CompensationMinor is the part of the cost that went to keys given as
	// compensation (issue 13 §1).
	CompensationMinor int64 `json:"compensation_minor"`
	ProfitMinor       int64 `json:"profit_minor"` // revenue − refunds − cost
	// MarginPermille is profit ÷ (revenue − refunds) in tenths of a
	// percent; HasMargin is false when nothing was kept.
	MarginPermille int  `json:"margin_permille"`
	HasMargin      bool `json:"has_margin"`
}

func (f *SalesFigures) add(g SalesFigures) {
	f.Orders += g.Orders
	f.Units += g.Units
	f.RevenueMinor += g.RevenueMinor
	f.RefundsMinor += g.RefundsMinor
	f.CostMinor += g.CostMinor
	f.CompensationMinor += g.CompensationMinor
}

func (f *SalesFigures) finish() {
	f.ProfitMinor = f.RevenueMinor - f.RefundsMinor - f.CostMinor
	net := f.RevenueMinor - f.RefundsMinor
	f.HasMargin = net > 0
	f.MarginPermille = 0
	if f.HasMargin {
		f.MarginPermille = int(roundDiv(f.ProfitMinor*1000, net))
	}
}

// roundDiv divides rounding half away from zero.
func roundDiv(a, b int64) int64 {
	if (a < 0) != (b < 0) {
		return (a - b/2) / b
	}
	return (a + b/2) / b
}

// PeriodSales are one period's figures in one currency.
type PeriodSales struct {
	Period string `json:"period"` // 2026-12-03, 2026-W49 or 2026-12
	// Start is the period's first day (YYYY-MM-DD).
	Start string `json:"start"`
	SalesFigures
}

// ProductSales are one product's figures in the range.
type ProductSales struct {
	ProductID string `json:"product_id"`
	SalesFigures
}

// BatchSales are one supplier batch's figures: its money in the range
// and its after-sales record over the same sales. Batch "" (ID "-") holds
// the sales that delivered no key (refunded or owed before delivery).
type BatchSales struct {
	BatchID       string `json:"batch_id"`
	ProductID     string `json:"product_id"`
	Supplier      string `json:"supplier"`
	Date          string `json:"date"`
	UnitCostMinor int64  `json:"unit_cost_minor"`
	SalesFigures
	// AfterSales counts the delivered keys of this batch that after-sales
	// touched: a ticket about the key (key_invalid, key_already_used,
	// wrong_region) or a replacement. Recalled counts keys a batch recall
	// took back. RatePermille is AfterSales ÷ Units.
	AfterSales   int `json:"after_sales"`
	Recalled     int `json:"recalled"`
	RatePermille int `json:"rate_permille"`
}

// Sales channels of a report.
const (
	ChannelShop   = "shop"   // buyers' orders
	ChannelResale = "resale" // resellers' orders at agent prices (issue 14)
)

// ChannelSales are one channel's figures in the range.
type ChannelSales struct {
	Channel string `json:"channel"`
	SalesFigures
}

// Report is the answer to Report.
type Report struct {
	Grain    Grain  `json:"grain"`
	From     string `json:"from"`
	To       string `json:"to"`
	TimeZone string `json:"time_zone"`
	// Currencies seen, the largest revenue first (a shop with one currency
	// has one); Periods has every period of the range once per currency,
	// empty ones included, in order.
	Currencies []string       `json:"currencies"`
	Periods    []PeriodSales  `json:"periods"`
	Totals     []SalesFigures `json:"totals"`
	// Channels splits each currency's totals by who bought: the shop's
	// buyers (ChannelShop) and resellers at agent prices (ChannelResale),
	// in that order, a channel with no sale left out.
	Channels []ChannelSales `json:"channels"`
	Products []ProductSales `json:"products"`
	Batches  []BatchSales   `json:"batches"`
	// PurgedIncluded says the figures include purged orders (month
	// reports); otherwise Purged lists the monthly totals of purged orders
	// in the months the range touches, which the figures above leave out.
	PurgedIncluded bool          `json:"purged_included"`
	Purged         []PeriodSales `json:"purged"`
}

// reportAgg is the stored figure of purged orders (one month, currency,
// product and batch).
type reportAgg struct {
	Orders     int   `json:"o"`
	Units      int   `json:"u"`
	Revenue    int64 `json:"r"`
	Refunds    int64 `json:"f"`
	Cost       int64 `json:"c"`
	Comp       int64 `json:"k"`
	AfterSales int   `json:"a"`
	Recalled   int   `json:"x"`
}

func (a *reportAgg) add(b reportAgg) {
	a.Orders += b.Orders
	a.Units += b.Units
	a.Revenue += b.Revenue
	a.Refunds += b.Refunds
	a.Cost += b.Cost
	a.Comp += b.Comp
	a.AfterSales += b.AfterSales
	a.Recalled += b.Recalled
}

// saleLine is what one order contributes to one batch.
type saleLine struct {
	batch                string // "" when no key was delivered
	orders, units        int
	revenue, refunds     int64
	cost, compensation   int64
	afterSales, recalled int
}

func (l saleLine) figures(currency string) SalesFigures {
	return SalesFigures{Currency: currency, Orders: l.orders, Units: l.units, RevenueMinor: l.revenue,
		RefundsMinor: l.refunds, CostMinor: l.cost, CompensationMinor: l.compensation}
}

func (l saleLine) agg() reportAgg {
	return reportAgg{Orders: l.orders, Units: l.units, Revenue: l.revenue, Refunds: l.refunds, Cost: l.cost,
		Comp: l.compensation, AfterSales: l.afterSales, Recalled: l.recalled}
}

func (a reportAgg) line(batch string) saleLine {
	return saleLine{batch: batch, orders: a.Orders, units: a.Units, revenue: a.Revenue, refunds: a.Refunds,
		cost: a.Cost, compensation: a.Comp, afterSales: a.AfterSales, recalled: a.Recalled}
}

// keyReason says whether a ticket reason is about the key itself.
func keyReason(r Reason) bool {
	return r == ReasonKeyInvalid || r == ReasonKeyAlreadyUsed || r == ReasonWrongRegion
}

// batchOfKey is the batch of a key id (<batch>-<line>).
func batchOfKey(kid string) string {
	if i := strings.LastIndexByte(kid, '-'); i > 0 {
		return kid[:i]
	}
	return kid
}

// split shares amount among n parts as evenly as integers allow, the first
// parts taking the remainder, so the parts sum to amount exactly.
func split(amount int64, n, i int) int64 {
	q, r := amount/int64(n), amount%int64(n)
	if int64(i) < r {
		return q + 1
	}
	return q
}

// saleLines splits a paid order into its batches. Revenue and refunds go
// to the keys the buyer holds now (evenly); cost to every key delivered,
// the replaced ones included — which is how a bad batch shows in its
// margin. cost(batch) is the batch's cost per key.
func saleLines(o Order, kind Kind, tickets []Ticket, cost func(batch string) int64) []saleLine {
	lines := soldLines(o, kind, tickets, cost)
	// Keys given as compensation: a cost of this sale, on their own batch.
	for _, c := range o.Compensations {
		b := batchOfKey(c.Item)
		i := slices.IndexFunc(lines, func(l saleLine) bool { return l.batch == b })
		if i < 0 {
			lines = append(lines, saleLine{batch: b})
			i = len(lines) - 1
		}
		lines[i].units++
		lines[i].cost += cost(b)
		lines[i].compensation += cost(b)
	}
	return lines
}

func soldLines(o Order, kind Kind, tickets []Ticket, cost func(batch string) int64) []saleLine {
	refunds := o.Refunded()
	if o.DeliveredAt.IsZero() || len(o.Items) == 0 {
		return []saleLine{{orders: 1, revenue: o.AmountMinor, refunds: refunds}}
	}
	var lines []saleLine
	at := map[string]int{}
	line := func(b string) *saleLine {
		i, ok := at[b]
		if !ok {
			i = len(lines)
			at[b] = i
			lines = append(lines, saleLine{batch: b})
		}
		return &lines[i]
	}
	ticketed := 0
	var itemTickets []string
	for _, t := range tickets {
		if !keyReason(t.Reason) {
			continue
		}
		ticketed++
		if t.ItemID != "" {
			itemTickets = append(itemTickets, t.ItemID)
		}
	}
	if kind == Shared {
		l := line(batchOfKey(o.Items[0]))
		l.orders, l.units = 1, o.Quantity
		l.revenue, l.refunds = o.AmountMinor, refunds
		l.cost = int64(o.Quantity) * cost(l.batch)
		l.afterSales = min(ticketed, o.Quantity)
		if o.Bad[o.Items[0]] == KeyRecalled {
			l.recalled = o.Quantity
		}
		return lines
	}
	// Every key ever delivered: the current items, then the replaced ones
	// in a stable order.
	keys := slices.Clone(o.Items)
	var gone []string
	for kid := range o.Bad {
		if !slices.Contains(o.Items, kid) {
			gone = append(gone, kid)
		}
	}
	slices.Sort(gone)
	keys = append(keys, gone...)
	touched := map[string]bool{}
	for kid, st := range o.Bad {
		if st == KeyReportedBad {
			touched[kid] = true
		}
	}
	for _, kid := range itemTickets {
		touched[kid] = true
	}
	if ticketed > len(itemTickets) && len(o.Bad) == 0 {
		// A key ticket naming no key is about the order's first key (the
		// one a replacement would take).
		touched[o.Items[0]] = true
	}
	for i, kid := range keys {
		l := line(batchOfKey(kid))
		if i == 0 {
			l.orders = 1
		}
		l.units++
		l.cost += cost(l.batch)
		if i < len(o.Items) {
			l.revenue += split(o.AmountMinor, len(o.Items), i)
			l.refunds += split(refunds, len(o.Items), i)
		}
		if touched[kid] {
			l.afterSales++
		}
		if o.Bad[kid] == KeyRecalled {
			l.recalled++
		}
	}
	return lines
}

// reportScan reads the figures of paid orders and purged aggregates.
type reportScan struct {
	s       *Shop
	tx      *store.Txn
	batches map[string]Batch
	tickets map[string][]Ticket // by order ref
}

func (s *Shop) newReportScan(tx *store.Txn) (*reportScan, error) {
	r := &reportScan{s: s, tx: tx, batches: map[string]Batch{}, tickets: map[string][]Ticket{}}
	err := tx.Iterate(pBatch, "", false, func(_ string, v []byte) error {
		var b Batch
		if err := jsonUnmarshal(v, &b); err != nil {
			return err
		}
		b.SealedDataKey = nil
		r.batches[b.ID] = b
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = tx.Iterate(pTicket, "", false, func(_ string, v []byte) error {
		var t Ticket
		if err := jsonUnmarshal(v, &t); err != nil {
			return err
		}
		r.tickets[t.Ref] = append(r.tickets[t.Ref], t)
		return nil
	})
	return r, err
}

func (r *reportScan) cost(batch string) int64 { return r.batches[batch].CostMinor }

func (r *reportScan) kind(pid string) Kind {
	if p, ok := r.s.catalog.get(pid); ok {
		return p.Kind
	}
	return Unique
}

// orders calls fn with every paid order placed at or after since (all
// when since is zero), newest first.
func (r *reportScan) orders(since time.Time, fn func(o Order, lines []saleLine)) error {
	return r.tx.Iterate(pOrderTime, "", true, func(k string, _ []byte) error {
		inv, ref, _ := strings.Cut(strings.TrimPrefix(k, pOrderTime), "/")
		n, err := strconv.ParseInt(inv, 10, 64)
		if err != nil {
			return nil
		}
		if !since.IsZero() && time.Unix(999_999_999_999-n, 0).Before(since) {
			return store.ErrStop
		}
		v, _, _, err := findOrder(r.tx, ref)
		if errors.Is(err, store.ErrNotFound) {
			return nil // purged
		}
		if err != nil {
			return err
		}
		var o Order
		if v[0] == '{' {
			var so saleOrder
			if err := jsonUnmarshal(v, &so); err != nil {
				return err
			}
			o = so.order()
		} else if o, _, err = decodeOrder(v); err != nil {
			return err
		}
		if o.Payment == nil || o.PaidAt.IsZero() {
			return nil
		}
		fn(o, saleLines(o, r.kind(o.ProductID), r.tickets[o.Ref], r.cost))
		return nil
	})
}

// resaleOrders calls fn with every resale order (issue 14) as the sale it
// is: paid from the balance when placed, delivered at once, refunds to the
// balance as its refunds, the resellers' key tickets as its after-sales.
// Resale orders are not purged and have no time index, so this reads them
// all: its cost grows with the resale history.
func (r *reportScan) resaleOrders(fn func(o Order, lines []saleLine)) error {
	tickets := map[string][]Ticket{}
	err := r.tx.Iterate(pRsTkt, "", false, func(_ string, v []byte) error {
		var t ResaleTicket
		if err := jsonUnmarshal(v, &t); err != nil {
			return err
		}
		tickets[t.Order] = append(tickets[t.Order], Ticket{ItemID: t.ItemID, Reason: t.Reason})
		return nil
	})
	if err != nil {
		return err
	}
	return r.tx.Iterate(pRsOrd, "", false, func(_ string, v []byte) error {
		var ro resaleSale
		if err := jsonUnmarshal(v, &ro); err != nil {
			return err
		}
		o := Order{Ref: ro.ID, ProductID: ro.ProductID, Quantity: ro.Quantity, AmountMinor: ro.AmountMinor,
			Currency: ro.Currency, Items: ro.Items, PaidAt: ro.CreatedAt, DeliveredAt: ro.CreatedAt, Bad: ro.Bad,
			Payment: &Payment{}}
		if ro.RefundedMinor > 0 {
			o.Refunds = []Refund{{AmountMinor: ro.RefundedMinor}}
		}
		fn(o, saleLines(o, r.kind(o.ProductID), tickets[ro.ID], r.cost))
		return nil
	})
}

// resaleSale is the part of a ResaleOrder a report reads (not its sealed
// deliveries).
type resaleSale struct {
	ID            string              `json:"id"`
	ProductID     string              `json:"product_id"`
	Quantity      int                 `json:"quantity"`
	AmountMinor   int64               `json:"amount_minor"`
	Currency      string              `json:"currency"`
	Items         []string            `json:"items"`
	Bad           map[string]KeyState `json:"bad"`
	RefundedMinor int64               `json:"refunded_minor"`
	CreatedAt     time.Time           `json:"created_at"`
}

// saleOrder is the part of an Order a report reads: decoding it skips the
// sealed deliveries, which are most of an order's bytes.
type saleOrder struct {
	Ref         string              `json:"ref"`
	ProductID   string              `json:"product_id"`
	Quantity    int                 `json:"quantity"`
	AmountMinor int64               `json:"amount_minor"`
	Currency    string              `json:"currency"`
	Items       []string            `json:"items"`
	PaidAt      time.Time           `json:"paid_at"`
	DeliveredAt time.Time           `json:"delivered_at"`
	Payment     *struct{}           `json:"payment"`
	Refunds     []Refund            `json:"refunds"`
	Bad         map[string]KeyState `json:"bad"`
	// Compensations: keys given on top (compensate.go).
	Compensations []Compensation `json:"compensations"`
}

func (so saleOrder) order() Order {
	o := Order{Ref: so.Ref, ProductID: so.ProductID, Quantity: so.Quantity, AmountMinor: so.AmountMinor,
		Currency: so.Currency, Items: so.Items, PaidAt: so.PaidAt, DeliveredAt: so.DeliveredAt, Refunds: so.Refunds, Bad: so.Bad,
		Compensations: so.Compensations}
	if so.Payment != nil {
		o.Payment = &Payment{}
	}
	return o
}

// purged calls fn with every purged aggregate of the months from..to
// (YYYY-MM, both included; empty: all).
func (r *reportScan) purged(from, to string, fn func(month, currency, pid, batch string, a reportAgg)) error {
	start := ""
	if from != "" {
		start = pReport + from
	}
	return r.tx.Iterate(pReport, start, false, func(k string, v []byte) error {
		parts := strings.Split(strings.TrimPrefix(k, pReport), "/")
		if len(parts) != 4 {
			return nil
		}
		if to != "" && parts[0] > to {
			return store.ErrStop
		}
		var a reportAgg
		if err := jsonUnmarshal(v, &a); err != nil {
			return err
		}
		b := parts[3]
		if b == "-" {
			b = ""
		}
		fn(parts[0], parts[1], parts[2], b, a)
		return nil
	})
}

// addReportAgg folds a purged order into the monthly aggregates, inside
// the purge's transaction.
func (s *Shop) addReportAgg(tx *store.Txn, o Order) error {
	if o.Payment == nil || o.PaidAt.IsZero() {
		return nil
	}
	r := &reportScan{s: s, tx: tx, batches: map[string]Batch{}}
	var tickets []Ticket
	if err := s.ticketsOf(tx, o.Ref, func(t Ticket) { tickets = append(tickets, t) }); err != nil {
		return err
	}
	cost := func(batch string) int64 {
		b, ok := r.batches[batch]
		if !ok {
			if err := tx.GetJSON(pBatch+batch, &b); err != nil {
				b = Batch{}
			}
			r.batches[batch] = b
		}
		return b.CostMinor
	}
	month := o.PaidAt.In(s.locationTx(tx)).Format("2006-01")
	for _, l := range saleLines(o, r.kind(o.ProductID), tickets, cost) {
		b := l.batch
		if b == "" {
			b = "-"
		}
		k := pReport + month + "/" + o.Currency + "/" + o.ProductID + "/" + b
		var a reportAgg
		if err := tx.GetJSON(k, &a); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		a.add(l.agg())
		if err := tx.SetJSON(k, a); err != nil {
			return err
		}
	}
	return nil
}

// periodOf names the period of a time in loc.
func periodOf(t time.Time, g Grain, loc *time.Location) string {
	t = t.In(loc)
	switch g {
	case GrainWeek:
		y, w := t.ISOWeek()
		return fmt.Sprintf("%04d-W%02d", y, w)
	case GrainMonth:
		return t.Format("2006-01")
	}
	return t.Format(time.DateOnly)
}

// periodStart is the first day of the period holding day d.
func periodStart(d time.Time, g Grain) time.Time {
	switch g {
	case GrainWeek:
		return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
	case GrainMonth:
		return time.Date(d.Year(), d.Month(), 1, 0, 0, 0, 0, d.Location())
	}
	return d
}

func nextPeriod(d time.Time, g Grain) time.Time {
	switch g {
	case GrainWeek:
		return d.AddDate(0, 0, 7)
	case GrainMonth:
		return d.AddDate(0, 1, 0)
	}
	return d.AddDate(0, 0, 1)
}

// span resolves the query's range to whole periods in loc: the first
// period's start and the end (exclusive).
func (q *ReportQuery) span(now time.Time, loc *time.Location) (start, end time.Time, err error) {
	switch q.Grain {
	case "":
		q.Grain = GrainDay
	case GrainDay, GrainWeek, GrainMonth:
	default:
		return start, end, inputErr("grain: day, week or month")
	}
	day := func(s, field string) (time.Time, error) {
		if !dateRE.MatchString(s) {
			return time.Time{}, inputErr("%s: a date as YYYY-MM-DD", field)
		}
		t, err := time.ParseInLocation(time.DateOnly, s, loc)
		if err != nil {
			return time.Time{}, inputErr("%s: a date as YYYY-MM-DD", field)
		}
		return t, nil
	}
	y, m, d := now.In(loc).Date()
	last := time.Date(y, m, d, 0, 0, 0, 0, loc)
	if q.To != "" {
		if last, err = day(q.To, "to"); err != nil {
			return start, end, err
		}
	}
	var first time.Time
	if q.From != "" {
		if first, err = day(q.From, "from"); err != nil {
			return start, end, err
		}
	} else {
		switch q.Grain {
		case GrainDay:
			first = last.AddDate(0, 0, -29)
		case GrainWeek:
			first = periodStart(last, GrainWeek).AddDate(0, 0, -7*11)
		case GrainMonth:
			first = periodStart(last, GrainMonth).AddDate(0, -11, 0)
		}
	}
	if last.Before(first) {
		return start, end, inputErr("from: not after to")
	}
	start = periodStart(first, q.Grain)
	end = nextPeriod(periodStart(last, q.Grain), q.Grain)
	n := 0
	for t := start; t.Before(end); t = nextPeriod(t, q.Grain) {
		if n++; n > MaxReportPeriods {
			return start, end, inputErr("range: at most %d periods", MaxReportPeriods)
		}
	}
	q.From, q.To = start.Format(time.DateOnly), end.AddDate(0, 0, -1).Format(time.DateOnly)
	return start, end, nil
}

// Report computes the figures of the query's range. Its cost grows with
// the orders placed in the range (plus the 14 days before it), not with the
// shop's history.
func (s *Shop) Report(q ReportQuery) (Report, error) {
	var rep Report
	err := s.db.View(func(tx *store.Txn) error {
		loc := s.locationTx(tx)
		start, end, err := q.span(s.now(), loc)
		if err != nil {
			return err
		}
		rep = Report{Grain: q.Grain, From: q.From, To: q.To, TimeZone: s.timeZoneTx(tx), PurgedIncluded: q.Grain == GrainMonth}
		scan, err := s.newReportScan(tx)
		if err != nil {
			return err
		}
		var order []string // periods in order
		starts := map[string]string{}
		for t := start; t.Before(end); t = nextPeriod(t, q.Grain) {
			p := periodOf(t, q.Grain, loc)
			order = append(order, p)
			starts[p] = t.Format(time.DateOnly)
		}
		type pk struct{ period, currency string }
		type bk struct{ batch, pid, currency string }
		periods := map[pk]*SalesFigures{}
		products := map[[2]string]*SalesFigures{} // pid, currency
		batches := map[bk]*BatchSales{}
		totals := map[string]*SalesFigures{}
		channels := map[[2]string]*SalesFigures{} // channel, currency
		fig := func(m map[string]*SalesFigures, c string) *SalesFigures {
			if m[c] == nil {
				m[c] = &SalesFigures{Currency: c}
			}
			return m[c]
		}
		addLine := func(period, currency, pid string, l saleLine) {
			f := l.figures(currency)
			if periods[pk{period, currency}] == nil {
				periods[pk{period, currency}] = &SalesFigures{Currency: currency}
			}
			periods[pk{period, currency}].add(f)
			fig(totals, currency).add(f)
			if products[[2]string{pid, currency}] == nil {
				products[[2]string{pid, currency}] = &SalesFigures{Currency: currency}
			}
			products[[2]string{pid, currency}].add(f)
			info := scan.batches[l.batch]
			if info.ProductID != "" {
				pid = info.ProductID // a compensation key may be another product's
			}
			b := batches[bk{l.batch, pid, currency}]
			if b == nil {
				b = &BatchSales{BatchID: l.batch, ProductID: pid, Supplier: info.Supplier, Date: info.Date,
					UnitCostMinor: info.CostMinor, SalesFigures: SalesFigures{Currency: currency}}
				if l.batch == "" {
					b.BatchID = "-"
				}
				batches[bk{l.batch, pid, currency}] = b
			}
			b.add(f)
			b.AfterSales += l.afterSales
			b.Recalled += l.recalled
		}
		sale := func(channel string) func(o Order, lines []saleLine) {
			return func(o Order, lines []saleLine) {
				if o.PaidAt.Before(start) || !o.PaidAt.Before(end) || (q.ProductID != "" && o.ProductID != q.ProductID) {
					return
				}
				p := periodOf(o.PaidAt, q.Grain, loc)
				ck := [2]string{channel, o.Currency}
				if channels[ck] == nil {
					channels[ck] = &SalesFigures{Currency: o.Currency}
				}
				for _, l := range lines {
					addLine(p, o.Currency, o.ProductID, l)
					channels[ck].add(l.figures(o.Currency))
				}
			}
		}
		if err := scan.orders(start.Add(-reportSlack), sale(ChannelShop)); err != nil {
			return err
		}
		if err := scan.resaleOrders(sale(ChannelResale)); err != nil {
			return err
		}
		// Purged orders: by month. A day or week report cannot place them,
		// so it lists them apart.
		purgedAt := map[pk]*SalesFigures{}
		err = scan.purged(start.Format("2006-01"), end.AddDate(0, 0, -1).Format("2006-01"),
			func(month, currency, pid, batch string, a reportAgg) {
				if q.ProductID != "" && pid != q.ProductID {
					return
				}
				l := a.line(batch)
				if rep.PurgedIncluded {
					addLine(month, currency, pid, l)
					ck := [2]string{ChannelShop, currency}
					if channels[ck] == nil {
						channels[ck] = &SalesFigures{Currency: currency}
					}
					channels[ck].add(l.figures(currency))
					return
				}
				k := pk{month, currency}
				if purgedAt[k] == nil {
					purgedAt[k] = &SalesFigures{Currency: currency}
				}
				purgedAt[k].add(l.figures(currency))
			})
		if err != nil {
			return err
		}
		for c := range totals {
			rep.Currencies = append(rep.Currencies, c)
		}
		slices.SortFunc(rep.Currencies, func(a, b string) int {
			if d := totals[b].RevenueMinor - totals[a].RevenueMinor; d != 0 {
				return int(max(-1, min(1, d)))
			}
			return strings.Compare(a, b)
		})
		for _, c := range rep.Currencies {
			t := *totals[c]
			t.finish()
			rep.Totals = append(rep.Totals, t)
			for _, ch := range []string{ChannelShop, ChannelResale} {
				if f := channels[[2]string{ch, c}]; f != nil {
					cs := ChannelSales{Channel: ch, SalesFigures: *f}
					cs.finish()
					rep.Channels = append(rep.Channels, cs)
				}
			}
			for _, p := range order {
				f := SalesFigures{Currency: c}
				if x := periods[pk{p, c}]; x != nil {
					f = *x
				}
				f.finish()
				rep.Periods = append(rep.Periods, PeriodSales{Period: p, Start: starts[p], SalesFigures: f})
			}
		}
		for k, f := range products {
			pf := ProductSales{ProductID: k[0], SalesFigures: *f}
			pf.finish()
			rep.Products = append(rep.Products, pf)
		}
		slices.SortFunc(rep.Products, func(a, b ProductSales) int {
			return cmpFirst(b.RevenueMinor-a.RevenueMinor, strings.Compare(a.ProductID, b.ProductID), strings.Compare(a.Currency, b.Currency))
		})
		for _, b := range batches {
			b.finish()
			b.RatePermille = ratePermille(b.AfterSales, b.Units)
			rep.Batches = append(rep.Batches, *b)
		}
		slices.SortFunc(rep.Batches, func(a, b BatchSales) int {
			return cmpFirst(int64(strings.Compare(a.ProductID, b.ProductID)), strings.Compare(a.BatchID, b.BatchID), strings.Compare(a.Currency, b.Currency))
		})
		for k, f := range purgedAt {
			pf := PeriodSales{Period: k.period, Start: k.period + "-01", SalesFigures: *f}
			pf.finish()
			rep.Purged = append(rep.Purged, pf)
		}
		slices.SortFunc(rep.Purged, func(a, b PeriodSales) int {
			return cmpFirst(int64(strings.Compare(a.Period, b.Period)), strings.Compare(a.Currency, b.Currency))
		})
		return nil
	})
	if err != nil {
		var ie *InputError
		if errors.As(err, &ie) {
			return Report{}, err
		}
		return Report{}, fmt.Errorf("shop: report: %w", err)
	}
	return rep, nil
}

// cmpFirst is the first non-zero of a sign and further comparisons.
func cmpFirst(first int64, more ...int) int {
	if first != 0 {
		return int(max(-1, min(1, first)))
	}
	for _, c := range more {
		if c != 0 {
			return c
		}
	}
	return 0
}

// ratePermille is part ÷ whole in tenths of a percent, rounded; 0 when
// whole is 0.
func ratePermille(part, whole int) int {
	if whole <= 0 {
		return 0
	}
	return (part*1000 + whole/2) / whole
}

// ReviewThreshold is the after-sales rate (permille) above which a batch
// is on the supplier review list.
func (s *Shop) ReviewThreshold() int {
	n := DefaultReviewThreshold
	_ = s.db.View(func(tx *store.Txn) error {
		if b, err := tx.Get(kReviewThreshold); err == nil {
			if v, err := strconv.Atoi(string(b)); err == nil && v >= 0 && v <= 1000 {
				n = v
			}
		}
		return nil
	})
	return n
}

// SetReviewThreshold sets the review threshold (0 to 1000 permille).
func (s *Shop) SetReviewThreshold(permille int) error {
	if permille < 0 || permille > 1000 {
		return inputErr("threshold_permille: 0 to 1000")
	}
	return s.db.Update(func(tx *store.Txn) error {
		return tx.Set(kReviewThreshold, []byte(strconv.Itoa(permille)))
	})
}

// Review is the supplier review list: every batch whose after-sales rate
// over all its sales (kept orders and purged aggregates) is above the
// threshold, the highest rate first.
type Review struct {
	ThresholdPermille int          `json:"threshold_permille"`
	Batches           []BatchSales `json:"batches"`
	// Considered is how many batches with delivered keys were looked at.
	Considered int `json:"considered"`
}

// ReviewList computes the supplier review list. It reads every kept paid
// order once (the after-sales rate is a batch's whole life); its cost
// grows with the orders within retention.
func (s *Shop) ReviewList() (Review, error) {
	rev := Review{ThresholdPermille: s.ReviewThreshold()}
	stats := map[string]*BatchSales{}
	err := s.db.View(func(tx *store.Txn) error {
		scan, err := s.newReportScan(tx)
		if err != nil {
			return err
		}
		add := func(currency, pid string, l saleLine) {
			if l.batch == "" {
				return
			}
			b := stats[l.batch]
			if b == nil {
				info := scan.batches[l.batch]
				if info.ProductID != "" {
					pid = info.ProductID // a compensation key may be another product's
				}
				b = &BatchSales{BatchID: l.batch, ProductID: pid, Supplier: info.Supplier, Date: info.Date,
					UnitCostMinor: info.CostMinor, SalesFigures: SalesFigures{Currency: currency}}
				stats[l.batch] = b
			}
			b.add(l.figures(currency))
			b.AfterSales += l.afterSales
			b.Recalled += l.recalled
		}
		all := func(o Order, lines []saleLine) {
			for _, l := range lines {
				add(o.Currency, o.ProductID, l)
			}
		}
		if err := scan.orders(time.Time{}, all); err != nil {
			return err
		}
		if err := scan.resaleOrders(all); err != nil {
			return err
		}
		return scan.purged("", "", func(_, currency, pid, batch string, a reportAgg) {
			add(currency, pid, a.line(batch))
		})
	})
	if err != nil {
		return Review{}, fmt.Errorf("shop: review list: %w", err)
	}
	for _, b := range stats {
		if b.Units == 0 {
			continue
		}
		rev.Considered++
		b.finish()
		b.RatePermille = ratePermille(b.AfterSales, b.Units)
		if b.RatePermille > rev.ThresholdPermille {
			rev.Batches = append(rev.Batches, *b)
		}
	}
	slices.SortFunc(rev.Batches, func(a, b BatchSales) int {
		return cmpFirst(int64(b.RatePermille-a.RatePermille), b.AfterSales-a.AfterSales, strings.Compare(a.BatchID, b.BatchID))
	})
	return rev, nil
}
