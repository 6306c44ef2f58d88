package shop

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"veil/server/store"
)

func couponCode(err error) string {
	var ce *CouponError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return ""
}

func (e *env) coupon(spec CouponSpec) Coupon {
	e.t.Helper()
	c, err := e.shop.CreateCoupon(spec, "staff:owner", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) couponUsed(code string) int {
	e.t.Helper()
	c, err := e.shop.Coupon(code)
	if err != nil {
		e.t.Fatal(err)
	}
	return c.Used
}

// TestCouponRules: each refusal has its own code, the amount taken off is
// exact, and a refused coupon takes no use and no stock.
func TestCouponRules(t *testing.T) {
	e := newEnv(t)
	p := e.product("game", Unique)
	other := e.product("other", Unique)
	e.importKeys(p.ID, keyList("CR", 20))
	e.importKeys(other.ID, keyList("CO", 5))
	now := e.clock.Now()
	e.coupon(CouponSpec{Code: "ten", Percent: 10})
	e.coupon(CouponSpec{Code: "FIVE-OFF", AmountMinor: 500, Currency: "CNY", ProductID: "game", MinMinor: 1500})
	e.coupon(CouponSpec{Code: "LATER", Percent: 5, Starts: now.Add(time.Hour)})
	e.coupon(CouponSpec{Code: "OVER", Percent: 5, Ends: now.Add(-time.Minute), Starts: now.Add(-time.Hour)})
	e.coupon(CouponSpec{Code: "USD", AmountMinor: 100, Currency: "USD"})
	cat, err := e.shop.SaveCategory(Category{Name: Text{"en": "Games", "zh-CN": "游戏"}})
	if err != nil {
		t.Fatal(err)
	}
	e.coupon(CouponSpec{Code: "CATEGORY", Percent: 5, CategoryID: cat.ID})
	e.coupon(CouponSpec{Code: "HUGE", AmountMinor: 100_000, Currency: "CNY"})

	for _, tc := range []struct {
		code    string
		product string
		qty     int
		want    string
		amount  int64
	}{
		{"ten", "game", 2, "", 1782},      // 1980 - 198
		{" Ten ", "game", 1, "", 891},     // trimmed, any case
		{"five-off", "game", 2, "", 1480}, // 1980 - 500, above the minimum
		{"FIVE-OFF", "game", 1, CouponBelowMinimum, 0},
		{"FIVE-OFF", "other", 2, CouponNotApplicable, 0},
		{"NOPE", "game", 1, CouponUnknown, 0},
		{"VCH-AAAA-BBBB-CCCC-DDDD", "game", 1, CouponUnknown, 0},
		{strings.Repeat("A", 65), "game", 1, CouponUnknown, 0},
		{"LATER", "game", 1, CouponNotStarted, 0},
		{"OVER", "game", 1, CouponExpired, 0},
		{"USD", "game", 1, CouponNotApplicable, 0},
		{"CATEGORY", "game", 1, CouponNotApplicable, 0}, // "game" has no category
		{"HUGE", "game", 1, "", 1},                      // never below one minor unit
	} {
		if tc.code == "HUGE" { // now in the category
			if _, err := e.shop.SetPlacement(p.ID, Placement{Category: cat.ID}); err != nil {
				t.Fatal(err)
			}
			pl, err := e.shop.Place(OrderRequest{Product: "game", Quantity: 1, Coupon: "category"})
			if err != nil || pl.Order.AmountMinor != 941 {
				t.Fatalf("category coupon on a product of the category: %v", err)
			}
		}
		before := e.stock(p.ID)
		pl, err := e.shop.Place(OrderRequest{Product: tc.product, Quantity: tc.qty, Coupon: tc.code})
		if got := couponCode(err); got != tc.want {
			t.Fatalf("%q on %s: code %q, want %q (%v)", tc.code, tc.product, got, tc.want, err)
		}
		if tc.want != "" {
			if e.stock(p.ID) != before {
				t.Fatalf("%q: a refused coupon held stock", tc.code)
			}
			continue
		}
		if pl.Order.AmountMinor != tc.amount || pl.Order.CouponOff != int64(tc.qty)*990-tc.amount {
			t.Fatalf("%q: amount %d off %d, want %d", tc.code, pl.Order.AmountMinor, pl.Order.CouponOff, tc.amount)
		}
	}
	if n := e.couponUsed("TEN"); n != 2 {
		t.Fatalf("TEN used %d, want 2", n)
	}
	if n := e.couponUsed("FIVE-OFF"); n != 1 {
		t.Fatalf("FIVE-OFF used %d (refusals must not count)", n)
	}

	// Disabled: expired from then on; the list shows it with its usage.
	if _, err := e.shop.DisableCoupon("ten", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := e.shop.Place(OrderRequest{Product: "game", Quantity: 1, Coupon: "TEN"}); couponCode(err) != CouponExpired {
		t.Fatalf("disabled coupon: %v", err)
	}
	list, err := e.shop.Coupons()
	if err != nil || len(list) != 7 {
		t.Fatalf("list: %d %v", len(list), err)
	}
	for _, c := range list {
		if c.Code == "TEN" && (!c.Disabled || c.Used != 2) {
			t.Fatalf("TEN in the list: %+v", c)
		}
	}
	if _, err := e.shop.DisableCoupon("NOPE", nil); !errors.Is(err, ErrCouponNotFound) {
		t.Fatalf("disable unknown: %v", err)
	}
}

func TestCouponCreateValidation(t *testing.T) {
	e := newEnv(t)
	e.product("game", Unique)
	e.coupon(CouponSpec{Code: "TAKEN", Percent: 10})
	for _, spec := range []CouponSpec{
		{Code: "x", Percent: 10},
		{Code: "bad code", Percent: 10},
		{Code: "VCH-1234", Percent: 10},
		{Code: "VEIL-1234", Percent: 10},
		{Code: "BOTH", Percent: 10, AmountMinor: 5, Currency: "CNY"},
		{Code: "NEITHER"},
		{Code: "PCT", Percent: 101},
		{Code: "NOCUR", AmountMinor: 100},
		{Code: "MINCUR", Percent: 10, MinMinor: 100},
		{Code: "TWO", Percent: 10, ProductID: "game", CategoryID: "c"},
		{Code: "NOCAT", Percent: 10, CategoryID: "nope"},
		{Code: "NEG", Percent: 10, Limit: -1},
		{Code: "ENDS", Percent: 10, Starts: time.Unix(2000, 0), Ends: time.Unix(1000, 0)},
		{Code: "CURX", AmountMinor: 100, Currency: "USD", ProductID: "game"},
	} {
		if _, err := e.shop.CreateCoupon(spec, "staff:owner", nil); err == nil {
			t.Fatalf("%+v accepted", spec)
		} else if !errors.As(err, new(*InputError)) && !errors.Is(err, ErrCategoryNotFound) {
			t.Fatalf("%+v: %v is not an input error", spec, err)
		}
	}
	if _, err := e.shop.CreateCoupon(CouponSpec{Code: "taken", Percent: 5}, "staff:owner", nil); !errors.Is(err, ErrCouponTaken) {
		t.Fatalf("taken: %v", err)
	}
	if _, err := e.shop.CreateCoupon(CouponSpec{Code: "GHOST", Percent: 5, ProductID: "nope"}, "staff:owner", nil); !errors.Is(err, ErrProductNotFound) {
		t.Fatalf("unknown product: %v", err)
	}
	// The audit hook runs in the same transaction: its failure stores nothing.
	boom := errors.New("boom")
	if _, err := e.shop.CreateCoupon(CouponSpec{Code: "ROLLED", Percent: 5}, "staff:owner",
		func(*store.Txn, Coupon) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("hook error: %v", err)
	}
	if _, err := e.shop.Coupon("ROLLED"); !errors.Is(err, ErrCouponNotFound) {
		t.Fatal("a coupon was stored although its audit entry failed")
	}
}

// TestCouponLimitUnderConcurrency: 40 buyers race for a coupon with 7
// uses; exactly 7 orders get it, the rest get coupon_used_up, and no stock
// is held by a refused order.
func TestCouponLimitUnderConcurrency(t *testing.T) {
	for _, kind := range []Kind{Unique, Shared} {
		t.Run(string(kind), func(t *testing.T) {
			e := newEnv(t)
			p := e.product("game", kind)
			if kind == Unique {
				e.importKeys(p.ID, keyList("CC", 60))
			} else {
				if _, err := e.shop.ImportKeys(p.ID, BatchInfo{Supplier: "acme", Seats: 60}, strings.NewReader("SHARED-KEY-1")); err != nil {
					t.Fatal(err)
				}
			}
			e.coupon(CouponSpec{Code: "RUSH", Percent: 20, Limit: 7})
			const buyers = 40
			var wg sync.WaitGroup
			var mu sync.Mutex
			got, usedUp := 0, 0
			var other []error
			for range buyers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					pl, err := e.shop.Place(OrderRequest{Product: p.ID, Quantity: 1, Coupon: "RUSH"})
					mu.Lock()
					defer mu.Unlock()
					switch {
					case err == nil && pl.Order.AmountMinor == 792:
						got++
					case couponCode(err) == CouponUsedUp:
						usedUp++
					default:
						other = append(other, err)
					}
				}()
			}
			wg.Wait()
			if got != 7 || usedUp != buyers-7 || len(other) > 0 {
				t.Fatalf("got %d, used up %d, other %v", got, usedUp, other)
			}
			if n := e.couponUsed("RUSH"); n != 7 {
				t.Fatalf("coupon used %d", n)
			}
			if s := e.stock(p.ID); s != 60-7 {
				t.Fatalf("stock %d, want %d", s, 60-7)
			}
		})
	}
}

// TestCouponGivenBackOnExpiryAndLatePayment mirrors the discount code's
// rules: an expired order gives its use back once; paid late it takes a use
// again, or, the limit reached meanwhile, its payment is held.
func TestCouponGivenBackOnExpiryAndLatePayment(t *testing.T) {
	e := newEnv(t)
	p := e.product("game", Unique)
	e.importKeys(p.ID, keyList("CG", 10))
	e.coupon(CouponSpec{Code: "ONCE", Percent: 10, Limit: 1})
	a, err := e.shop.Place(OrderRequest{Product: p.ID, Quantity: 1, Coupon: "ONCE"})
	if err != nil {
		t.Fatal(err)
	}
	e.expireAll()
	if n := e.couponUsed("ONCE"); n != 0 {
		t.Fatalf("expired order kept its use: %d", n)
	}
	if _, err := e.shop.Sweep(); err != nil {
		t.Fatal(err)
	}
	if n := e.couponUsed("ONCE"); n != 0 {
		t.Fatalf("given back twice: %d", n)
	}
	// Paid late with the use still free: it takes it again.
	if r := e.apply(a.Order.Ref, gw("CG-A", 891), nil); r.Outcome != OutcomeApplied || r.Order.Status != StatusDelivered {
		t.Fatalf("late payment: %s %s", r.Outcome, r.Order.Status)
	}
	if n := e.couponUsed("ONCE"); n != 1 {
		t.Fatalf("late payment did not take the use: %d", n)
	}
	if _, err := e.shop.Place(OrderRequest{Product: p.ID, Quantity: 1, Coupon: "ONCE"}); couponCode(err) != CouponUsedUp {
		t.Fatalf("limit after the late payment: %v", err)
	}

	// Limit reached by another order meanwhile: the late payment is held.
	e.coupon(CouponSpec{Code: "TWICE", Percent: 10, Limit: 1})
	b, err := e.shop.Place(OrderRequest{Product: p.ID, Quantity: 1, Coupon: "TWICE"})
	if err != nil {
		t.Fatal(err)
	}
	e.expireAll()
	if _, err := e.shop.Place(OrderRequest{Product: p.ID, Quantity: 1, Coupon: "TWICE"}); err != nil {
		t.Fatal(err)
	}
	onHeld := func(*store.Txn, PaymentRecord) (string, error) { return "9", nil }
	if r := e.apply(b.Order.Ref, gw("CG-B", 891), onHeld); r.Outcome != OutcomeHeld || r.Record.Reason != "discount_spent" {
		t.Fatalf("late payment, coupon used up: %s %q", r.Outcome, r.Record.Reason)
	}
	if n := e.couponUsed("TWICE"); n != 1 {
		t.Fatalf("TWICE used %d", n)
	}
}

// TestQuantityPricing: the unit price follows the breaks; the coupon's
// minimum and percent apply to the subtotal after breaks; a loyalty code
// comes last.
func TestQuantityPricing(t *testing.T) {
	e := newEnv(t)
	p, err := e.shop.CreateProduct(Product{Slug: "bulk", Name: Text{"en": "Bulk"}, PriceMinor: 1000, Currency: "CNY",
		MaxPerOrder: 100, PriceBreaks: []PriceBreak{{MinQuantity: 3, PriceMinor: 900}, {MinQuantity: 5, PriceMinor: 800}}})
	if err != nil {
		t.Fatal(err)
	}
	e.importKeys(p.ID, keyList("QP", 120))
	for _, tc := range []struct {
		qty  int
		unit int64
	}{{1, 1000}, {2, 1000}, {3, 900}, {4, 900}, {5, 800}, {51, 800}} {
		if got := p.UnitPrice(tc.qty); got != tc.unit {
			t.Fatalf("unit price of %d: %d, want %d", tc.qty, got, tc.unit)
		}
	}
	pl, err := e.shop.Place(OrderRequest{Product: p.ID, Quantity: 5})
	if err != nil || pl.Order.AmountMinor != 4000 || pl.Order.UnitMinor != 800 {
		t.Fatalf("5 units: %+v %v", pl.Order.AmountMinor, err)
	}
	// Minimum 2,800: 3 units at the break price (2,700) are below it.
	e.coupon(CouponSpec{Code: "BIG", Percent: 10, MinMinor: 2800, Currency: "CNY"})
	if _, err := e.shop.Place(OrderRequest{Product: p.ID, Quantity: 3, Coupon: "BIG"}); couponCode(err) != CouponBelowMinimum {
		t.Fatalf("minimum against the subtotal after breaks: %v", err)
	}
	// 4 × 900 = 3,600; coupon 10% → 3,240; loyalty 5% → 3,078.
	code := e.rewardFor(5)
	pl, err = e.shop.Place(OrderRequest{Product: p.ID, Quantity: 4, Coupon: "BIG", Discount: code})
	if err != nil || pl.Order.AmountMinor != 3078 || pl.Order.CouponOff != 360 || pl.Order.Discount != 5 {
		t.Fatalf("breaks, coupon, reward: %d off %d %v", pl.Order.AmountMinor, pl.Order.CouponOff, err)
	}

	for _, bs := range [][]PriceBreak{
		{{MinQuantity: 1, PriceMinor: 900}},
		{{MinQuantity: 10, PriceMinor: 1000}},
		{{MinQuantity: 10, PriceMinor: 900}, {MinQuantity: 5, PriceMinor: 800}},
		{{MinQuantity: 10, PriceMinor: 900}, {MinQuantity: 20, PriceMinor: 950}},
		{{MinQuantity: 10, PriceMinor: 0}},
		{{MinQuantity: 2000, PriceMinor: 10}},
	} {
		if _, err := e.shop.CreateProduct(Product{Slug: "bad", Name: Text{"en": "B"}, PriceMinor: 1000, Currency: "CNY", PriceBreaks: bs}); err == nil {
			t.Fatalf("breaks %v accepted", bs)
		}
	}
	// Breaks are price: a details update keeps them, the change is returned for an approval.
	q := p
	q.PriceBreaks = []PriceBreak{{MinQuantity: 2, PriceMinor: 950}}
	out, change, err := e.shop.UpdateDetails(q)
	if err != nil || change.PriceBreaks == nil || len(out.PriceBreaks) != 2 {
		t.Fatalf("details update: %v %+v %v", out.PriceBreaks, change, err)
	}
	if err := e.db.Update(func(tx *store.Txn) error { _, err := e.shop.ChangePolicyTx(tx, change); return err }); err != nil {
		t.Fatal(err)
	}
	if err := e.shop.Reconcile(p.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.shop.Product(p.ID); len(got.PriceBreaks) != 1 || got.UnitPrice(2) != 950 {
		t.Fatalf("after approval: %v", got.PriceBreaks)
	}
	if s := change.Summary(p); !strings.Contains(s, "price_breaks 3+:900 5+:800→2+:950") {
		t.Fatalf("summary %q", s)
	}
}
