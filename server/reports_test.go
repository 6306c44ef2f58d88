package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"veil/server/pay"
	"veil/server/shop"
	"veil/server/staff"
)

// The report answers of API.md, written out (see api_shapes_test.go).
type salesJSON struct {
	Currency       string `json:"currency"`
	Orders         int    `json:"orders"`
	Units          int    `json:"units"`
	RevenueMinor   int64  `json:"revenue_minor"`
	RefundsMinor   int64  `json:"refunds_minor"`
	CostMinor      int64  `json:"cost_minor"`
	ProfitMinor    int64  `json:"profit_minor"`
	MarginPermille int    `json:"margin_permille"`
	HasMargin      bool   `json:"has_margin"`
}

type batchJSON struct {
	BatchID       string `json:"batch_id"`
	Supplier      string `json:"supplier"`
	UnitCostMinor int64  `json:"unit_cost_minor"`
	salesJSON
	AfterSales   int `json:"after_sales"`
	RatePermille int `json:"rate_permille"`
}

type reportJSON struct {
	Grain    string      `json:"grain"`
	TimeZone string      `json:"time_zone"`
	Totals   []salesJSON `json:"totals"`
	Batches  []batchJSON `json:"batches"`
}

type reviewJSON struct {
	ThresholdPermille int         `json:"threshold_permille"`
	Considered        int         `json:"considered"`
	Batches           []batchJSON `json:"batches"`
}

// reportEnv: a product at ¥9.90 with a batch from "acme" at ¥5.00 a key,
// two paid orders, one of them with a key_invalid ticket.
func reportEnv(t *testing.T) (*consoleEnv, shop.Product, []shop.Order) {
	t.Helper()
	e := newConsoleEnv(t)
	p := e.addProduct(t, "report")
	if _, err := e.shop.ImportKeys(p.ID, shop.BatchInfo{Supplier: "acme", CostMinor: 500},
		strings.NewReader("REPORT-KEY-0001\nREPORT-KEY-0002\nREPORT-KEY-0003\n")); err != nil {
		t.Fatal(err)
	}
	var orders []shop.Order
	for i := range 2 {
		placed, err := e.shop.PlaceOrder(p.ID, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		o, err := e.shop.Pay(placed.Order.Ref, pay.DemoPayment(placed.Order))
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			if _, err := e.shop.OpenTicket(placed.Token, shop.ReasonKeyInvalid, o.Items[0]); err != nil {
				t.Fatal(err)
			}
		}
		orders = append(orders, o)
	}
	return e, p, orders
}

// TestReportsConsole: owners read the report as JSON, a page and CSV;
// support staff get none of it; bad queries are 400/404.
func TestReportsConsole(t *testing.T) {
	e, p, orders := reportEnv(t)
	owner := e.login("olga")
	e.member("sam", staff.RoleSupport)
	e.next()
	support := e.login("sam")

	for _, target := range []string{"/api/v1/admin/reports", "/api/v1/admin/reports/csv", "/api/v1/admin/reports/review"} {
		wantErrorJSON(t, e.api(support, http.MethodGet, target, ""), http.StatusForbidden, "forbidden")
	}
	for _, target := range []string{"/admin/reports", "/admin/reports/csv", "/admin/reports/review"} {
		if w := e.page(support, target); w.Code != http.StatusForbidden {
			t.Errorf("support %s: %d", target, w.Code)
		}
	}

	w := e.api(owner, http.MethodGet, "/api/v1/admin/reports?grain=day", "")
	if w.Code != http.StatusOK {
		t.Fatalf("report: %d %s", w.Code, w.Body)
	}
	var rep reportJSON
	decode(t, w, &rep)
	if len(rep.Totals) != 1 || rep.Totals[0].RevenueMinor != 1980 || rep.Totals[0].CostMinor != 1000 ||
		rep.Totals[0].ProfitMinor != 980 || rep.Totals[0].MarginPermille != 495 || rep.TimeZone != "Asia/Shanghai" {
		t.Errorf("totals %+v", rep.Totals)
	}
	var acme *batchJSON
	for i := range rep.Batches {
		if rep.Batches[i].Supplier == "acme" {
			acme = &rep.Batches[i]
		}
	}
	if acme == nil || acme.UnitCostMinor != 500 || acme.Units != 2 || acme.AfterSales != 1 || acme.RatePermille != 500 {
		t.Fatalf("acme batch %+v", rep.Batches)
	}
	for _, c := range []struct {
		query  string
		status int
		code   string
	}{
		{"grain=year", http.StatusBadRequest, "bad_request"},
		{"from=2026-13-01", http.StatusBadRequest, "bad_request"},
		{"from=2026-11-02&to=2026-11-01", http.StatusBadRequest, "bad_request"},
		{"grain=day&from=2000-01-01&to=2026-01-01", http.StatusBadRequest, "bad_request"},
		{"product=" + strings.Repeat("x", 65), http.StatusBadRequest, "bad_request"},
		{"product=nope", http.StatusNotFound, "product_not_found"},
	} {
		wantErrorJSON(t, e.api(owner, http.MethodGet, "/api/v1/admin/reports?"+c.query, ""), c.status, c.code)
	}

	// The page, in both languages: the batch's cost and margin, a chart.
	for lang, words := range map[string][]string{"en": {"Profit", "Margin", "acme"}, "zh-CN": {"利润", "利润率", "acme"}} {
		w := e.page(owner, "/admin/reports?lang="+lang)
		body := w.Body.String()
		if w.Code != http.StatusOK || !strings.Contains(body, "<svg") {
			t.Fatalf("%s page: %d", lang, w.Code)
		}
		checkHTML(t, w)
		for _, word := range append(words, "¥5.00", "¥10.00", "49.5%", "50.0%") {
			if !strings.Contains(body, word) {
				t.Errorf("%s page lacks %q", lang, word)
			}
		}
	}
	// An empty range shows the empty state.
	if w := e.page(owner, "/admin/reports?from=2020-01-01&to=2020-01-31&lang=en"); !strings.Contains(w.Body.String(), "No sales in this range.") {
		t.Errorf("empty range: %d", w.Code)
	}

	// CSV: an attachment, metadata only, audited.
	before := e.auditCount("report.export", "")
	w = e.page(owner, "/admin/reports/csv?grain=month&product="+url.QueryEscape(p.ID))
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "text/csv; charset=utf-8" ||
		!strings.HasPrefix(w.Header().Get("Content-Disposition"), `attachment; filename="veil-report-month-`) {
		t.Fatalf("csv: %d %v", w.Code, w.Header())
	}
	body := w.Body.String()
	if !strings.HasPrefix(body, "section,period,product_id,product,batch,supplier,") || !strings.Contains(body, ",acme,") {
		t.Errorf("csv body:\n%s", body)
	}
	for _, o := range orders {
		if strings.Contains(body, o.Ref) || strings.Contains(body, o.RecipientString()) {
			t.Errorf("the export names order %s", o.Ref)
		}
	}
	if strings.Contains(body, "REPORT-KEY") {
		t.Error("the export holds a key")
	}
	if e.auditCount("report.export", "") != before+1 {
		t.Error("the export is not audited")
	}
}

// TestSupplierReview: the owner's threshold decides which batches are
// listed; bad thresholds, missing CSRF and support staff are refused.
func TestSupplierReview(t *testing.T) {
	e, _, _ := reportEnv(t)
	owner := e.login("olga")
	e.member("sam", staff.RoleSupport)
	e.next()
	support := e.login("sam")

	var rev reviewJSON
	decode(t, e.api(owner, http.MethodGet, "/api/v1/admin/reports/review", ""), &rev)
	if rev.ThresholdPermille != 50 || len(rev.Batches) != 1 || rev.Batches[0].Supplier != "acme" || rev.Batches[0].RatePermille != 500 {
		t.Fatalf("review %+v", rev)
	}
	// Above 50%: nobody.
	w := e.form(owner, "/admin/reports/review", url.Values{"threshold": {"50.0"}})
	if w.Code != http.StatusSeeOther || !strings.Contains(w.Header().Get("Location"), "notice=review_saved") {
		t.Fatalf("threshold form: %d %v", w.Code, w.Header())
	}
	page := e.page(owner, "/admin/reports/review?lang=en")
	if !strings.Contains(page.Body.String(), "No batch is above the threshold (1 batches") {
		t.Errorf("review page at 50%%:\n%s", page.Body)
	}
	if e.auditCount("review.threshold", "permille=500") != 1 {
		t.Error("threshold change not audited")
	}
	for _, bad := range []string{"abc", "100.1", "5.25", "-1", ""} {
		if w := e.form(owner, "/admin/reports/review", url.Values{"threshold": {bad}}); w.Code != http.StatusBadRequest {
			t.Errorf("threshold %q: %d", bad, w.Code)
		}
	}
	if e.shop.ReviewThreshold() != 500 {
		t.Errorf("a refused threshold changed it: %d", e.shop.ReviewThreshold())
	}
	// No CSRF field: refused.
	noCSRF := e.do(t, req{method: http.MethodPost, target: "/admin/reports/review", body: "threshold=1",
		ctype: "application/x-www-form-urlencoded", header: map[string]string{"Cookie": staffCookie + "=" + owner.cookie}})
	if noCSRF.Code != http.StatusForbidden {
		t.Errorf("no csrf: %d", noCSRF.Code)
	}
	wantErrorJSON(t, e.api(support, http.MethodPost, "/api/v1/admin/reports/review", `{"threshold_permille":1}`), http.StatusForbidden, "forbidden")
	wantErrorJSON(t, e.api(owner, http.MethodPost, "/api/v1/admin/reports/review", `{"threshold_permille":1001}`), http.StatusBadRequest, "bad_request")
	wantErrorJSON(t, e.api(owner, http.MethodPost, "/api/v1/admin/reports/review", `{}`), http.StatusBadRequest, "bad_request")
	if w := e.api(owner, http.MethodPost, "/api/v1/admin/reports/review", `{"threshold_permille":25}`); w.Code != http.StatusOK {
		t.Fatalf("api threshold: %d %s", w.Code, w.Body)
	}
	decode(t, e.api(owner, http.MethodGet, "/api/v1/admin/reports/review", ""), &rev)
	if rev.ThresholdPermille != 25 || len(rev.Batches) != 1 {
		t.Errorf("review at 2.5%%: %+v", rev)
	}
	page = e.page(owner, "/admin/reports/review?lang=zh-CN")
	if !strings.Contains(page.Body.String(), "acme") || !strings.Contains(page.Body.String(), "50.0%") {
		t.Errorf("review page lists no acme batch")
	}
}
