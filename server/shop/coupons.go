package shop

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"veil/server/store"
)

// Merchant coupons. A coupon is a public code the merchant hands out: a
// percent or an amount off, for one product, one category or the whole
// shop, with an optional usage limit, validity period and minimum amount.
//
// A use is taken when the order is placed, in the order's own transaction
// and under the coupon's lock, so the limit holds however many buyers race
// for the last use. An order that expires unpaid (or is abandoned, or whose
// held payment staff refuse) gives its use back, once; paid late after
// that, it takes a use again or, none left, its payment is held for staff —
// exactly like the loyalty discount code (tiers.go).
//
// The order of prices: the product's unit price for the quantity (price
// breaks, pricing.go) times the quantity; then the coupon or voucher (its
// minimum is compared with that subtotal, its percent taken of it); then a
// loyalty reward's percent of what is left. An order never costs less
// than one minor unit.

const pCoupon = "coupon/" // coupon/<CODE> -> Coupon

// CouponError is a coupon the order cannot use; Code is the error code the
// HTTP layer answers (409, coupon_unknown 400).
type CouponError struct{ Code string }

func (e *CouponError) Error() string { return "shop: coupon: " + e.Code }

// Coupon error codes.
const (
	CouponUnknown       = "coupon_unknown"        // no such code
	CouponExpired       = "coupon_expired"        // past its end, or disabled
	CouponNotStarted    = "coupon_not_started"    // before its start
	CouponUsedUp        = "coupon_used_up"        // its usage limit is reached (a voucher: used)
	CouponBelowMinimum  = "coupon_below_minimum"  // the order is below its minimum amount
	CouponNotApplicable = "coupon_not_applicable" // another product, category or currency
)

func couponErr(code string) error { return &CouponError{Code: code} }

// CouponSpec is what the merchant sets when creating a coupon.
type CouponSpec struct {
	Code        string    `json:"code"`
	Percent     int       `json:"percent,omitempty"`      // 1..100 percent off, or
	AmountMinor int64     `json:"amount_minor,omitempty"` // an amount off
	Currency    string    `json:"currency,omitempty"`     // of AmountMinor and MinMinor
	ProductID   string    `json:"product,omitempty"`      // one product (id or slug), or
	CategoryID  string    `json:"category,omitempty"`     // one category; neither: the whole shop
	Limit       int       `json:"limit,omitempty"`        // uses at most; 0 no limit
	Starts      time.Time `json:"starts,omitzero"`
	Ends        time.Time `json:"ends,omitzero"`
	MinMinor    int64     `json:"min_minor,omitempty"` // subtotal at least
}

// Coupon is a stored merchant coupon.
type Coupon struct {
	CouponSpec
	// Used counts the uses held by orders (placed and not given back).
	Used      int       `json:"used"`
	Disabled  bool      `json:"disabled,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
}

// Scope says what the coupon covers, for people: "shop", "product:<id>",
// "category:<id>".
func (c Coupon) Scope() string {
	switch {
	case c.ProductID != "":
		return "product:" + c.ProductID
	case c.CategoryID != "":
		return "category:" + c.CategoryID
	}
	return "shop"
}

// Active reports whether the coupon is usable at t (limit aside).
func (c Coupon) Active(t time.Time) bool {
	return !c.Disabled && (c.Starts.IsZero() || !t.Before(c.Starts)) && (c.Ends.IsZero() || t.Before(c.Ends))
}

var couponCodeRE = regexp.MustCompile(`^[A-Z0-9][A-Z0-9_-]{2,31}$`)

// NormalizeCode is how codes compare: trimmed, upper case.
func NormalizeCode(code string) string { return strings.ToUpper(strings.TrimSpace(code)) }

// MaxCoupons bounds the coupons a shop keeps (listing reads them all).
const MaxCoupons = 1000

func (s *Shop) checkCoupon(c *CouponSpec) error {
	c.Code = NormalizeCode(c.Code)
	if !couponCodeRE.MatchString(c.Code) {
		return inputErr("code: 3-32 characters of A-Z, 0-9, '-' and '_'")
	}
	if strings.HasPrefix(c.Code, voucherPrefix) || strings.HasPrefix(c.Code, "VEIL-") {
		return inputErr("code: %s and VEIL- are reserved", voucherPrefix)
	}
	if (c.Percent == 0) == (c.AmountMinor == 0) {
		return inputErr("percent or amount_minor: exactly one")
	}
	if c.Percent < 0 || c.Percent > 100 {
		return inputErr("percent: between 1 and 100")
	}
	if c.AmountMinor < 0 || c.AmountMinor > MaxPriceMinor || c.MinMinor < 0 || c.MinMinor > 100*MaxPriceMinor {
		return inputErr("amount_minor, min_minor: out of range")
	}
	if c.Currency != "" && !currencyRE.MatchString(c.Currency) {
		return inputErr("currency: three capital letters, e.g. CNY")
	}
	if (c.AmountMinor > 0 || c.MinMinor > 0) && c.Currency == "" {
		return inputErr("currency: required with amount_minor or min_minor")
	}
	if c.ProductID != "" && c.CategoryID != "" {
		return inputErr("product or category: at most one")
	}
	if c.ProductID != "" {
		p, ok := s.catalog.get(c.ProductID)
		if !ok {
			return ErrProductNotFound
		}
		c.ProductID = p.ID
		if c.Currency != "" && c.Currency != p.Currency {
			return inputErr("currency: the product is sold in %s", p.Currency)
		}
	}
	if c.CategoryID != "" {
		if _, err := s.Category(c.CategoryID); err != nil {
			return ErrCategoryNotFound
		}
	}
	if c.Limit < 0 || c.Limit > 10_000_000 {
		return inputErr("limit: between 0 (none) and 10000000")
	}
	if !c.Starts.IsZero() && !c.Ends.IsZero() && !c.Ends.After(c.Starts) {
		return inputErr("ends: must be after starts")
	}
	c.Starts, c.Ends = c.Starts.UTC().Truncate(time.Second), c.Ends.UTC().Truncate(time.Second)
	return nil
}

// ErrCouponTaken: a coupon with that code exists (409 coupon_taken).
var ErrCouponTaken = errors.New("shop: coupon code taken")

// ErrCouponNotFound: no coupon with that code (404 coupon_not_found).
var ErrCouponNotFound = errors.New("shop: coupon not found")

// CreateCoupon stores a new coupon made by actor; inTx runs in the same
// transaction (the audit entry). ErrCouponTaken, ErrProductNotFound,
// ErrCategoryNotFound, *InputError.
func (s *Shop) CreateCoupon(spec CouponSpec, actor string, inTx func(*store.Txn, Coupon) error) (Coupon, error) {
	if err := s.checkCoupon(&spec); err != nil {
		return Coupon{}, err
	}
	c := Coupon{CouponSpec: spec, CreatedAt: s.now().Truncate(time.Second), CreatedBy: actor}
	err := s.db.Update(func(tx *store.Txn) error {
		if ok, err := tx.Has(pCoupon + c.Code); err != nil || ok {
			if err == nil {
				err = ErrCouponTaken
			}
			return err
		}
		n := 0
		if err := tx.Iterate(pCoupon, "", true, func(string, []byte) error { n++; return nil }); err != nil {
			return err
		}
		if n >= MaxCoupons {
			return inputErr("at most %d coupons; disable and reuse codes", MaxCoupons)
		}
		if err := tx.SetJSON(pCoupon+c.Code, c); err != nil {
			return err
		}
		if inTx != nil {
			return inTx(tx, c)
		}
		return nil
	})
	if err != nil {
		return Coupon{}, fmt.Errorf("shop: create coupon: %w", err)
	}
	return c, nil
}

// DisableCoupon stops a coupon for good (orders placed with it keep their
// price); inTx runs in the same transaction. ErrCouponNotFound.
func (s *Shop) DisableCoupon(code string, inTx func(*store.Txn, Coupon) error) (Coupon, error) {
	code = NormalizeCode(code)
	var c Coupon
	if !couponCodeRE.MatchString(code) {
		return c, ErrCouponNotFound
	}
	err := s.db.UpdateUnder(s.couponLock(code), func(tx *store.Txn) error {
		if err := tx.GetJSON(pCoupon+code, &c); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return ErrCouponNotFound
			}
			return err
		}
		c.Disabled = true
		if err := tx.SetJSON(pCoupon+code, c); err != nil {
			return err
		}
		if inTx != nil {
			return inTx(tx, c)
		}
		return nil
	})
	if err != nil {
		return Coupon{}, fmt.Errorf("shop: disable coupon: %w", err)
	}
	return c, nil
}

// Coupons lists every coupon, newest first.
func (s *Shop) Coupons() ([]Coupon, error) {
	var out []Coupon
	err := s.db.View(func(tx *store.Txn) error {
		return tx.Iterate(pCoupon, "", false, func(_ string, v []byte) error {
			var c Coupon
			if err := jsonUnmarshal(v, &c); err != nil {
				return err
			}
			out = append(out, c)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("shop: list coupons: %w", err)
	}
	slices.SortFunc(out, func(a, b Coupon) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.Code, b.Code)
	})
	return out, nil
}

// Coupon returns one coupon. ErrCouponNotFound.
func (s *Shop) Coupon(code string) (Coupon, error) {
	code = NormalizeCode(code)
	var c Coupon
	if !couponCodeRE.MatchString(code) {
		return c, ErrCouponNotFound
	}
	err := s.db.View(func(tx *store.Txn) error { return tx.GetJSON(pCoupon+code, &c) })
	if errors.Is(err, store.ErrNotFound) {
		return c, ErrCouponNotFound
	}
	return c, err
}

// couponLock serialises the uses of one code (coupon or voucher), so
// racing orders queue instead of conflicting.
func (s *Shop) couponLock(code string) *sync.Mutex {
	m, _ := s.locks.LoadOrStore("coupon:"+code, new(sync.Mutex))
	return m.(*sync.Mutex)
}

// locks is several mutexes taken in order and released in reverse.
type locks []sync.Locker

func (l locks) Lock() {
	for _, m := range l {
		m.Lock()
	}
}

func (l locks) Unlock() {
	for i := len(l) - 1; i >= 0; i-- {
		l[i].Unlock()
	}
}

// productCategory is the category a coupon's category scope matches.
func productCategory(p Product) string { return p.Category }

// spendCoupon takes one use of the coupon or voucher code for an order of
// prod with subtotal, inside tx, and returns what it takes off and the
// store key spent. A *CouponError says why the code does not apply.
func (s *Shop) spendCoupon(tx *store.Txn, code string, prod Product, subtotal int64, now time.Time) (off int64, key string, merchant bool, err error) {
	if strings.HasPrefix(code, voucherPrefix) {
		off, key, err = spendVoucher(tx, code, prod, subtotal)
		return off, key, false, err
	}
	if !couponCodeRE.MatchString(code) {
		return 0, "", false, couponErr(CouponUnknown)
	}
	key = pCoupon + code
	var c Coupon
	if err := tx.GetJSON(key, &c); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = couponErr(CouponUnknown)
		}
		return 0, "", false, err
	}
	switch {
	case c.Disabled || (!c.Ends.IsZero() && !now.Before(c.Ends)):
		return 0, "", false, couponErr(CouponExpired)
	case !c.Starts.IsZero() && now.Before(c.Starts):
		return 0, "", false, couponErr(CouponNotStarted)
	case c.ProductID != "" && c.ProductID != prod.ID,
		c.CategoryID != "" && c.CategoryID != productCategory(prod),
		c.Currency != "" && c.Currency != prod.Currency:
		return 0, "", false, couponErr(CouponNotApplicable)
	case c.Limit > 0 && c.Used >= c.Limit:
		return 0, "", false, couponErr(CouponUsedUp)
	case subtotal < c.MinMinor:
		return 0, "", false, couponErr(CouponBelowMinimum)
	}
	if c.Percent > 0 {
		off = subtotal * int64(c.Percent) / 100
	} else {
		off = c.AmountMinor
	}
	off = min(off, subtotal-1) // an order costs at least one minor unit
	c.Used++
	return off, key, true, tx.SetJSON(key, c)
}

// giveBackCoupon returns the use (or the voucher) an order took, once,
// inside tx.
func giveBackCoupon(tx *store.Txn, o *Order) error {
	if o.CouponKey == "" || o.CouponBack {
		return nil
	}
	o.CouponBack = true
	if strings.HasPrefix(o.CouponKey, pVoucher) {
		return setVoucherUsed(tx, o.CouponKey, false)
	}
	var c Coupon
	if err := tx.GetJSON(o.CouponKey, &c); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}
	c.Used = max(0, c.Used-1)
	return tx.SetJSON(o.CouponKey, c)
}

// reclaimCoupon takes the use an expired order gave back again, inside tx,
// for its late payment; false when none is left (the limit was reached, or
// the voucher spent, meanwhile). A coupon disabled or ended since still
// honours the price it gave when the order was placed.
func reclaimCoupon(tx *store.Txn, o *Order) (bool, error) {
	if o.CouponKey == "" || !o.CouponBack {
		return true, nil
	}
	if strings.HasPrefix(o.CouponKey, pVoucher) {
		var v voucher
		if err := tx.GetJSON(o.CouponKey, &v); err != nil {
			return errors.Is(err, store.ErrNotFound), ignoreNotFound(err)
		}
		if v.Used {
			return false, nil
		}
		o.CouponBack = false
		return true, setVoucherUsed(tx, o.CouponKey, true)
	}
	var c Coupon
	if err := tx.GetJSON(o.CouponKey, &c); err != nil {
		return errors.Is(err, store.ErrNotFound), ignoreNotFound(err)
	}
	if c.Limit > 0 && c.Used >= c.Limit {
		return false, nil
	}
	c.Used++
	o.CouponBack = false
	return true, tx.SetJSON(o.CouponKey, c)
}

func ignoreNotFound(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}
