package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"veil/crypto"
	"veil/server/shop"
	"veil/server/store"
)

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
		code   string
	}{
		{shop.ErrProductNotFound, 404, "product_not_found"},
		{fmt.Errorf("wrapped: %w", shop.ErrOrderNotFound), 404, "order_not_found"},
		{crypto.ErrTokenMalformed, 400, "token_malformed"},
		{shop.ErrOutOfStock, 409, "out_of_stock"},
		{shop.ErrTierLimit, 403, "tier_limit"},
		{shop.ErrNotPayable, 409, "not_payable"},
		{shop.ErrLocked, 503, "vault_locked"},
		{fmt.Errorf("commit: %w", store.ErrUnavailable), 503, "storage_unavailable"},
		{&shop.InputError{Message: "quantity: bad"}, 400, "bad_request"},
		{&http.MaxBytesError{Limit: 10}, 413, "body_too_large"},
		{BadRequest("malformed JSON"), 400, "bad_request"},
		{&rateLimitedError{RetryAfter: 1500 * time.Millisecond}, 429, "rate_limited"},
		{errors.New("disk on fire at /secret/path"), 500, "internal"},
	} {
		p := Classify(c.err)
		if p.Status != c.status || p.Code != c.code {
			t.Errorf("%v: %d %s, want %d %s", c.err, p.Status, p.Code, c.status, c.code)
		}
		if p.Code == "internal" && p.Message != "something went wrong" {
			t.Errorf("internal message leaks: %q", p.Message)
		}
		if p.Code == "rate_limited" && p.RetryAfter != 2 {
			t.Errorf("retryAfter %d", p.RetryAfter)
		}
		if p.Code == "bad_request" && p.Message == "" {
			t.Error("bad_request without a message")
		}
	}
}

func TestAcceptLanguage(t *testing.T) {
	for _, c := range []struct{ header, want string }{
		{"", "zh-CN"},
		{"en-US,en;q=0.9", "en"},
		{"zh-TW,zh;q=0.9,en;q=0.8", "zh-CN"},
		{"en;q=0.5, zh-CN;q=0.8", "zh-CN"},
		{"fr-FR, en;q=0.3", "en"},
		{"fr-FR, de", "zh-CN"},
		{"en;q=0, zh;q=0.1", "zh-CN"},
		{"*", "zh-CN"},
		{"en;q=bogus", "zh-CN"},
	} {
		if got := acceptLanguage(c.header); got != c.want {
			t.Errorf("%q: %s, want %s", c.header, got, c.want)
		}
	}
}

func TestLangQueryWins(t *testing.T) {
	s := &Site{}
	for _, c := range []struct{ target, al, want string }{
		{"/?lang=en", "zh-CN", "en"},
		{"/?lang=zh-CN", "en", "zh-CN"},
		{"/?lang=xx", "en", "en"},
		{"/", "en-GB", "en"},
	} {
		r := httptest.NewRequest("GET", c.target, nil)
		r.Header.Set("Accept-Language", c.al)
		if got := s.Lang(r); got != c.want {
			t.Errorf("%s (%s): %s, want %s", c.target, c.al, got, c.want)
		}
	}
}

func TestLimiter(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	l := NewLimiter(60, func() time.Time { return now }) // one a second, burst 60
	for i := range 60 {
		if ok, _ := l.allow("a"); !ok {
			t.Fatalf("request %d refused", i)
		}
	}
	ok, wait := l.allow("a")
	if ok || wait <= 0 || wait > time.Second {
		t.Fatalf("61st: ok=%v wait=%v", ok, wait)
	}
	if ok, _ := l.allow("b"); !ok {
		t.Fatal("other address refused")
	}
	now = now.Add(time.Second)
	if ok, _ := l.allow("a"); !ok {
		t.Fatal("no refill after a second")
	}
	// Idle buckets are forgotten once full again.
	now = now.Add(2 * time.Minute)
	l.allow("c")
	if n := l.size(); n != 1 {
		t.Errorf("%d buckets after idling, want 1", n)
	}
}

func TestClientAddr(t *testing.T) {
	for _, c := range []struct {
		proxy  bool
		remote string
		xff    []string
		want   string
	}{
		{false, "192.0.2.1:1234", []string{"203.0.113.9"}, "192.0.2.1"},
		{true, "127.0.0.1:1234", []string{"198.51.100.1, 203.0.113.9"}, "203.0.113.9"},
		{true, "127.0.0.1:1234", []string{"1.1.1.1", "203.0.113.9"}, "203.0.113.9"},
		{true, "127.0.0.1:1234", nil, "127.0.0.1"},
		{false, "[2001:db8:1:2:3:4:5:6]:443", nil, "2001:db8:1:2::/64"},
		{false, "[::ffff:192.0.2.1]:443", nil, "192.0.2.1"},
	} {
		s := &Site{Proxy: c.proxy}
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.remote
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := s.ClientAddr(r); got != c.want {
			t.Errorf("%+v: %s", c, got)
		}
	}
}
