package server_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"veil/server/shop"
	"veil/server/store"
)

// compensationJourney: a paid order given a compensation key (an approved
// compensation_key) shows it on the order page, once, marked
// "compensation" with its product's name, beside the bought key — on a
// 390 px phone without JavaScript, in both languages, the page no wider
// than the screen.
func compensationJourney(t *testing.T, b *browser) {
	s := newBrowserShop(t)
	const bought, gift = "COMP-7Q2M-0001", "GIFT-7Q2M-0001"
	p := s.product("comp-card", bought)
	g := s.product("gift-card", gift)
	placed := s.paidOrder(p)
	err := s.db.Update(func(tx *store.Txn) error {
		_, err := s.shop.CompensateKeyTx(tx, "1", shop.CompensationParams{Ref: placed.Order.Ref, Product: g.ID})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"en", "zh-CN"} {
		tb := b.newTab(t, "buyer-"+lang, s.ts.URL, lang, false)
		if _, err := chromedp.Call(tb.ctx, emulation.SetDeviceMetricsOverride,
			emulation.SetDeviceMetricsOverrideParams{Width: 390, Height: 844, DeviceScaleFactor: 2, Mobile: true}); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, "lookup page", tb.open("/order"), http.StatusOK)
		tb.typeIn("#token", placed.Token)
		wantStatus(t, "order page", tb.submit(`main form[action^="/order"] button[type="submit"]`), http.StatusOK)
		tb.waitVisible("ul.keys")
		if keys := tb.texts("ul.keys code"); !slices.Equal(keys, []string{bought, gift}) {
			t.Fatalf("%s: keys %q", lang, keys)
		}
		if got := tb.texts("ul.keys li.compensation code"); !slices.Equal(got, []string{gift}) {
			t.Fatalf("%s: compensation keys %q", lang, got)
		}
		mark := tb.text("ul.keys li.compensation .badge")
		if mark != s.T(lang, "order.compensation") {
			t.Errorf("%s: mark %q", lang, mark)
		}
		if row := tb.text("ul.keys li.compensation"); !strings.Contains(row, g.Name[lang]) {
			t.Errorf("%s: row %q lacks the product", lang, row)
		}
		if page := tb.text("main"); !strings.Contains(page, s.T(lang, "notice.compensation")) {
			t.Errorf("%s: no compensation notice", lang)
		}
		if w := eval[int](tb, `document.documentElement.scrollWidth - document.documentElement.clientWidth`); w > 0 {
			t.Errorf("%s: the order page is %d px wider than a 390 px screen", lang, w)
		}
		tb.wantCleanConsole()
	}
}
