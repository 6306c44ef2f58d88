package resale

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"veil/crypto"
	"veil/server/shop"
	"veil/server/staff"
	"veil/server/store"
)

type env struct {
	t      *testing.T
	db     *store.DB
	shop   *shop.Shop
	staff  *staff.Service
	srv    *httptest.Server
	now    atomic.Int64 // unix seconds
	acct   shop.Reseller
	secret string
	id     *crypto.Identity
	prod   shop.Product
	keys   []string
}

func (e *env) clock() time.Time { return time.Unix(e.now.Load(), 0) }

func newEnv(t *testing.T, balance int64) *env {
	t.Helper()
	e := &env{t: t}
	e.now.Store(time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC).Unix())
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e.db = db
	if e.shop, err = shop.New(db, shop.Config{Now: e.clock, VaultWorkFactor: 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.shop.InitVault("correct horse battery"); err != nil {
		t.Fatal(err)
	}
	e.staff = staff.New(db, staff.Options{Now: e.clock})
	RegisterExecutors(e.staff, e.shop)
	e.prod, err = e.shop.CreateProduct(shop.Product{Slug: "game", Name: shop.Text{"en": "Game"}, PriceMinor: 1000,
		Currency: "CNY", Kind: shop.Unique, Policy: shop.Policy{WindowHours: 72, Remedies: []shop.Remedy{shop.RemedyReplace}}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		e.keys = append(e.keys, fmt.Sprintf("UP-%04d-SECRETKEY", i))
	}
	if _, err := e.shop.ImportKeys(e.prod.ID, shop.BatchInfo{Supplier: "s"}, strings.NewReader(strings.Join(e.keys, "\n"))); err != nil {
		t.Fatal(err)
	}
	if e.id, err = crypto.NewIdentity(crypto.X25519); err != nil {
		t.Fatal(err)
	}
	// Through the approvals' executors, as the console does.
	err = db.Update(func(tx *store.Txn) error {
		_, err := e.staff.AutoApproveTx(tx, "system", staff.KindResellerCreate, "agent", "new reseller",
			shop.ResellerSpec{Name: "agent", Recipient: e.id.Recipient(), Currency: "CNY", PercentOff: 20}, "test")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	rs, _ := e.shop.Resellers()
	e.acct = rs[0]
	if balance > 0 {
		err = db.Update(func(tx *store.Txn) error {
			_, err := e.staff.AutoApproveTx(tx, "system", staff.KindResellerTopUp, e.acct.ID, "top-up",
				BalanceParams{Reseller: e.acct.ID, AmountMinor: balance, Currency: "CNY"}, "test")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if e.secret, err = e.shop.IssueResellerSecret(e.acct.ID); err != nil {
		t.Fatal(err)
	}
	e.srv = httptest.NewServer(New(Config{Shop: e.shop, Staff: e.staff, Now: e.clock}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) client() *Client {
	return &Client{BaseURL: e.srv.URL, KeyID: e.acct.ID, Secret: e.secret, Now: e.clock}
}

// raw sends a request signed by hand (ts, nonce), optionally with a wrong
// secret.
func (e *env) raw(method, path, body, secret string, ts time.Time, nonce, idem string) *http.Response {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	SignRequest(req, e.acct.ID, secret, []byte(body), ts, nonce, idem)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

func code(t *testing.T, resp *http.Response) (int, string) {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var s string
	if i := bytes.Index(b, []byte(`"code":"`)); i >= 0 {
		s = string(b[i+8:])
		s = s[:strings.IndexByte(s, '"')]
	}
	return resp.StatusCode, s
}

func TestResellerAPIOrderFlow(t *testing.T) {
	e := newEnv(t, 2000)
	c := e.client()
	ctx := context.Background()
	ps, err := c.Products(ctx)
	if err != nil || len(ps) != 1 || ps[0].AgentMinor != 800 || ps[0].Available != 4 || ps[0].RetailMinor != 1000 {
		t.Fatalf("products %+v %v", ps, err)
	}
	o, replayed, err := c.PlaceOrder(ctx, OrderRequest{Product: "game", Quantity: 2}, "order-1")
	if err != nil || replayed || o.AmountMinor != 1600 || len(o.Deliveries) != 1 {
		t.Fatalf("order %+v %v", o, err)
	}
	items, err := OpenDelivery(o.Deliveries[0], e.id)
	if err != nil || len(items) != 2 || items[0].Key != e.keys[0] || items[1].Key != e.keys[1] {
		t.Fatalf("delivered %+v %v", items, err)
	}
	// The repeat: the same answer, byte for byte, and nothing charged.
	again, replayed, err := c.PlaceOrder(ctx, OrderRequest{Product: "game", Quantity: 2}, "order-1")
	if err != nil || !replayed || again.ID != o.ID || !bytes.Equal(again.Deliveries[0], o.Deliveries[0]) {
		t.Fatalf("repeat %+v %v", again, err)
	}
	if b, _ := c.Balance(ctx); b.BalanceMinor != 400 {
		t.Fatalf("balance %d after a repeat", b.BalanceMinor)
	}
	// The same key with another body.
	_, _, err = c.PlaceOrder(ctx, OrderRequest{Product: "game", Quantity: 1}, "order-1")
	if ae := (*Error)(nil); !errors.As(err, &ae) || ae.Code != "idempotency_conflict" || ae.Status != 409 {
		t.Fatalf("reused key: %v", err)
	}
	// Insufficient balance: 402, no stock taken.
	_, _, err = c.PlaceOrder(ctx, OrderRequest{Product: "game", Quantity: 1}, "order-2")
	if ae := (*Error)(nil); !errors.As(err, &ae) || ae.Code != "insufficient_balance" || ae.Status != 402 {
		t.Fatalf("insufficient: %v", err)
	}
	if ps, _ := c.Products(ctx); ps[0].Available != 2 {
		t.Fatalf("stock %d", ps[0].Available)
	}
	led, _, err := c.Ledger(ctx, 0, 10)
	if err != nil || len(led) != 2 || led[0].Kind != "order" || led[0].DeltaMinor != -1600 || led[0].Ref != o.ID ||
		led[1].Kind != "top_up" || !strings.HasPrefix(led[1].Ref, "approval-") {
		t.Fatalf("ledger %+v %v", led, err)
	}
	// A ticket, answered, then replaced through its approval: the new key
	// reaches the reseller as a further delivery.
	tk, err := c.OpenTicket(ctx, o.ID, TicketRequest{ItemID: items[0].ID, Reason: shop.ReasonKeyInvalid, Detail: "redeemed already"}, "tk-1")
	if err != nil || tk.Status != shop.TicketOpen || len(tk.Thread) != 1 {
		t.Fatalf("ticket %+v %v", tk, err)
	}
	if _, err := e.shop.AnswerResaleTicket(tk.ID, "replacing it"); err != nil {
		t.Fatal(err)
	}
	err = e.db.Update(func(tx *store.Txn) error {
		_, err := e.staff.AutoApproveTx(tx, "system", staff.KindResellerReplacement, tk.ID, "replace",
			RemedyParams{Ticket: tk.ID, Product: e.prod.ID}, "test")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	tk, err = c.Ticket(ctx, tk.ID)
	if err != nil || tk.Status != shop.TicketResolved || tk.Remedy != shop.RemedyReplace || len(tk.Thread) != 2 {
		t.Fatalf("ticket after %+v %v", tk, err)
	}
	ans, err := shop.OpenResaleThread(shop.ResaleMessage{Sealed: tk.Thread[1].Sealed}, e.id.Age(), false)
	if err != nil || ans != "replacing it" {
		t.Fatalf("answer %q %v", ans, err)
	}
	o2, err := c.Order(ctx, o.ID)
	if err != nil || len(o2.Deliveries) != 2 || o2.Status != shop.StatusReplaced {
		t.Fatalf("order after replacement %+v %v", o2, err)
	}
	fresh, err := OpenDelivery(o2.Deliveries[1], e.id)
	if err != nil || len(fresh) != 1 || fresh[0].Key != e.keys[2] {
		t.Fatalf("replacement %+v %v", fresh, err)
	}
	// Every call is in the audit log, under the account.
	entries, _, err := e.staff.Audit(0, 500)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, en := range entries {
		if en.Actor == "reseller:"+e.acct.ID {
			n++
		}
	}
	if n != 11 {
		t.Fatalf("%d audited calls, want 11", n)
	}
}

func TestResellerAPIRefusals(t *testing.T) {
	e := newEnv(t, 2000)
	now := e.clock()
	cases := []struct {
		name, method, path, body, secret, nonce, idem string
		ts                                            time.Time
		status                                        int
		code                                          string
	}{
		{"bad signature", "GET", "/api/v1/reseller/balance", "", "rs_wrong", "nonce-aaaaaaaaaaaa1", "", now, 401, "bad_signature"},
		{"expired timestamp", "GET", "/api/v1/reseller/balance", "", e.secret, "nonce-aaaaaaaaaaaa2", "", now.Add(-6 * time.Minute), 401, "stale_timestamp"},
		{"future timestamp", "GET", "/api/v1/reseller/balance", "", e.secret, "nonce-aaaaaaaaaaaa3", "", now.Add(6 * time.Minute), 401, "stale_timestamp"},
		{"fresh", "GET", "/api/v1/reseller/balance", "", e.secret, "nonce-aaaaaaaaaaaa4", "", now, 200, ""},
		{"replayed nonce", "GET", "/api/v1/reseller/balance", "", e.secret, "nonce-aaaaaaaaaaaa4", "", now, 401, "nonce_reused"},
		{"no idempotency key", "POST", "/api/v1/reseller/orders", `{"product":"game","quantity":1}`, e.secret, "nonce-aaaaaaaaaaaa5", "", now, 400, "idempotency_key_required"},
		{"unknown field", "POST", "/api/v1/reseller/orders", `{"product":"game","quantiy":1}`, e.secret, "nonce-aaaaaaaaaaaa6", "k", now, 400, "bad_request"},
		{"out of stock", "POST", "/api/v1/reseller/orders", `{"product":"game","quantity":5}`, e.secret, "nonce-aaaaaaaaaaaa7", "k2", now, 409, "out_of_stock"},
		{"unknown route", "GET", "/api/v1/reseller/nope", "", e.secret, "nonce-aaaaaaaaaaaa8", "", now, 404, "not_found"},
		{"other path signed", "GET", "/api/v1/reseller/ledger?limit=1", "", e.secret, "nonce-aaaaaaaaaaaa9", "", now, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, c := code(t, e.raw(tc.method, tc.path, tc.body, tc.secret, tc.ts, tc.nonce, tc.idem))
			if st != tc.status || c != tc.code {
				t.Fatalf("%d %q, want %d %q", st, c, tc.status, tc.code)
			}
		})
	}
	// A signature over one path does not serve another (the query counts).
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/reseller/ledger?limit=2", nil)
	SignRequest(req, e.acct.ID, e.secret, nil, now, "nonce-bbbbbbbbbbbb1", "")
	req.URL.RawQuery = "limit=3"
	resp, _ := http.DefaultClient.Do(req)
	if st, c := code(t, resp); st != 401 || c != "bad_signature" {
		t.Fatalf("query swapped: %d %s", st, c)
	}
	// A body of 16 KiB + 1.
	big := `{"product":"` + strings.Repeat("x", MaxBody) + `"}`
	if st, c := code(t, e.raw("POST", "/api/v1/reseller/orders", big, e.secret, now, "nonce-bbbbbbbbbbbb2", "big")); st != 413 || c != "body_too_large" {
		t.Fatalf("big body: %d %s", st, c)
	}
	// Suspension is immediate.
	if _, err := e.shop.SetResellerStatus(e.acct.ID, shop.ResellerSuspended); err != nil {
		t.Fatal(err)
	}
	if st, c := code(t, e.raw("GET", "/api/v1/reseller/balance", "", e.secret, now, "nonce-bbbbbbbbbbbb3", "")); st != 403 || c != "reseller_suspended" {
		t.Fatalf("suspended: %d %s", st, c)
	}
	e.shop.SetResellerStatus(e.acct.ID, shop.ResellerActive)
	// A locked vault cannot check signatures.
	e.shop.Lock()
	if st, c := code(t, e.raw("GET", "/api/v1/reseller/balance", "", e.secret, now, "nonce-bbbbbbbbbbbb4", "")); st != 503 || c != "vault_locked" {
		t.Fatalf("locked: %d %s", st, c)
	}
}

func TestResellerRateLimit(t *testing.T) {
	e := newEnv(t, 0)
	c := e.client()
	// The default budget is 120 a minute; the clock stands still.
	for i := range shop.DefaultResellerRate {
		if _, err := c.Balance(context.Background()); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	_, err := c.Balance(context.Background())
	if ae := (*Error)(nil); !errors.As(err, &ae) || ae.Status != 429 || ae.Code != "rate_limited" {
		t.Fatalf("over the rate: %v", err)
	}
	e.now.Add(1)
	if _, err := c.Balance(context.Background()); err != nil {
		t.Fatalf("a second later (two calls a second): %v", err)
	}
}

// TestRestartRefusesEarlierSignatures: nonces live in memory, so a
// restarted server refuses every request signed before it started — a
// request captured before the restart cannot be replayed after it.
func TestRestartRefusesEarlierSignatures(t *testing.T) {
	e := newEnv(t, 0)
	signedAt := e.clock()
	st, _ := code(t, e.raw("GET", "/api/v1/reseller/balance", "", e.secret, signedAt, "nonce-cccccccccccc1", ""))
	if st != 200 {
		t.Fatalf("first: %d", st)
	}
	e.now.Add(30)
	restarted := httptest.NewServer(New(Config{Shop: e.shop, Staff: e.staff, Now: e.clock}))
	defer restarted.Close()
	req, _ := http.NewRequest("GET", restarted.URL+"/api/v1/reseller/balance", nil)
	SignRequest(req, e.acct.ID, e.secret, nil, signedAt, "nonce-cccccccccccc1", "")
	resp, _ := http.DefaultClient.Do(req)
	if st, c := code(t, resp); st != 401 || c != "stale_timestamp" {
		t.Fatalf("replay after restart: %d %s", st, c)
	}
}
