package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"veil/server/pay"
	"veil/server/pay/xmrtest"
	"veil/server/shop"
	"veil/server/store"
)

// xmrOrder is a Monero order as its buyer knows it: the token, and the
// subaddress and amount the API answered.
type xmrOrder struct {
	buyerOrder
	address string
	atomic  uint64
}

// TestMoneroE2E runs the real binary with --payments demo,monero against
// a private Monero network (monerod --regtest and a view-only merchant
// wallet behind digest authentication, xmrtest): no rate → 409; the
// owner sets the rate (an approval, TOTP); an exact payment, confirmed,
// delivers exactly once and the buyer reads the key by token; an
// underpayment is held once the order's window is over; a payment after
// expiry follows the late-payment rule (delivered, stock being left). The
// shop is restarted in between: the watch list is durable and nothing is
// applied twice.
func TestMoneroE2E(t *testing.T) {
	began := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	net := xmrtest.Start(ctx, t)
	t.Logf("network up and buyer funded in %v", time.Since(began).Round(time.Millisecond))
	bin := buildVeil(t)
	const password = "monero test owner password"
	sh := initVeil(t, bin, password, "monero test vault passphrase",
		map[string]string{"monero-login": net.MerchantUser + ":" + net.MerchantPassword})
	addr := freeAddr(t)
	base := "http://" + addr
	t.Setenv("VEIL_MONERO_POLL", "300ms")
	args := []string{"serve", "--data", sh.data, "--addr", addr, "--passphrase-file", sh.ppFile,
		"--payments", "demo,monero", "--monero-wallet-rpc", net.MerchantURL,
		"--monero-rpc-login-file", sh.file("monero-login"), "--monero-confirmations", "2", "--rate-limit", "0"}
	srv := startVeil(t, bin, base, args...)

	// Two codes of consecutive steps: sign-in, then the rate approval.
	t0 := time.Now()
	var codes []string
	for _, d := range []time.Duration{0, 30 * time.Second} {
		c, err := totp.GenerateCodeCustom(sh.ini.TOTPSecret, t0.Add(d), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		codes = append(codes, c)
	}
	jar, _ := cookiejar.New(nil)
	owner := &console{t: t, base: base, c: &http.Client{Jar: jar, Timeout: time.Minute}}
	body, _ := json.Marshal(map[string]string{"user": "owner", "password": password, "totp": codes[0]})
	var sess struct{ CSRF string }
	owner.call(http.MethodPost, "/api/v1/admin/session", "application/json", string(body), http.StatusOK, &sess)
	owner.csrf = sess.CSRF
	m := &moneyShop{t: t, base: base, hc: &http.Client{Timeout: 30 * time.Second}, owner: owner}
	// Ten keys: three unpaid orders stay under the hoarding guard's half.
	var keys []string
	for i := range 10 {
		keys = append(keys, fmt.Sprintf("XMR-E2E-KEY-%02d", i))
	}
	m.product("xmr", `{"window_hours":24,"remedies":["replace"]}`, keys...)

	order := func(want int) (int, map[string]any) {
		t.Helper()
		resp, err := m.hc.Post(base+"/api/v1/orders", "application/json",
			strings.NewReader(`{"product":"xmr","quantity":1,"pay_with":"monero"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var v map[string]any
		if err := json.Unmarshal(raw, &v); err != nil || resp.StatusCode != want {
			t.Fatalf("POST /api/v1/orders: %d %s", resp.StatusCode, raw)
		}
		return resp.StatusCode, v
	}
	_, v := order(http.StatusConflict)
	if e, _ := v["error"].(map[string]any); e["code"] != "xmr_rate_unset" {
		t.Fatalf("without a rate: %v", v)
	}
	owner.call(http.MethodPost, "/api/v1/admin/settings", "application/json",
		`{"xmr_rate":{"CNY":120000},"totp":"`+codes[1]+`"}`, http.StatusOK, nil)

	place := func() xmrOrder {
		t.Helper()
		_, v := order(http.StatusCreated)
		p, _ := v["payment"].(map[string]any)
		uri, _ := p["url"].(string)
		u, err := url.Parse(uri)
		if err != nil || u.Scheme != "monero" || p["provider"] != "monero" {
			t.Fatalf("payment %v", p)
		}
		atomic, err := pay.ParseXMR(u.Query().Get("tx_amount"))
		if err != nil || atomic != 8_250_000_000 { // 9.90 CNY at 1200.00 CNY/XMR
			t.Fatalf("amount in %q: %d %v", uri, atomic, err)
		}
		o := xmrOrder{address: u.Opaque, atomic: atomic}
		o.Token, _ = v["token"].(string)
		o.Ref, _ = v["ref"].(string)
		return o
	}
	exact, under, late := place(), place(), place()
	if exact.address == under.address || under.address == late.address || exact.address == net.MerchantAddress {
		t.Fatal("orders share a subaddress, or use the primary address")
	}
	page := m.form("/order", url.Values{"token": {exact.Token}})
	for _, want := range []string{exact.address, "0.00825 XMR", `href="monero:` + exact.address, "<svg"} {
		if !strings.Contains(page, want) {
			t.Fatalf("order page lacks %q", want)
		}
	}

	waitStatus := func(o xmrOrder, want string) orderView {
		t.Helper()
		deadline := time.Now().Add(45 * time.Second)
		for {
			v := m.view(o.buyerOrder)
			if v.Status == want {
				return v
			}
			if time.Now().After(deadline) {
				t.Fatalf("order %s is %s, want %s\n%s", o.Ref, v.Status, want, srv.stderr)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	net.Pay(ctx, exact.address, exact.atomic)
	net.Pay(ctx, under.address, under.atomic/2)
	net.Mine(ctx, 2)
	v1 := waitStatus(exact, "delivered")
	if len(v1.Items) != 1 || !strings.HasPrefix(v1.Items[0].Key, "XMR-E2E-KEY-") {
		t.Fatalf("exact order's keys: %s", v1.raw)
	}
	if v := m.view(under.buyerOrder); v.Status != "pending_payment" {
		t.Fatalf("underpaid order %s while its window is open", v.Status)
	}

	// Stop the shop and move the two open orders' windows into the past,
	// as time would: after the restart they expire, the underpayment is
	// held, and the late payment follows the late-payment rule.
	if err := srv.stop(); err != nil {
		t.Fatalf("shutdown: %v\n%s", err, srv.stderr)
	}
	logs := srv.stderr.String()
	tamper(t, sh.data, func(tx *store.Txn) error {
		for _, ref := range []string{under.Ref, late.Ref} {
			err := shop.EditOrderTx(tx, ref, func(o *shop.Order) error {
				if err := tx.Delete(fmt.Sprintf("expiry/%012d/%s", o.ExpiresAt.Unix(), ref)); err != nil {
					return err
				}
				o.ExpiresAt = time.Now().Add(-time.Minute)
				return tx.Set(fmt.Sprintf("expiry/%012d/%s", o.ExpiresAt.Unix(), ref), nil)
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	srv = startVeil(t, bin, base, args...)
	waitStatus(under, "payment_held")
	waitStatus(late, "expired")
	net.Pay(ctx, late.address, late.atomic)
	net.Mine(ctx, 2)
	v3 := waitStatus(late, "delivered")
	if len(v3.Items) != 1 || v3.Items[0].Key == v1.Items[0].Key {
		t.Fatalf("late order's keys: %s", v3.raw)
	}
	// Exactly once: the exact order still has its one key after the
	// restart and more watcher ticks.
	if v := m.view(exact.buyerOrder); v.Status != "delivered" || len(v.Items) != 1 || v.Items[0].Key != v1.Items[0].Key {
		t.Fatalf("exact order after the restart: %s", v.raw)
	}
	if err := srv.stop(); err != nil {
		t.Errorf("shutdown: %v\n%s", err, srv.stderr)
	}
	logs += srv.stderr.String()
	if bad := badLines(logs); len(bad) > 0 {
		t.Errorf("the server logged:\n%s", strings.Join(bad, "\n"))
	}
	for _, secret := range []string{net.MerchantPassword, exact.Token, under.Token, late.Token} {
		if strings.Contains(logs, secret) {
			t.Error("a secret (wallet login or token) in the server log")
		}
	}
	t.Logf("TestMoneroE2E took %v", time.Since(began).Round(time.Millisecond))
}
