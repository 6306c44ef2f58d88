package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"veil/server/pay"
	"veil/server/shop"
	"veil/server/staff"
)

const instructions = "Bank: Example Bank\nAccount: 6222 0000 1111 2222\nHolder: Example Trading Ltd"

// staffClient is a signed-in console session over HTTP.
type staffClient struct {
	e    *payEnv
	c    *http.Client
	csrf string
}

func (e *payEnv) signIn(name string) *staffClient {
	e.t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	e.clk.Add(30 * time.Second)
	body, _ := json.Marshal(map[string]string{"user": name, "password": payPass, "totp": e.code(name)})
	resp, err := c.Post(e.ts.URL+"/api/v1/admin/session", "application/json", strings.NewReader(string(body)))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		CSRF string `json:"csrf"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&out) != nil || out.CSRF == "" {
		e.t.Fatalf("sign-in of %s: %d", name, resp.StatusCode)
	}
	return &staffClient{e: e, c: c, csrf: out.CSRF}
}

// post sends a console JSON request and returns the status and body.
func (sc *staffClient) post(path string, v any) (int, map[string]any) {
	sc.e.t.Helper()
	b, _ := json.Marshal(v)
	rq, _ := http.NewRequest(http.MethodPost, sc.e.ts.URL+path, strings.NewReader(string(b)))
	rq.Header.Set("Content-Type", "application/json")
	rq.Header.Set("X-CSRF-Token", sc.csrf)
	resp, err := sc.c.Do(rq)
	if err != nil {
		sc.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]any{}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func errCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func newManualEnv(t *testing.T) *payEnv {
	t.Helper()
	m, err := pay.NewManual(instructions)
	if err != nil {
		t.Fatal(err)
	}
	e := newPayEnv(t, m)
	e.owner("boss")
	e.member("helper", staff.RoleSupport)
	return e
}

func TestManualInstructionsPage(t *testing.T) {
	e := newManualEnv(t)
	p := e.product("bank", 1)
	pl := e.place(p, 1)
	st := orderPayment(t, e.ts.URL, pl.Token)
	if st.Provider != "manual" {
		t.Fatalf("%+v", st)
	}
	resp, err := http.Get(e.ts.URL + st.URL + "&lang=en")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	body := string(b)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	for _, want := range []string{"Account: 6222 0000 1111 2222", "Holder: Example Trading Ltd", pl.Order.Ref, "¥9.90", "Waiting for payment"} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(body, "BANK-KEY") {
		t.Fatal("a key on a page without token")
	}
}

func TestManualConfirm(t *testing.T) {
	e := newManualEnv(t)
	p := e.product("bank", 5)

	t.Run("propose, support cannot approve, owner approves with TOTP, delivered", func(t *testing.T) {
		pl := e.place(p, 1)
		sc := e.signIn("helper")
		status, body := sc.post("/api/v1/admin/payments/confirm", map[string]any{"ref": pl.Order.Ref, "amount_minor": 990})
		id, _ := body["approval_id"].(string)
		if status != http.StatusAccepted || id == "" {
			t.Fatalf("propose: %d %v", status, body)
		}
		e.want(pl.Token, shop.StatusPending, 0)
		if _, err := e.decide(id, "helper", staff.Approve); staff.Code(err) != "forbidden" {
			t.Fatalf("support approved: %v", err)
		}
		e.want(pl.Token, shop.StatusPending, 0)
		owner := e.signIn("boss")
		e.clk.Add(30 * time.Second)
		status, body = owner.post("/api/v1/admin/approvals/"+id, map[string]string{"decision": "approve", "totp": e.code("boss")})
		if status != http.StatusOK || body["status"] != "approved" {
			t.Fatalf("approve: %d %v", status, body)
		}
		e.want(pl.Token, shop.StatusDelivered, 1)
		recs, _ := e.shop.Payments(pl.Order.Ref)
		if len(recs) != 1 || recs[0].Payment.Provider != "manual" || recs[0].Payment.TradeNo != "approval-"+id || recs[0].Payment.Band == "" {
			t.Fatalf("records %+v", recs)
		}
		// The same approval cannot pay twice, nor can a new one.
		if _, err := e.decide(id, "boss", staff.Approve); staff.Code(err) != "already_decided" {
			t.Fatalf("second decision: %v", err)
		}
		status, body = owner.post("/api/v1/admin/payments/confirm", map[string]any{"ref": pl.Order.Ref, "amount_minor": 990})
		if status != http.StatusConflict || errCode(body) != "not_payable" {
			t.Fatalf("confirm of a delivered order: %d %v", status, body)
		}
	})

	t.Run("owner with TOTP executes at once", func(t *testing.T) {
		pl := e.place(p, 1)
		owner := e.signIn("boss")
		e.clk.Add(30 * time.Second)
		status, body := owner.post("/api/v1/admin/payments/confirm", map[string]any{"ref": pl.Order.Ref, "amount_minor": 990, "totp": e.code("boss")})
		if status != http.StatusOK || body["status"] != "approved" {
			t.Fatalf("%d %v", status, body)
		}
		e.want(pl.Token, shop.StatusDelivered, 1)
	})

	t.Run("support with a TOTP code only queues", func(t *testing.T) {
		pl := e.place(p, 1)
		sc := e.signIn("helper")
		e.clk.Add(30 * time.Second)
		status, body := sc.post("/api/v1/admin/payments/confirm", map[string]any{"ref": pl.Order.Ref, "amount_minor": 990, "totp": e.code("helper")})
		if status != http.StatusAccepted {
			t.Fatalf("%d %v", status, body)
		}
		e.want(pl.Token, shop.StatusPending, 0)
	})

	t.Run("wrong amount and unknown order are refused", func(t *testing.T) {
		pl := e.place(p, 1)
		owner := e.signIn("boss")
		status, body := owner.post("/api/v1/admin/payments/confirm", map[string]any{"ref": pl.Order.Ref, "amount_minor": 989})
		if status != http.StatusConflict || errCode(body) != "amount_mismatch" {
			t.Fatalf("%d %v", status, body)
		}
		status, body = owner.post("/api/v1/admin/payments/confirm", map[string]any{"ref": "R-ZZZZZZZZ", "amount_minor": 990})
		if status != http.StatusNotFound || errCode(body) != "order_not_found" {
			t.Fatalf("%d %v", status, body)
		}
		e.want(pl.Token, shop.StatusPending, 0)
	})

	t.Run("a late confirmation re-reserves and delivers", func(t *testing.T) {
		pl := e.place(p, 1)
		e.clk.Add(16 * time.Minute)
		if _, err := e.shop.Sweep(); err != nil {
			t.Fatal(err)
		}
		e.want(pl.Token, shop.StatusExpired, 0)
		before := e.stock(p)
		owner := e.signIn("boss")
		e.clk.Add(30 * time.Second)
		status, body := owner.post("/api/v1/admin/payments/confirm", map[string]any{"ref": pl.Order.Ref, "amount_minor": 990, "totp": e.code("boss")})
		if status != http.StatusOK {
			t.Fatalf("%d %v", status, body)
		}
		e.want(pl.Token, shop.StatusDelivered, 1)
		if e.stock(p) != before-1 {
			t.Fatalf("stock %d, want %d", e.stock(p), before-1)
		}
	})
}

// orderPayment is the payment GET /api/v1/order shows the token holder of
// a pending order.
func orderPayment(t *testing.T, base, token string) pay.Start {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/api/v1/order", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var o orderJSON
	if err := json.NewDecoder(resp.Body).Decode(&o); err != nil || resp.StatusCode != http.StatusOK || o.Payment == nil {
		t.Fatalf("GET /api/v1/order: %d %+v %v", resp.StatusCode, o, err)
	}
	return *o.Payment
}
