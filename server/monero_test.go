package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"veil/server/pay"
	"veil/server/shop"
	"veil/server/staff"
)

// fakeXMRWallet is the far side of monero-wallet-rpc only: subaddresses
// and the incoming transfers a test puts on them.
type fakeXMRWallet struct {
	mu        sync.Mutex
	next      uint32
	labels    map[uint32]string
	transfers map[uint32][]pay.Transfer
	down      bool
}

func newFakeXMRWallet(t *testing.T) (*fakeXMRWallet, *pay.MoneroWallet) {
	f := &fakeXMRWallet{next: 1, labels: map[uint32]string{}, transfers: map[uint32][]pay.Transfer{}}
	ts := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(ts.Close)
	w, err := pay.NewMoneroWallet(pay.MoneroWalletConfig{URL: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	return f, w
}

func fakeSubaddress(i uint32) string {
	return "8" + strings.Repeat("B", 93) + string(rune('a'+i))
}

func (f *fakeXMRWallet) serve(w http.ResponseWriter, r *http.Request) {
	var rq struct {
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
	}
	if err := json.NewDecoder(r.Body).Decode(&rq); err != nil {
		http.Error(w, "bad", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	var result any
	switch rq.Method {
	case "create_address":
		var p struct {
			Label string `json:"label"`
		}
		_ = json.Unmarshal(rq.Params, &p)
		i := f.next
		f.next++
		f.labels[i] = p.Label
		result = map[string]any{"address": fakeSubaddress(i), "address_index": i}
	case "get_height":
		result = map[string]any{"height": 1000}
	case "refresh":
		result = map[string]any{"blocks_fetched": 0}
	case "get_transfers":
		var p struct {
			Indices []uint32 `json:"subaddr_indices"`
		}
		_ = json.Unmarshal(rq.Params, &p)
		var in []map[string]any
		for _, i := range p.Indices {
			for _, t := range f.transfers[i] {
				in = append(in, map[string]any{"txid": t.TxID, "amount": t.Amount, "confirmations": t.Confirmations,
					"height": 990, "subaddr_index": map[string]any{"major": 0, "minor": i}})
			}
		}
		result = map[string]any{"in": in}
	default:
		http.Error(w, "unknown method", http.StatusNotFound)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"jsonrpc": "2.0", "id": "0", "result": result})
}

// pay puts a transfer of atomic piconero with confs confirmations on
// subaddress i.
func (f *fakeXMRWallet) pay(i uint32, txid string, atomic, confs uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.transfers[i] = append(f.transfers[i], pay.Transfer{TxID: txid, Amount: atomic, Confirmations: confs})
}

func (f *fakeXMRWallet) setDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
}

// moneroEnv is a console env whose shop takes demo and monero (2
// confirmations) over a fake wallet, with a movable shop and server clock.
func moneroEnv(t *testing.T) (*consoleEnv, *fakeXMRWallet, *consoleClock) {
	t.Helper()
	f, w := newFakeXMRWallet(t)
	clk := &consoleClock{t: time.Now().UTC()}
	e := newConsoleEnvWith(t, clk.Now, func(c *Config) {
		c.Providers = []pay.Provider{pay.Demo{}, MoneroRail{Monero: pay.NewMonero(w, 2)}}
		c.Now = clk.Now
	})
	return e, f, clk
}

func available(t *testing.T, e *consoleEnv, p shop.Product) int {
	t.Helper()
	bs, err := e.shop.Stock(p.ID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, b := range bs {
		n += b.Available
	}
	return n
}

// setXMRRate sets 1 XMR = 1200.00 CNY through the settings approval.
func setXMRRate(t *testing.T, e *consoleEnv, body string) *httptest.ResponseRecorder {
	t.Helper()
	olga := e.login("olga")
	e.next()
	return e.api(olga, http.MethodPost, "/api/v1/admin/settings", `{"xmr_rate":`+body+`,"totp":"`+e.code("olga")+`"}`)
}

func TestMoneroRateSettingAndOrderPage(t *testing.T) {
	e, f, _ := moneroEnv(t)
	p := e.addProduct(t, "xmr-card", "KEY-A", "KEY-B")

	// No rate yet: 409 xmr_rate_unset, no stock held, no subaddress made.
	w := e.postJSON(t, "/api/v1/orders", `{"product":"xmr-card","quantity":1,"pay_with":"monero"}`)
	wantErrorJSON(t, w, http.StatusConflict, "xmr_rate_unset")
	if n := available(t, e, p); n != 2 {
		t.Fatalf("available %d after a refused order, want 2", n)
	}
	if f.next != 1 {
		t.Fatalf("a subaddress was created for a refused order")
	}
	// …and no order placed (not even one abandoned at once).
	if orders, _, err := e.shop.Orders(shop.OrderFilter{}, "", 10); err != nil || len(orders) != 0 {
		t.Fatalf("%d orders after a refused one (%v)", len(orders), err)
	}

	// Bad rates are refused before any approval.
	for _, bad := range []string{`{}`, `{"cny":100}`, `{"CNY":-1}`, `{"CNY":1000000000001}`, `{"C1Y":5}`} {
		if w := setXMRRate(t, e, bad); w.Code != http.StatusBadRequest {
			t.Fatalf("xmr_rate %s: %d %s", bad, w.Code, w.Body)
		}
	}
	if w := setXMRRate(t, e, `{"CNY":120000}`); w.Code != http.StatusOK {
		t.Fatalf("xmr_rate: %d %s", w.Code, w.Body)
	}
	if n := e.auditCount(staff.ActionApprovalApprove, ""); n == 0 {
		t.Fatal("the rate setting was not audited")
	}
	var got struct {
		XMRRate map[string]int64 `json:"xmr_rate"`
	}
	e.next()
	decode(t, e.api(e.login("olga"), http.MethodGet, "/api/v1/admin/settings", ""), &got)
	if len(got.XMRRate) != 1 || got.XMRRate["CNY"] != 120000 {
		t.Fatalf("settings answer xmr_rate %v", got.XMRRate)
	}

	w = e.postJSON(t, "/api/v1/orders", `{"product":"xmr-card","quantity":1,"pay_with":"monero"}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("monero order: %d %s", w.Code, w.Body)
	}
	var oc orderCreated
	decode(t, w, &oc)
	// 9.90 CNY at 1200.00 CNY/XMR = 0.00825 XMR.
	wantURI := "monero:" + fakeSubaddress(1) + "?tx_amount=0.00825"
	if oc.Payment.Provider != "monero" || oc.Payment.URL != wantURI {
		t.Fatalf("payment %+v, want %s", oc.Payment, wantURI)
	}
	o, err := e.shop.OrderByRef(oc.Ref)
	if err != nil {
		t.Fatal(err)
	}
	if inv := o.Invoice; inv == nil || inv.Index != 1 || inv.Atomic != 8_250_000_000 || inv.Address != fakeSubaddress(1) || inv.Unit != "XMR" || inv.TradeID != "xmr-1" {
		t.Fatalf("invoice %+v", o.Invoice)
	}
	if f.labels[1] != oc.Ref {
		t.Fatalf("subaddress label %q, want the order ref", f.labels[1])
	}

	// The order page shows the address, the amount, the URI as a link and
	// the QR code drawn as inline SVG, under the strict CSP.
	pw := e.postForm(t, "/order", url.Values{"token": {oc.Token}})
	if pw.Code != http.StatusOK {
		t.Fatalf("order page: %d", pw.Code)
	}
	body := pw.Body.String()
	for _, want := range []string{fakeSubaddress(1), "0.00825 XMR", `href="` + wantURI + `"`, "<svg"} {
		if !strings.Contains(body, want) {
			t.Fatalf("order page lacks %q", want)
		}
	}
	if strings.Contains(body, "style=") {
		t.Fatal("the order page carries a style attribute the CSP would block")
	}
	checkCSP(t, pw.Header().Get("Content-Security-Policy"))

	// The token page after the checkout form shows the same, and no pay
	// button (a monero: link is not a page to go to).
	tw := e.postForm(t, "/checkout?lang=zh-CN", url.Values{"product": {"xmr-card"}, "quantity": {"1"}, "pay_with": {"monero"}})
	if tw.Code != http.StatusOK {
		t.Fatalf("checkout: %d %s", tw.Code, tw.Body)
	}
	body = tw.Body.String()
	uri2 := "monero:" + fakeSubaddress(2) + "?tx_amount=0.00825"
	for _, want := range []string{fakeSubaddress(2), "0.00825 XMR", `href="` + uri2 + `"`, "<svg", "门罗币钱包"} {
		if !strings.Contains(body, want) {
			t.Fatalf("token page lacks %q", want)
		}
	}
	if strings.Contains(body, "ZgotmplZ") || strings.Contains(body, "style=") {
		t.Fatal("token page: an unsafe link or a style attribute")
	}
}

func TestMoneroWalletDownAbandons(t *testing.T) {
	e, f, _ := moneroEnv(t)
	p := e.addProduct(t, "xmr-card", "KEY-A")
	if w := setXMRRate(t, e, `{"CNY":120000}`); w.Code != http.StatusOK {
		t.Fatalf("xmr_rate: %d %s", w.Code, w.Body)
	}
	f.setDown(true)
	w := e.postJSON(t, "/api/v1/orders", `{"product":"xmr-card","quantity":1,"pay_with":"monero"}`)
	wantErrorJSON(t, w, http.StatusBadGateway, "gateway_error")
	if n := available(t, e, p); n != 1 {
		t.Fatalf("available %d after a wallet failure, want 1", n)
	}
}

// placeXMR places a monero order of p and returns it.
func placeXMR(t *testing.T, e *consoleEnv, slug string) (orderCreated, shop.Order) {
	t.Helper()
	w := e.postJSON(t, "/api/v1/orders", `{"product":"`+slug+`","quantity":1,"pay_with":"monero"}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("monero order: %d %s", w.Code, w.Body)
	}
	var oc orderCreated
	decode(t, w, &oc)
	o, err := e.shop.OrderByRef(oc.Ref)
	if err != nil {
		t.Fatal(err)
	}
	return oc, o
}

func watch(t *testing.T, e *consoleEnv) {
	t.Helper()
	if err := e.srv.WatchMonero(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func orderStatus(t *testing.T, e *consoleEnv, ref string) shop.Status {
	t.Helper()
	o, err := e.shop.OrderByRef(ref)
	if err != nil {
		t.Fatal(err)
	}
	return o.Status
}

func TestMoneroWatcher(t *testing.T) {
	e, f, clk := moneroEnv(t)
	e.addProduct(t, "xmr-card", "KEY-A", "KEY-B", "KEY-C", "KEY-D", "KEY-E")
	if w := setXMRRate(t, e, `{"CNY":120000}`); w.Code != http.StatusOK {
		t.Fatalf("xmr_rate: %d %s", w.Code, w.Body)
	}
	const due = 8_250_000_000

	exact, oExact := placeXMR(t, e, "xmr-card")
	over, oOver := placeXMR(t, e, "xmr-card")
	under, oUnder := placeXMR(t, e, "xmr-card")
	late, oLate := placeXMR(t, e, "xmr-card")

	// Unconfirmed (1 of 2) counts for nothing yet.
	f.pay(oExact.Invoice.Index, "t1", due, 1)
	watch(t, e)
	if s := orderStatus(t, e, exact.Ref); s != shop.StatusPending {
		t.Fatalf("exact order %s with one confirmation", s)
	}
	// A wallet outage delays and changes nothing.
	f.pay(oExact.Invoice.Index, "t1", due, 2)
	f.setDown(true)
	if err := e.srv.WatchMonero(context.Background()); err == nil {
		t.Fatal("WatchMonero: no error with the wallet down")
	}
	if s := orderStatus(t, e, exact.Ref); s != shop.StatusPending {
		t.Fatalf("exact order %s during an outage", s)
	}
	f.setDown(false)

	f.pay(oOver.Invoice.Index, "t2", due, 5)
	f.pay(oOver.Invoice.Index, "t3", due/2, 5) // worth 4.95 CNY more
	f.pay(oUnder.Invoice.Index, "t4", due/3, 5)
	watch(t, e)
	watch(t, e) // a second tick never applies twice
	if s := orderStatus(t, e, exact.Ref); s != shop.StatusDelivered {
		t.Fatalf("exact order %s, want delivered", s)
	}
	if s := orderStatus(t, e, over.Ref); s != shop.StatusDelivered {
		t.Fatalf("overpaid order %s, want delivered", s)
	}
	recs, err := e.shop.Payments(over.Ref)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Payment.AmountMinor+recs[1].Payment.AmountMinor != 990+495 {
		t.Fatalf("overpaid order's payments %+v", recs)
	}
	owed, err := e.shop.OwedPaymentOf(over.Ref, "monero", "xmr-"+itoa(int(oOver.Invoice.Index))+"-excess")
	if err != nil || owed.Payment.AmountMinor != 495 {
		t.Fatalf("excess owed %+v %v", owed, err)
	}
	recs, err = e.shop.Payments(exact.Ref)
	if err != nil || len(recs) != 1 || recs[0].Payment.TradeNo != "xmr-"+itoa(int(oExact.Invoice.Index)) {
		t.Fatalf("exact order's payments %+v %v", recs, err)
	}
	// Under the amount while the window is open: wait for the rest.
	if s := orderStatus(t, e, under.Ref); s != shop.StatusPending {
		t.Fatalf("underpaid order %s before expiry, want pending", s)
	}

	// The window closes: the underpayment is held, the unpaid order
	// expires, and its payment arriving late follows the late rule.
	clk.Add(oUnder.ExpiresAt.Sub(clk.Now()) + time.Minute)
	if _, err := e.shop.Sweep(); err != nil {
		t.Fatal(err)
	}
	watch(t, e)
	if s := orderStatus(t, e, under.Ref); s != shop.StatusPaymentHeld {
		t.Fatalf("underpaid order %s after expiry, want payment_held", s)
	}
	recs, err = e.shop.Payments(under.Ref)
	if err != nil || len(recs) != 1 || recs[0].Payment.AmountMinor != 330 {
		t.Fatalf("underpaid order's payments %+v %v", recs, err)
	}
	if s := orderStatus(t, e, late.Ref); s != shop.StatusExpired {
		t.Fatalf("unpaid order %s after expiry", s)
	}
	f.pay(oLate.Invoice.Index, "t5", due, 3)
	watch(t, e)
	if s := orderStatus(t, e, late.Ref); s != shop.StatusDelivered {
		t.Fatalf("late-paid order %s, want delivered (stock left)", s)
	}
	watched, err := e.shop.MoneroWatched()
	if err != nil || len(watched) != 0 {
		t.Fatalf("still watched: %d %v", len(watched), err)
	}
}

// TestMoneroRateConsoleForm: with the rail on, the owner's staff page
// offers the XMR rate form (no JavaScript); a submission with a code is
// the settings approval, typed in major units; a bad amount is 400 and
// changes nothing; without a code it only proposes.
func TestMoneroRateConsoleForm(t *testing.T) {
	e, _, _ := moneroEnv(t)
	olga := e.login("olga")
	body := e.page(olga, "/admin/staff?lang=en").Body.String()
	if !strings.Contains(body, `name="xmr_rate"`) || !strings.Contains(body, "none — Monero orders are refused") {
		t.Fatal("staff page lacks the XMR rate form")
	}
	if w := e.form(olga, "/admin/settings?lang=en", url.Values{"form": {"xmr"}, "xmr_currency": {"CNY"}, "xmr_rate": {"12a0"}}); w.Code != http.StatusBadRequest {
		t.Fatalf("bad rate: %d", w.Code)
	}
	if w := e.form(olga, "/admin/settings?lang=en", url.Values{"form": {"xmr"}, "xmr_currency": {"CNY"}, "xmr_rate": {"1200.00"}}); w.Code != http.StatusSeeOther {
		t.Fatalf("proposal: %d %s", w.Code, w.Body)
	}
	if r, _ := e.shop.XMRRates(); len(r) != 0 {
		t.Fatalf("a proposal without a code set the rate: %v", r)
	}
	e.next()
	w := e.form(olga, "/admin/settings?lang=en", url.Values{"form": {"xmr"}, "xmr_currency": {"cny"}, "xmr_rate": {"1200.00"}, "totp": {e.code("olga")}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("rate form: %d %s", w.Code, w.Body)
	}
	if r, _ := e.shop.XMRRates(); len(r) != 1 || r["CNY"] != 120000 {
		t.Fatalf("rates %v", r)
	}
	if body := e.page(olga, "/admin/staff?lang=zh-CN").Body.String(); !strings.Contains(body, "CNY ¥1200.00") {
		t.Fatal("staff page does not show the rate in force")
	}
}
