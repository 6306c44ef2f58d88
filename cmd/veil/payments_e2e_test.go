package main

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	usdtToken  = "epusdt-e2e-api-token-0123456789"
	usdtWallet = "TXw4LletE2EWalletAddress0000000001"
)

// fakeEpusdt is the far side of an epusdt-compatible gateway: it checks
// the shop's create-transaction call (signature written out here again,
// not taken from the code under test) and answers like epusdt does.
type fakeEpusdt struct {
	t     *testing.T
	srv   *httptest.Server
	fail  atomic.Bool // answer create-transaction with an error
	mu    sync.Mutex
	calls []map[string]any // the bodies the shop sent
}

// usdtSign is the epusdt signature: the non-empty fields but signature,
// sorted by name, k=v joined by &, the token appended, lowercase hex MD5.
func usdtSign(fields map[string]string, token string) string {
	var keys []string
	for k, v := range fields {
		if k != "signature" && v != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"="+fields[k])
	}
	sum := md5.Sum([]byte(strings.Join(parts, "&") + token))
	return hex.EncodeToString(sum[:])
}

func newFakeEpusdt(t *testing.T) *fakeEpusdt {
	g := &fakeEpusdt{t: t}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/order/create-transaction" {
			http.NotFound(w, r)
			return
		}
		raw, _ := io.ReadAll(r.Body)
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.UseNumber()
		var body map[string]any
		if err := dec.Decode(&body); err != nil {
			http.Error(w, "bad json", http.StatusBadRequest)
			return
		}
		g.mu.Lock()
		g.calls = append(g.calls, body)
		g.mu.Unlock()
		fields := map[string]string{}
		for k, v := range body {
			fields[k] = fmt.Sprint(v)
		}
		w.Header().Set("Content-Type", "application/json")
		if fields["signature"] != usdtSign(fields, usdtToken) {
			fmt.Fprint(w, `{"status_code":401,"message":"signature verification failed"}`)
			return
		}
		if g.fail.Load() {
			http.Error(w, `{"status_code":500,"message":"chain node down"}`, http.StatusInternalServerError)
			return
		}
		ref := fields["order_id"]
		out := map[string]any{"status_code": 200, "message": "success", "data": map[string]any{
			"trade_id": "T" + ref[2:], "order_id": ref, "amount": json.Number(fields["amount"]),
			"actual_amount": json.Number("1.3888"), "token": usdtWallet,
			"expiration_time": time.Now().Add(10 * time.Minute).Unix(),
			"payment_url":     g.srv.URL + "/pay/checkout-counter/T" + ref[2:],
		}}
		_ = json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

// TestPaymentsE2E runs the real binary with two providers on (epusdt
// first, demo second) against a fake epusdt gateway: the buyer picks each
// through the API and the product form; a gateway failure leaves no order
// holding stock; the epusdt notify delivers on a signed paid callback,
// exactly once, and nothing on forged, unpaid, wrong-amount or cross-order
// callbacks.
func TestPaymentsE2E(t *testing.T) {
	bin := buildVeil(t)
	gw := newFakeEpusdt(t)
	const password = "payments test owner password"
	shop := initVeil(t, bin, password, "payments test vault passphrase", map[string]string{"usdt-token": usdtToken})
	data, ppFile, tokFile, ini := shop.data, shop.ppFile, shop.file("usdt-token"), shop.ini
	addr := freeAddr(t)
	base := "http://" + addr
	srv := startVeil(t, bin, base, "serve", "--data", data, "--addr", addr, "--passphrase-file", ppFile,
		"--payments", "epusdt,demo", "--epusdt-url", gw.srv.URL, "--epusdt-token-file", tokFile,
		"--public-url", base, "--rate-limit", "0")
	owner := signIn(t, base, "owner", password, ini.TOTPSecret)
	var keys []string
	for i := range 20 {
		keys = append(keys, fmt.Sprintf("USDT-E2E-KEY-%02d", i))
	}
	m := &moneyShop{t: t, base: base, hc: &http.Client{Timeout: 20 * time.Second}, owner: owner}
	m.product("usdt", `{"window_hours":24,"remedies":["replace"]}`, keys...)
	hc := m.hc

	post := func(body string) (int, map[string]any) {
		t.Helper()
		resp, err := hc.Post(base+"/api/v1/orders", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var v map[string]any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("POST /api/v1/orders: %d %s", resp.StatusCode, raw)
		}
		return resp.StatusCode, v
	}
	errCode := func(v map[string]any) string {
		e, _ := v["error"].(map[string]any)
		c, _ := e["code"].(string)
		return c
	}
	order := func(v map[string]any) (buyerOrder, string, string) {
		p, _ := v["payment"].(map[string]any)
		prov, _ := p["provider"].(string)
		u, _ := p["url"].(string)
		amt, _ := v["amount_minor"].(float64)
		return buyerOrder{Token: v["token"].(string), Ref: v["ref"].(string), Amount: int64(amt)}, prov, u
	}
	inStock := func() int {
		t.Helper()
		resp, err := hc.Get(base + "/api/v1/products")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v struct {
			Products []struct {
				Slug    string
				InStock int `json:"in_stock"`
			}
		}
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			t.Fatal(err)
		}
		for _, p := range v.Products {
			if p.Slug == "usdt" {
				return p.InStock
			}
		}
		t.Fatal("product usdt not listed")
		return 0
	}
	notify := func(fields map[string]any, sign bool) string {
		t.Helper()
		if sign {
			text := map[string]string{}
			for k, v := range fields {
				text[k] = fmt.Sprint(v)
			}
			fields["signature"] = usdtSign(text, usdtToken)
		}
		b, _ := json.Marshal(fields)
		resp, err := hc.Post(base+"/pay/epusdt/notify", "application/json", strings.NewReader(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Sprintf("HTTP %d", resp.StatusCode)
		}
		return string(raw)
	}
	paid := func(o buyerOrder, trade string, amount json.Number, status int) map[string]any {
		return map[string]any{"trade_id": trade, "order_id": o.Ref, "amount": amount,
			"actual_amount": json.Number("1.3888"), "token": usdtWallet,
			"block_transaction_id": "0xblock" + trade, "status": status}
	}

	// The console dashboard names the providers on, in order.
	dreq, _ := http.NewRequest(http.MethodGet, base+"/admin?lang=en", nil)
	dresp, err := owner.c.Do(dreq)
	if err != nil {
		t.Fatal(err)
	}
	dash, _ := io.ReadAll(dresp.Body)
	dresp.Body.Close()
	if want := `<p id="payments-on">USDT (TRC-20) · Demo (no money moves)</p>`; !strings.Contains(string(dash), want) {
		t.Fatalf("dashboard (%d) lacks %q", dresp.StatusCode, want)
	}

	// The product form offers both providers, epusdt (the default) checked.
	resp, err := hc.Get(base + "/p/usdt?lang=en")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`name="pay_with" value="epusdt" checked`, `name="pay_with" value="demo">`} {
		if !strings.Contains(string(page), want) {
			t.Fatalf("product page lacks %q", want)
		}
	}

	// A provider that is not on: 400 bad_request, nothing reserved.
	if st, v := post(`{"product":"usdt","quantity":1,"pay_with":"epay"}`); st != http.StatusBadRequest || errCode(v) != "bad_request" {
		t.Fatalf("pay_with epay: %d %v", st, v)
	}
	if n := inStock(); n != 20 {
		t.Fatalf("in stock after a refused pay_with: %d, want 20", n)
	}

	// The default: epusdt, created at the gateway with the exact amount.
	st, v := post(`{"product":"usdt","quantity":1}`)
	if st != http.StatusCreated {
		t.Fatalf("order: %d %v", st, v)
	}
	a, prov, payURL := order(v)
	if prov != "epusdt" || payURL != gw.srv.URL+"/pay/checkout-counter/T"+a.Ref[2:] {
		t.Fatalf("default payment: %s %s", prov, payURL)
	}
	gw.mu.Lock()
	last := gw.calls[len(gw.calls)-1]
	gw.mu.Unlock()
	if last["order_id"] != a.Ref || fmt.Sprint(last["amount"]) != "9.9" || last["notify_url"] != base+"/pay/epusdt/notify" {
		t.Fatalf("create-transaction body: %v", last)
	}
	// The order page shows the USDT amount, the wallet and the payment link.
	op := m.form("/order", url.Values{"token": {a.Token}})
	for _, want := range []string{"1.3888 USDT", usdtWallet, payURL} {
		if !strings.Contains(op, want) {
			t.Fatalf("order page lacks %q", want)
		}
	}

	// The buyer picks demo: the answer names it, and paying delivers.
	st, v = post(`{"product":"usdt","quantity":1,"pay_with":"demo"}`)
	if st != http.StatusCreated {
		t.Fatalf("demo order: %d %v", st, v)
	}
	d, prov, payURL := order(v)
	if prov != "demo" || payURL != "/pay/demo?ref="+d.Ref {
		t.Fatalf("demo payment: %s %s", prov, payURL)
	}
	resp, err = hc.Post(base+"/api/v1/pay/demo", "application/json", strings.NewReader(`{"ref":"`+d.Ref+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := m.view(d); got.Status != "delivered" || len(got.Items) != 1 {
		t.Fatalf("demo order after paying: %+v", got)
	}

	// The product form's radio choice: epusdt shows the invoice on the
	// token page, demo the demo payment page.
	tp := m.form("/checkout", url.Values{"product": {"usdt"}, "quantity": {"1"}, "pay_with": {"epusdt"}})
	if !strings.Contains(tp, usdtWallet) || !strings.Contains(tp, gw.srv.URL+"/pay/checkout-counter/") {
		t.Fatal("token page after choosing epusdt shows no invoice")
	}
	tp = m.form("/checkout", url.Values{"product": {"usdt"}, "quantity": {"1"}, "pay_with": {"demo"}})
	if !strings.Contains(tp, "/pay/demo?ref=") || strings.Contains(tp, usdtWallet) {
		t.Fatal("token page after choosing demo does not lead to the demo payment")
	}

	// A gateway failure: 502 gateway_error, and the stock is back at once.
	before := inStock()
	gw.fail.Store(true)
	if st, v := post(`{"product":"usdt","quantity":1,"pay_with":"epusdt"}`); st != http.StatusBadGateway || errCode(v) != "gateway_error" {
		t.Fatalf("gateway down: %d %v", st, v)
	}
	gw.fail.Store(false)
	if n := inStock(); n != before {
		t.Fatalf("in stock after a gateway failure: %d, want %d", n, before)
	}

	// Callbacks on order a.
	cases := []struct {
		name   string
		fields map[string]any
		sign   bool
	}{
		{"forged signature", paid(a, "T-forged", "9.9", 2), false},
		{"waiting (status 1)", paid(a, "T-wait", "9.9", 1), true},
		{"expired (status 3)", paid(a, "T-exp", "9.9", 3), true},
	}
	for _, c := range cases {
		if c.name == "forged signature" {
			c.fields["signature"] = strings.Repeat("0", 32)
		}
		if got := notify(c.fields, c.sign); got != "fail" {
			t.Fatalf("%s: answered %q", c.name, got)
		}
		if got := m.view(a); got.Status != "pending_payment" || len(got.Items) != 0 {
			t.Fatalf("%s: order is %+v", c.name, got)
		}
	}
	if got := notify(map[string]any{"pad": strings.Repeat("x", 9<<10)}, false); got == "ok" {
		t.Fatal("an oversized notify was accepted")
	}
	// Signed and paid: delivered, "ok"; the replay changes nothing.
	for i := range 2 {
		if got := notify(paid(a, "T-A", "9.9", 2), true); got != "ok" {
			t.Fatalf("paid notify #%d: %q", i+1, got)
		}
		if got := m.view(a); got.Status != "delivered" || len(got.Items) != 1 {
			t.Fatalf("after paid notify #%d: %+v", i+1, got)
		}
	}
	// Cross-order: the same trade presented for another order pays nothing.
	st, v = post(`{"product":"usdt","quantity":1,"pay_with":"epusdt"}`)
	if st != http.StatusCreated {
		t.Fatalf("order: %d %v", st, v)
	}
	c, _, _ := order(v)
	if got := notify(paid(c, "T-A", "9.9", 2), true); got == "ok" {
		t.Fatal("a trade already paying another order was accepted")
	}
	if got := m.view(c); got.Status != "pending_payment" {
		t.Fatalf("cross-order notify: %+v", got)
	}
	// Wrong amount (underpaid): held for staff, no key, "ok" (durable).
	if got := notify(paid(c, "T-C", "9.8", 2), true); got != "ok" {
		t.Fatalf("underpaid notify: %q", got)
	}
	if got := m.view(c); got.Status != "payment_held" || len(got.Items) != 0 || strings.Contains(got.raw, "USDT-E2E-KEY") {
		t.Fatalf("underpaid order: %+v", got)
	}

	if err := srv.stop(); err != nil {
		t.Errorf("shutdown: %v\n%s", err, srv.stderr)
	}
	logs := srv.stderr.String()
	if bad := badLines(logs); len(bad) > 0 {
		t.Errorf("the server logged:\n%s", strings.Join(bad, "\n"))
	}
	for _, secret := range []string{usdtToken, a.Token, c.Token} {
		if strings.Contains(logs, secret) {
			t.Errorf("the log holds a secret %q", secret)
		}
	}
}
