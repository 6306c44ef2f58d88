package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"veil/server/shop"
)

// consoleReportsJourney: the owner opens the profit report in a real
// browser and reads a supplier batch's cost and margin in its row, beside
// a drawn chart — in en and zh-CN, with JavaScript on and off, on a 390 px
// phone (nothing wider than the screen) and a 1280 px desktop — then
// switches the report to months with the plain form.
func consoleReportsJourney(t *testing.T, b *browser) {
	s := newBrowserShop(t)
	p := s.product("report-card", "RPT-7Q2M-0001")
	res, err := s.shop.ImportKeys(p.ID, shop.BatchInfo{Supplier: "acme", CostMinor: 600},
		strings.NewReader("RPT-7Q2M-0002\nRPT-7Q2M-0003\n"))
	if err != nil || res.Imported != 2 {
		t.Fatalf("import: %+v %v", res, err)
	}
	for range 3 {
		s.paidOrder(p) // the first takes the "browser" batch's key (no cost), then two of acme's
	}
	// acme: 2 keys sold at ¥19.90, cost 2 × ¥6.00 = ¥12.00, profit ¥27.80,
	// margin 27.80 ÷ 39.80 = 69.8%.
	for _, c := range []struct {
		lang   string
		js     bool
		width  int64
		profit string
	}{
		{"en", true, 390, "Profit"},
		{"zh-CN", false, 390, "利润"},
		{"en", false, 1280, "Profit"},
		{"zh-CN", true, 1280, "利润"},
	} {
		st := b.newTab(t, "owner", s.ts.URL, c.lang, c.js)
		if _, err := chromedp.Call(st.ctx, emulation.SetDeviceMetricsOverride,
			emulation.SetDeviceMetricsOverrideParams{Width: c.width, Height: 900, DeviceScaleFactor: 1, Mobile: c.width < 760}); err != nil {
			t.Fatal(err)
		}
		s.clock.Add(30e9) // a fresh TOTP step for each sign-in
		staffLogin(t, st, s)
		wantStatus(t, "reports", st.open("/admin/reports?lang="+c.lang), http.StatusOK)
		row := `#report-batches tr[data-batch="` + res.BatchID + `"]`
		if got := st.text(row + " td.batch-cost"); got != "¥12.00" {
			t.Errorf("%s %dpx: acme's cost %q, want ¥12.00", c.lang, c.width, got)
		}
		if got := st.text(row + " td.batch-margin"); got != "69.8%" {
			t.Errorf("%s %dpx: acme's margin %q, want 69.8%%", c.lang, c.width, got)
		}
		if got := st.text(`#report-batches thead`); !strings.Contains(got, c.profit) {
			t.Errorf("%s: batch table headings %q", c.lang, got)
		}
		// The chart is drawn, with its axis amounts, and readable: its text
		// is at least 9 px high on the screen.
		if w := eval[float64](st, `document.querySelector("figure.chart.report svg").getBoundingClientRect().width`); w < 300 {
			t.Errorf("%s %dpx: chart %v px wide", c.lang, c.width, w)
		}
		if h := eval[float64](st, `document.querySelector("figure.chart.report svg text.tick").getBoundingClientRect().height`); h < 9 {
			t.Errorf("%s %dpx: tick labels %v px high", c.lang, c.width, h)
		}
		if ticks := st.texts("figure.chart.report svg text.tick"); len(ticks) < 2 || !strings.HasPrefix(ticks[0], "¥") {
			t.Errorf("%s: axis ticks %v", c.lang, ticks)
		}
		if w := eval[int](st, `document.documentElement.scrollWidth - document.documentElement.clientWidth`); w > 0 {
			t.Errorf("%s %dpx: the page is %d px wider than the screen", c.lang, c.width, w)
		}
		// Months, through the form.
		if err := chromedp.Do(st.ctx, chromedp.SetValue(`select[name="grain"]`, "month")); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, "month report", st.submit(`form.filters button[type="submit"]`), http.StatusOK)
		if loc := st.location(); !strings.Contains(loc, "grain=month") {
			t.Errorf("after the form: %s", loc)
		}
		if got := st.text(row + " td.batch-margin"); got != "69.8%" {
			t.Errorf("%s month report: acme's margin %q", c.lang, got)
		}
		if href := eval[string](st, `document.querySelector("#report-csv").getAttribute("href")`); !strings.HasPrefix(href, "/admin/reports/csv?") || !strings.Contains(href, "grain=month") {
			t.Errorf("CSV link %q", href)
		}
		st.wantCleanConsole()
	}
}
