package shop

import (
	"errors"
	"fmt"
	"math/bits"
	"time"
)

// After-sales by use (issue 13 §5). Time-based goods (a 30-day membership,
// a yearly subscription) lose value as they are used: a product whose
// policy sets ProRataDays may answer a ticket with a refund of the unused
// share of that validity period, counted from delivery to the moment the
// ticket was opened (not the moment staff look at it: the buyer is not
// charged for the time the queue took).
//
// The amount is exact integer arithmetic on seconds, rounded down to the
// whole minor unit (fen, cent): refund = left × paid / period, where paid
// is what the order still holds (its amount less earlier refunds). Rounding
// down never gives more than the exact share and at most one minor unit
// less.

// MaxProRataDays bounds a product's pro-rata validity period (ten years).
const MaxProRataDays = 3660

// ErrNoProRata: the product's policy offers no refund by use (409
// pro_rata_off).
var ErrNoProRata = errors.New("shop: the policy offers no refund by use")

// ProRataQuote is a proposed refund by use, with everything needed to
// check it by hand; staff see Explain in the approval.
type ProRataQuote struct {
	Ticket   string    `json:"ticket"`
	Ref      string    `json:"ref"`
	Currency string    `json:"currency"`
	Start    time.Time `json:"start"`  // delivery: the validity starts
	End      time.Time `json:"end"`    // Start + the policy's period
	Opened   time.Time `json:"opened"` // the ticket was opened
	// PaidMinor is what the order still holds: its amount less refunds.
	PaidMinor    int64 `json:"paid_minor"`
	PeriodSecond int64 `json:"period_seconds"`
	UsedSecond   int64 `json:"used_seconds"`
	LeftSecond   int64 `json:"left_seconds"`
	// AmountMinor is the refund: LeftSecond × PaidMinor / PeriodSecond,
	// rounded down.
	AmountMinor int64 `json:"amount_minor"`
}

// Full reports whether the quote gives back everything the order holds
// (nothing was used yet): a refund rather than a partial refund.
func (q ProRataQuote) Full() bool { return q.AmountMinor >= q.PaidMinor }

// Explain says how the amount was reached, for the approval's summary.
// It names durations, not dates: an approval outlives the order's
// retention, and exact purchase times are not kept past it.
func (q ProRataQuote) Explain() string {
	return fmt.Sprintf("pro-rata refund by use: paid %d %s; validity %s from delivery; ticket opened after %s used, %s left; refund = %d × %d / %d = %d %s (rounded down to the whole minor unit)",
		q.PaidMinor, q.Currency, span(q.PeriodSecond), span(q.UsedSecond), span(q.LeftSecond),
		q.PaidMinor, q.LeftSecond, q.PeriodSecond, q.AmountMinor, q.Currency)
}

// span writes seconds as days, hours, minutes and seconds ("29d 23h 0m 0s").
func span(sec int64) string {
	d := time.Duration(sec) * time.Second
	days := sec / 86400
	d -= time.Duration(days) * 24 * time.Hour
	return fmt.Sprintf("%dd %dh %dm %ds", days, int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60)
}

// proRata computes the refund by use of paid over a period starting at
// start, for a ticket opened at opened.
func proRata(paid int64, start time.Time, periodDays int, opened time.Time) (period, used, left, amount int64) {
	period = int64(periodDays) * 86400
	used = min(max(int64(opened.Sub(start)/time.Second), 0), period)
	left = period - used
	if paid <= 0 || period == 0 {
		return period, used, left, 0
	}
	// left × paid can exceed 63 bits (a year in seconds × a large order):
	// a 128-bit product, then the division.
	hi, lo := bits.Mul64(uint64(left), uint64(paid))
	q, _ := bits.Div64(hi, lo, uint64(period)) // hi < period since left ≤ period
	return period, used, left, int64(q)
}

// ProRata quotes the refund by use for a ticket: the product's policy must
// offer it (ErrNoProRata), the ticket be open (ErrTicketClosed) and the
// order delivered with money left to give back (ErrNotRefundable).
func (s *Shop) ProRata(ticketID string) (ProRataQuote, error) {
	t, err := s.Ticket(ticketID)
	if err != nil {
		return ProRataQuote{}, err
	}
	if t.closed() {
		return ProRataQuote{}, ErrTicketClosed
	}
	o, err := s.OrderByRef(t.Ref)
	if err != nil {
		return ProRataQuote{}, err
	}
	prod, ok := s.catalog.get(o.ProductID)
	if !ok {
		return ProRataQuote{}, ErrProductNotFound
	}
	days := prod.Policy.ProRataDays
	if days <= 0 {
		return ProRataQuote{}, ErrNoProRata
	}
	if o.DeliveredAt.IsZero() {
		return ProRataQuote{}, inputErr("nothing delivered: the validity has not started")
	}
	q := ProRataQuote{
		Ticket: t.ID, Ref: o.Ref, Currency: o.Currency, Start: o.DeliveredAt,
		End:    o.DeliveredAt.Add(time.Duration(days) * 24 * time.Hour),
		Opened: t.CreatedAt, PaidMinor: o.AmountMinor - o.Refunded(),
	}
	q.PeriodSecond, q.UsedSecond, q.LeftSecond, q.AmountMinor = proRata(q.PaidMinor, q.Start, days, q.Opened)
	if q.AmountMinor <= 0 {
		return q, ErrNotRefundable
	}
	return q, nil
}
