package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"veil/server/shop"
)

// moneyShop is one real `veil serve` with 易支付 payments and its owner
// signed in, for the end-to-end tests of where money and keys move.
type moneyShop struct {
	t     *testing.T
	base  string
	hc    *http.Client
	owner *console
	codes *[]string // the owner's next TOTP codes, one per use
}

// on is m for the subtest t.
func (m *moneyShop) on(t *testing.T) *moneyShop {
	c := *m.owner
	c.t = t
	return &moneyShop{t: t, base: m.base, hc: m.hc, owner: &c, codes: m.codes}
}

// TestMoneyE2E drives the real binary over HTTP through the holes of
// issue 10 items 1–3: keys withheld by a refund stay withheld after a
// later payment; a product's policy does not change, and fast track does
// not approve, on the owner's session alone; a refund of the whole amount
// called "partial" still needs two people.
func TestMoneyE2E(t *testing.T) {
	bin := buildVeil(t)
	const password = "money test owner password"
	shop := initVeil(t, bin, password, "money test vault passphrase", map[string]string{"epay-key": crashKey})
	data, ppFile, keyFile, ini := shop.data, shop.ppFile, shop.file("epay-key"), shop.ini
	addr := freeAddr(t)
	base := "http://" + addr
	srv := startVeil(t, bin, base, "serve", "--data", data, "--addr", addr, "--passphrase-file", ppFile,
		"--payments", "epay", "--epay-pid", crashPID, "--epay-key-file", keyFile,
		"--epay-gateway", "http://127.0.0.1:1/submit.php", "--public-url", base, "--rate-limit", "0")

	// Three codes of consecutive steps (the server accepts ±1 step, each
	// step once), so the test never waits for the clock.
	t0 := time.Now()
	var codes []string
	for _, d := range []time.Duration{-30 * time.Second, 0, 30 * time.Second} {
		c, err := totp.GenerateCodeCustom(ini.TOTPSecret, t0.Add(d), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, c)
	}
	rest := codes[1:]
	jar, _ := cookiejar.New(nil)
	owner := &console{t: t, base: base, c: &http.Client{Jar: jar, Timeout: time.Minute}}
	body, _ := json.Marshal(map[string]string{"user": "owner", "password": password, "totp": codes[0]})
	var sess struct{ CSRF string }
	owner.call(http.MethodPost, "/api/v1/admin/session", "application/json", string(body), http.StatusOK, &sess)
	owner.csrf = sess.CSRF
	m := &moneyShop{t: t, base: base, hc: &http.Client{Timeout: 20 * time.Second}, owner: owner, codes: &rest}

	t.Run("withheld keys stay withheld after a later payment", m.withheldAfterLaterPayment)
	t.Run("policy change and fast track need approval", m.policyNeedsApproval)
	t.Run("whole refund called partial needs two people", m.partialRefundTwoPerson)

	if err := srv.stop(); err != nil {
		t.Errorf("shutdown: %v\n%s", err, srv.stderr)
	}
	if bad := badLines(srv.stderr.String()); len(bad) > 0 {
		t.Errorf("the server logged:\n%s", strings.Join(bad, "\n"))
	}
}

// code hands out the owner's next unused TOTP code.
func (m *moneyShop) code() string {
	m.t.Helper()
	if len(*m.codes) == 0 {
		m.t.Fatal("out of TOTP codes")
	}
	c := (*m.codes)[0]
	*m.codes = (*m.codes)[1:]
	return c
}

// product creates a product (201 at once) and imports keys into it.
func (m *moneyShop) product(slug, policy string, keys ...string) string {
	m.t.Helper()
	var p struct{ ID string }
	m.owner.call(http.MethodPost, "/api/v1/admin/products", "application/json",
		fmt.Sprintf(`{"slug":%q,"name":"Card %s","price_minor":%d,"currency":"CNY","kind":"unique","policy":%s}`, slug, slug, crashPrice, policy),
		http.StatusCreated, &p)
	var imp struct{ Imported int }
	m.owner.call(http.MethodPost, "/api/v1/admin/products/"+p.ID+"/keys", "text/plain; charset=utf-8",
		strings.Join(keys, "\n")+"\n", http.StatusOK, &imp)
	if imp.Imported != len(keys) {
		m.t.Fatalf("imported %d of %d", imp.Imported, len(keys))
	}
	return p.ID
}

// buyerOrder is an order as its buyer knows it.
type buyerOrder struct {
	Token, Ref string
	Amount     int64 `json:"amount_minor"`
}

// buy places an order of one key, with old tokens as proofs.
func (m *moneyShop) buy(slug string, proofs ...string) buyerOrder {
	m.t.Helper()
	b, _ := json.Marshal(map[string]any{"product": slug, "quantity": 1, "proofs": proofs})
	resp, err := m.hc.Post(m.base+"/api/v1/orders", "application/json", strings.NewReader(string(b)))
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var o buyerOrder
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(raw, &o) != nil || o.Token == "" {
		m.t.Fatalf("order: %d %s", resp.StatusCode, raw)
	}
	return o
}

// pay sends a signed 易支付 notify for the order with trade number trade.
func (m *moneyShop) pay(o buyerOrder, trade string) {
	m.t.Helper()
	if got, err := sendNotify(m.hc, m.base, o.Ref, trade, yuan(o.Amount), true); err != nil || got != "success" {
		m.t.Fatalf("notify %s for %s: %q %v", trade, o.Ref, got, err)
	}
}

// orderView is GET /api/v1/order.
type orderView struct {
	Status string
	Tier   int
	Items  []struct{ ID, Key string }
	raw    string
}

func (m *moneyShop) view(o buyerOrder) orderView {
	m.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, m.base+"/api/v1/order", nil)
	req.Header.Set("Authorization", "Bearer "+o.Token)
	resp, err := m.hc.Do(req)
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var v orderView
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &v) != nil {
		m.t.Fatalf("order view: %d %s", resp.StatusCode, raw)
	}
	v.raw = string(raw)
	return v
}

// form posts a buyer form (no cookies, the token in the body).
func (m *moneyShop) form(path string, f url.Values) string {
	m.t.Helper()
	resp, err := m.hc.PostForm(m.base+path+"?lang=en", f)
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		m.t.Fatalf("POST %s: %d %s", path, resp.StatusCode, raw)
	}
	return string(raw)
}

// withheldAfterLaterPayment: item 1. Paid, never revealed, refunded under
// the cooling-off offer; a second signed notify with a new trade number
// makes the order refund_due, and still no route shows the key.
func (m *moneyShop) withheldAfterLaterPayment(t *testing.T) {
	m = m.on(t)
	const key = "WITHHELD-KEY-0001-E2E"
	m.product("cool-card", `{"window_hours":24,"remedies":["refund"],"cooling_off_minutes":30}`, key)
	o := m.buy("cool-card")
	m.pay(o, "E2E-COOL-1") // never looked at: GET /api/v1/order would show the key
	m.form("/order/cooling-off", url.Values{"token": {o.Token}})
	if v := m.view(o); v.Status != "refunded" || strings.Contains(v.raw, key) {
		t.Fatalf("after the cooling-off refund: %s %s", v.Status, v.raw)
	}
	m.pay(o, "E2E-COOL-2") // a later payment, same amount, new trade number
	v := m.view(o)
	if v.Status != "refund_due" {
		t.Fatalf("after a later payment: %s", v.Status)
	}
	if strings.Contains(v.raw, key) {
		t.Fatalf("the withheld key leaked after a later payment: %s", v.raw)
	}
	if page := m.form("/order", url.Values{"token": {o.Token}, "reveal": {"1"}}); strings.Contains(page, key) {
		t.Fatal("the order page shows the withheld key")
	}
}

// policyNeedsApproval: item 2. The owner's session alone cannot change an
// existing product's after-sales policy (202, unchanged), and a trusted
// buyer's refund is not approved by policy while no fast-track bounds are
// set — it waits for a person.
func (m *moneyShop) policyNeedsApproval(t *testing.T) {
	m = m.on(t)
	id := m.product("fast-card", `{"window_hours":24,"remedies":["replace","refund"],"auto_approve_tier":1}`,
		"FAST-KEY-0001-E2E", "FAST-KEY-0002-E2E")
	m.product("proof-card", `{"window_hours":0,"remedies":["refund"]}`, "PROOF-KEY-0001-E2E")
	var op struct {
		ApprovalID string `json:"approval_id"`
		Status     string
	}
	m.owner.call(http.MethodPut, "/api/v1/admin/products/"+id, "application/json",
		`{"slug":"fast-card","name":"Card fast-card","price_minor":1,"currency":"CNY","kind":"unique","policy":{"window_hours":0,"remedies":["refund"],"auto_approve_tier":3}}`,
		http.StatusAccepted, &op)
	if op.ApprovalID == "" || op.Status != "pending" {
		t.Fatalf("policy change: %+v", op)
	}
	var cat struct {
		Products []struct {
			ID         string
			PriceMinor int64 `json:"price_minor"`
			Policy     struct {
				WindowHours     int `json:"window_hours"`
				AutoApproveTier int `json:"auto_approve_tier"`
			}
		}
	}
	resp, err := m.hc.Get(m.base + "/api/v1/products")
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&cat)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range cat.Products {
		if p.ID == id && (p.PriceMinor != crashPrice || p.Policy.WindowHours != 24 || p.Policy.AutoApproveTier != 1) {
			t.Fatalf("the catalog changed without approval: %+v", p)
		}
	}

	// A settled order (window 0) makes the next buyer tier 1.
	first := m.buy("proof-card")
	m.pay(first, "E2E-FAST-1")
	deadline := time.Now().Add(30 * time.Second)
	for m.view(first).Status != "settled" {
		if time.Now().After(deadline) {
			t.Fatal("the first order never settled")
		}
		time.Sleep(200 * time.Millisecond)
	}
	o := m.buy("fast-card", first.Token)
	m.pay(o, "E2E-FAST-2")
	v := m.view(o)
	if v.Tier < 1 || len(v.Items) != 1 {
		t.Fatalf("trusted order: tier %d, %d items", v.Tier, len(v.Items))
	}
	req, _ := http.NewRequest(http.MethodPost, m.base+"/api/v1/order/tickets",
		strings.NewReader(fmt.Sprintf(`{"reason":"key_invalid","detail":"does not work","item_id":%q}`, v.Items[0].ID)))
	req.Header.Set("Authorization", "Bearer "+o.Token)
	req.Header.Set("Content-Type", "application/json")
	tr, err := m.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tk struct{ ID string }
	err = json.NewDecoder(tr.Body).Decode(&tk)
	tr.Body.Close()
	if tr.StatusCode != http.StatusCreated || err != nil {
		t.Fatalf("ticket: %d %v", tr.StatusCode, err)
	}
	m.owner.call(http.MethodPost, "/api/v1/admin/tickets/"+tk.ID+"/propose", "application/json", `{"remedy":"refund"}`,
		http.StatusAccepted, &op)
	if op.Status != "pending" {
		t.Fatalf("fast track without bounds: %+v", op)
	}
	if v := m.view(o); v.Status != "delivered" {
		t.Fatalf("refunded by policy without bounds: %s", v.Status)
	}
}

// partialRefundTwoPerson: item 3. Two-person on refunds only; a "partial"
// refund of the whole amount with the owner's own code waits for a second
// person.
func (m *moneyShop) partialRefundTwoPerson(t *testing.T) {
	m = m.on(t)
	m.product("two-card", `{"window_hours":24,"remedies":["refund"]}`, "TWO-KEY-0001-E2E")
	o := m.buy("two-card")
	m.pay(o, "E2E-TWO-1")
	var op struct {
		ApprovalID string `json:"approval_id"`
		Status     string
	}
	m.owner.call(http.MethodPost, "/api/v1/admin/settings", "application/json",
		`{"two_person":{"refund":true},"totp":"`+m.code()+`"}`, http.StatusOK, &op)
	m.owner.call(http.MethodPost, "/api/v1/admin/refunds", "application/json",
		fmt.Sprintf(`{"ref":%q,"amount_minor":%d,"reason":"all of it","totp":%q}`, o.Ref, o.Amount, m.code()),
		http.StatusAccepted, &op)
	if op.Status != "pending" {
		t.Fatalf("whole refund as partial: %+v", op)
	}
	if v := m.view(o); v.Status != "delivered" {
		t.Fatalf("refunded alone: %s", v.Status)
	}
}

// TestDemoFastTrackBounds: the demo sets fast-track bounds, so its trusted
// buyers' remedies can be approved by policy (none pass in a shop that set
// none).
func TestDemoFastTrackBounds(t *testing.T) {
	a, err := openAppWith(t.TempDir(), slog.New(slog.DiscardHandler), shop.Config{VaultWorkFactor: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if f, err := a.shop.FastTrack(); err != nil || len(f.Remedies) != 0 {
		t.Fatalf("a new shop's bounds: %+v %v", f, err)
	}
	if err := seedDemoFastTrack(a); err != nil {
		t.Fatal(err)
	}
	f, err := a.shop.FastTrack()
	if err != nil || len(f.Remedies) != 2 || f.MaxOrderMinor != 5000 || f.MaxDayMinor != 20000 {
		t.Fatalf("demo bounds %+v %v", f, err)
	}
}
