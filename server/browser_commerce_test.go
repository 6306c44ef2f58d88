package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"veil/server/shop"
)

// TestBrowserCommerce walks the merchant's commerce tools in headless
// Chromium: a coupon made in the console applies at checkout and stops at
// its usage limit; an order search by trade number finds the order.
func TestBrowserCommerce(t *testing.T) {
	b := startBrowser(t)
	t.Run("CouponJSOff", func(t *testing.T) { couponJourney(t, b, "en", false, 1280) })
	t.Run("CouponJSOnZhCN390", func(t *testing.T) { couponJourney(t, b, "zh-CN", true, 390) })
	t.Run("OrderSearchByTradeNumber", func(t *testing.T) { orderSearchJourney(t, b) })
}

// couponJourney: the owner creates a one-use coupon on the coupons page;
// a buyer types it on the product page and pays 80%; a second buyer gets
// "used up" and no order.
func couponJourney(t *testing.T, b *browser, lang string, js bool, width int64) {
	s := newBrowserShop(t)
	p := s.product("coupon-card", "COUPON-7Q2M-0001", "COUPON-7Q2M-0002", "COUPON-7Q2M-0003")
	st := b.newTab(t, "staff", s.ts.URL, lang, js)
	staffLogin(t, st, s)
	wantStatus(t, "coupons page", st.open("/admin/coupons?lang="+lang), http.StatusOK)
	st.typeIn(`#coupon-new input[name="code"]`, "spring20")
	st.typeIn(`#coupon-new input[name="percent"]`, "20")
	st.typeIn(`#coupon-new input[name="limit"]`, "1")
	wantStatus(t, "create coupon", st.submit(`#coupon-new button[type="submit"]`), http.StatusOK)
	if got := st.text(`main .notice[role="status"]`); got != s.T(lang, "admin.notice.coupon_created") {
		t.Fatalf("after creating: %q", got)
	}
	st.waitVisible(`//td[normalize-space()="SPRING20"]`)

	buy := func(name string) *tab {
		tb := b.newTab(t, name, s.ts.URL, lang, js)
		if _, err := chromedp.Call(tb.ctx, emulation.SetDeviceMetricsOverride,
			emulation.SetDeviceMetricsOverrideParams{Width: width, Height: 900, DeviceScaleFactor: 1, Mobile: width < 760}); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, "product page", tb.open("/p/coupon-card?lang="+lang), http.StatusOK)
		tb.typeIn("#coupon", "spring20")
		tb.submit(`form[action^="/checkout"] button[type="submit"]`)
		return tb
	}
	first := buy("buyer")
	if got := first.text("table.summary"); !strings.Contains(got, "15.92") {
		t.Fatalf("token page amount: %q", got)
	}
	if w := eval[int](first, `document.documentElement.scrollWidth - document.documentElement.clientWidth`); w > 0 {
		t.Errorf("token page %d px too wide at %d px", w, width)
	}
	ref := first.text("table.summary td.mono")
	if o, err := s.shop.OrderByRef(ref); err != nil || o.AmountMinor != 1592 || o.CouponCode != "SPRING20" {
		t.Fatalf("order %s: %+v %v", ref, o.AmountMinor, err)
	}
	second := buy("second buyer")
	if got := second.text("main h1"); got != s.T(lang, "err.coupon_used_up.title") {
		t.Fatalf("second buyer sees %q, want %q", got, s.T(lang, "err.coupon_used_up.title"))
	}
	if got, _ := s.shop.Product(p.ID); got.InStock != 2 {
		t.Fatalf("stock after the refused order: %d, want 2", got.InStock)
	}
	// The list shows the use.
	wantStatus(t, "coupons page", st.open("/admin/coupons?lang="+lang), http.StatusOK)
	if got := st.text(`//tr[td[normalize-space()="SPRING20"]]/td[4]`); got != "1 / 1" {
		t.Errorf("usage shown as %q", got)
	}
	first.wantCleanConsole()

}

// orderSearchJourney: staff type a provider trade number into the orders
// search and find exactly that order.
func orderSearchJourney(t *testing.T, b *browser) {
	s := newBrowserShop(t)
	p := s.product("search-card", "SEARCH-7Q2M-0001", "SEARCH-7Q2M-0002")
	placed, err := s.shop.PlaceOrder(p.ID, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.shop.ApplyPayment(placed.Order.Ref, shop.Payment{Provider: "epay", TradeNo: "2026120499887766", AmountMinor: placed.Order.AmountMinor}, nil); err != nil {
		t.Fatal(err)
	}
	other := s.paidOrder(p).Order.Ref
	st := b.newTab(t, "staff", s.ts.URL, "en", false)
	staffLogin(t, st, s)
	wantStatus(t, "orders page", st.open("/admin/orders"), http.StatusOK)
	st.waitVisible(`//td[normalize-space()=` + xq(other) + `]`)
	st.typeIn(`form.filters input[name="trade_no"]`, "2026120499887766")
	wantStatus(t, "search", st.submit(`form.filters button[type="submit"]`), http.StatusOK)
	if refs := st.texts("table.list td.mono"); len(refs) != 1 || refs[0] != placed.Order.Ref {
		t.Fatalf("search by trade number found %q, want %s", refs, placed.Order.Ref)
	}
	st.wantCleanConsole()
}
