package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"veil/crypto"
	"veil/server/pay"
	"veil/server/shop"
	"veil/server/staff"
	"veil/server/store"
)

// consoleClock is the staff service's clock: TOTP codes are generated at
// controlled times, and a fresh code is one step (30 s) later.
type consoleClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *consoleClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *consoleClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const consolePass = "correct horse battery"

// consoleEnv is a real shop and staff service over one real Badger, with
// the server in front; "olga" is the bootstrapped owner.
type consoleEnv struct {
	*env
	t     *testing.T
	db    *store.DB
	staff *staff.Service
	clk   *consoleClock

	mu      sync.Mutex
	secrets map[string]string
	vault   *crypto.Vault // the backup identity opens online backups
}

func newConsoleEnv(t *testing.T) *consoleEnv {
	t.Helper()
	return newConsoleEnvWith(t, nil, nil)
}

// newConsoleEnvWith is newConsoleEnv with the shop's clock (nil: the real
// one) and a change to the server's Config.
func newConsoleEnvWith(t *testing.T, shopNow func() time.Time, tweak func(*Config)) *consoleEnv {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	sh, err := shop.New(db, shop.Config{VaultWorkFactor: 10, Now: shopNow})
	if err != nil {
		t.Fatal(err)
	}
	vault, err := sh.InitVault("test passphrase")
	if err != nil {
		t.Fatal(err)
	}
	// Mid-step, so that the ±1 step window is unambiguous.
	clk := &consoleClock{t: time.Date(2025, 3, 1, 12, 0, 10, 0, time.UTC)}
	st := staff.New(db, staff.Options{Now: clk.Now, Argon2: staff.Argon2Params{Time: 1, MemoryKiB: 256, Threads: 1}})
	logs := &syncBuffer{}
	cfg := Config{
		Shop: sh, Staff: st, Payments: pay.Demo{}, DemoPayments: true, Store: db,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if tweak != nil {
		tweak(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &consoleEnv{env: &env{shop: sh, srv: srv, h: srv.Handler(), logs: logs}, t: t, db: db, staff: st, clk: clk,
		secrets: map[string]string{}, vault: vault}
	enr, _, err := st.Bootstrap("olga", consolePass)
	if err != nil {
		t.Fatal(err)
	}
	e.secrets["olga"] = enr.Secret
	return e
}

// member adds an enrolled staff member directly (the console's own way is
// tested separately) and moves the clock on a step, so the code used for
// enrolment is not the next one wanted.
func (e *consoleEnv) member(name string, role staff.Role) {
	e.t.Helper()
	enrol, err := e.staff.CreateUser(context.Background(), name, role, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	enr, err := e.staff.PendingEnrolment(name, enrol)
	if err != nil {
		e.t.Fatal(err)
	}
	e.mu.Lock()
	e.secrets[name] = enr.Secret
	e.mu.Unlock()
	if _, err := e.staff.FinishEnrolment(name, enrol, consolePass, e.code(name)); err != nil {
		e.t.Fatal(err)
	}
}

// code is name's TOTP code at the clock's time.
func (e *consoleEnv) code(name string) string {
	e.mu.Lock()
	secret := e.secrets[name]
	e.mu.Unlock()
	c, err := totp.GenerateCodeCustom(secret, e.clk.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// next moves the clock one TOTP step on.
func (e *consoleEnv) next() { e.clk.Add(30 * time.Second) }

// session is a signed-in staff member: the cookie and the CSRF token.
type session struct {
	name   string
	cookie string
	csrf   string
}

// login signs name in through the API with the current code.
func (e *consoleEnv) login(name string) session {
	e.t.Helper()
	w := e.do(e.t, req{method: http.MethodPost, target: "/api/v1/admin/session", ctype: "application/json",
		body: `{"user":"` + name + `","password":"` + consolePass + `","totp":"` + e.code(name) + `"}`})
	if w.Code != http.StatusOK {
		e.t.Fatalf("login %s: %d %s", name, w.Code, w.Body)
	}
	var out struct{ CSRF string }
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || out.CSRF == "" {
		e.t.Fatalf("login answer %s", w.Body)
	}
	var cookie string
	for _, c := range w.Result().Cookies() {
		if c.Name == staffCookie {
			cookie = c.Value
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/" {
				e.t.Fatalf("cookie attributes: %+v", c)
			}
		}
	}
	if cookie == "" {
		e.t.Fatal("no session cookie")
	}
	return session{name: name, cookie: cookie, csrf: out.CSRF}
}

// api sends a console JSON request as sess (with its CSRF token).
func (e *consoleEnv) api(sess session, method, target, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	h := map[string]string{"Cookie": staffCookie + "=" + sess.cookie, "X-CSRF-Token": sess.csrf}
	ct := ""
	if body != "" {
		ct = "application/json"
	}
	return e.do(e.t, req{method: method, target: target, body: body, ctype: ct, header: h})
}

// page GETs a console page as sess.
func (e *consoleEnv) page(sess session, target string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.get(e.t, target, map[string]string{"Cookie": staffCookie + "=" + sess.cookie})
}

// form POSTs a console form as sess, with the csrf field.
func (e *consoleEnv) form(sess session, target string, f url.Values) *httptest.ResponseRecorder {
	e.t.Helper()
	f.Set("csrf", sess.csrf)
	return e.do(e.t, req{method: http.MethodPost, target: target, body: f.Encode(),
		ctype: "application/x-www-form-urlencoded", header: map[string]string{"Cookie": staffCookie + "=" + sess.cookie}})
}

// paidOrder places an order of one key of p and pays it (demo): delivered.
func (e *consoleEnv) paidOrder(p shop.Product) shop.Order {
	e.t.Helper()
	placed, err := e.shop.PlaceOrder(p.ID, 1, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	o, err := e.shop.Pay(placed.Order.Ref, pay.DemoPayment(placed.Order))
	if err != nil {
		e.t.Fatal(err)
	}
	if o.Status != shop.StatusDelivered {
		e.t.Fatalf("order %s is %s", o.Ref, o.Status)
	}
	return o
}

// decode reads a JSON answer into v.
func decode(t testing.TB, w *httptest.ResponseRecorder, v any) {
	t.Helper()
	if err := json.NewDecoder(io.NopCloser(strings.NewReader(w.Body.String()))).Decode(v); err != nil {
		t.Fatalf("decode %s: %v", w.Body, err)
	}
}

// auditCount counts audit entries with action whose detail starts with
// prefix.
func (e *consoleEnv) auditCount(action, prefix string) int {
	e.t.Helper()
	n := 0
	var cursor uint64
	for {
		entries, next, err := e.staff.Audit(cursor, 500)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, a := range entries {
			if a.Action == action && strings.HasPrefix(a.Detail, prefix) {
				n++
			}
		}
		if next == 0 {
			return n
		}
		cursor = next
	}
}
