package server

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"veil/crypto"
	"veil/pages"
	"veil/server/pay"
	"veil/server/shop"
	"veil/server/web"
	"veil/static"
)

// TestPagesBothLanguagesNoJS renders every page through plain GETs and form
// POSTs, as a browser with JavaScript off would, in both languages.
func TestPagesBothLanguagesNoJS(t *testing.T) {
	e := newEnv(t, nil)
	p := e.addProduct(t, "card", "K1", "K2", "K3", "K4", "K5", "K6", "K7", "K8")
	e.addProduct(t, "empty")

	for _, lang := range pages.Languages() {
		t.Run(lang, func(t *testing.T) {
			tr := func(key string) string { return html.EscapeString(e.srv.site.Pages.T(lang, key)) }
			q := "?lang=" + lang

			// A pending order and a delivered one, to view.
			pending := e.placeAPI(t, p.ID, 1)
			delivered := e.placeAPI(t, p.ID, 1)
			if w := e.postJSON(t, "/api/v1/pay/demo", `{"ref":"`+delivered.Ref+`"}`); w.Code != http.StatusOK {
				t.Fatalf("pay: %d %s", w.Code, w.Body)
			}

			cases := []struct {
				name   string
				method string
				target string
				form   url.Values
				status int
				want   []string
			}{
				{"catalog", "GET", "/" + q, nil, 200, []string{tr("catalog.title"), tr("product.sold_out"), "¥9.90", html.EscapeString(p.Name.In(lang)), "/p/card?lang=" + lang}},
				{"product", "GET", "/p/card" + q, nil, 200, []string{tr("disclosure.title"), tr("disclosure.validity"), tr("policy.title"), tr("policy.cooling_off"), tr("remedy.replace"), "1.5%", html.EscapeString(p.Disclosure.Regions.In(lang)), tr("product.buy"), `name="quantity"`}},
				{"sold out", "GET", "/p/empty" + q, nil, 200, []string{tr("product.sold_out"), "disabled"}},
				{"no product", "GET", "/p/nope" + q, nil, 404, []string{tr("err.product_not_found.title")}},
				{"lookup", "GET", "/order" + q, nil, 200, []string{tr("lookup.title"), `name="token"`, `action="/order?lang=` + lang}},
				{"checkout", "POST", "/checkout" + q, url.Values{"product": {"card"}, "quantity": {"1"}}, 200, []string{tr("token.title"), tr("token.once_title"), tr("token.download"), tr("common.copy"), "/pay/demo?ref=R-"}},
				{"checkout bad qty", "POST", "/checkout" + q, url.Values{"product": {"card"}, "quantity": {"0"}}, 400, []string{tr("err.bad_request.title"), "/p/card?lang=" + lang}},
				{"order pending", "POST", "/order" + q, url.Values{"token": {pending.Token}}, 200, []string{tr("status.pending_payment"), tr("order.keys_after_payment"), "/pay/demo?ref=" + pending.Ref}},
				// A cooling-off product: the keys wait behind "show my keys".
				{"order delivered", "POST", "/order" + q, url.Values{"token": {delivered.Token}}, 200, []string{tr("status.delivered"), tr("order.keys"), tr("order.window_ends"), tr("order.show_keys"), tr("cooling.submit"), tr("report.title")}},
				{"order revealed", "POST", "/order" + q, url.Values{"token": {delivered.Token}, "reveal": {"1"}}, 200, []string{tr("status.delivered"), tr("order.keys"), tr("common.copy")}},
				{"order typo", "POST", "/order" + q, url.Values{"token": {typo(pending.Token)}}, 400, []string{tr("lookup.err_malformed")}},
				{"order empty", "POST", "/order" + q, url.Values{"token": {""}}, 400, []string{tr("lookup.err_empty")}},
				{"token page again", "POST", "/order/saved" + q, url.Values{"token": {pending.Token}}, 200, []string{tr("token.title")}},
				{"pay demo", "GET", "/pay/demo?ref=" + pending.Ref + "&lang=" + lang, nil, 200, []string{tr("paydemo.title"), tr("paydemo.pay"), pending.Ref}},
				{"pay demo paid", "GET", "/pay/demo?ref=" + delivered.Ref + "&lang=" + lang, nil, 200, []string{tr("paydemo.paid_title")}},
				{"not found", "GET", "/nowhere" + q, nil, 404, []string{tr("err.not_found.title")}},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					var w = e.get(t, c.target, nil)
					if c.method == "POST" {
						w = e.postForm(t, c.target, c.form)
					}
					if w.Code != c.status {
						t.Fatalf("status %d, want %d:\n%s", w.Code, c.status, w.Body)
					}
					checkHTML(t, w)
					body := w.Body.String()
					if !strings.Contains(body, `<html lang="`+lang+`">`) {
						t.Errorf("page not in %s", lang)
					}
					for _, s := range c.want {
						if !strings.Contains(body, s) {
							t.Errorf("page lacks %q", s)
						}
					}
					// The language switch is on every page, and the token
					// never in a link.
					for _, l := range pages.Languages() {
						if !strings.Contains(body, "lang="+l) {
							t.Errorf("no switch to %s", l)
						}
					}
					for _, href := range hrefRE.FindAllStringSubmatch(body, -1) {
						if strings.Contains(href[1], "token") || (pending.Token != "" && strings.Contains(href[1], pending.Token)) {
							t.Errorf("token in a link: %s", href[1])
						}
					}
					if len(w.Result().Cookies()) > 0 {
						t.Errorf("cookies set: %v", w.Result().Cookies())
					}
				})
			}
		})
	}
}

// TestJourneyWithForms buys, pays and opens an order with plain forms and
// gets the exact imported key.
func TestJourneyWithForms(t *testing.T) {
	e := newEnv(t, nil)
	e.addProduct(t, "card", "KEY-ONE-1111")

	w := e.get(t, "/?lang=en", nil)
	if !strings.Contains(w.Body.String(), `href="/p/card?lang=en"`) {
		t.Fatalf("catalog does not link the product:\n%s", w.Body)
	}
	w = e.postForm(t, "/checkout?lang=en", url.Values{"product": {"card"}, "quantity": {"1"}})
	if w.Code != http.StatusOK {
		t.Fatalf("checkout: %d %s", w.Code, w.Body)
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("token page Cache-Control %q", cc)
	}
	token := html.UnescapeString(tokenFromPage(t, w.Body.String()))
	if _, err := crypto.ParseToken(token); err != nil {
		t.Fatalf("the page shows no valid token: %v", err)
	}
	var payURL string
	for _, m := range hrefRE.FindAllStringSubmatch(w.Body.String(), -1) {
		if strings.HasPrefix(m[1], "/pay/demo?ref=") {
			payURL = html.UnescapeString(m[1])
		}
	}
	if payURL == "" {
		t.Fatal("no pay link on the token page")
	}
	ref := strings.TrimPrefix(payURL, "/pay/demo?ref=")

	// The text download carries the token in the POST body and returns it.
	w = e.postForm(t, "/order/token.txt?lang=en", url.Values{"token": {token}})
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") ||
		!strings.HasPrefix(w.Header().Get("Content-Disposition"), "attachment") ||
		w.Header().Get("Cache-Control") != "no-store" || !strings.Contains(w.Body.String(), token) || !strings.Contains(w.Body.String(), ref) {
		t.Fatalf("token.txt: %d %v\n%s", w.Code, w.Header(), w.Body)
	}

	w = e.get(t, payURL+"&lang=en", nil)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `name="ref" value="`+ref+`"`) {
		t.Fatalf("pay page: %d\n%s", w.Code, w.Body)
	}
	w = e.postForm(t, "/pay/demo?lang=en", url.Values{"ref": {ref}})
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "Paid.") || !strings.Contains(w.Body.String(), `href="/order?lang=en"`) {
		t.Fatalf("pay: %d\n%s", w.Code, w.Body)
	}

	// The product has a cooling-off period: the keys wait behind a button.
	w = e.postForm(t, "/order?lang=en", url.Values{"token": {token}})
	if w.Code != http.StatusOK || strings.Contains(w.Body.String(), "KEY-ONE-1111") || !strings.Contains(w.Body.String(), `name="reveal" value="1"`) {
		t.Fatalf("order page before reveal: %d\n%s", w.Code, w.Body)
	}
	w = e.postForm(t, "/order?lang=en", url.Values{"token": {token}, "reveal": {"1"}})
	if w.Code != http.StatusOK {
		t.Fatalf("order page: %d\n%s", w.Code, w.Body)
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("order page Cache-Control %q", cc)
	}
	if !strings.Contains(w.Body.String(), "<code id=\"key-0\">KEY-ONE-1111</code>") {
		t.Fatalf("order page does not show the key:\n%s", w.Body)
	}
	// Typed sloppily (lower case, no dashes) it still opens.
	sloppy := strings.ToLower(strings.ReplaceAll(token, "-", ""))
	if w = e.postForm(t, "/order?lang=en", url.Values{"token": {sloppy}}); !strings.Contains(w.Body.String(), "KEY-ONE-1111") {
		t.Fatal("sloppy token does not open the order")
	}

	// Nothing secret or identifying in the logs.
	logs := e.logs.String()
	for _, secret := range []string{token, sloppy, "KEY-ONE-1111", "192.0.2.1"} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
	if !strings.Contains(logs, ref) || !strings.Contains(logs, "route=/checkout") {
		t.Errorf("logs lack the ref or the route:\n%s", logs)
	}
}

// TestAPIJourney is the JSON API of API.md end to end, with the retrieval
// cases: right token, one wrong character, unknown token.
func TestAPIJourney(t *testing.T) {
	e := newEnv(t, nil)
	p := e.addProduct(t, "card", "K1", "K2")

	w := e.get(t, "/api/v1/products", nil)
	var list struct {
		Products []map[string]json.RawMessage `json:"products"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil || len(list.Products) != 1 {
		t.Fatalf("products: %d %s", w.Code, w.Body)
	}
	for _, f := range []string{"id", "slug", "name", "price_minor", "currency", "in_stock", "policy", "disclosure"} {
		if list.Products[0][f] == nil {
			t.Errorf("product lacks %q", f)
		}
	}
	if string(list.Products[0]["in_stock"]) != "2" {
		t.Errorf("in_stock %s", list.Products[0]["in_stock"])
	}

	w = e.postJSON(t, "/api/v1/orders", `{"product":"card","quantity":1,"proofs":[]}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("create Cache-Control %q", cc)
	}
	var created map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &created); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"token", "ref", "status", "amount_minor", "currency", "tier", "expires_at", "payment"} {
		if _, ok := created[f]; !ok {
			t.Errorf("created lacks %q", f)
		}
	}
	if created["status"] != "pending_payment" || created["amount_minor"] != 990.0 || created["currency"] != "CNY" {
		t.Errorf("created: %v", created)
	}
	exp, err := time.Parse(time.RFC3339, created["expires_at"].(string))
	if err != nil || !strings.HasSuffix(created["expires_at"].(string), "Z") || exp.Before(time.Now()) {
		t.Errorf("expires_at %v", created["expires_at"])
	}
	payment, _ := created["payment"].(map[string]any)
	if payment["provider"] != "demo" || payment["url"] != "/pay/demo?ref="+created["ref"].(string) {
		t.Errorf("payment %v", payment)
	}
	token, ref := created["token"].(string), created["ref"].(string)
	auth := map[string]string{"Authorization": "Bearer " + token}

	// Before payment: no items, a pay link.
	w = e.get(t, "/api/v1/order", auth)
	var o orderJSON
	if err := json.Unmarshal(w.Body.Bytes(), &o); err != nil || w.Code != 200 {
		t.Fatalf("order: %d %s", w.Code, w.Body)
	}
	if o.Status != "pending_payment" || len(o.Items) != 0 || o.Payment == nil || o.AfterSales.WindowEnds != nil {
		t.Errorf("pending order: %s", w.Body)
	}

	w = e.postJSON(t, "/api/v1/pay/demo", `{"ref":"`+ref+`"}`)
	var paid map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &paid); err != nil || w.Code != 200 || paid["ref"] != ref || paid["status"] != "delivered" {
		t.Fatalf("pay: %d %s", w.Code, w.Body)
	}

	w = e.get(t, "/api/v1/order", auth)
	if w.Code != http.StatusOK {
		t.Fatalf("order: %d %s", w.Code, w.Body)
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("order Cache-Control %q", cc)
	}
	var raw map[string]json.RawMessage
	_ = json.Unmarshal(w.Body.Bytes(), &raw)
	for _, f := range []string{"ref", "status", "product", "quantity", "amount_minor", "currency", "tier", "items", "after_sales"} {
		if raw[f] == nil {
			t.Errorf("order lacks %q", f)
		}
	}
	o = orderJSON{}
	_ = json.Unmarshal(w.Body.Bytes(), &o)
	if o.Status != "delivered" || len(o.Items) != 1 || (o.Items[0].Key != "K1" && o.Items[0].Key != "K2") || o.Product != p.ID {
		t.Fatalf("delivered order: %s", w.Body)
	}
	if o.AfterSales.WindowEnds == nil || o.AfterSales.Tickets == nil {
		t.Errorf("after_sales: %s", raw["after_sales"])
	}

	unknown, _ := crypto.NewToken()
	for _, c := range []struct {
		name   string
		header map[string]string
		status int
		code   string
	}{
		{"typo", map[string]string{"Authorization": "Bearer " + typo(token)}, 400, "token_malformed"},
		{"unknown", map[string]string{"Authorization": "Bearer " + unknown.String()}, 404, "order_not_found"},
		{"garbage", map[string]string{"Authorization": "Bearer !!"}, 400, "token_malformed"},
		{"no header", nil, 401, "unauthenticated"},
		{"basic", map[string]string{"Authorization": "Basic " + token}, 401, "unauthenticated"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := e.get(t, "/api/v1/order", c.header)
			wantErrorJSON(t, w, c.status, c.code)
			if strings.Contains(w.Body.String(), token) || strings.Contains(w.Body.String(), typo(token)) {
				t.Error("the error repeats the token")
			}
		})
	}
}

// TestAPIErrors checks status, code and the exact error shape.
func TestAPIErrors(t *testing.T) {
	e := newEnv(t, nil)
	e.addProduct(t, "card", "K1")
	e.addProduct(t, "empty")
	big := `{"product":"card","quantity":1,"proofs":["` + strings.Repeat("A", web.MaxBody) + `"]}`

	for _, c := range []struct {
		name, method, target, body string
		status                     int
		code                       string
	}{
		{"unknown product", "POST", "/api/v1/orders", `{"product":"nope","quantity":1}`, 404, "product_not_found"},
		{"out of stock", "POST", "/api/v1/orders", `{"product":"empty","quantity":1}`, 409, "out_of_stock"},
		{"more than stock", "POST", "/api/v1/orders", `{"product":"card","quantity":2}`, 409, "out_of_stock"},
		{"malformed", "POST", "/api/v1/orders", `{"product":`, 400, "bad_request"},
		{"not an object", "POST", "/api/v1/orders", `[1,2]`, 400, "bad_request"},
		{"empty body", "POST", "/api/v1/orders", ``, 400, "bad_request"},
		{"trailing data", "POST", "/api/v1/orders", `{"product":"card"} {}`, 400, "bad_request"},
		{"quantity as string", "POST", "/api/v1/orders", `{"product":"card","quantity":"1"}`, 400, "bad_request"},
		{"quantity fraction", "POST", "/api/v1/orders", `{"product":"card","quantity":1.5}`, 400, "bad_request"},
		{"quantity zero", "POST", "/api/v1/orders", `{"product":"card","quantity":0}`, 400, "bad_request"},
		{"quantity over max", "POST", "/api/v1/orders", `{"product":"card","quantity":11}`, 400, "bad_request"},
		{"no product", "POST", "/api/v1/orders", `{"quantity":1}`, 400, "bad_request"},
		{"too large", "POST", "/api/v1/orders", big, 413, "body_too_large"},
		{"pay unknown ref", "POST", "/api/v1/pay/demo", `{"ref":"R-ZZZZZZZZ"}`, 404, "order_not_found"},
		{"pay no ref", "POST", "/api/v1/pay/demo", `{}`, 400, "bad_request"},
		{"unknown route", "GET", "/api/v1/nope", ``, 404, "not_found"},
		{"wrong method", "DELETE", "/api/v1/orders", ``, 405, "method_not_allowed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := e.do(t, req{method: c.method, target: c.target, body: c.body, ctype: "application/json"})
			wantErrorJSON(t, w, c.status, c.code)
		})
	}

	t.Run("input error message", func(t *testing.T) {
		w := e.postJSON(t, "/api/v1/orders", `{"product":"card","quantity":0}`)
		if !strings.Contains(w.Body.String(), "quantity") {
			t.Errorf("message does not say what is wrong: %s", w.Body)
		}
	})
	t.Run("form too large", func(t *testing.T) {
		w := e.postForm(t, "/order?lang=en", url.Values{"token": {strings.Repeat("A", web.MaxBody)}})
		if w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(w.Body.String(), "body_too_large") {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		checkHTML(t, w)
	})
}

func TestDemoPaymentsOff(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.DemoPayments = false })
	p := e.addProduct(t, "card", "K1")
	oc := e.placeAPI(t, p.ID, 1)
	wantErrorJSON(t, e.postJSON(t, "/api/v1/pay/demo", `{"ref":"`+oc.Ref+`"}`), 404, "not_found")
	if w := e.get(t, "/pay/demo?ref="+oc.Ref, nil); w.Code != http.StatusNotFound {
		t.Errorf("GET /pay/demo: %d", w.Code)
	}
	if o, err := e.shop.OrderByRef(oc.Ref); err != nil || o.Status != shop.StatusPending {
		t.Errorf("order %v %v", o.Status, err)
	}
}

func TestNewNeedsPayments(t *testing.T) {
	e := newEnv(t, nil)
	if _, err := New(Config{Shop: e.shop}); err == nil {
		t.Error("New without payments and demo off succeeded")
	}
	if _, err := New(Config{}); err == nil {
		t.Error("New without a shop succeeded")
	}
	if _, err := New(Config{Shop: e.shop, DemoPayments: true}); err != nil {
		t.Errorf("New with demo payments: %v", err)
	}
	var _ pay.Provider = pay.Demo{}
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RateLimit = 3 })
	for i := range 3 {
		if w := e.do(t, req{method: "GET", target: "/api/v1/products", remote: "192.0.2.1:1000"}); w.Code != 200 {
			t.Fatalf("request %d: %d", i, w.Code)
		}
	}
	w := e.do(t, req{method: "GET", target: "/api/v1/products", remote: "192.0.2.1:2000"})
	wantErrorJSON(t, w, http.StatusTooManyRequests, "rate_limited")
	if ra := w.Header().Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After %q", ra)
	}
	// Pages get a page.
	w = e.do(t, req{method: "GET", target: "/?lang=en", remote: "192.0.2.1:3000"})
	if w.Code != http.StatusTooManyRequests || !strings.Contains(w.Body.String(), "Slow down") {
		t.Errorf("page: %d", w.Code)
	}
	// Another address has its own budget; static files are not counted.
	if w := e.do(t, req{method: "GET", target: "/api/v1/products", remote: "198.51.100.7:1000"}); w.Code != 200 {
		t.Errorf("other address: %d", w.Code)
	}
	if w := e.do(t, req{method: "GET", target: static.Path("veil.css"), remote: "192.0.2.1:4000"}); w.Code != 200 {
		t.Errorf("static: %d", w.Code)
	}
	if strings.Contains(e.logs.String(), "192.0.2.1") {
		t.Error("an address reached the logs")
	}
}

func TestSecurityHeadersEverywhere(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.BehindTLS = true })
	for _, target := range []string{"/", "/order", "/api/v1/products", "/nowhere", "/api/v1/nope", static.Path("veil.css"), static.Path("veil.js")} {
		w := e.get(t, target, nil)
		h := w.Header()
		for k, v := range map[string]string{
			"X-Content-Type-Options":     "nosniff",
			"Referrer-Policy":            "no-referrer",
			"X-Frame-Options":            "DENY",
			"Cross-Origin-Opener-Policy": "same-origin",
		} {
			if h.Get(k) != v {
				t.Errorf("%s: %s = %q", target, k, h.Get(k))
			}
		}
		checkCSP(t, h.Get("Content-Security-Policy"))
		if h.Get("Strict-Transport-Security") == "" {
			t.Errorf("%s: no HSTS behind TLS", target)
		}
		if len(w.Result().Cookies()) > 0 {
			t.Errorf("%s sets a cookie", target)
		}
	}
	if cc := e.get(t, static.Path("veil.css"), nil).Header().Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
		t.Errorf("static Cache-Control %q", cc)
	}
}

func TestHeadAnswersLikeGet(t *testing.T) {
	e := newEnv(t, nil)
	for _, target := range []string{"/", "/order", "/api/v1/products"} {
		w := e.do(t, req{method: http.MethodHead, target: target})
		if w.Code != http.StatusOK {
			t.Errorf("HEAD %s: %d", target, w.Code)
		}
	}
}
