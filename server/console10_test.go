package server

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
	"veil/static"

	"veil/server/shop"
	"veil/server/staff"
)

// Issue 10, items 13–16 (the console's share): owed payments, console
// fixes, the shop time zone, strict JSON and the retention setting.

// TestUnknownJSONFieldRefused: a field the route does not know is 400
// bad_request naming it, on buyer and console routes alike, and nothing
// is created.
func TestUnknownJSONFieldRefused(t *testing.T) {
	e := newConsoleEnv(t)
	p := e.addProduct(t, "card", "K1")
	olga := e.login("olga")

	for _, c := range []struct {
		name, body, field string
	}{
		{"buyer order", `{"product":"card","quantiy":2}`, "quantiy"},
		{"buyer pay_with other provider", `{"product":"card","pay_with":"epay"}`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := e.postJSON(t, "/api/v1/orders", c.body)
			wantErrorJSON(t, w, http.StatusBadRequest, "bad_request")
			if c.field != "" && !strings.Contains(w.Body.String(), `\"`+c.field+`\"`) {
				t.Errorf("the message does not name %q: %s", c.field, w.Body)
			}
		})
	}
	if q, err := e.shop.Product(p.ID); err != nil || q.InStock != 1 {
		t.Fatalf("stock %d after refused orders, want 1 (%v)", q.InStock, err)
	}
	// The contract's own optional fields still work.
	if w := e.postJSON(t, "/api/v1/orders", `{"product":"card","quantity":1,"proofs":[],"pay_with":"demo","pow":{"challenge":"c","nonce":"n"}}`); w.Code != http.StatusCreated {
		t.Fatalf("contract fields refused: %d %s", w.Code, w.Body)
	}

	for _, c := range []struct{ target, body, field string }{
		{"/api/v1/admin/products", `{"slug":"x","name":"X","price_minor":1,"currency":"CNY","kind":"unique","prise":2}`, "prise"},
		{"/api/v1/admin/settings", `{"two_person":{"refund":true},"totp_code":"123456"}`, "totp_code"},
		{"/api/v1/admin/refunds", `{"ref":"R-ZZZZZZZZ","amount":5,"reason":"x"}`, "amount"},
		{"/api/v1/admin/products", `{"slug":"y","name":"Y","price_minor":1,"currency":"CNY","kind":"unique","policy":{"window_hour":1}}`, "window_hour"},
	} {
		w := e.api(olga, http.MethodPost, c.target, c.body)
		wantErrorJSON(t, w, http.StatusBadRequest, "bad_request")
		if !strings.Contains(w.Body.String(), `\"`+c.field+`\"`) {
			t.Errorf("%s: the message does not name %q: %s", c.target, c.field, w.Body)
		}
	}
	if _, err := e.shop.Product("x"); err == nil {
		t.Error("a product was created from a body with an unknown field")
	}
	// A name that could be a pasted token is not echoed.
	tok := strings.Repeat("A", 33)
	w := e.postJSON(t, "/api/v1/orders", `{"product":"card","`+tok+`":1}`)
	wantErrorJSON(t, w, http.StatusBadRequest, "bad_request")
	if strings.Contains(w.Body.String(), tok) {
		t.Errorf("the error echoes a long field name: %s", w.Body)
	}
}

// TestOrderAPIItemState: a replaced key is listed with its state in GET
// /api/v1/order, as API.md documents; a good key has none.
func TestOrderAPIItemState(t *testing.T) {
	e := newAfterSalesEnv(t)
	p := e.addProduct(t, "card", "BAD-KEY-1", "GOOD-KEY-2")
	pl := e.paid(p)
	olga := e.login("olga")
	e.next()
	w := e.api(olga, http.MethodPost, "/api/v1/admin/replacements", `{"ref":"`+pl.Order.Ref+`","totp":"`+e.code("olga")+`"}`)
	if w.Code != http.StatusOK {
		t.Fatalf("replace: %d %s", w.Code, w.Body)
	}
	w = e.get(t, "/api/v1/order", map[string]string{"Authorization": "Bearer " + pl.Token})
	var out struct {
		Items []map[string]string `json:"items"`
	}
	decode(t, w, &out)
	states := map[string]string{}
	for _, it := range out.Items {
		st, ok := it["state"]
		if !ok {
			st = "(none)"
		}
		states[it["key"]] = st
	}
	if len(states) != 2 || states["BAD-KEY-1"] != "reported_bad" || states["GOOD-KEY-2"] != "(none)" {
		t.Fatalf("items %s", w.Body)
	}
}

// TestShopSettings: the time zone and retention go through the settings
// approval (TOTP, audited), pages show times in the zone with its offset,
// and bad values change nothing.
func TestShopSettings(t *testing.T) {
	e := newConsoleEnv(t)
	p := e.addProduct(t, "card", "K1")
	olga := e.login("olga")
	var got settingsJSON
	decode(t, e.api(olga, http.MethodGet, "/api/v1/admin/settings", ""), &got)
	if got.TimeZone != "Asia/Shanghai" || got.RetentionDays != 183 {
		t.Fatalf("defaults %+v", got)
	}
	oc := e.placeAPI(t, p.ID, 1)
	o, err := e.shop.OrderByRef(oc.Ref)
	if err != nil {
		t.Fatal(err)
	}
	orderPage := func() string {
		return e.postForm(t, "/order?lang=en", url.Values{"token": {oc.Token}}).Body.String()
	}
	sh, _ := time.LoadLocation("Asia/Shanghai")
	// html/template writes "+" as &#43;.
	if want := o.ExpiresAt.In(sh).Format("2006-01-02 15:04") + " UTC&#43;08:00"; !strings.Contains(orderPage(), want) {
		t.Fatalf("order page lacks %q (%v %v)", want, o.ExpiresAt, oc.ExpiresAt)
	}

	for _, bad := range []string{`{"time_zone":"Mars/Olympus"}`, `{"retention_days":0}`, `{"retention_days":99999}`, `{"time_zone":""}`} {
		wantErrorJSON(t, e.api(olga, http.MethodPost, "/api/v1/admin/settings", bad), http.StatusBadRequest, "bad_request")
	}
	e.next()
	w := e.api(olga, http.MethodPost, "/api/v1/admin/settings", `{"time_zone":"America/New_York","retention_days":200,"totp":"`+e.code("olga")+`"}`)
	if w.Code != http.StatusOK {
		t.Fatalf("settings: %d %s", w.Code, w.Body)
	}
	decode(t, e.api(olga, http.MethodGet, "/api/v1/admin/settings", ""), &got)
	if got.TimeZone != "America/New_York" || got.RetentionDays != 200 || e.shop.RetentionDays() != 200 {
		t.Fatalf("after the change %+v", got)
	}
	ny, _ := time.LoadLocation("America/New_York")
	want := o.ExpiresAt.In(ny).Format("2006-01-02 15:04 UTC-07:00")
	if body := orderPage(); !strings.Contains(body, want) {
		t.Fatalf("order page lacks %q", want)
	}
	if n := e.auditCount(staff.ActionApprovalApprove, ""); n == 0 {
		t.Error("no audit entry for the settings approval")
	}
	// The owner's console form proposes (no code: it waits for approval).
	if body := e.page(olga, "/admin/staff?lang=en").Body.String(); !strings.Contains(body, `name="time_zone" value="America/New_York"`) {
		t.Fatalf("staff page lacks the shop settings form")
	}
	w = e.form(olga, "/admin/settings?lang=en", url.Values{"form": {"shop"}, "time_zone": {"UTC"}, "retention_days": {"183"}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("shop settings form: %d %s", w.Code, w.Body)
	}
	if e.shop.TimeZone() != "America/New_York" {
		t.Fatal("a proposal without a code changed the zone at once")
	}
}

// TestOwedPayments: a payment made twice is listed as owed (API, page,
// dashboard total, pagination, empty state); marking it given back is a
// payment_return approval — money leaving the shop: the refund two-person
// rule holds, support cannot decide it, a second owner approves with TOTP,
// it is audited, and it cannot be given back twice.
func TestOwedPayments(t *testing.T) {
	e := newConsoleEnv(t)
	p := e.addProduct(t, "card", "K-0001-AAAA", "K-0002-BBBB")
	e.member("otto", staff.RoleOwner)
	e.member("sam", staff.RoleSupport)
	e.next()
	olga, otto, sam := e.login("olga"), e.login("otto"), e.login("sam")

	if body := e.page(olga, "/admin/owed?lang=en").Body.String(); !strings.Contains(body, e.srv.site.Pages.T("en", "admin.owed.empty")) {
		t.Fatalf("no empty state:\n%s", body)
	}
	o1, o2 := e.paidOrder(p), e.paidOrder(p)
	for i, o := range []shop.Order{o1, o2} {
		res, err := e.shop.ApplyPayment(o.Ref, shop.Payment{Provider: "epay", TradeNo: "T-EXTRA-" + itoa(i), AmountMinor: 4850}, nil)
		if err != nil || res.Outcome != shop.OutcomeOwed {
			t.Fatalf("extra payment: %+v %v", res.Outcome, err)
		}
	}

	type owedList struct {
		Owed       []owedJSON       `json:"owed"`
		Count      int              `json:"count"`
		TotalMinor map[string]int64 `json:"total_minor"`
		Next       string           `json:"next"`
	}
	var l owedList
	decode(t, e.api(sam, http.MethodGet, "/api/v1/admin/owed?limit=1", ""), &l)
	if len(l.Owed) != 1 || l.Count != 2 || l.TotalMinor["CNY"] != 9700 || l.Next == "" || l.Owed[0].Reason != "extra" || l.Owed[0].Currency != "CNY" {
		t.Fatalf("first page %+v", l)
	}
	first := l.Owed[0]
	decode(t, e.api(sam, http.MethodGet, "/api/v1/admin/owed?limit=1&cursor="+url.QueryEscape(l.Next), ""), &l)
	if len(l.Owed) != 1 || l.Owed[0].Ref == first.Ref || l.Next != "" {
		t.Fatalf("second page %+v", l)
	}
	page := e.page(olga, "/admin/owed?lang=en").Body.String()
	if !strings.Contains(page, "T-EXTRA-0") || !strings.Contains(page, "T-EXTRA-1") || !strings.Contains(page, "¥97.00") ||
		!strings.Contains(page, e.srv.site.Pages.T("en", "admin.owed.reason.extra")) {
		t.Fatalf("owed page:\n%s", page)
	}
	if dash := e.page(olga, "/admin?lang=en").Body.String(); !strings.Contains(dash, "¥97.00") || !strings.Contains(dash, `href="/admin/owed?lang=en"`) {
		t.Fatalf("dashboard lacks the owed total:\n%s", dash)
	}

	// Abuse: no CSRF token, an unknown order, a payment that is not owed.
	h := map[string]string{"Cookie": staffCookie + "=" + olga.cookie}
	w := e.do(t, req{method: http.MethodPost, target: "/api/v1/admin/owed/returned", ctype: "application/json", header: h,
		body: `{"ref":"` + o1.Ref + `","provider":"epay","trade_no":"T-EXTRA-0"}`})
	if w.Code != http.StatusForbidden {
		t.Fatalf("without CSRF: %d %s", w.Code, w.Body)
	}
	wantErrorJSON(t, e.api(olga, http.MethodPost, "/api/v1/admin/owed/returned", `{"ref":"R-ZZZZZZZZ","provider":"epay","trade_no":"T-EXTRA-0"}`),
		http.StatusNotFound, "order_not_found")
	wantErrorJSON(t, e.api(olga, http.MethodPost, "/api/v1/admin/owed/returned", `{"ref":"`+o1.Ref+`","provider":"demo"}`),
		http.StatusConflict, "not_refundable")

	// Two-person on refunds covers giving owed money back: olga's own code
	// does not execute it, and she cannot approve her own proposal.
	e.next()
	if w := e.api(olga, http.MethodPost, "/api/v1/admin/settings", `{"two_person":{"refund":true},"totp":"`+e.code("olga")+`"}`); w.Code != http.StatusOK {
		t.Fatalf("two-person on: %d %s", w.Code, w.Body)
	}
	e.next()
	w = e.api(olga, http.MethodPost, "/api/v1/admin/owed/returned", `{"ref":"`+o1.Ref+`","provider":"epay","trade_no":"T-EXTRA-0","note":"sent back by Alipay","totp":"`+e.code("olga")+`"}`)
	if w.Code != http.StatusAccepted {
		t.Fatalf("with two-person on, a proposal with a code: %d %s", w.Code, w.Body)
	}
	var op opBody
	decode(t, w, &op)
	e.next()
	wantErrorJSON(t, e.decideAPI(olga, op.ApprovalID, "approve", e.code("olga")), http.StatusForbidden, "two_person")
	e.next()
	wantErrorJSON(t, e.decideAPI(sam, op.ApprovalID, "approve", e.code("sam")), http.StatusForbidden, "forbidden")
	e.next()
	if w := e.decideAPI(otto, op.ApprovalID, "approve", e.code("otto")); w.Code != http.StatusOK {
		t.Fatalf("otto approves: %d %s", w.Code, w.Body)
	}
	a, err := e.staff.Get(op.ApprovalID)
	if err != nil || a.Kind != staff.KindPaymentReturn || a.Status != staff.StatusApproved || !strings.Contains(a.Result, "¥48.50") {
		t.Fatalf("approval %+v %v", a, err)
	}
	decode(t, e.api(olga, http.MethodGet, "/api/v1/admin/owed", ""), &l)
	if l.Count != 1 || len(l.Owed) != 1 || l.Owed[0].Ref != o2.Ref || l.TotalMinor["CNY"] != 4850 {
		t.Fatalf("after giving one back %+v", l)
	}
	recs, err := e.shop.Payments(o1.Ref)
	if err != nil {
		t.Fatal(err)
	}
	returned := 0
	for _, r := range recs {
		if r.Payment.TradeNo == "T-EXTRA-0" && r.State == shop.PaymentReturned {
			returned++
		}
	}
	if returned != 1 {
		t.Fatalf("payment records %+v", recs)
	}
	if n := e.auditCount(staff.ActionApprovalApprove, ""); n == 0 {
		t.Error("no audit entry")
	}
	// Given back once only.
	wantErrorJSON(t, e.api(olga, http.MethodPost, "/api/v1/admin/owed/returned", `{"ref":"`+o1.Ref+`","provider":"epay","trade_no":"T-EXTRA-0"}`),
		http.StatusConflict, "not_refundable")

	// The console form proposes the other one.
	w = e.form(olga, "/admin/owed/returned?lang=en", url.Values{"ref": {o2.Ref}, "provider": {"epay"}, "trade_no": {"T-EXTRA-1"}})
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/admin/approvals") {
		t.Fatalf("form: %d %v", w.Code, w.Header())
	}
}

// TestConsoleLinksResolve follows every same-site link of the console's
// pages, as an owner, and finds none that answers 404 (the products page
// linked "New product" to a route that did not exist).
func TestConsoleLinksResolve(t *testing.T) {
	e := newConsoleEnv(t)
	p := e.addProduct(t, "card", "K-0001-AAAA", "K-0002-BBBB")
	e.paidOrder(p)
	olga := e.login("olga")
	seen := map[string]bool{}
	queue := []string{"/admin?lang=en"}
	for len(queue) > 0 && len(seen) < 200 {
		target := queue[0]
		queue = queue[1:]
		if seen[target] {
			continue
		}
		seen[target] = true
		w := e.page(olga, target)
		if w.Code == http.StatusNotFound {
			t.Errorf("%s: 404", target)
			continue
		}
		// HEAD answers like GET (status), with no body.
		head := e.do(t, req{method: http.MethodHead, target: target, header: map[string]string{"Cookie": staffCookie + "=" + olga.cookie}})
		if head.Code != w.Code {
			t.Errorf("HEAD %s: %d, GET %d", target, head.Code, w.Code)
		}
		if !strings.HasPrefix(target, "/admin") || w.Code != http.StatusOK {
			continue
		}
		for _, m := range hrefRE.FindAllStringSubmatch(w.Body.String(), -1) {
			href := strings.ReplaceAll(m[1], "&amp;", "&")
			if !strings.HasPrefix(href, "/") || strings.HasPrefix(href, "//") || strings.HasPrefix(href, "/static/") ||
				strings.HasPrefix(href, "/api/v1/admin/exports/") {
				continue
			}
			queue = append(queue, href)
		}
	}
	if !seen["/admin/new-product?lang=en"] {
		t.Errorf("the crawl never reached the new-product form; visited %d pages", len(seen))
	}
}

var nonceRE = regexp.MustCompile(`name="nonce" value="([0-9a-f]{32})"`)

// TestCheckoutReloadPlacesNoSecondOrder: the product form carries a
// one-time nonce; sending it again (a reload of the token page) places no
// second order and shows no token, only "already shown"; a checkout that
// failed may be sent again; the token is never in a URL or cookie.
func TestCheckoutReloadPlacesNoSecondOrder(t *testing.T) {
	e := newEnv(t, nil)
	p := e.addProduct(t, "card", "K1", "K2", "K3")
	pp := e.get(t, "/p/card?lang=en", nil)
	if cc := pp.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("product page Cache-Control %q", cc)
	}
	m := nonceRE.FindStringSubmatch(pp.Body.String())
	if m == nil {
		t.Fatalf("no nonce in the product form:\n%s", pp.Body)
	}
	form := url.Values{"product": {"card"}, "quantity": {"1"}, "nonce": {m[1]}}
	first := e.postForm(t, "/checkout?lang=en", form)
	if first.Code != http.StatusOK {
		t.Fatalf("checkout: %d %s", first.Code, first.Body)
	}
	token := tokenFromPage(t, first.Body.String())
	for range 2 {
		again := e.postForm(t, "/checkout?lang=en", form)
		if again.Code != http.StatusConflict || !strings.Contains(again.Body.String(), e.srv.site.Pages.T("en", "err.already_shown.title")) {
			t.Fatalf("reload: %d %s", again.Code, again.Body)
		}
		if strings.Contains(again.Body.String(), "order-token") || strings.Contains(again.Body.String(), token) {
			t.Fatal("the reload shows a token")
		}
		if loc, c := again.Header().Get("Location"), again.Header().Get("Set-Cookie"); loc != "" || c != "" {
			t.Fatalf("reload answer has Location %q or a cookie %q", loc, c)
		}
	}
	if q, _ := e.shop.Product(p.ID); q.InStock != 2 {
		t.Fatalf("stock %d: the reload placed another order", q.InStock)
	}
	// A failed checkout (over the newcomer cap) frees its nonce for a corrected retry.
	m = nonceRE.FindStringSubmatch(e.get(t, "/p/card?lang=en", nil).Body.String())
	form = url.Values{"product": {"card"}, "quantity": {"9"}, "nonce": {m[1]}}
	if w := e.postForm(t, "/checkout?lang=en", form); w.Code == http.StatusOK || strings.Contains(w.Body.String(), e.srv.site.Pages.T("en", "err.already_shown.title")) {
		t.Fatalf("over stock: %d", w.Code)
	}
	form.Set("quantity", "1")
	if w := e.postForm(t, "/checkout?lang=en", form); w.Code != http.StatusOK {
		t.Fatalf("retry after a failed checkout: %d %s", w.Code, w.Body)
	}
	// A malformed nonce is refused.
	wantStatus := e.postForm(t, "/checkout?lang=en", url.Values{"product": {"card"}, "quantity": {"1"}, "nonce": {"x"}})
	if wantStatus.Code != http.StatusBadRequest {
		t.Fatalf("bad nonce: %d", wantStatus.Code)
	}
}

// TestApprovalCardsInWords: approval cards show params as translated
// label–value pairs with money formatted, "the whole amount" for a refund
// of all that is left, and results with money formatted — no raw JSON, no
// amount_minor, no "4850 of 4850 CNY".
func TestApprovalCardsInWords(t *testing.T) {
	e := newConsoleEnv(t)
	p := e.addProduct(t, "card", "K-0001-AAAA", "K-0002-BBBB")
	o1, o2 := e.paidOrder(p), e.paidOrder(p)
	olga := e.login("olga")
	e.proposeRefund(olga, o1.Ref)
	if w := e.api(olga, http.MethodPost, "/api/v1/admin/refunds", `{"ref":"`+o2.Ref+`","amount_minor":120,"reason":"half broken"}`); w.Code != http.StatusAccepted {
		t.Fatalf("partial: %d %s", w.Code, w.Body)
	}
	for _, lang := range []string{"en", "zh-CN"} {
		body := e.page(olga, "/admin/approvals?lang="+lang).Body.String()
		for _, want := range []string{e.srv.site.Pages.T(lang, "admin.approvals.whole_amount"), "¥1.20", e.srv.site.Pages.T(lang, "admin.param.amount_minor"),
			"Game Card card", "游戏点卡 card"} {
			if lang == "en" && want == "游戏点卡 card" || lang == "zh-CN" && want == "Game Card card" {
				continue
			}
			if !strings.Contains(body, want) {
				t.Errorf("%s: approvals page lacks %q", lang, want)
			}
		}
		for _, bad := range []string{"amount_minor", "{&#34;", `{"`, "120 CNY"} {
			if strings.Contains(body, bad) {
				t.Errorf("%s: approvals page shows %q", lang, bad)
			}
		}
	}
	// Approved with a code: the result formats money.
	list, _, err := e.staff.List(staff.Filter{Status: staff.StatusPending}, "", 10)
	if err != nil || len(list) != 2 {
		t.Fatalf("pending %d %v", len(list), err)
	}
	for _, a := range list {
		e.next()
		if w := e.decideAPI(olga, a.ID, "approve", e.code("olga")); w.Code != http.StatusOK {
			t.Fatalf("approve: %d %s", w.Code, w.Body)
		}
	}
	body := e.page(olga, "/admin/approvals?lang=en").Body.String()
	for _, want := range []string{o1.Ref + " refunded in full (¥9.90)", o2.Ref + " partly refunded: ¥1.20 of ¥9.90"} {
		if !strings.Contains(body, want) {
			t.Errorf("history lacks %q", want)
		}
	}
	if strings.Contains(body, "990 CNY") || strings.Contains(body, "of 990") {
		t.Error("history shows amounts in minor units")
	}
}

// TestOrdersRefundResolvesOpenTicket: a refund proposed from the Orders
// page answers the order's open ticket: once approved, the ticket is
// resolved, and the approval names it.
func TestOrdersRefundResolvesOpenTicket(t *testing.T) {
	e := newAfterSalesEnv(t)
	p := e.addProduct(t, "card", "K-0001-AAAA")
	pl := e.paid(p)
	id := e.openTicket(pl, "key_invalid", "does not redeem")
	olga := e.login("olga")
	e.next()
	w := e.form(olga, "/admin/refunds?lang=en", url.Values{"ref": {pl.Order.Ref}, "reason": {"key did not work"}, "totp": {e.code("olga")}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("refund from Orders: %d %s", w.Code, w.Body)
	}
	if o, _ := e.shop.OrderByRef(pl.Order.Ref); o.Status != shop.StatusRefunded {
		t.Fatalf("order %s", o.Status)
	}
	if tk := e.ticket(id); tk.Status != shop.TicketResolved {
		t.Fatalf("ticket %s after the refund, want resolved", tk.Status)
	}
}

// TestHiddenKeysHint: while a cooling-off refund keeps the keys behind
// "Show my keys", the status line does not say they are below.
func TestHiddenKeysHint(t *testing.T) {
	e := newAfterSalesEnv(t)
	p := e.addProduct(t, "card", "K-0001-AAAA")
	pl := e.paid(p)
	body := e.postForm(t, "/order?lang=en", url.Values{"token": {pl.Token}}).Body.String()
	if !strings.Contains(body, e.srv.site.Pages.T("en", "order.show_keys")) {
		t.Fatalf("keys not hidden behind the button:\n%s", body)
	}
	if strings.Contains(body, e.srv.site.Pages.T("en", "status_hint.delivered")) || !strings.Contains(body, e.srv.site.Pages.T("en", "status_hint.keys_hidden")) {
		t.Fatalf("status hint while keys are hidden:\n%s", body)
	}
	if strings.Contains(body, "K-0001-AAAA") {
		t.Fatal("a hidden key is on the page")
	}
	body = e.postForm(t, "/order?lang=en", url.Values{"token": {pl.Token}, "reveal": {"1"}}).Body.String()
	if !strings.Contains(body, "K-0001-AAAA") || !strings.Contains(body, e.srv.site.Pages.T("en", "status_hint.delivered")) {
		t.Fatalf("after reveal:\n%s", body)
	}
}

// TestImportRejectsJunk: every product refuses a one-character line or one
// with no letter or digit; a product's own minimum length and pattern
// refuse the rest; rejections are listed with translated reasons (page
// and upload script), never the line's content.
func TestImportRejectsJunk(t *testing.T) {
	e := newConsoleEnv(t)
	olga := e.login("olga")
	w := e.api(olga, http.MethodPost, "/api/v1/admin/products", `{"slug":"gift","name":"Gift","price_minor":100,"currency":"CNY","kind":"unique",`+
		`"key_format":{"min_length":14,"pattern":"[A-Z0-9]{4}(-[A-Z0-9]{4}){2}"}}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	var created struct{ ID string }
	decode(t, w, &created)
	wantErrorJSON(t, e.api(olga, http.MethodPost, "/api/v1/admin/products", `{"slug":"bad","name":"Bad","price_minor":100,"currency":"CNY","kind":"unique","key_format":{"pattern":"(["}}`),
		http.StatusBadRequest, "bad_request")
	plain := e.addProduct(t, "plain")

	importText := func(pid, text string) importAnswer {
		t.Helper()
		w := e.do(t, req{method: http.MethodPost, target: "/api/v1/admin/products/" + pid + "/keys", body: text, ctype: "text/plain",
			header: map[string]string{"Cookie": staffCookie + "=" + olga.cookie, "X-CSRF-Token": olga.csrf}})
		if w.Code != http.StatusOK {
			t.Fatalf("import: %d %s", w.Code, w.Body)
		}
		var a importAnswer
		decode(t, w, &a)
		return a
	}
	reasons := func(a importAnswer) map[int]string {
		m := map[int]string{}
		for _, r := range a.Rejections {
			m[r.Line] = r.Reason
		}
		return m
	}
	a := importText(plain.ID, "x\n----\nAB\nREAL-KEY-0001\n")
	if a.Imported != 2 || a.Rejected != 2 || reasons(a)[1] != "too_short" || reasons(a)[2] != "no_alnum" {
		t.Fatalf("plain product: %+v", a)
	}
	a = importText(created.ID, "x\nABCD-1234\nabcd-1234-efgh\nABCD-1234-EFGH\n")
	if a.Imported != 1 || a.Rejected != 3 || reasons(a)[1] != "too_short" || reasons(a)[2] != "too_short" || reasons(a)[3] != "pattern" {
		t.Fatalf("gift product: %+v", a)
	}

	// The page lists the rejections in words and tells the rule; the
	// upload script gets every reason translated.
	page := e.page(olga, "/admin/products/"+created.ID+"/import?lang=zh-CN").Body.String()
	for _, want := range []string{`<li data-code="pattern">` + e.srv.site.Pages.T("zh-CN", "admin.import.reason.pattern") + `</li>`,
		`<li data-code="too_long">` + e.srv.site.Pages.T("zh-CN", "admin.import.reason.too_long") + `</li>`, "14"} {
		if !strings.Contains(page, want) {
			t.Errorf("import page lacks %q", want)
		}
	}
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("csrf", olga.csrf)
	_ = mw.WriteField("batch", "s")
	_ = mw.WriteField("keys", "y\nWXYZ-0000-QQQQ\n")
	_ = mw.Close()
	w = e.do(t, req{method: http.MethodPost, target: "/admin/products/" + created.ID + "/import?lang=en", body: buf.String(),
		ctype: mw.FormDataContentType(), header: map[string]string{"Cookie": staffCookie + "=" + olga.cookie}})
	body := w.Body.String()
	if !strings.Contains(body, e.srv.site.Pages.T("en", "admin.import.reason.too_short")) || strings.Contains(body, ": too_short") {
		t.Fatalf("form import result:\n%s", body)
	}
	// PUT is the whole product: key_format sent again stays.
	w = e.api(olga, http.MethodPut, "/api/v1/admin/products/"+created.ID, `{"slug":"gift","name":"Gift","price_minor":100,"currency":"CNY","key_format":{"min_length":20}}`)
	if w.Code != http.StatusOK {
		t.Fatalf("put: %d %s", w.Code, w.Body)
	}
	if p, _ := e.shop.Product(created.ID); p.KeyFormat.MinLength != 20 || p.KeyFormat.Pattern != "" {
		t.Fatalf("key format after PUT %+v", p.KeyFormat)
	}
}

// TestNoRawCodesForPeople: a ticket's reason tag in the thread and the
// signed-in member's role are shown in words, in both languages.
func TestNoRawCodesForPeople(t *testing.T) {
	e := newAfterSalesEnv(t)
	p := e.addProduct(t, "card", "K-0001-AAAA")
	pl := e.paid(p)
	id := e.openTicket(pl, "key_invalid", "does not redeem")
	olga := e.login("olga")
	for _, lang := range []string{"en", "zh-CN"} {
		want := "[" + e.srv.site.Pages.T(lang, "reason.key_invalid") + "] does not redeem"
		buyer := e.postForm(t, "/order?lang="+lang, url.Values{"token": {pl.Token}}).Body.String()
		staffPage := e.page(olga, "/admin/tickets/"+id+"?lang="+lang).Body.String()
		for name, body := range map[string]string{"order page": buyer, "ticket page": staffPage} {
			if strings.Contains(body, "[key_invalid]") || !strings.Contains(body, want) {
				t.Errorf("%s (%s): the thread shows the reason code, not %q", name, lang, want)
			}
		}
		role := "olga (" + e.srv.site.Pages.T(lang, "admin.role.owner") + ")"
		if !strings.Contains(staffPage, role) || strings.Contains(staffPage, "olga (owner)") {
			t.Errorf("%s: the console header does not say %q", lang, role)
		}
	}
}

// TestAuditActionsInWords: the audit page names known actions in words
// (the code stays in the title), in both languages.
func TestAuditActionsInWords(t *testing.T) {
	e := newConsoleEnv(t)
	olga := e.login("olga")
	for _, lang := range []string{"en", "zh-CN"} {
		body := e.page(olga, "/admin/audit?lang="+lang).Body.String()
		want := `<span title="staff.login">` + e.srv.site.Pages.T(lang, "admin.audit.action.staff.login") + `</span>`
		if !strings.Contains(body, want) {
			t.Errorf("%s: the audit page lacks %q", lang, want)
		}
	}
}

// TestConsoleNotFoundInConsoleLayout: an address under /admin that matches
// no route answers 404 in the console's layout — with its navigation for a
// signed-in member, without it for anyone else — while the console API
// keeps its JSON shape and the storefront's 404 stays the buyer's page.
func TestConsoleNotFoundInConsoleLayout(t *testing.T) {
	e := newConsoleEnv(t)
	olga := e.login("olga")
	adminCSS := static.Path("admin.css")

	w := e.page(olga, "/admin/no-such-page?lang=en")
	body := w.Body.String()
	if w.Code != http.StatusNotFound || !strings.Contains(body, adminCSS) || !strings.Contains(body, `href="/admin/approvals`) ||
		!strings.Contains(body, "Page not found") || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("signed in: %d %q\n%s", w.Code, w.Header().Get("Cache-Control"), body)
	}
	w = e.get(t, "/admin/no-such-page?lang=zh-CN", nil)
	body = w.Body.String()
	if w.Code != http.StatusNotFound || !strings.Contains(body, adminCSS) || strings.Contains(body, `href="/admin/approvals`) {
		t.Fatalf("signed out: %d\n%s", w.Code, body)
	}
	w = e.page(olga, "/api/v1/admin/no-such-route")
	if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), `"code":"not_found"`) {
		t.Fatalf("console API: %d %s", w.Code, w.Body)
	}
	w = e.get(t, "/no-such-page", nil)
	if w.Code != http.StatusNotFound || strings.Contains(w.Body.String(), adminCSS) {
		t.Fatalf("storefront 404 in the console layout: %d\n%s", w.Code, w.Body)
	}
}
