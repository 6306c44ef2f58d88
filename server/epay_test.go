package server

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"veil/server/pay"
	"veil/server/shop"
	"veil/server/staff"
	"veil/server/store"
)

// The far side of the 易支付 gateway, as the tests play it: its merchant id
// and key, and its own signing code (written here from the protocol, not
// borrowed from package pay).
const (
	gwPID     = "1001"
	gwKey     = "gateway-merchant-key-2024"
	gwGateway = "https://gateway.example/submit.php"
	payPass   = "correct horse battery"
)

// payClock is the one clock of shop, staff and server in these tests.
type payClock struct{ ns atomic.Int64 }

func (c *payClock) Now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *payClock) Add(d time.Duration) { c.ns.Add(int64(d)) }

// payEnv is a real shop and staff service over a real Badger in a temp
// dir, and the real server over HTTP.
type payEnv struct {
	t       *testing.T
	clk     *payClock
	db      *store.DB
	shop    *shop.Shop
	staff   *staff.Service
	srv     *Server
	ts      *httptest.Server
	secrets map[string]string
}

func newPayEnv(t *testing.T, provider pay.Provider) *payEnv {
	t.Helper()
	clk := &payClock{}
	// Mid-step, so TOTP steps are unambiguous.
	clk.ns.Store(time.Date(2026, 11, 1, 12, 0, 10, 0, time.UTC).UnixNano())
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	sh, err := shop.New(db, shop.Config{VaultWorkFactor: 10, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sh.InitVault("test passphrase"); err != nil {
		t.Fatal(err)
	}
	st := staff.New(db, staff.Options{Now: clk.Now, Argon2: staff.Argon2Params{Time: 1, MemoryKiB: 256, Threads: 1}})
	srv, err := New(Config{
		Shop: sh, Staff: st, Payments: provider, Now: clk.Now,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &payEnv{t: t, clk: clk, db: db, shop: sh, staff: st, srv: srv, ts: ts, secrets: map[string]string{}}
}

func testEpayProvider(t *testing.T) *pay.Epay {
	t.Helper()
	p, err := pay.NewEpay(pay.EpayConfig{
		PID: gwPID, Key: gwKey, Gateway: gwGateway, Type: "alipay",
		NotifyURL: "https://shop.example/pay/epay/notify", ReturnURL: "https://shop.example/pay/epay/return",
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// product creates a ¥9.90 product with n keys.
func (e *payEnv) product(slug string, n int) shop.Product {
	e.t.Helper()
	p, err := e.shop.CreateProduct(shop.Product{
		Slug: slug, Name: shop.Text{"en": "Card " + slug, "zh-CN": "点卡 " + slug}, PriceMinor: 990, Currency: "CNY",
		Policy: shop.Policy{WindowHours: 72, Remedies: []shop.Remedy{shop.RemedyRefund}},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	if n > 0 {
		keys := make([]string, n)
		for i := range keys {
			keys[i] = fmt.Sprintf("%s-KEY-%04d-SECRET", strings.ToUpper(slug), i)
		}
		if _, err := e.shop.ImportKeys(p.ID, shop.BatchInfo{Supplier: "s"}, strings.NewReader(strings.Join(keys, "\n"))); err != nil {
			e.t.Fatal(err)
		}
	}
	return p
}

func (e *payEnv) place(p shop.Product, qty int) shop.Placed {
	e.t.Helper()
	pl, err := e.shop.PlaceOrder(p.ID, qty, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return pl
}

func (e *payEnv) stock(p shop.Product) int {
	e.t.Helper()
	p, err := e.shop.Product(p.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return p.InStock
}

// buyerView is the order as its token holder gets it over the API: the
// status and how many keys were delivered.
func (e *payEnv) buyerView(token string) (status string, keys int, notices []string) {
	e.t.Helper()
	rq, _ := http.NewRequest(http.MethodGet, e.ts.URL+"/api/v1/order", nil)
	rq.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(rq)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct {
		Status  string            `json:"status"`
		Items   []json.RawMessage `json:"items"`
		Notices []struct {
			Code string `json:"code"`
		} `json:"notices"`
	}
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET /api/v1/order: %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		e.t.Fatal(err)
	}
	for _, n := range v.Notices {
		notices = append(notices, n.Code)
	}
	return v.Status, len(v.Items), notices
}

func (e *payEnv) want(token string, status shop.Status, keys int) {
	e.t.Helper()
	got, n, _ := e.buyerView(token)
	if got != string(status) || n != keys {
		e.t.Fatalf("order is %s with %d keys, want %s with %d", got, n, status, keys)
	}
}

// gwSign is the gateway's signature: the non-empty parameters but sign
// and sign_type, sorted, k=v joined by &, the key appended, MD5, hex.
func gwSign(p map[string]string, key string) string {
	var names []string
	for k, v := range p {
		if k != "sign" && k != "sign_type" && v != "" {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	var parts []string
	for _, k := range names {
		parts = append(parts, k+"="+p[k])
	}
	sum := md5.Sum([]byte(strings.Join(parts, "&") + key))
	return hex.EncodeToString(sum[:])
}

// gwNotify is the notify the gateway sends for a payment of money on o.
func gwNotify(o shop.Order, trade, money string) map[string]string {
	p := map[string]string{
		"pid": gwPID, "trade_no": trade, "out_trade_no": o.Ref, "type": "alipay",
		"name": o.Ref, "money": money, "trade_status": "TRADE_SUCCESS",
	}
	p["sign"] = gwSign(p, gwKey)
	p["sign_type"] = "MD5"
	return p
}

func encode(p map[string]string) string {
	v := url.Values{}
	for k, s := range p {
		v.Set(k, s)
	}
	return v.Encode()
}

// notify sends one notify; method GET puts it in the query, POST in a
// form body (or, with ctype set, in a body of that type). It fails the
// test on any error, so it runs only on the test's goroutine; other
// goroutines use tryNotify.
func (e *payEnv) notify(method, query, ctype, body string) string {
	e.t.Helper()
	got, err := e.tryNotify(method, query, ctype, body)
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

// tryNotify is notify returning its failure (transport error, a status
// other than 200) instead of failing the test.
func (e *payEnv) tryNotify(method, query, ctype, body string) (string, error) {
	target := e.ts.URL + "/pay/epay/notify"
	if query != "" {
		target += "?" + query
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	rq, err := http.NewRequest(method, target, rd)
	if err != nil {
		return "", err
	}
	if body != "" {
		if ctype == "" {
			ctype = "application/x-www-form-urlencoded"
		}
		rq.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(rq)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("notify answered %d %q", resp.StatusCode, b)
	}
	return string(b), nil
}

// owed returns the trade numbers the shop records as owed back to the
// buyer of order ref (second payments, payments after a refund).
func (e *payEnv) owed(ref string) []string {
	e.t.Helper()
	all, err := e.shop.OwedPayments()
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, r := range all {
		if r.Ref == ref {
			out = append(out, r.Payment.TradeNo)
		}
	}
	return out
}

func TestEpayStartURL(t *testing.T) {
	e := newPayEnv(t, testEpayProvider(t))
	e.product("start", 1)
	resp, err := http.Post(e.ts.URL+"/api/v1/orders", "application/json", strings.NewReader(`{"product":"start","quantity":1}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var oc struct {
		Ref     string `json:"ref"`
		Payment struct {
			Provider string `json:"provider"`
			URL      string `json:"url"`
		} `json:"payment"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&oc); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("%d %v", resp.StatusCode, err)
	}
	u, err := url.Parse(oc.Payment.URL)
	if err != nil || oc.Payment.Provider != "epay" || !strings.HasPrefix(oc.Payment.URL, gwGateway+"?") {
		t.Fatalf("payment %+v", oc.Payment)
	}
	p := map[string]string{}
	for k, v := range u.Query() {
		if len(v) != 1 {
			t.Fatalf("%s repeated", k)
		}
		p[k] = v[0]
	}
	if p["out_trade_no"] != oc.Ref || p["money"] != "9.90" || p["pid"] != gwPID || p["sign_type"] != "MD5" ||
		p["type"] != "alipay" || p["notify_url"] == "" || p["return_url"] == "" || p["name"] == "" {
		t.Fatalf("params %v", p)
	}
	if p["sign"] != gwSign(p, gwKey) {
		t.Fatal("the gateway would refuse the submit URL's signature")
	}
}

// TestEpayNotify drives every notify case against its own fresh order and
// checks the answer, the order's exact state and its delivered keys.
func TestEpayNotify(t *testing.T) {
	e := newPayEnv(t, testEpayProvider(t))
	p := e.product("game", 40)
	// other is a second, pending ¥19.80 order: the target of replays.
	other := e.place(p, 2)

	with := func(o shop.Order, trade, money string, edit func(map[string]string)) map[string]string {
		n := gwNotify(o, trade, money)
		edit(n)
		return n
	}
	resign := func(n map[string]string) { n["sign"] = gwSign(n, gwKey) }

	type request struct{ method, query, ctype, body string }
	get := func(p map[string]string) request { return request{"GET", encode(p), "", ""} }
	post := func(p map[string]string) request { return request{"POST", "", "", encode(p)} }

	for _, tc := range []struct {
		name   string
		req    func(o shop.Order) request
		answer string
		status shop.Status
		keys   int
	}{
		{"good GET", func(o shop.Order) request { return get(gwNotify(o, "T1", "9.90")) }, "success", shop.StatusDelivered, 1},
		{"good POST form", func(o shop.Order) request { return post(gwNotify(o, "T2", "9.90")) }, "success", shop.StatusDelivered, 1},
		{"9.9 is 9.90 (990 fen)", func(o shop.Order) request { return get(gwNotify(o, "T3", "9.9")) }, "success", shop.StatusDelivered, 1},
		{"forged signature", func(o shop.Order) request {
			n := gwNotify(o, "T4", "9.90")
			n["sign"] = gwSign(n, "not-the-merchant-key")
			return get(n)
		}, "fail", shop.StatusPending, 0},
		{"sign true", func(o shop.Order) request {
			return get(with(o, "T5", "9.90", func(n map[string]string) { n["sign"] = "true" }))
		}, "fail", shop.StatusPending, 0},
		{"sign empty", func(o shop.Order) request {
			return get(with(o, "T6", "9.90", func(n map[string]string) { n["sign"] = "" }))
		}, "fail", shop.StatusPending, 0},
		{"sign missing", func(o shop.Order) request {
			return get(with(o, "T7", "9.90", func(n map[string]string) { delete(n, "sign") }))
		}, "fail", shop.StatusPending, 0},
		{"JSON body with boolean sign", func(o shop.Order) request {
			n := gwNotify(o, "T8", "9.90")
			m := map[string]any{}
			for k, v := range n {
				m[k] = v
			}
			m["sign"] = true
			b, _ := json.Marshal(m)
			return request{"POST", "", "application/json", string(b)}
		}, "fail", shop.StatusPending, 0},
		{"wrong pid, signed", func(o shop.Order) request {
			return get(with(o, "T9", "9.90", func(n map[string]string) { n["pid"] = "1002"; resign(n) }))
		}, "fail", shop.StatusPending, 0},
		{"trade_status WAIT_BUYER_PAY, signed", func(o shop.Order) request {
			return get(with(o, "T10", "9.90", func(n map[string]string) { n["trade_status"] = "WAIT_BUYER_PAY"; resign(n) }))
		}, "fail", shop.StatusPending, 0},
		{"trade_status TRADE_CLOSED, signed", func(o shop.Order) request {
			return post(with(o, "T11", "9.90", func(n map[string]string) { n["trade_status"] = "TRADE_CLOSED"; resign(n) }))
		}, "fail", shop.StatusPending, 0},
		{"three decimals, signed", func(o shop.Order) request { return get(gwNotify(o, "T12", "9.900")) }, "fail", shop.StatusPending, 0},
		{"leading plus, signed", func(o shop.Order) request { return get(gwNotify(o, "T13", "+9.90")) }, "fail", shop.StatusPending, 0},
		{"exponent, signed", func(o shop.Order) request { return get(gwNotify(o, "T14", "99e-1")) }, "fail", shop.StatusPending, 0},
		{"money changed after signing", func(o shop.Order) request {
			return get(with(o, "T15", "9.90", func(n map[string]string) { n["money"] = "0.01" }))
		}, "fail", shop.StatusPending, 0},
		{"array parameter money[]", func(o shop.Order) request {
			return request{"GET", encode(gwNotify(o, "T16", "9.90")) + "&money[]=0.01", "", ""}
		}, "fail", shop.StatusPending, 0},
		{"map parameter sign[x]", func(o shop.Order) request {
			n := gwNotify(o, "T17", "9.90")
			s := n["sign"]
			delete(n, "sign")
			return request{"GET", encode(n) + "&sign[x]=" + s, "", ""}
		}, "fail", shop.StatusPending, 0},
		{"repeated parameter", func(o shop.Order) request {
			return request{"GET", encode(gwNotify(o, "T18", "9.90")) + "&trade_status=TRADE_SUCCESS", "", ""}
		}, "fail", shop.StatusPending, 0},
		{"parameter in query and body", func(o shop.Order) request {
			n := gwNotify(o, "T19", "9.90")
			return request{"POST", encode(n), "", "out_trade_no=" + n["out_trade_no"]}
		}, "fail", shop.StatusPending, 0},
		{"A's notify replayed onto B's out_trade_no", func(o shop.Order) request {
			// A valid notify for o (this case's order, A)…
			n := gwNotify(o, "T20", "9.90")
			if got := e.notify("GET", encode(n), "", ""); got != "success" {
				t.Fatalf("A's own notify: %s", got)
			}
			// …replayed with B's ref: the signature covers out_trade_no.
			n["out_trade_no"] = other.Order.Ref
			return get(n)
		}, "fail", shop.StatusDelivered, 1}, // A was paid by its own notify, once
		{"A's notify with B's amount", func(o shop.Order) request {
			n := gwNotify(o, "T21", "9.90")
			n["money"] = "19.80"
			return get(n)
		}, "fail", shop.StatusPending, 0},
		{"wrong amount 9.89: held for staff", func(o shop.Order) request { return get(gwNotify(o, "T22", "9.89")) },
			"success", shop.StatusPaymentHeld, 0},
		{"unknown order, signed", func(o shop.Order) request {
			n := gwNotify(shop.Order{Ref: "R-ZZZZZZZZ"}, "T23", "9.90")
			return get(n)
		}, "fail", shop.StatusPending, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pl := e.place(p, 1)
			rq := tc.req(pl.Order)
			if got := e.notify(rq.method, rq.query, rq.ctype, rq.body); got != tc.answer {
				t.Fatalf("answered %q, want %q", got, tc.answer)
			}
			e.want(pl.Token, tc.status, tc.keys)
			// The other order never moves.
			e.want(other.Token, shop.StatusPending, 0)
		})
	}

	held, err := e.shop.HeldPayments()
	if err != nil || len(held) != 1 || held[0].Payment.AmountMinor != 989 || held[0].ApprovalID == "" {
		t.Fatalf("held payments %+v %v", held, err)
	}
	a, err := e.staff.Get(held[0].ApprovalID)
	if err != nil || a.Kind != staff.KindPaymentConfirm || a.Status != staff.StatusPending || a.Ref != held[0].Ref {
		t.Fatalf("approval %+v %v", a, err)
	}
}

func TestEpayNotifyRepeatAndConcurrent(t *testing.T) {
	e := newPayEnv(t, testEpayProvider(t))
	p := e.product("game", 5)

	t.Run("repeat answers success with no second effect", func(t *testing.T) {
		pl := e.place(p, 1)
		q := encode(gwNotify(pl.Order, "R1", "9.90"))
		for range 3 {
			if got := e.notify("GET", q, "", ""); got != "success" {
				t.Fatalf("answered %q", got)
			}
		}
		e.want(pl.Token, shop.StatusDelivered, 1)
		o, _ := e.shop.OrderByRef(pl.Order.Ref)
		if len(o.Payloads) != 1 {
			t.Fatalf("%d deliveries", len(o.Payloads))
		}
		// A repeat applied again would be a second payment, owed back.
		if owed := e.owed(pl.Order.Ref); len(owed) != 0 {
			t.Fatalf("a repeat is recorded as owed back: %v", owed)
		}
		recs, err := e.shop.Payments(pl.Order.Ref)
		if err != nil || len(recs) != 1 || recs[0].State != shop.PaymentApplied || recs[0].Payment.TradeNo != "R1" {
			t.Fatalf("payment records %+v %v", recs, err)
		}
	})

	t.Run("ten at once deliver once", func(t *testing.T) {
		pl := e.place(p, 1)
		before := e.stock(p)
		q := encode(gwNotify(pl.Order, "C1", "9.90"))
		var wg sync.WaitGroup
		answers := make([]string, 10)
		errs := make([]error, 10)
		for i := range answers {
			wg.Go(func() { answers[i], errs[i] = e.tryNotify("GET", q, "", "") })
		}
		wg.Wait()
		for i, a := range answers {
			if errs[i] != nil || a != "success" {
				t.Fatalf("notify %d answered %q, %v", i, a, errs[i])
			}
		}
		e.want(pl.Token, shop.StatusDelivered, 1)
		o, _ := e.shop.OrderByRef(pl.Order.Ref)
		recs, _ := e.shop.Payments(pl.Order.Ref)
		if len(o.Payloads) != 1 || len(recs) != 1 || e.stock(p) != before {
			t.Fatalf("%d deliveries, %d payment records, stock %d→%d", len(o.Payloads), len(recs), before, e.stock(p))
		}
		if recs[0].State != shop.PaymentApplied {
			t.Fatalf("the payment is %s", recs[0].State)
		}
		if owed := e.owed(pl.Order.Ref); len(owed) != 0 {
			t.Fatalf("nine repeats left %v owed back", owed)
		}
	})

	t.Run("a second payment on a paid order is owed back, not delivered", func(t *testing.T) {
		pl := e.place(p, 1)
		e.notify("GET", encode(gwNotify(pl.Order, "D1", "9.90")), "", "")
		if got := e.notify("GET", encode(gwNotify(pl.Order, "D2", "9.90")), "", ""); got != "success" {
			t.Fatalf("answered %q", got)
		}
		e.want(pl.Token, shop.StatusDelivered, 1)
		owed, _ := e.shop.OwedPayments()
		if len(owed) != 1 || owed[0].Ref != pl.Order.Ref || owed[0].Payment.TradeNo != "D2" {
			t.Fatalf("owed %+v", owed)
		}
		// Either payment's notify again changes nothing: D2 stays owed once.
		for _, trade := range []string{"D1", "D2", "D1", "D2"} {
			if got := e.notify("GET", encode(gwNotify(pl.Order, trade, "9.90")), "", ""); got != "success" {
				t.Fatalf("%s again answered %q", trade, got)
			}
		}
		e.want(pl.Token, shop.StatusDelivered, 1)
		if owed := e.owed(pl.Order.Ref); !slices.Equal(owed, []string{"D2"}) {
			t.Fatalf("owed after repeats: %v", owed)
		}
	})
}

func TestEpayNotifyAroundExpiry(t *testing.T) {
	e := newPayEnv(t, testEpayProvider(t))
	p := e.product("late", 2)

	before := e.place(p, 1)
	if got := e.notify("GET", encode(gwNotify(before.Order, "B1", "9.90")), "", ""); got != "success" {
		t.Fatalf("before expiry: %q", got)
	}
	e.want(before.Token, shop.StatusDelivered, 1)

	late := e.place(p, 1) // takes the last key
	e.clk.Add(16 * time.Minute)
	if _, err := e.shop.Sweep(); err != nil {
		t.Fatal(err)
	}
	e.want(late.Token, shop.StatusExpired, 0)
	// Stock is back: the late payment reserves it again and delivers.
	if got := e.notify("POST", "", "", encode(gwNotify(late.Order, "L1", "9.90"))); got != "success" {
		t.Fatalf("after expiry: %q", got)
	}
	e.want(late.Token, shop.StatusDelivered, 1)
	if _, _, ns := e.buyerView(late.Token); !slices.Contains(ns, "late_payment_reserved") {
		t.Fatalf("notices %v", ns)
	}

	// No stock left: a late payment is recorded and owed back.
	q := e.product("gone", 1)
	a := e.place(q, 1)
	e.clk.Add(16 * time.Minute)
	if _, err := e.shop.Sweep(); err != nil {
		t.Fatal(err)
	}
	b := e.place(q, 1)
	e.notify("GET", encode(gwNotify(b.Order, "G1", "9.90")), "", "")
	if got := e.notify("GET", encode(gwNotify(a.Order, "G2", "9.90")), "", ""); got != "success" {
		t.Fatalf("late without stock: %q", got)
	}
	e.want(a.Token, shop.StatusRefundDue, 0)
	e.want(b.Token, shop.StatusDelivered, 1)

	// The gateway resends each of these notifies: nothing changes and
	// nothing is owed back (the refund_due order's refund covers G2).
	for _, r := range []struct {
		pl     shop.Placed
		trade  string
		status shop.Status
		keys   int
	}{{before, "B1", shop.StatusDelivered, 1}, {late, "L1", shop.StatusDelivered, 1}, {b, "G1", shop.StatusDelivered, 1}, {a, "G2", shop.StatusRefundDue, 0}} {
		if got := e.notify("GET", encode(gwNotify(r.pl.Order, r.trade, "9.90")), "", ""); got != "success" {
			t.Fatalf("%s resent: %q", r.trade, got)
		}
		e.want(r.pl.Token, r.status, r.keys)
		if owed := e.owed(r.pl.Order.Ref); len(owed) != 0 {
			t.Fatalf("%s resent: %v owed back", r.trade, owed)
		}
	}
}

func TestEpayReturnPageTrustsNoQuery(t *testing.T) {
	e := newPayEnv(t, testEpayProvider(t))
	p := e.product("ret", 1)
	pl := e.place(p, 1)
	page := func() string {
		t.Helper()
		forged := encode(map[string]string{
			"out_trade_no": pl.Order.Ref, "trade_status": "TRADE_SUCCESS", "money": "9.90", "sign": "forged", "lang": "en",
		})
		resp, err := http.Get(e.ts.URL + "/pay/epay/return?" + forged)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		return string(b)
	}
	if body := page(); !strings.Contains(body, "Waiting for payment") || strings.Contains(body, ">Delivered<") {
		t.Fatal("the return page believed its query")
	}
	e.want(pl.Token, shop.StatusPending, 0)
	e.notify("GET", encode(gwNotify(pl.Order, "P1", "9.90")), "", "")
	body := page()
	if !strings.Contains(body, "Delivered") || strings.Contains(body, "RET-KEY") || !strings.Contains(body, "order token") {
		t.Fatal("the return page after payment shows the wrong thing")
	}
}

// The staff side of the tests.

func (e *payEnv) owner(name string) {
	e.t.Helper()
	en, _, err := e.staff.Bootstrap(name, payPass)
	if err != nil {
		e.t.Fatal(err)
	}
	e.secrets[name] = en.Secret
}

func (e *payEnv) member(name string, role staff.Role) {
	e.t.Helper()
	enrol, err := e.staff.CreateUser(e.t.Context(), name, role, "cli")
	if err != nil {
		e.t.Fatal(err)
	}
	en, err := e.staff.PendingEnrolment(name, enrol)
	if err != nil {
		e.t.Fatal(err)
	}
	e.secrets[name] = en.Secret
	if _, err := e.staff.FinishEnrolment(name, enrol, payPass, e.code(name)); err != nil {
		e.t.Fatal(err)
	}
	e.clk.Add(30 * time.Second)
}

// code is name's TOTP code now; the next one needs the clock moved on by
// a step (a code is accepted once, ever).
func (e *payEnv) code(name string) string {
	e.t.Helper()
	c, err := totp.GenerateCodeCustom(e.secrets[name], e.clk.Now(), totp.ValidateOpts{
		Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *payEnv) decide(id, name, decision string) (staff.Approval, error) {
	e.t.Helper()
	e.clk.Add(30 * time.Second)
	return e.staff.Decide(e.t.Context(), id, name, decision, e.code(name))
}

// orderPage is the buyer's order page (POST /order with the token).
func (e *payEnv) orderPage(token string) string {
	e.t.Helper()
	resp, err := http.PostForm(e.ts.URL+"/order?lang=en", url.Values{"token": {token}})
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("order page: %d", resp.StatusCode)
	}
	return string(b)
}

func TestHeldPaymentApproval(t *testing.T) {
	e := newPayEnv(t, testEpayProvider(t))
	e.owner("boss")
	e.member("helper", staff.RoleSupport)
	p := e.product("held", 3)

	heldOrder := func(trade, money string) (shop.Placed, string) {
		t.Helper()
		pl := e.place(p, 1)
		if got := e.notify("GET", encode(gwNotify(pl.Order, trade, money)), "", ""); got != "success" {
			t.Fatalf("held notify answered %q", got)
		}
		e.want(pl.Token, shop.StatusPaymentHeld, 0)
		held, _ := e.shop.HeldPayments()
		for _, h := range held {
			if h.Ref == pl.Order.Ref {
				return pl, h.ApprovalID
			}
		}
		t.Fatal("no held payment")
		return pl, ""
	}

	t.Run("support cannot approve; owner approves and it delivers", func(t *testing.T) {
		pl, id := heldOrder("H1", "9.80")
		if page := e.orderPage(pl.Token); !strings.Contains(page, "Payment under review") || !strings.Contains(page, "Your keys stay reserved") {
			t.Fatal("the order page does not show the held payment")
		}
		if _, err := e.decide(id, "helper", staff.Approve); staff.Code(err) != "forbidden" {
			t.Fatalf("support approved: %v", err)
		}
		e.want(pl.Token, shop.StatusPaymentHeld, 0)
		a, err := e.decide(id, "boss", staff.Approve)
		if err != nil || a.Status != staff.StatusApproved {
			t.Fatalf("%+v %v", a, err)
		}
		e.want(pl.Token, shop.StatusDelivered, 1)
	})

	t.Run("rejected: refund_due, keys back in stock", func(t *testing.T) {
		before := e.stock(p)
		pl, id := heldOrder("H2", "100.00")
		if e.stock(p) != before-1 {
			t.Fatal("a held order keeps its reservation")
		}
		a, err := e.decide(id, "boss", staff.Reject)
		if err != nil || a.Status != staff.StatusRejected {
			t.Fatalf("%+v %v", a, err)
		}
		e.srv.AfterDecision(a)
		e.want(pl.Token, shop.StatusRefundDue, 0)
		if page := e.orderPage(pl.Token); !strings.Contains(page, "You are owed a refund") || !strings.Contains(page, pl.Order.Ref) {
			t.Fatal("the order page does not show the refund due")
		}
		if e.stock(p) != before {
			t.Fatalf("stock %d, want %d", e.stock(p), before)
		}
		owed, _ := e.shop.OwedPayments()
		if len(owed) != 1 || owed[0].Reason != "rejected" || owed[0].Payment.AmountMinor != 10000 {
			t.Fatalf("owed %+v", owed)
		}
		// The periodic reconciliation finds nothing more to do.
		if n, err := e.srv.ReconcileHeld(); n != 0 || err != nil {
			t.Fatalf("reconcile: %d %v", n, err)
		}
	})
}

// A product the gateway cannot charge for is refused before any stock is
// reserved.
func TestEpayRefusesOtherCurrencies(t *testing.T) {
	e := newPayEnv(t, testEpayProvider(t))
	p, err := e.shop.CreateProduct(shop.Product{Slug: "usd", Name: shop.Text{"en": "USD card"}, PriceMinor: 500, Currency: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.shop.ImportKeys(p.ID, shop.BatchInfo{}, strings.NewReader("USD-KEY-1\nUSD-KEY-2")); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(e.ts.URL+"/api/v1/orders", "application/json", strings.NewReader(`{"product":"usd","quantity":1}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusConflict || !strings.Contains(string(b), `"currency_unsupported"`) {
		t.Fatalf("answer %d %s", resp.StatusCode, b)
	}
	if e.stock(p) != 2 {
		t.Fatalf("stock %d after a refused order", e.stock(p))
	}
}
