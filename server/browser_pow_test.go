package server_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"veil/pages"
	"veil/server"
	"veil/server/pay"
)

// newPowShop is a buyer-side shop with the hoarding guard on and the
// server's clock in the test's hands (the wait without JavaScript).
func newPowShop(t *testing.T) *browserShop {
	t.Helper()
	db, sh, log, logs := openBrowserStore(t)
	clock := &staffClock{t: time.Now()}
	srv, err := server.New(server.Config{Shop: sh, Payments: pay.Demo{}, DemoPayments: true, Logger: log,
		HoardGuard: true, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := pages.New()
	if err != nil {
		t.Fatal(err)
	}
	s := &browserShop{t: t, db: db, shop: sh, clock: clock, ts: httptest.NewServer(srv.Handler()), pages: tpl, logs: logs}
	t.Cleanup(func() {
		s.ts.Close()
		if err := db.Close(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", tail(logs.Bytes(), 60))
		}
	})
	return s
}

// TestBrowserPow: a product with half its stock held unpaid. With
// JavaScript the checkout's "one more step" page pays the work in the Web
// Worker, shows its progress line and places the order (no CSP violation,
// no inline script); without JavaScript the page explains the wait, a
// press too early says "not yet", and after the wait the plain form
// places the order.
func TestBrowserPow(t *testing.T) {
	b := startBrowser(t)
	for _, js := range []bool{true, false} {
		name := "NoJS"
		if js {
			name = "JS"
		}
		t.Run(name, func(t *testing.T) {
			s := newPowShop(t)
			p := s.product("pow-card", "POW-KEY-1", "POW-KEY-2", "POW-KEY-3", "POW-KEY-4")
			for range 2 {
				if _, err := s.shop.PlaceOrder(p.ID, 1, nil); err != nil {
					t.Fatal(err)
				}
			}
			tb := b.newTab(t, "buyer", s.ts.URL, "en", js)
			wantStatus(t, "product page", tb.open("/p/pow-card"), http.StatusOK)
			wantStatus(t, "checkout past the line", tb.submit(`form[action^="/checkout"] button[type="submit"]`), http.StatusPreconditionRequired)
			if js {
				// The worker pays and the form goes again by itself.
				tb.waitVisible("#order-token")
				if got := tb.text("main h1"); got != s.T("en", "token.title") {
					t.Fatalf("after the work: %q", got)
				}
				// (The 428 page's status shows as a network error in the
				// console; CSP violations are checked when the tab closes.)
				return
			}
			if tb.shown("#pow-js") {
				t.Fatal("the worker's part shows without JavaScript")
			}
			wantStatus(t, "too early", tb.submit(`#pow-wait-form button[type="submit"]`), http.StatusPreconditionRequired)
			if got := tb.text("#pow-wait .notice"); got != s.T("en", "pow.not_yet") {
				t.Fatalf("too early: %q", got)
			}
			s.clock.Add(pow60)
			wantStatus(t, "after the wait", tb.submit(`#pow-wait-form button[type="submit"]`), http.StatusOK)
			tb.waitVisible("#order-token")
		})
	}
}

// pow60 is past any delay ticket's wait (pow.MaxDelay, rounded up).
const pow60 = 62 * time.Second
