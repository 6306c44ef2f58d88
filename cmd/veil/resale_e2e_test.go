package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"veil/crypto"
	"veil/server/resale"
)

// TestResaleE2E runs two real veil processes over HTTP (issue 14): the
// downstream sells a product sourced from the upstream. A buyer's payment
// makes the downstream buy upstream; the downstream is killed (kill -9)
// between the upstream's answer and its own commit, restarted, and
// delivers the upstream's key without buying a second time. The upstream's
// reseller API refuses a bad signature, an expired timestamp, a replayed
// nonce and an insufficient balance with their codes, and answers an
// idempotent repeat with the same order; a buyer's ticket forwarded
// upstream brings the upstream's replacement key back to the buyer.
func TestResaleE2E(t *testing.T) {
	bin := buildVeil(t)
	ctx := context.Background()
	const upPass, downPass = "upstream owner password", "downstream owner password"
	up := initVeil(t, bin, upPass, "upstream vault passphrase", nil)
	down := initVeil(t, bin, downPass, "downstream vault passphrase", nil)

	// The downstream's identity at the upstream: keys sold to it are
	// sealed to its recipient.
	id, err := crypto.NewIdentity(crypto.X25519)
	if err != nil {
		t.Fatal(err)
	}
	var acct struct{ KeyID, Secret string }
	cmd := exec.Command(bin, "resale", "account", "--data", up.data, "--passphrase-file", up.ppFile,
		"--name", "downstream", "--recipient", id.Recipient(), "--percent-off", "20")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || json.Unmarshal(out, &struct {
		KeyID  *string `json:"key_id"`
		Secret *string `json:"secret"`
	}{&acct.KeyID, &acct.Secret}) != nil || acct.Secret == "" {
		t.Fatalf("resale account: %v %s %s", err, out, stderr.String())
	}
	if out, err := exec.Command(bin, "resale", "topup", "--data", up.data, "--passphrase-file", up.ppFile,
		"--key-id", acct.KeyID, "--amount", "3600").CombinedOutput(); err != nil {
		t.Fatalf("resale topup: %v %s", err, out)
	}

	// The upstream: a product of three keys at 2000, so 1600 to the agent.
	upAddr := freeAddr(t)
	upBase := "http://" + upAddr
	upSrv := startVeil(t, bin, upBase, "serve", "--data", up.data, "--addr", upAddr, "--passphrase-file", up.ppFile,
		"--payments", "demo", "--rate-limit", "0")
	// Signed in with the previous step's code, so that a code of the
	// current step is still fresh for the remedy below.
	upOwner := signInAt(t, upBase, "owner", upPass, up.ini.TOTPSecret, time.Now().Add(-30*time.Second))
	keys := []string{"UPSTREAM-KEY-0001", "UPSTREAM-KEY-0002", "UPSTREAM-KEY-0003"}
	var p struct{ ID string }
	upOwner.call(http.MethodPost, "/api/v1/admin/products", "application/json",
		`{"slug":"card","name":"Card","price_minor":2000,"currency":"CNY","kind":"unique","policy":{"window_hours":72,"remedies":["replace"]}}`,
		http.StatusCreated, &p)
	upOwner.call(http.MethodPost, "/api/v1/admin/products/"+p.ID+"/keys", "text/plain; charset=utf-8",
		strings.Join(keys, "\n")+"\n", http.StatusOK, nil)

	// The downstream: a product of no keys of its own, sourced upstream.
	if err := os.WriteFile(down.file("up-secret"), []byte(acct.Secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(down.file("up-identity"), []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	downAddr := freeAddr(t)
	downBase := "http://" + downAddr
	downSrv := startVeil(t, bin, downBase, "serve", "--data", down.data, "--addr", downAddr, "--passphrase-file", down.ppFile,
		"--payments", "demo", "--rate-limit", "0")
	downOwner := signIn(t, downBase, "owner", downPass, down.ini.TOTPSecret)
	downOwner.call(http.MethodPost, "/api/v1/admin/products", "application/json",
		`{"slug":"dcard","name":"Card (docked)","price_minor":2500,"currency":"CNY","kind":"unique","policy":{"window_hours":72,"remedies":["replace"]}}`,
		http.StatusCreated, nil)
	if err := downSrv.stop(); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "resale", "source", "--data", down.data, "--passphrase-file", down.ppFile,
		"--product", "dcard", "--upstream-url", upBase, "--key-id", acct.KeyID, "--upstream-product", "card",
		"--secret-file", down.file("up-secret"), "--identity-file", down.file("up-identity")).CombinedOutput(); err != nil {
		t.Fatalf("resale source: %v %s", err, out)
	}
	pause := filepath.Join(down.dir, "paused")
	t.Setenv("VEIL_TEST_UPSTREAM_PAUSE", pause)
	downSrv = startVeil(t, bin, downBase, "serve", "--data", down.data, "--addr", downAddr, "--passphrase-file", down.ppFile,
		"--payments", "demo", "--rate-limit", "0")
	os.Unsetenv("VEIL_TEST_UPSTREAM_PAUSE")

	hc := &http.Client{Timeout: 20 * time.Second}
	// Stock shown is the upstream's.
	poll(t, "the upstream's stock downstream", func() bool {
		var ps struct {
			Products []struct {
				Slug    string
				InStock int `json:"in_stock"`
			}
		}
		getJSON(t, hc, downBase+"/api/v1/products", "", &ps)
		for _, x := range ps.Products {
			if x.Slug == "dcard" {
				return x.InStock == 3
			}
		}
		return false
	})
	var order struct{ Token, Ref string }
	postJSON(t, hc, downBase+"/api/v1/orders", `{"product":"dcard","quantity":1}`, http.StatusCreated, &order)
	postJSON(t, hc, downBase+"/api/v1/pay/demo", `{"ref":"`+order.Ref+`"}`, http.StatusOK, nil)

	// The upstream answered; the downstream has not committed: kill -9.
	poll(t, "the pause after the upstream purchase", func() bool { _, err := os.Stat(pause); return err == nil })
	downSrv.kill()
	client := &resale.Client{BaseURL: upBase, KeyID: acct.KeyID, Secret: acct.Secret, HTTP: hc}
	if b, err := client.Balance(ctx); err != nil || b.BalanceMinor != 2000 {
		t.Fatalf("upstream balance after the purchase: %+v %v", b, err)
	}
	t.Setenv("VEIL_FORWARD_POLL", "200ms")
	downSrv = startVeil(t, bin, downBase, "serve", "--data", down.data, "--addr", downAddr, "--passphrase-file", down.ppFile,
		"--payments", "demo", "--rate-limit", "0")
	var view struct {
		Status string
		Items  []struct{ ID, Key string }
	}
	poll(t, "delivery after the restart", func() bool {
		getJSON(t, hc, downBase+"/api/v1/order", order.Token, &view)
		return view.Status == "delivered"
	})
	if len(view.Items) != 1 || view.Items[0].Key != keys[0] {
		t.Fatalf("the buyer got %+v, want the upstream's %s", view.Items, keys[0])
	}
	led, _, err := client.Ledger(ctx, 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	orders := 0
	for _, e := range led {
		if e.Kind == "order" {
			orders++
		}
	}
	if b, _ := client.Balance(ctx); orders != 1 || b.BalanceMinor != 2000 {
		t.Fatalf("upstream orders %d, balance %d: bought twice?", orders, b.BalanceMinor)
	}

	// The upstream's refusals, each with its code.
	direct, replayed, err := client.PlaceOrder(ctx, resale.OrderRequest{Product: "card", Quantity: 1}, "direct-1")
	if err != nil || replayed {
		t.Fatal(err)
	}
	again, replayed, err := client.PlaceOrder(ctx, resale.OrderRequest{Product: "card", Quantity: 1}, "direct-1")
	if err != nil || !replayed || again.ID != direct.ID {
		t.Fatalf("idempotent repeat: %+v %v", again, err)
	}
	_, _, err = client.PlaceOrder(ctx, resale.OrderRequest{Product: "card", Quantity: 1}, "direct-2")
	if ae := (*resale.Error)(nil); !errors.As(err, &ae) || ae.Status != 402 || ae.Code != "insufficient_balance" {
		t.Fatalf("insufficient balance: %v", err)
	}
	signed := func(secret string, at time.Time, nonce string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, upBase+"/api/v1/reseller/balance", nil)
		resale.SignRequest(req, acct.KeyID, secret, nil, at, nonce, "")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e struct{ Error struct{ Code string } }
		b, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(b, &e)
		return resp.StatusCode, e.Error.Code
	}
	now := time.Now()
	for _, c := range []struct {
		name   string
		status int
		code   string
		got    func() (int, string)
	}{
		{"bad signature", 401, "bad_signature", func() (int, string) { return signed("rs_not-the-secret", now, "e2e-nonce-000000001") }},
		{"expired timestamp", 401, "stale_timestamp", func() (int, string) { return signed(acct.Secret, now.Add(-6*time.Minute), "e2e-nonce-000000002") }},
		{"fresh", 200, "", func() (int, string) { return signed(acct.Secret, now, "e2e-nonce-000000003") }},
		{"replayed nonce", 401, "nonce_reused", func() (int, string) { return signed(acct.Secret, now, "e2e-nonce-000000003") }},
	} {
		if st, code := c.got(); st != c.status || code != c.code {
			t.Errorf("%s: %d %q, want %d %q", c.name, st, code, c.status, c.code)
		}
	}

	// After-sales up the chain: the buyer's ticket is forwarded with one
	// call, the upstream replaces the key, and the new key reaches the
	// buyer.
	var tk struct{ ID string }
	req, _ := http.NewRequest(http.MethodPost, downBase+"/api/v1/order/tickets",
		strings.NewReader(`{"reason":"key_invalid","detail":"says already redeemed","item_id":"`+view.Items[0].ID+`"}`))
	req.Header.Set("Authorization", "Bearer "+order.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &tk) != nil {
		t.Fatalf("buyer ticket: %d %s", resp.StatusCode, b)
	}
	var fwd struct {
		Ticket struct{ Upstream struct{ Ticket string } }
	}
	downOwner.call(http.MethodPost, "/api/v1/admin/tickets/"+tk.ID+"/forward", "application/json",
		`{"text":"the buyer reports the key as invalid"}`, http.StatusOK, &fwd)
	if fwd.Ticket.Upstream.Ticket == "" {
		t.Fatal("forwarded without an upstream ticket")
	}
	upOwner.call(http.MethodPost, "/api/v1/admin/resale/tickets/"+fwd.Ticket.Upstream.Ticket+"/remedy", "application/json",
		`{"remedy":"replace","totp":"`+totpAt(t, up.ini.TOTPSecret, time.Now())+`"}`, http.StatusOK, nil)
	poll(t, "the upstream's replacement at the buyer", func() bool {
		getJSON(t, hc, downBase+"/api/v1/order", order.Token, &view)
		return view.Status == "replaced"
	})
	if len(view.Items) != 2 || view.Items[0].Key != keys[0] || view.Items[1].Key != keys[2] {
		t.Fatalf("after the replacement the buyer has %+v", view.Items)
	}

	for name, p := range map[string]*veilProc{"upstream": upSrv, "downstream": downSrv} {
		if err := p.stop(); err != nil {
			t.Errorf("%s shutdown: %v\n%s", name, err, p.stderr)
		}
		if bad := badLines(p.stderr.String()); len(bad) > 0 {
			t.Errorf("the %s logged:\n%s", name, strings.Join(bad, "\n"))
		}
		for _, secret := range []string{acct.Secret, id.String(), order.Token, keys[0]} {
			if strings.Contains(p.stderr.String(), secret) {
				t.Errorf("the %s's log holds a secret", name)
			}
		}
	}
}

// poll waits until ok (at most a minute), failing with what it waited for.
func poll(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func getJSON(t *testing.T, hc *http.Client, url, bearer string, out any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, out) != nil {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
}

func postJSON(t *testing.T, hc *http.Client, url, body string, want int, out any) {
	t.Helper()
	resp, err := hc.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatal(fmt.Errorf("POST %s: %w: %s", url, err, b))
		}
	}
}

// totpAt is the TOTP code of secret at the step of at.
func totpAt(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// signInAt signs the owner in with the code of the step of at.
func signInAt(t *testing.T, base, user, password, secret string, at time.Time) *console {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &console{t: t, base: base, c: &http.Client{Jar: jar, Timeout: time.Minute}}
	body, _ := json.Marshal(map[string]string{"user": user, "password": password, "totp": totpAt(t, secret, at)})
	var out struct{ CSRF string }
	c.call(http.MethodPost, "/api/v1/admin/session", "application/json", string(body), http.StatusOK, &out)
	c.csrf = out.CSRF
	return c
}
