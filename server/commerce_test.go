package server

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"veil/server/pay"
	"veil/server/shop"
)

// buyOrder places an order through the buyer API from its own client
// address; it returns the status and the decoded answer.
func (e *consoleEnv) buyOrder(body, remote string) (int, map[string]any) {
	e.t.Helper()
	w := e.do(e.t, req{method: http.MethodPost, target: "/api/v1/orders", body: body, ctype: "application/json", remote: remote})
	var out map[string]any
	decode(e.t, w, &out)
	return w.Code, out
}

// commerceKeys are n distinct keys.
func commerceKeys(prefix string, n int) []string {
	ks := make([]string, n)
	for i := range ks {
		ks[i] = fmt.Sprintf("%s-%04d-7Q2M", prefix, i)
	}
	return ks
}

// TestCouponsHTTP: an owner creates, lists and disables a coupon, each
// audited; buyers get its price, then coupon_used_up at the limit — also
// when many race for the last uses; the abuse of each route is refused.
func TestCouponsHTTP(t *testing.T) {
	e := newConsoleEnv(t)
	p := e.addProduct(t, "card", commerceKeys("CP", 40)...)
	olga := e.login("olga")
	e.member("sam", "support")
	e.next()
	sam := e.login("sam")

	w := e.api(olga, http.MethodPost, "/api/v1/admin/coupons", `{"code":"welcome","percent":20,"limit":5,"product":"card"}`)
	if w.Code != http.StatusCreated || !strings.Contains(w.Body.String(), `"code":"WELCOME"`) {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	for _, tc := range []struct {
		sess session
		body string
		code int
		err  string
	}{
		{olga, `{"code":"WELCOME","percent":10}`, http.StatusConflict, "coupon_taken"},
		{olga, `{"code":"X","percent":10}`, http.StatusBadRequest, "bad_request"},
		{olga, `{"code":"BOTH","percent":10,"amount_minor":5,"currency":"CNY"}`, http.StatusBadRequest, "bad_request"},
		{olga, `{"code":"ODD","percent":10,"limt":3}`, http.StatusBadRequest, "bad_request"},
		{olga, `{"code":"WHEN","percent":10,"ends":"tomorrow"}`, http.StatusBadRequest, "bad_request"},
		{olga, `{"code":"GHOST","percent":10,"product":"nope"}`, http.StatusNotFound, "product_not_found"},
		{sam, `{"code":"SUPPORT","percent":90}`, http.StatusForbidden, "forbidden"},
		{olga, `{"code":"BIG","percent":10,"pad":"` + strings.Repeat("x", 300_000) + `"}`, http.StatusRequestEntityTooLarge, "body_too_large"},
	} {
		w := e.api(tc.sess, http.MethodPost, "/api/v1/admin/coupons", tc.body)
		var out map[string]any
		decode(t, w, &out)
		if w.Code != tc.code || errCode(out) != tc.err {
			t.Fatalf("%.60s: %d %s", tc.body, w.Code, w.Body)
		}
	}
	// No CSRF token, no session: refused.
	if w := e.do(t, req{method: http.MethodPost, target: "/api/v1/admin/coupons", body: `{"code":"NOCSRF","percent":10}`,
		ctype: "application/json", header: map[string]string{"Cookie": staffCookie + "=" + olga.cookie}}); w.Code != http.StatusForbidden {
		t.Fatalf("no csrf: %d", w.Code)
	}
	if w := e.do(t, req{method: http.MethodGet, target: "/api/v1/admin/coupons"}); w.Code != http.StatusUnauthorized {
		t.Fatalf("no session: %d", w.Code)
	}

	// Buyers: 990 - 20% = 792, five times at most, however they race.
	var wg sync.WaitGroup
	var mu sync.Mutex
	got, usedUp := 0, 0
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, out := e.buyOrder(`{"product":"card","quantity":1,"coupon":"welcome"}`, fmt.Sprintf("198.51.100.%d:4000", i+1))
			mu.Lock()
			defer mu.Unlock()
			switch {
			case code == http.StatusCreated && out["amount_minor"] == float64(792):
				got++
			case code == http.StatusConflict && errCode(out) == "coupon_used_up":
				usedUp++
			default:
				t.Errorf("order: %d %v", code, out)
			}
		}()
	}
	wg.Wait()
	if got != 5 || usedUp != 7 {
		t.Fatalf("got %d, used up %d", got, usedUp)
	}
	if code, out := e.buyOrder(`{"product":"card","quantity":1,"coupon":"nope"}`, "198.51.100.99:1"); code != http.StatusBadRequest || errCode(out) != "coupon_unknown" {
		t.Fatalf("unknown coupon: %d %v", code, out)
	}

	w = e.api(sam, http.MethodGet, "/api/v1/admin/coupons", "")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"used":5`) || !strings.Contains(w.Body.String(), `"limit":5`) {
		t.Fatalf("list: %d %s", w.Code, w.Body)
	}
	if w := e.api(sam, http.MethodPost, "/api/v1/admin/coupons/WELCOME/disable", ""); w.Code != http.StatusForbidden {
		t.Fatalf("support disables: %d", w.Code)
	}
	if w := e.api(olga, http.MethodPost, "/api/v1/admin/coupons/NOPE/disable", ""); w.Code != http.StatusNotFound {
		t.Fatalf("disable unknown: %d %s", w.Code, w.Body)
	}
	if w := e.api(olga, http.MethodPost, "/api/v1/admin/coupons/welcome/disable", ""); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"disabled":true`) {
		t.Fatalf("disable: %d %s", w.Code, w.Body)
	}
	if n := e.auditCount("coupon.create", ""); n != 1 {
		t.Fatalf("coupon.create audited %d times", n)
	}
	if n := e.auditCount("coupon.disable", ""); n != 1 {
		t.Fatalf("coupon.disable audited %d times", n)
	}

	// The console page, both languages, and its form (major units, shop time).
	f := url.Values{"code": {"spring"}, "amount": {"2.50"}, "currency": {"CNY"}, "limit": {"3"}, "min": {"5"},
		"starts": {"2026-03-01T00:00"}, "ends": {"2026-04-01T00:00"}}
	if w := e.form(olga, "/admin/coupons", f); w.Code != http.StatusSeeOther {
		t.Fatalf("coupon form: %d %s", w.Code, w.Body)
	}
	c, err := e.shop.Coupon("SPRING")
	if err != nil || c.AmountMinor != 250 || c.MinMinor != 500 || c.Limit != 3 || c.Starts.UTC().Hour() != 16 {
		t.Fatalf("form coupon: %+v %v", c, err)
	}
	for lang, want := range map[string]string{"en": "Coupons and vouchers", "zh-CN": "优惠券与代金券"} {
		w := e.page(olga, "/admin/coupons?lang="+lang)
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), want) || !strings.Contains(w.Body.String(), "SPRING") {
			t.Fatalf("coupons page %s: %d", lang, w.Code)
		}
	}
	if w := e.form(olga, "/admin/coupons/disable", url.Values{"code": {"SPRING"}}); w.Code != http.StatusSeeOther {
		t.Fatalf("disable form: %d", w.Code)
	}
	_ = p
}

// TestOrderSearchAndExportHTTP: a search by trade number finds the order;
// the export is an owner's approval with TOTP whose CSV downloads once and
// holds no token.
func TestOrderSearchAndExportHTTP(t *testing.T) {
	e := newConsoleEnv(t)
	p := e.addProduct(t, "card", commerceKeys("OS", 5)...)
	placed, err := e.shop.PlaceOrder(p.ID, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.shop.ApplyPayment(placed.Order.Ref, shop.Payment{Provider: "epay", TradeNo: "2026120412345", AmountMinor: 990}, nil); err != nil {
		t.Fatal(err)
	}
	other := e.paidOrder(p)
	olga := e.login("olga")
	w := e.api(olga, http.MethodGet, "/api/v1/admin/orders?trade_no=2026120412345", "")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), placed.Order.Ref) || strings.Contains(w.Body.String(), other.Ref) {
		t.Fatalf("search by trade number: %d %s", w.Code, w.Body)
	}
	if w := e.page(olga, "/admin/orders?trade_no=2026120412345&lang=zh-CN"); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), placed.Order.Ref) || strings.Contains(w.Body.String(), other.Ref) {
		t.Fatalf("orders page search: %d", w.Code)
	}
	for _, bad := range []string{"from=2026-13-01", "ref=R-1", "status=lost", "trade_no=" + strings.Repeat("9", 200), "cursor=" + strings.Repeat("c", 300)} {
		if w := e.api(olga, http.MethodGet, "/api/v1/admin/orders?"+bad, ""); w.Code != http.StatusBadRequest {
			t.Fatalf("%s: %d", bad, w.Code)
		}
	}

	// Without a code: queued. With one: approved at once, downloaded once.
	w = e.api(olga, http.MethodPost, "/api/v1/admin/orders-export", `{"product":"card"}`)
	if w.Code != http.StatusAccepted {
		t.Fatalf("export without totp: %d %s", w.Code, w.Body)
	}
	e.next()
	w = e.api(olga, http.MethodPost, "/api/v1/admin/orders-export", `{"product":"card","totp":"`+e.code("olga")+`"}`)
	var ans struct{ Status, Download string }
	decode(t, w, &ans)
	if w.Code != http.StatusOK || !strings.HasPrefix(ans.Download, "/api/v1/admin/orders-export/") {
		t.Fatalf("export: %d %s", w.Code, w.Body)
	}
	e.member("sam", "support")
	e.next()
	sam := e.login("sam")
	if w := e.api(sam, http.MethodGet, ans.Download, ""); w.Code != http.StatusForbidden {
		t.Fatalf("support downloads: %d", w.Code)
	}
	w = e.api(olga, http.MethodGet, ans.Download, "")
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/csv") {
		t.Fatalf("download: %d %s", w.Code, w.Body)
	}
	rows, err := csv.NewReader(strings.NewReader(w.Body.String())).ReadAll()
	if err != nil || len(rows) != 3 || !strings.Contains(w.Body.String(), "2026120412345") {
		t.Fatalf("csv: %v %q", err, w.Body)
	}
	if strings.Contains(w.Body.String(), placed.Token) || strings.Contains(w.Body.String(), "OS-0") {
		t.Fatal("the export holds a token or a key")
	}
	if w := e.api(olga, http.MethodGet, ans.Download, ""); w.Code != http.StatusNotFound {
		t.Fatalf("second download: %d", w.Code)
	}
	if n := e.auditCount("orders_export.download", ""); n != 1 {
		t.Fatalf("download audited %d times", n)
	}
	if w := e.api(sam, http.MethodPost, "/api/v1/admin/orders-export", `{"totp":"`+e.code("sam")+`"}`); w.Code != http.StatusForbidden && w.Code != http.StatusAccepted {
		t.Fatalf("support export: %d %s", w.Code, w.Body)
	}
	if w := e.api(olga, http.MethodPost, "/api/v1/admin/orders-export", `{"from":"junk"}`); w.Code != http.StatusBadRequest {
		t.Fatalf("bad export: %d", w.Code)
	}
	_ = pay.Demo{}
}

// TestVoucherHTTP: staff propose a voucher (TOTP), the buyer reads it with
// the token only, pays with it once; the compensation rule is a settings
// approval.
func TestVoucherHTTP(t *testing.T) {
	e := newConsoleEnv(t)
	p := e.addProduct(t, "card", commerceKeys("VH", 5)...)
	placed, err := e.shop.PlaceOrder(p.ID, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.shop.Pay(placed.Order.Ref, pay.DemoPayment(placed.Order)); err != nil {
		t.Fatal(err)
	}
	olga := e.login("olga")
	for _, tc := range []struct {
		body string
		code int
	}{
		{`{"ref":"` + placed.Order.Ref + `","amount_minor":0,"reason":"late"}`, http.StatusBadRequest},
		{`{"ref":"` + placed.Order.Ref + `","amount_minor":300}`, http.StatusBadRequest},
		{`{"ref":"R-00000000","amount_minor":300,"reason":"x"}`, http.StatusNotFound},
	} {
		if w := e.api(olga, http.MethodPost, "/api/v1/admin/vouchers", tc.body); w.Code != tc.code {
			t.Fatalf("%s: %d %s", tc.body, w.Code, w.Body)
		}
	}
	e.next()
	w := e.api(olga, http.MethodPost, "/api/v1/admin/vouchers", `{"ref":"`+placed.Order.Ref+`","amount_minor":300,"reason":"slow delivery","totp":"`+e.code("olga")+`"}`)
	if w.Code != http.StatusOK {
		t.Fatalf("voucher: %d %s", w.Code, w.Body)
	}
	w = e.do(t, req{method: http.MethodGet, target: "/api/v1/order", header: map[string]string{"Authorization": "Bearer " + placed.Token}})
	var view struct {
		Vouchers []struct {
			Code        string `json:"code"`
			AmountMinor int64  `json:"amount_minor"`
			Used        bool   `json:"used"`
		} `json:"vouchers"`
	}
	decode(t, w, &view)
	if len(view.Vouchers) != 1 || view.Vouchers[0].AmountMinor != 300 || view.Vouchers[0].Used {
		t.Fatalf("order view: %s", w.Body)
	}
	code := view.Vouchers[0].Code
	// Staff never see the code: not in the approvals, the orders, the audit.
	for _, target := range []string{"/api/v1/admin/approvals?status=approved", "/api/v1/admin/orders", "/api/v1/admin/audit"} {
		if w := e.api(olga, http.MethodGet, target, ""); strings.Contains(w.Body.String(), code) {
			t.Fatalf("%s shows the voucher code", target)
		}
	}
	if c, out := e.buyOrder(`{"product":"card","quantity":1,"coupon":"`+code+`"}`, "198.51.100.7:1"); c != http.StatusCreated || out["amount_minor"] != float64(690) {
		t.Fatalf("pay with the voucher: %d %v", c, out)
	}
	if c, out := e.buyOrder(`{"product":"card","quantity":1,"coupon":"`+code+`"}`, "198.51.100.8:1"); c != http.StatusConflict || errCode(out) != "coupon_used_up" {
		t.Fatalf("voucher twice: %d %v", c, out)
	}

	// The rule: a settings approval; GET answers it.
	e.next()
	w = e.api(olga, http.MethodPost, "/api/v1/admin/settings", `{"compensation":{"percent":10,"late_minutes":15,"late":true,"refund_due":true},"totp":"`+e.code("olga")+`"}`)
	if w.Code != http.StatusOK {
		t.Fatalf("rule: %d %s", w.Code, w.Body)
	}
	if r := e.shop.CompensationRule(); r.Percent != 10 || r.LateMinutes != 15 {
		t.Fatalf("rule in force: %+v", r)
	}
	if w := e.api(olga, http.MethodPost, "/api/v1/admin/settings", `{"compensation":{"percent":101,"late_minutes":15}}`); w.Code != http.StatusBadRequest {
		t.Fatalf("bad rule: %d", w.Code)
	}
	if w := e.api(olga, http.MethodGet, "/api/v1/admin/settings", ""); !strings.Contains(w.Body.String(), `"compensation":{"percent":10`) {
		t.Fatalf("settings: %s", w.Body)
	}
}

// TestQuantityPricesHTTP: price breaks set through the console API show
// in the product API and price an order; the product form takes them as
// "quantity:price" pairs; bad breaks are refused.
func TestQuantityPricesHTTP(t *testing.T) {
	e := newConsoleEnv(t)
	olga := e.login("olga")
	w := e.api(olga, http.MethodPost, "/api/v1/admin/products", `{"slug":"bulk","name":"Bulk","price_minor":1000,"currency":"CNY","kind":"unique","price_breaks":[{"min_quantity":3,"price_minor":900}]}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	if w := e.api(olga, http.MethodPost, "/api/v1/admin/products", `{"slug":"bad","name":"Bad","price_minor":1000,"currency":"CNY","kind":"unique","price_breaks":[{"min_quantity":3,"price_minor":1000}]}`); w.Code != http.StatusBadRequest {
		t.Fatalf("bad breaks: %d %s", w.Code, w.Body)
	}
	p, err := e.shop.Product("bulk")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.shop.ImportKeys(p.ID, shop.BatchInfo{Supplier: "s"}, strings.NewReader(strings.Join(commerceKeys("QB", 5), "\n"))); err != nil {
		t.Fatal(err)
	}
	if w := e.get(t, "/api/v1/products", nil); !strings.Contains(w.Body.String(), `"price_breaks":[{"min_quantity":3,"price_minor":900}]`) {
		t.Fatalf("products: %s", w.Body)
	}
	if code, out := e.buyOrder(`{"product":"bulk","quantity":3}`, "198.51.100.20:1"); code != http.StatusCreated || out["amount_minor"] != float64(2700) {
		t.Fatalf("3 units: %d %v", code, out)
	}
	if w := e.page(olga, "/admin/products/"+p.ID+"/edit?lang=en"); !strings.Contains(w.Body.String(), `value="3:9.00"`) {
		t.Fatal("the product form does not show the breaks")
	}
}
