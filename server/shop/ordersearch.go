package shop

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"veil/server/store"
)

// Order search for the console (commerce): by reference, provider trade
// number, product, status and a date range given as days in the shop's time
// zone, newest first and paged; and the CSV export of the same selection's
// metadata — never a token, a key, a recipient or a code.

// OrderQuery is a console order search. Every field set must match.
type OrderQuery struct {
	Ref       string // exact, R-XXXXXXXX
	TradeNo   string // exact, any provider
	ProductID string // id or slug
	Status    Status
	// From and To are days (YYYY-MM-DD) in the shop's time zone, both
	// included; either may be empty.
	From, To string
}

// Search bounds: a page reads at most searchBudget index entries, then
// returns what it found with a cursor to go on.
const (
	searchBudget = 20_000
	// MaxExportRows bounds one CSV export.
	MaxExportRows = 100_000
	maxTradeNo    = 128
)

// dayRange turns q's days into [from, to) instants in the shop's zone.
func (s *Shop) dayRange(q OrderQuery) (from, to time.Time, err error) {
	loc := s.Location()
	if q.From != "" {
		d, err := time.ParseInLocation(time.DateOnly, q.From, loc)
		if err != nil {
			return from, to, inputErr("from: a day as YYYY-MM-DD")
		}
		from = d
	}
	if q.To != "" {
		d, err := time.ParseInLocation(time.DateOnly, q.To, loc)
		if err != nil {
			return from, to, inputErr("to: a day as YYYY-MM-DD")
		}
		to = d.AddDate(0, 0, 1)
	}
	if !from.IsZero() && !to.IsZero() && !to.After(from) {
		return from, to, inputErr("to: not before from")
	}
	return from, to, nil
}

func (q *OrderQuery) check(s *Shop) error {
	q.Ref, q.TradeNo = strings.ToUpper(strings.TrimSpace(q.Ref)), strings.TrimSpace(q.TradeNo)
	if q.Ref != "" && !refRE(q.Ref) {
		return inputErr("ref: R- and 8 characters")
	}
	if len(q.TradeNo) > maxTradeNo {
		return inputErr("trade_no: at most %d characters", maxTradeNo)
	}
	if q.ProductID != "" {
		p, ok := s.catalog.get(q.ProductID)
		if !ok {
			return ErrProductNotFound
		}
		q.ProductID = p.ID
	}
	if q.Status != "" && !validStatus(q.Status) {
		return inputErr("status: unknown")
	}
	return nil
}

func validStatus(st Status) bool {
	switch st {
	case StatusPending, StatusPaid, StatusDelivered, StatusSettled, StatusExpired, StatusRefundDue,
		StatusRefunded, StatusReplaced, StatusPartiallyRefunded, StatusPaymentHeld:
		return true
	}
	return false
}

func (q OrderQuery) match(o Order, from, to time.Time) bool {
	return (q.Ref == "" || o.Ref == q.Ref) &&
		(q.ProductID == "" || o.ProductID == q.ProductID) &&
		(q.Status == "" || o.Status == q.Status) &&
		(q.TradeNo == "" || hasTrade(o, q.TradeNo)) &&
		(from.IsZero() || !o.CreatedAt.Before(from)) &&
		(to.IsZero() || o.CreatedAt.Before(to))
}

func hasTrade(o Order, tn string) bool { return o.Payment != nil && o.Payment.TradeNo == tn }

// SearchOrders finds orders, newest first, limit (1–200) at a time; the
// returned cursor continues ("" at the end). A page may hold fewer than
// limit orders with a cursor when the range is sparse. ErrProductNotFound,
// *InputError.
func (s *Shop) SearchOrders(q OrderQuery, cursor string, limit int) ([]Order, string, error) {
	limit = min(max(limit, 1), 200)
	if err := q.check(s); err != nil {
		return nil, "", err
	}
	from, to, err := s.dayRange(q)
	if err != nil {
		return nil, "", err
	}
	var out []Order
	next := ""
	err = s.db.View(func(tx *store.Txn) error {
		refs, direct, err := directRefs(tx, q)
		if err != nil {
			return err
		}
		if direct {
			for _, ref := range refs {
				o, _, err := getOrderByRef(tx, ref)
				if errors.Is(err, ErrOrderNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				if q.match(o, from, to) {
					o.Payloads = nil
					out = append(out, o)
				}
			}
			return nil
		}
		return scanOrders(tx, q, from, to, cursor, func(o Order, rest string) (bool, error) {
			if len(out) == limit {
				next = rest
				return false, nil
			}
			o.Payloads = nil
			out = append(out, o)
			return true, nil
		}, &next)
	})
	if err != nil {
		return nil, "", fmt.Errorf("shop: search orders: %w", err)
	}
	return out, next, nil
}

// directRefs answers a search by reference or trade number from the
// indexes, without a scan.
func directRefs(tx *store.Txn, q OrderQuery) ([]string, bool, error) {
	if q.Ref != "" {
		return []string{q.Ref}, true, nil
	}
	if q.TradeNo == "" {
		return nil, false, nil
	}
	var refs []string
	err := tx.Iterate(pTrade, "", false, func(k string, v []byte) error {
		_, tn, ok := strings.Cut(strings.TrimPrefix(k, pTrade), "/")
		if ok && tn == q.TradeNo {
			refs = append(refs, string(v))
		}
		return nil
	})
	return refs, true, err
}

// scanOrders walks the time index from cursor (or the end of the range)
// towards older orders, calling fn with each match and the cursor that
// starts at it; fn returns false to stop. It stops by itself past the
// range's start, or after searchBudget entries (setting *next).
func scanOrders(tx *store.Txn, q OrderQuery, from, to time.Time, cursor string, fn func(Order, string) (bool, error), next *string) error {
	start := ""
	if cursor != "" {
		start = pOrderTime + cursor
	} else if !to.IsZero() {
		start = fmt.Sprintf("%s%012d/", pOrderTime, 999_999_999_999-to.Unix()+1)
	}
	read := 0
	return tx.Iterate(pOrderTime, start, true, func(k string, _ []byte) error {
		rest := strings.TrimPrefix(k, pOrderTime)
		inv, ref, _ := strings.Cut(rest, "/")
		if !from.IsZero() {
			if n, err := strconv.ParseInt(inv, 10, 64); err == nil && 999_999_999_999-n < from.Unix() {
				return store.ErrStop
			}
		}
		if read++; read > searchBudget {
			*next = rest
			return store.ErrStop
		}
		o, _, err := getOrderByRef(tx, ref)
		if errors.Is(err, ErrOrderNotFound) {
			return nil // purged
		}
		if err != nil {
			return err
		}
		if !q.match(o, from, to) {
			return nil
		}
		more, err := fn(o, rest)
		if err != nil {
			return err
		}
		if !more {
			return store.ErrStop
		}
		return nil
	})
}

// ExportOrdersCSV writes the metadata of the orders q selects (at most
// MaxExportRows, newest first) as CSV: ref, product, quantity, amounts,
// currency, status, tier, times in the shop's zone, provider, trade number,
// coupon, refunded. No token, key, recipient, voucher or reward code. It
// returns the rows written. ErrProductNotFound, *InputError.
func (s *Shop) ExportOrdersCSV(w io.Writer, q OrderQuery) (int, error) {
	if err := q.check(s); err != nil {
		return 0, err
	}
	from, to, err := s.dayRange(q)
	if err != nil {
		return 0, err
	}
	loc := s.Location()
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"ref", "product", "quantity", "unit_minor", "coupon", "coupon_off_minor", "discount_percent",
		"amount_minor", "currency", "status", "tier", "created", "paid", "delivered", "provider", "trade_no", "refunded_minor"})
	n := 0
	row := func(o Order) error {
		slug := o.ProductID
		if p, ok := s.catalog.get(o.ProductID); ok {
			slug = p.Slug
		}
		provider, trade := o.PayWith, ""
		if o.Payment != nil {
			provider, trade = o.Payment.Provider, o.Payment.TradeNo
		}
		coupon := o.CouponCode
		if coupon == "" && o.CouponKey != "" {
			coupon = "voucher"
		}
		n++
		return cw.Write([]string{o.Ref, csvSafe(slug), strconv.Itoa(o.Quantity), strconv.FormatInt(o.UnitMinor, 10),
			csvSafe(coupon), strconv.FormatInt(o.CouponOff, 10), strconv.Itoa(o.Discount),
			strconv.FormatInt(o.AmountMinor, 10), o.Currency, string(o.Status), strconv.Itoa(o.Tier),
			shopTime(o.CreatedAt, loc), shopTime(o.PaidAt, loc), shopTime(o.DeliveredAt, loc),
			csvSafe(provider), csvSafe(trade), strconv.FormatInt(o.Refunded(), 10)})
	}
	err = s.db.View(func(tx *store.Txn) error {
		refs, direct, err := directRefs(tx, q)
		if err != nil {
			return err
		}
		if direct {
			for _, ref := range refs {
				o, _, err := getOrderByRef(tx, ref)
				if errors.Is(err, ErrOrderNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				if q.match(o, from, to) {
					if err := row(o); err != nil {
						return err
					}
				}
			}
			return nil
		}
		cursor := ""
		for {
			next := ""
			full := false
			err := scanOrders(tx, q, from, to, cursor, func(o Order, _ string) (bool, error) {
				if n >= MaxExportRows {
					full = true
					return false, nil
				}
				return true, row(o)
			}, &next)
			if err != nil || next == "" || full {
				return err
			}
			cursor = next
		}
	})
	if err != nil {
		return n, fmt.Errorf("shop: export orders: %w", err)
	}
	cw.Flush()
	return n, cw.Error()
}

func shopTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(loc).Format("2006-01-02 15:04 UTC-07:00")
}

// csvSafe keeps a spreadsheet from reading a cell as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsAny(s[:1], "=+-@\t\r") {
		return "'" + s
	}
	return s
}

// An approved CSV export is kept as its query only — the file is made when
// it is downloaded, once, so no list of orders waits on disk.
const (
	pOrdersExport = "ordexp/" // ordexp/<id> -> ordersExport
	// OrdersExportTTL is how long an approved export can be downloaded.
	OrdersExportTTL = 24 * time.Hour
)

type ordersExport struct {
	Query    OrderQuery `json:"query"`
	Approved time.Time  `json:"approved"`
}

// CheckOrderQuery checks q as a search or export would (for a proposal).
func (s *Shop) CheckOrderQuery(q OrderQuery) (OrderQuery, error) {
	if err := q.check(s); err != nil {
		return q, err
	}
	_, _, err := s.dayRange(q)
	return q, err
}

// ApproveOrdersExportTx records, inside the approval's transaction, that
// the export id of q may be downloaded once.
func (s *Shop) ApproveOrdersExportTx(tx *store.Txn, id string, q OrderQuery) error {
	if _, err := s.CheckOrderQuery(q); err != nil {
		return err
	}
	return tx.SetJSON(pOrdersExport+id, ordersExport{Query: q, Approved: s.now().Truncate(time.Second)})
}

// TakeOrdersExport returns the approved export id's query and forgets it:
// a second download finds nothing (ErrNotFound from the store, wrapped).
func (s *Shop) TakeOrdersExport(id string) (OrderQuery, error) {
	var e ordersExport
	err := s.db.Update(func(tx *store.Txn) error {
		if err := tx.GetJSON(pOrdersExport+id, &e); err != nil {
			return err
		}
		return tx.Delete(pOrdersExport + id)
	})
	if err == nil && s.now().Sub(e.Approved) > OrdersExportTTL {
		err = store.ErrNotFound
	}
	if err != nil {
		return OrderQuery{}, fmt.Errorf("shop: take orders export: %w", err)
	}
	return e.Query, nil
}
