package server

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"veil/server/pay"
	"veil/server/shop"
	"veil/server/store"
)

// env is a real shop over a real Badger in a temp dir, and a server over it.
type env struct {
	shop *shop.Shop
	srv  *Server
	h    http.Handler
	logs *syncBuffer
}

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(t *testing.T, tweak func(*Config)) *env {
	t.Helper()
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	sh, err := shop.New(db, shop.Config{VaultWorkFactor: 10})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sh.InitVault("test passphrase"); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cfg := Config{
		Shop:         sh,
		Payments:     pay.Demo{},
		DemoPayments: true,
		Logger:       slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if tweak != nil {
		tweak(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &env{shop: sh, srv: srv, h: srv.Handler(), logs: logs}
}

// addProduct creates a product with full disclosure and policy, stocked
// with keys.
func (e *env) addProduct(t *testing.T, slug string, keys ...string) shop.Product {
	t.Helper()
	p, err := e.shop.CreateProduct(shop.Product{
		Slug:        slug,
		Name:        shop.Text{"en": "Game Card " + slug, "zh-CN": "游戏点卡 " + slug},
		Description: shop.Text{"en": "A card for the game.", "zh-CN": "游戏充值卡。"},
		PriceMinor:  990,
		Currency:    "CNY",
		Disclosure: shop.Disclosure{
			Validity:            shop.Text{"en": "30 days from activation", "zh-CN": "激活后 30 天"},
			Regions:             shop.Text{"en": "Mainland China only", "zh-CN": "仅限中国大陆"},
			Devices:             shop.Text{"en": "One device", "zh-CN": "限一台设备"},
			UsageGuide:          shop.Text{"en": "Redeem in the game's shop.", "zh-CN": "在游戏商城兑换。"},
			FailureRatePermille: 15,
		},
		Policy: shop.Policy{
			WindowHours:       72,
			Remedies:          []shop.Remedy{shop.RemedyReplace, shop.RemedyRefund},
			CoolingOffMinutes: 30,
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) > 0 {
		res, err := e.shop.ImportKeys(p.ID, shop.BatchInfo{Supplier: "s"}, strings.NewReader(strings.Join(keys, "\n")+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		if res.Imported != len(keys) {
			t.Fatalf("imported %d of %d keys", res.Imported, len(keys))
		}
	}
	p, err = e.shop.Product(p.ID)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

type req struct {
	method, target string
	body           string
	ctype          string
	header         map[string]string
	remote         string
}

func (e *env) do(t *testing.T, r req) *httptest.ResponseRecorder {
	t.Helper()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	hr := httptest.NewRequest(r.method, r.target, body)
	if r.ctype != "" {
		hr.Header.Set("Content-Type", r.ctype)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	if r.remote != "" {
		hr.RemoteAddr = r.remote
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, hr)
	return w
}

func (e *env) get(t *testing.T, target string, header map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	return e.do(t, req{method: http.MethodGet, target: target, header: header})
}

func (e *env) postForm(t *testing.T, target string, form url.Values) *httptest.ResponseRecorder {
	t.Helper()
	return e.do(t, req{method: http.MethodPost, target: target, body: form.Encode(), ctype: "application/x-www-form-urlencoded"})
}

func (e *env) postJSON(t *testing.T, target, body string) *httptest.ResponseRecorder {
	t.Helper()
	return e.do(t, req{method: http.MethodPost, target: target, body: body, ctype: "application/json"})
}

// placeAPI orders through the API and returns the 201 body.
func (e *env) placeAPI(t *testing.T, product string, qty int) orderCreated {
	t.Helper()
	w := e.postJSON(t, "/api/v1/orders", `{"product":"`+product+`","quantity":`+itoa(qty)+`}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("POST /api/v1/orders: %d %s", w.Code, w.Body)
	}
	var oc orderCreated
	if err := json.Unmarshal(w.Body.Bytes(), &oc); err != nil {
		t.Fatal(err)
	}
	return oc
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// wantErrorJSON checks the exact error shape {"error":{"code","message"}}.
func wantErrorJSON(t *testing.T, w *httptest.ResponseRecorder, status int, code string) {
	t.Helper()
	if w.Code != status {
		t.Fatalf("status %d, want %d: %s", w.Code, status, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
	var outer map[string]json.RawMessage
	if err := json.Unmarshal(w.Body.Bytes(), &outer); err != nil {
		t.Fatalf("not JSON: %s", w.Body)
	}
	if len(outer) != 1 || outer["error"] == nil {
		t.Fatalf("want exactly {\"error\":…}, got %s", w.Body)
	}
	var inner map[string]string
	if err := json.Unmarshal(outer["error"], &inner); err != nil {
		t.Fatalf("error is not an object of strings: %s", w.Body)
	}
	if len(inner) != 2 || inner["message"] == "" {
		t.Fatalf("want exactly code and message, got %s", w.Body)
	}
	if inner["code"] != code {
		t.Fatalf("code %q, want %q (%s)", inner["code"], code, w.Body)
	}
}

var (
	dataValueRE = regexp.MustCompile(`id="order-token" data-value="([^"]+)"`)
	hrefRE      = regexp.MustCompile(`href="([^"]+)"`)
)

// tokenFromPage extracts the token from the "save your token" page.
func tokenFromPage(t *testing.T, body string) string {
	t.Helper()
	m := dataValueRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no token on the page:\n%s", body)
	}
	return m[1]
}

// typo changes the first symbol of a token to another valid symbol: the
// check symbol must catch any single substitution.
func typo(tok string) string {
	b := []byte(tok)
	if b[0] == '7' {
		b[0] = '8'
	} else {
		b[0] = '7'
	}
	return string(b)
}

// wantCSP is the policy spelled out here rather than read from the
// package's csp constant, so that loosening the constant fails the tests.
const wantCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// checkCSP asserts the Content-Security-Policy header is exactly wantCSP
// and allows nothing unsafe.
func checkCSP(t *testing.T, got string) {
	t.Helper()
	if got != wantCSP {
		t.Errorf("CSP %q, want %q", got, wantCSP)
	}
	if strings.Contains(got, "unsafe-") || strings.Contains(got, "*") || strings.Contains(got, "http:") {
		t.Errorf("CSP allows something unsafe: %q", got)
	}
}

// checkHTML asserts a page is safe under the CSP: no inline script, no
// style attribute or element, and the CSP header itself.
func checkHTML(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	body := w.Body.String()
	if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q", ct)
	}
	checkCSP(t, w.Header().Get("Content-Security-Policy"))
	for _, tag := range regexp.MustCompile(`(?i)<script[^>]*>`).FindAllString(body, -1) {
		if !strings.Contains(tag, " src=") {
			t.Errorf("inline script: %s", tag)
		}
	}
	if regexp.MustCompile(`(?i)<script[^>]*>[^<]+</script>`).MatchString(body) {
		t.Error("script element with content")
	}
	if regexp.MustCompile(`(?i)\sstyle\s*=`).MatchString(body) {
		t.Error("style= attribute in the page")
	}
	if regexp.MustCompile(`(?i)<style`).MatchString(body) {
		t.Error("<style> element in the page")
	}
	if regexp.MustCompile(`(?i)\son[a-z]+\s*=`).MatchString(body) {
		t.Error("inline event handler in the page")
	}
}
