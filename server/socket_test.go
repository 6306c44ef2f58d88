package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"veil/server/console"
	"veil/server/web"
	"veil/static"
)

// The handler tests call the handler through httptest.NewRecorder; these
// drive every route family over a real TCP socket instead, where headers,
// body limits, cookies and hijacking go through net/http's server as in
// production: static files, buyer pages, buyer JSON, the demo payment,
// console pages, console JSON and the chat's WebSocket. (The 易支付 notify
// goes over a socket in epay_test.go.)

// sockClient is a client of one test server with its own cookie jar that
// does not follow redirects (the tests check them).
type sockClient struct {
	t  *testing.T
	ts *httptest.Server
	c  *http.Client
}

func newSockClient(t *testing.T, ts *httptest.Server) *sockClient {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := ts.Client()
	c.Jar, c.Timeout = jar, time.Minute
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &sockClient{t, ts, c}
}

// sockAnswer is an answer read in full.
type sockAnswer struct {
	*http.Response
	body string
}

func (s *sockClient) do(method, target, ctype string, body io.Reader, header map[string]string) sockAnswer {
	s.t.Helper()
	rq, err := http.NewRequest(method, s.ts.URL+target, body)
	if err != nil {
		s.t.Fatal(err)
	}
	if ctype != "" {
		rq.Header.Set("Content-Type", ctype)
	}
	for k, v := range header {
		rq.Header.Set(k, v)
	}
	resp, err := s.c.Do(rq)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("%s %s: reading the answer: %v", method, target, err)
	}
	return sockAnswer{resp, string(b)}
}

func (s *sockClient) form(target string, f url.Values) sockAnswer {
	s.t.Helper()
	return s.do(http.MethodPost, target, "application/x-www-form-urlencoded", strings.NewReader(f.Encode()), nil)
}

// want checks the status and, for HTML and JSON answers, the headers
// every answer of that kind carries.
func (a sockAnswer) want(t *testing.T, what string, status int, ctype string) {
	t.Helper()
	if a.StatusCode != status {
		t.Fatalf("%s: %d, want %d: %.300s", what, a.StatusCode, status, a.body)
	}
	if got := a.Header.Get("Content-Type"); !strings.HasPrefix(got, ctype) {
		t.Errorf("%s: Content-Type %q, want %s", what, got, ctype)
	}
	checkCSP(t, a.Header.Get("Content-Security-Policy"))
	if a.Header.Get("X-Content-Type-Options") != "nosniff" || a.Header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("%s: security headers %v", what, a.Header)
	}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func TestRouteFamiliesOverSocket(t *testing.T) {
	e := newAfterSalesEnv(t)
	p := e.addProduct(t, "sock", "SOCK-KEY-0001-AAAA", "SOCK-KEY-0002-BBBB")
	buyer := newSockClient(t, e.ts)

	t.Run("static", func(t *testing.T) {
		css := buyer.do(http.MethodGet, static.Path("veil.css"), "", nil, nil)
		css.want(t, "css", http.StatusOK, "text/css")
		if css.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" || len(css.body) == 0 ||
			css.Header.Get("Content-Length") != itoa(len(css.body)) {
			t.Errorf("css: %v, %d bytes", css.Header, len(css.body))
		}
		head := buyer.do(http.MethodHead, static.Path("veil.js"), "", nil, nil)
		if head.StatusCode != http.StatusOK || head.body != "" || !strings.HasPrefix(head.Header.Get("Content-Type"), "text/javascript") {
			t.Errorf("HEAD js: %d %v %q", head.StatusCode, head.Header, head.body)
		}
		if a := buyer.do(http.MethodGet, static.Prefix+"nope.css", "", nil, nil); a.StatusCode != http.StatusNotFound {
			t.Errorf("missing static file: %d", a.StatusCode)
		}
	})

	var token, ref string
	t.Run("buyer pages and the demo payment", func(t *testing.T) {
		home := buyer.do(http.MethodGet, "/?lang=en", "", nil, nil)
		home.want(t, "catalog", http.StatusOK, "text/html")
		if !strings.Contains(home.body, "/p/sock") || len(home.Cookies()) != 0 {
			t.Errorf("catalog: %d cookies, %.300s", len(home.Cookies()), home.body)
		}
		page := buyer.form("/checkout?lang=en", url.Values{"product": {p.Slug}, "quantity": {"1"}})
		page.want(t, "checkout", http.StatusOK, "text/html")
		if page.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("the token page is cacheable: %q", page.Header.Get("Cache-Control"))
		}
		token = tokenFromPage(t, page.body)
		m := regexp.MustCompile(`/pay/demo\?ref=(R-[0-9A-Z]+)`).FindStringSubmatch(page.body)
		if m == nil {
			t.Fatalf("no payment link on the token page")
		}
		ref = m[1]
		buyer.do(http.MethodGet, "/pay/demo?lang=en&ref="+ref, "", nil, nil).want(t, "pay page", http.StatusOK, "text/html")
		buyer.form("/pay/demo?lang=en", url.Values{"ref": {ref}}).want(t, "pay", http.StatusOK, "text/html")
		// The product has a cooling-off period: the keys show on request.
		order := buyer.form("/order?lang=en", url.Values{"token": {token}, "reveal": {"1"}})
		order.want(t, "order page", http.StatusOK, "text/html")
		if order.Header.Get("Cache-Control") != "no-store" || !strings.Contains(order.body, ref) ||
			strings.Count(order.body, "SOCK-KEY-000") != 1 {
			t.Errorf("order page: %q, %.500s", order.Header.Get("Cache-Control"), order.body)
		}
		// The token travels in POST bodies only; a GET with it shows nothing.
		if a := buyer.do(http.MethodGet, "/order?token="+url.QueryEscape(token), "", nil, nil); strings.Contains(a.body, "SOCK-KEY-000") {
			t.Error("a token in the query string opened the order")
		}
	})
	if token == "" {
		t.FailNow()
	}

	t.Run("buyer JSON", func(t *testing.T) {
		var products struct{ Products []struct{ Slug string } }
		a := buyer.do(http.MethodGet, "/api/v1/products", "", nil, nil)
		a.want(t, "products", http.StatusOK, "application/json")
		if err := json.Unmarshal([]byte(a.body), &products); err != nil || len(products.Products) != 1 || products.Products[0].Slug != "sock" {
			t.Errorf("products %s %v", a.body, err)
		}
		a = buyer.do(http.MethodGet, "/api/v1/order", "", nil, map[string]string{"Authorization": "Bearer " + token})
		a.want(t, "order", http.StatusOK, "application/json")
		var o struct {
			Ref, Status string
			Items       []struct{ Key string }
		}
		if err := json.Unmarshal([]byte(a.body), &o); err != nil || o.Ref != ref || o.Status != "delivered" ||
			len(o.Items) != 1 || !strings.HasPrefix(o.Items[0].Key, "SOCK-KEY-000") || a.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("order %s %v", a.body, err)
		}
		// A body over the limit, streamed without a length: refused as
		// body_too_large, and nothing is ordered.
		big := io.MultiReader(strings.NewReader(`{"product":"sock","quantity":1,"proofs":["`),
			strings.NewReader(strings.Repeat("A", 4*web.MaxBody)), strings.NewReader(`"]}`))
		a = buyer.do(http.MethodPost, "/api/v1/orders", "application/json", big, nil)
		a.want(t, "oversized order", http.StatusRequestEntityTooLarge, "application/json")
		if !strings.Contains(a.body, `"body_too_large"`) {
			t.Errorf("oversized order: %s", a.body)
		}
		if st, err := e.shop.Stock(p.ID); err != nil || st[0].Available != 1 || st[0].Reserved != 0 {
			t.Errorf("stock after the refused order: %+v %v", st, err)
		}
	})

	t.Run("chat WebSocket", func(t *testing.T) {
		a := buyer.do(http.MethodPost, "/api/v1/order/chat", "", nil, map[string]string{"Authorization": "Bearer " + token})
		a.want(t, "open chat", http.StatusCreated, "application/json")
		var room struct {
			JoinSecret string `json:"join_secret"`
			WSPath     string `json:"ws_path"`
		}
		if err := json.Unmarshal([]byte(a.body), &room); err != nil || room.JoinSecret == "" {
			t.Fatalf("open chat: %s %v", a.body, err)
		}
		u := "ws" + strings.TrimPrefix(e.ts.URL, "http") + room.WSPath
		if _, resp, err := websocket.DefaultDialer.Dial(u, http.Header{"Origin": {"https://evil.example"}}); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-origin upgrade: %v %v", err, resp)
		}
		c := dialChat(t, e.ts, room.WSPath, room.JoinSecret)
		c.send(map[string]string{"type": "msg", "text": "SOCK-CHAT-LINE over a real socket"})
		if f := c.next("msg"); f.From != "buyer" || f.Text != "SOCK-CHAT-LINE over a real socket" {
			t.Errorf("echo %+v", f)
		}
	})

	t.Run("console pages", func(t *testing.T) {
		staff := newSockClient(t, e.ts)
		staff.do(http.MethodGet, "/admin/login?lang=en", "", nil, nil).want(t, "sign-in page", http.StatusOK, "text/html")
		if a := staff.do(http.MethodGet, "/admin?lang=en", "", nil, nil); a.StatusCode != http.StatusSeeOther || !strings.HasPrefix(a.Header.Get("Location"), "/admin/login?") {
			t.Fatalf("the dashboard without a session: %d %q", a.StatusCode, a.Header.Get("Location"))
		}
		a := staff.form("/admin/login?lang=en", url.Values{"user": {"olga"}, "password": {consolePass}, "code": {e.code("olga")}})
		if a.StatusCode != http.StatusSeeOther || !strings.HasPrefix(a.Header.Get("Location"), "/admin?") {
			t.Fatalf("sign in: %d %v %.300s", a.StatusCode, a.Header, a.body)
		}
		checkSessionCookie(t, a.Cookies(), false)
		dash := staff.do(http.MethodGet, "/admin?lang=en", "", nil, nil)
		dash.want(t, "dashboard", http.StatusOK, "text/html")
		if dash.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("dashboard Cache-Control %q", dash.Header.Get("Cache-Control"))
		}
		m := csrfField.FindStringSubmatch(dash.body)
		if m == nil {
			t.Fatal("no CSRF field on the dashboard")
		}
		if a := staff.form("/admin/logout?lang=en", url.Values{"csrf": {"wrong"}}); a.StatusCode != http.StatusForbidden {
			t.Errorf("sign out with a wrong CSRF token: %d", a.StatusCode)
		}
		// A browser's cross-site form post is refused before the CSRF check.
		cross := staff.do(http.MethodPost, "/admin/logout", "application/x-www-form-urlencoded",
			strings.NewReader(url.Values{"csrf": {m[1]}}.Encode()), map[string]string{"Sec-Fetch-Site": "cross-site"})
		if cross.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site sign out: %d", cross.StatusCode)
		}
		if a := staff.form("/admin/logout?lang=en", url.Values{"csrf": {m[1]}}); a.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign out: %d %.300s", a.StatusCode, a.body)
		}
		if a := staff.do(http.MethodGet, "/admin?lang=en", "", nil, nil); a.StatusCode != http.StatusSeeOther || !strings.HasPrefix(a.Header.Get("Location"), "/admin/login?") {
			t.Errorf("the dashboard after signing out: %d %q", a.StatusCode, a.Header.Get("Location"))
		}
	})

	t.Run("console JSON", func(t *testing.T) {
		e.next()
		staff := newSockClient(t, e.ts)
		body := `{"user":"olga","password":"` + consolePass + `","totp":"` + e.code("olga") + `"}`
		a := staff.do(http.MethodPost, "/api/v1/admin/session", "application/json", strings.NewReader(body), nil)
		a.want(t, "sign in", http.StatusOK, "application/json")
		checkSessionCookie(t, a.Cookies(), false)
		var out struct{ CSRF string }
		if err := json.Unmarshal([]byte(a.body), &out); err != nil || out.CSRF == "" {
			t.Fatalf("sign-in answer %s", a.body)
		}
		a = staff.do(http.MethodGet, "/api/v1/admin/products", "", nil, nil)
		a.want(t, "products", http.StatusOK, "application/json")
		if !strings.Contains(a.body, `"sock"`) || a.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("products %s", a.body)
		}
		create := `{"slug":"sock-2","name":{"en":"Sock 2","zh-CN":"袜子 2"},"price_minor":100,"currency":"CNY","kind":"unique"}`
		a = staff.do(http.MethodPost, "/api/v1/admin/products", "application/json", strings.NewReader(create), nil)
		if a.StatusCode != http.StatusForbidden || !strings.Contains(a.body, `"csrf"`) {
			t.Errorf("write without a CSRF token: %d %s", a.StatusCode, a.body)
		}
		a = staff.do(http.MethodPost, "/api/v1/admin/products", "application/json", strings.NewReader(create),
			map[string]string{"X-CSRF-Token": out.CSRF, "Sec-Fetch-Site": "cross-site"})
		if a.StatusCode != http.StatusForbidden || !strings.Contains(a.body, `"cross_origin"`) {
			t.Errorf("cross-site write: %d %s", a.StatusCode, a.body)
		}
		a = staff.do(http.MethodPost, "/api/v1/admin/products", "application/json", strings.NewReader(create),
			map[string]string{"X-CSRF-Token": out.CSRF})
		a.want(t, "create product", http.StatusCreated, "application/json")
		big := strings.NewReader(`{"slug":"` + strings.Repeat("s", 2*console.MaxBody) + `"}`)
		a = staff.do(http.MethodPost, "/api/v1/admin/products", "application/json", big, map[string]string{"X-CSRF-Token": out.CSRF})
		if a.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("oversized console write: %d %.200s", a.StatusCode, a.body)
		}
	})

	t.Run("console sign-in over TLS sets a Secure cookie", func(t *testing.T) {
		e.next()
		tls := httptest.NewTLSServer(e.h)
		defer tls.Close()
		staff := newSockClient(t, tls)
		body := `{"user":"olga","password":"` + consolePass + `","totp":"` + e.code("olga") + `"}`
		a := staff.do(http.MethodPost, "/api/v1/admin/session", "application/json", strings.NewReader(body), nil)
		a.want(t, "sign in over TLS", http.StatusOK, "application/json")
		checkSessionCookie(t, a.Cookies(), true)
	})
}

func checkSessionCookie(t *testing.T, cookies []*http.Cookie, secure bool) {
	t.Helper()
	for _, c := range cookies {
		if c.Name == staffCookie {
			if c.Value == "" || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Secure != secure || c.MaxAge != 0 {
				t.Errorf("session cookie %+v (Secure wanted: %v)", c, secure)
			}
			return
		}
	}
	t.Error("no session cookie")
}
