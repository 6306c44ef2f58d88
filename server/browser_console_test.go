package server_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"veil/server/shop"
)

// consoleNarrowJourney: on a 390 px wide phone every console page fits
// the screen — wide tables scroll inside themselves, the page does not
// scroll sideways.
func consoleNarrowJourney(t *testing.T, b *browser) {
	s := newBrowserShop(t)
	p := s.product("narrow-card", "NARROW-7Q2M-0001", "NARROW-7Q2M-0002", "NARROW-7Q2M-0003")
	placed := s.paidOrder(p)
	if _, err := s.shop.ApplyPayment(placed.Order.Ref, shop.Payment{Provider: "epay", TradeNo: "T-NARROW-EXTRA-0001", AmountMinor: placed.Order.AmountMinor}, nil); err != nil {
		t.Fatal(err)
	}
	s.paidOrder(p)
	st := b.newTab(t, "staff", s.ts.URL, "en", true)
	if _, err := chromedp.Call(st.ctx, emulation.SetDeviceMetricsOverride,
		emulation.SetDeviceMetricsOverrideParams{Width: 390, Height: 844, DeviceScaleFactor: 2, Mobile: true}); err != nil {
		t.Fatal(err)
	}
	staffLogin(t, st, s)
	for _, path := range []string{"/admin", "/admin/approvals", "/admin/orders", "/admin/owed", "/admin/products",
		"/admin/products/" + url.PathEscape(p.ID) + "/stock", "/admin/new-product", "/admin/tickets", "/admin/rooms",
		"/admin/patterns", "/admin/coupons", "/admin/goodwill", "/admin/reports", "/admin/reports/review", "/admin/tiers", "/admin/audit", "/admin/vault", "/admin/keys", "/admin/staff",
		"/admin/shop", "/admin/catalogue", "/admin/products/" + url.PathEscape(p.ID) + "/images",
		"/admin/resellers", "/admin/resale/tickets", "/admin/products/" + url.PathEscape(p.ID) + "/upstream"} {
		wantStatus(t, path, st.open(path), http.StatusOK)
		if w := eval[int](st, `document.documentElement.scrollWidth - document.documentElement.clientWidth`); w > 0 {
			t.Errorf("%s: the page is %d px wider than a 390 px screen; too wide: %v", path, w, eval[[]string](st,
				`Array.from(document.querySelectorAll("main *")).filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth).slice(0, 5).map(e => e.tagName + "." + e.className + "#" + e.id + ":" + Math.round(e.getBoundingClientRect().right))`))
		}
	}
}
