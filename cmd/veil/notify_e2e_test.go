package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"veil/server/notify"
	"veil/server/pay"
	"veil/server/shop"
	"veil/server/staff"
)

const (
	e2eBotToken = "7001234567:AAFakeTokenForTheNotifyEndToEndTest0"
	e2eHookKey  = "webhook-signing-secret-e2e-0123"
	e2eChat     = "-1009876543210"
)

// sink records what the fake Bot API and the webhook receiver got.
type sink struct {
	mu       sync.Mutex
	telegram []string // chat id | text
	hooks    [][]byte // bodies whose signature verified
	badSig   int
	raw      [][]byte // every body either got
}

func (s *sink) snapshot() (tg []string, hooks [][]byte, bad int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.telegram...), append([][]byte(nil), s.hooks...), s.badSig
}

func newSink(t *testing.T) (s *sink, botAPI, hookURL string) {
	s = &sink{}
	tg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.raw = append(s.raw, b)
		if r.URL.Path != "/bot"+e2eBotToken+"/sendMessage" {
			http.Error(w, `{"ok":false}`, http.StatusNotFound)
			return
		}
		var m struct {
			ChatID string `json:"chat_id"`
			Text   string `json:"text"`
		}
		json.Unmarshal(b, &m)
		s.telegram = append(s.telegram, m.ChatID+"|"+m.Text)
		io.WriteString(w, `{"ok":true,"result":{}}`)
	}))
	t.Cleanup(tg.Close)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.raw = append(s.raw, b)
		if !webhookSignatureOK(r.Header.Get("X-Veil-Signature"), b) {
			s.badSig++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		s.hooks = append(s.hooks, b)
	}))
	t.Cleanup(hook.Close)
	return s, tg.URL, hook.URL + "/veil"
}

// webhookSignatureOK checks X-Veil-Signature as server/API.md tells a
// receiver to, written out again rather than calling the code under test.
func webhookSignatureOK(header string, body []byte) bool {
	ts, sig, ok := strings.Cut(strings.TrimPrefix(header, "t="), ",v1=")
	m := hmac.New(sha256.New, []byte(e2eHookKey))
	m.Write([]byte(ts + "."))
	m.Write(body)
	return ok && hmac.Equal([]byte(hex.EncodeToString(m.Sum(nil))), []byte(sig))
}

// waitFor polls cond for up to 20 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestNotifyEndToEnd: set up Telegram and a webhook through a
// notify_settings approval with TOTP; a paid order sends a Telegram message
// and a signed webhook, a sale below the threshold tells stock_low, a
// ticket and a chat room are told by ref only; an event queued while the
// sender is down is delivered after a restart, once. No token, key or chat
// text is in any payload, and neither secret is on disk in the clear.
func TestNotifyEndToEnd(t *testing.T) {
	s, botAPI, hookURL := newSink(t)
	t.Setenv("VEIL_TELEGRAM_API", botAPI)
	dir := t.TempDir()
	a, err := openAppWith(dir, slog.New(slog.DiscardHandler), shop.Config{VaultWorkFactor: 10})
	if err != nil {
		t.Fatal(err)
	}
	ini, err := initShop(a, "owner", "a long password", "vault passphrase")
	if err != nil {
		t.Fatal(err)
	}
	prod, err := a.shop.CreateProduct(shop.Product{Slug: "nebula-50", Name: shop.Text{"en": "Nebula 50"}, PriceMinor: 4850,
		Currency: "CNY", Kind: shop.Unique, MaxPerOrder: 5, Policy: shop.Policy{WindowHours: 72, Remedies: []shop.Remedy{shop.RemedyReplace}}})
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"NEBULA-KEY-AAAA-0001", "NEBULA-KEY-BBBB-0002", "NEBULA-KEY-CCCC-0003", "NEBULA-KEY-DDDD-0004"}
	if _, err := a.shop.ImportKeys(prod.ID, shop.BatchInfo{Supplier: "s"}, strings.NewReader(strings.Join(keys, "\n"))); err != nil {
		t.Fatal(err)
	}

	// The owner sets notifications up: a settings approval decided with TOTP.
	all := notify.Kinds()
	p, summary, err := a.notify.Prepare(notify.Change{
		Telegram:   &notify.ChannelChange{Target: ptrTo(e2eChat), Secret: ptrTo(e2eBotToken), Events: &[]notify.Kind{notify.OrderPaid, notify.StockLow}, Lang: ptrTo("en")},
		Webhook:    &notify.ChannelChange{Target: ptrTo(hookURL), Secret: ptrTo(e2eHookKey), Events: &all},
		Thresholds: map[string]int{prod.ID: 4},
	})
	if err != nil {
		t.Fatal(err)
	}
	code, _ := totp.GenerateCodeCustom(ini.TOTPSecret, time.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	ap, err := a.staff.ProposeAndExecute("owner", staff.KindNotifySettings, "notify", summary, p, code)
	if err != nil || ap.Status != staff.StatusApproved {
		t.Fatalf("settings approval: %+v %v", ap, err)
	}
	if bytes.Contains(ap.Params, []byte(e2eBotToken)) || bytes.Contains(ap.Params, []byte(e2eHookKey)) {
		t.Fatal("the approval's params hold a secret in the clear")
	}

	base, stop := serveApp(t, a)
	hc := &http.Client{Timeout: 20 * time.Second}
	call := func(method, path, token, body string, want int) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
		}
		var v map[string]any
		json.Unmarshal(b, &v)
		return v
	}
	o := call("POST", "/api/v1/orders", "", `{"product":"nebula-50","quantity":1}`, 201)
	token, ref := o["token"].(string), o["ref"].(string)
	call("POST", "/api/v1/pay/demo", "", `{"ref":"`+ref+`"}`, 200)
	got := call("GET", "/api/v1/order", token, "", 200)
	items, _ := got["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("order: %v", got)
	}
	waitFor(t, "telegram order_paid and stock_low", func() bool { tg, _, _ := s.snapshot(); return len(tg) >= 2 })
	tg, _, _ := s.snapshot()
	wantPaid := e2eChat + "|veil · Order paid\n" + ref + " · nebula-50 ×1 · ¥48.50"
	wantLow := e2eChat + "|veil · Low stock\nnebula-50 · 3 left, below 4"
	if len(tg) != 2 || !(tg[0] == wantPaid && tg[1] == wantLow) {
		t.Fatalf("telegram got %q, want %q then %q", tg, wantPaid, wantLow)
	}

	const chatText = "my key NEBULA fails, call me on 555-0199"
	call("POST", "/api/v1/order/tickets", token, `{"reason":"key_invalid","detail":"`+chatText+`"}`, 201)
	call("POST", "/api/v1/order/chat", token, `{}`, 201)
	if _, err := a.staff.Propose("staff:owner", staff.KindRefund, ref, "refund "+ref,
		map[string]any{"ref": ref, "amount_minor": 0, "reason": "test"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "webhooks", func() bool { _, h, _ := s.snapshot(); return len(h) >= 5 })
	_, hooks, bad := s.snapshot()
	if bad != 0 {
		t.Fatalf("%d webhooks with a bad signature", bad)
	}
	var kinds []string
	for _, h := range hooks {
		var e notify.Event
		if err := json.Unmarshal(h, &e); err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, string(e.Kind))
		if e.Kind == notify.OrderPaid && (e.Ref != ref || e.AmountMinor != 4850 || e.Currency != "CNY" || e.Product != "nebula-50") {
			t.Fatalf("order_paid webhook %s", h)
		}
		if (e.Kind == notify.TicketOpened || e.Kind == notify.ChatOpened || e.Kind == notify.ApprovalWaiting) && e.Ref != ref {
			t.Fatalf("webhook %s", h)
		}
	}
	if strings.Join(kinds, ",") != "order_paid,stock_low,ticket_opened,chat_opened,approval_waiting" {
		t.Fatalf("webhook events %v", kinds)
	}

	// A second order paid while the sender is down (the process stopped
	// between the payment's commit and the send) is told after the restart.
	o2 := call("POST", "/api/v1/orders", "", `{"product":"nebula-50","quantity":1}`, 201)
	ref2 := o2["ref"].(string)
	stop()
	if _, err := a.shop.Pay(ref2, shop.Payment{Provider: "demo", AmountMinor: 4850}); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	a, err = openAppWith(dir, slog.New(slog.DiscardHandler), shop.Config{VaultWorkFactor: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.shop.Unlock("vault passphrase"); err != nil {
		t.Fatal(err)
	}
	_, stop = serveApp(t, a)
	defer stop()
	waitFor(t, "the queued order_paid after restart", func() bool { tg, _, _ := s.snapshot(); return len(tg) >= 3 })
	waitFor(t, "the queued webhook after restart", func() bool { _, h, _ := s.snapshot(); return len(h) >= 6 })
	// A receiver's answer comes a moment before the sender records it sent.
	var ds []notify.Delivery
	waitFor(t, "every delivery recorded", func() bool {
		ds, err = a.notify.Deliveries(0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			if d.State == notify.StatePending {
				return false
			}
		}
		return true
	})
	sent := map[string]int{}
	for _, d := range ds {
		if d.State != notify.StateSent {
			t.Fatalf("delivery %+v", d)
		}
		sent[d.Channel+" "+string(d.Event.Kind)+" "+d.Event.Ref]++
	}
	if sent["telegram order_paid "+ref2] != 1 || sent["webhook order_paid "+ref2] != 1 || sent["webhook order_paid "+ref] != 1 {
		t.Fatalf("deliveries %v", sent)
	}
	tg, _, _ = s.snapshot()
	if tg[2] != e2eChat+"|veil · Order paid\n"+ref2+" · nebula-50 ×1 · ¥48.50" {
		t.Fatalf("after restart telegram got %q", tg[2])
	}

	// Nothing secret in any payload, and no secret on disk in the clear.
	s.mu.Lock()
	raw := bytes.Join(s.raw, []byte("\n"))
	s.mu.Unlock()
	needles := append([]string{token, strings.ReplaceAll(token, "-", ""), chatText, "555-0199", "127.0.0.1"}, keys...)
	for _, n := range needles {
		if bytes.Contains(raw, []byte(n)) {
			t.Errorf("a notification payload holds %q", n)
		}
	}
	stop()
	a.Close()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		for _, n := range []string{e2eBotToken, e2eHookKey} {
			if bytes.Contains(b, []byte(n)) {
				t.Errorf("%s holds a notification secret in the clear", filepath.Base(p))
			}
		}
		return nil
	})
}

func ptrTo[T any](v T) *T { return &v }

// serveApp serves a with demo payments on a free port until stop.
func serveApp(t *testing.T, a *app) (base string, stop func()) {
	t.Helper()
	ready := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- a.serveHTTP(ctx, serveConfig{addr: "127.0.0.1:0", payments: pay.Demo{}, demo: true,
			rateLimit: 0, ready: func(addr string) { ready <- addr }})
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-served }) }
	t.Cleanup(stop)
	select {
	case addr := <-ready:
		return "http://" + addr, stop
	case err := <-served:
		t.Fatalf("serve: %v", err)
	}
	return "", stop
}

// TestNotifyConsole drives the console over HTTP: the owner signs in, sets
// the webhook up through POST /api/v1/admin/notify with a TOTP code, the
// page shows the hint and never the secret, "send test" (a form) reaches
// the receiver signed, and the deliveries list shows it sent. Abuse: a bad
// URL or secret is 400, a form without the CSRF token 403, nothing changes.
func TestNotifyConsole(t *testing.T) {
	s, botAPI, hookURL := newSink(t)
	t.Setenv("VEIL_TELEGRAM_API", botAPI)
	a, err := openAppWith(t.TempDir(), slog.New(slog.DiscardHandler), shop.Config{VaultWorkFactor: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ini, err := initShop(a, "owner", "a long password", "vault passphrase")
	if err != nil {
		t.Fatal(err)
	}
	base, stop := serveApp(t, a)
	defer stop()
	owner := signIn(t, base, "owner", "a long password", ini.TOTPSecret)
	next, _ := totp.GenerateCodeCustom(ini.TOTPSecret, time.Now().Add(30*time.Second),
		totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})

	owner.call("POST", "/api/v1/admin/notify", "application/json",
		`{"webhook":{"target":"ftp://x.example/","secret":"`+e2eHookKey+`"},"totp":"`+next+`"}`, http.StatusBadRequest, nil)
	owner.call("POST", "/api/v1/admin/notify", "application/json",
		`{"webhook":{"target":"`+hookURL+`","secret":"short"},"totp":"`+next+`"}`, http.StatusBadRequest, nil)
	var op struct {
		ApprovalID string `json:"approval_id"`
	}
	owner.call("POST", "/api/v1/admin/notify", "application/json",
		`{"webhook":{"target":"`+hookURL+`","secret":"`+e2eHookKey+`","events":["order_paid"]},"totp":"`+next+`"}`, http.StatusOK, &op)

	var got struct {
		Channels []notify.ChannelView `json:"channels"`
		Events   []string             `json:"events"`
	}
	owner.call("GET", "/api/v1/admin/notify", "", "", http.StatusOK, &got)
	if len(got.Channels) != 2 || !got.Channels[1].Configured || got.Channels[1].SecretHint != "…0123" ||
		!slices.Contains(got.Events, "order_paid") || !slices.Contains(got.Events, "approval_waiting") {
		t.Fatalf("settings %+v", got)
	}
	page := owner.page("/admin/notify?lang=en")
	if !strings.Contains(page, "A secret is set: …0123") || strings.Contains(page, e2eHookKey) || !strings.Contains(page, hookURL) {
		t.Fatalf("the page shows no hint, or the secret:\n%s", page)
	}

	// A form without its CSRF token changes nothing.
	resp, err := owner.c.PostForm(base+"/admin/notify/test", url.Values{"channel": {"webhook"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("test without CSRF: %d", resp.StatusCode)
	}
	resp, err = owner.c.PostForm(base+"/admin/notify/test", url.Values{"channel": {"webhook"}, "csrf": {owner.csrf}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK { // followed the 303 back to the page
		t.Fatalf("send test: %d", resp.StatusCode)
	}
	waitFor(t, "the test webhook", func() bool { _, h, _ := s.snapshot(); return len(h) == 1 })
	_, hooks, bad := s.snapshot()
	if bad != 0 || !bytes.Contains(hooks[0], []byte(`"event":"test"`)) {
		t.Fatalf("receiver got %q (%d bad)", hooks, bad)
	}
	waitFor(t, "the test recorded sent", func() bool {
		var st struct{ Deliveries []notify.Delivery }
		owner.call("GET", "/api/v1/admin/notify", "", "", http.StatusOK, &st)
		return len(st.Deliveries) == 1 && st.Deliveries[0].State == notify.StateSent
	})
	if page := owner.page("/admin/notify?lang=zh-CN"); !strings.Contains(page, "已发送") || !strings.Contains(page, "测试消息") {
		t.Fatalf("zh-CN page lacks the delivery:\n%s", page)
	}
	var audit struct {
		Entries []struct{ Action string } `json:"entries"`
	}
	owner.call("GET", "/api/v1/admin/audit", "", "", http.StatusOK, &audit)
	var actions []string
	for _, e := range audit.Entries {
		actions = append(actions, e.Action)
	}
	if !strings.Contains(strings.Join(actions, ","), "notify.test") {
		t.Fatalf("audit %v lacks notify.test", actions)
	}
}

// page GETs a console page and returns its HTML (status 200 required).
func (c *console) page(path string) string {
	c.t.Helper()
	resp, err := c.c.Get(c.base + path)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	return string(b)
}
