package msg

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gorilla/websocket"
)

// Issue 10 item 10: with a public URL the Origin must be the shop's scheme
// and host; the request's Host header is not trusted, and http is not
// https.
func TestPublicOrigin(t *testing.T) {
	check, err := PublicOrigin("https://Shop.example/")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		origin, host string
		ok           bool
	}{
		{"https://shop.example", "shop.example", true},
		{"https://SHOP.example:443", "127.0.0.1:8080", true}, // behind a proxy: Host is the backend's
		{"http://shop.example", "shop.example", false},       // same host, wrong scheme
		{"https://shop.example:8443", "shop.example", false},
		{"https://evil.example", "evil.example", false}, // Host forged to match
		{"http://127.0.0.1:8080", "127.0.0.1:8080", false},
		{"https://shop.example.evil.example", "shop.example", false},
		{"https://user@shop.example", "shop.example", false},
		{"null", "shop.example", false},
		{"", "shop.example", false},
	} {
		r, _ := http.NewRequest("GET", "http://"+tc.host+"/chat/ws", nil)
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if got := check(r); got != tc.ok {
			t.Errorf("origin %q on host %q: %v, want %v", tc.origin, tc.host, got, tc.ok)
		}
	}
	for _, bad := range []string{"", "shop.example", "ftp://shop.example", "https://", "/relative"} {
		if _, err := PublicOrigin(bad); err == nil {
			t.Errorf("PublicOrigin(%q) accepted", bad)
		}
	}
	http80, _ := PublicOrigin("http://shop.example:80")
	r, _ := http.NewRequest("GET", "http://shop.example/chat/ws", nil)
	r.Header.Set("Origin", "http://shop.example")
	if !http80(r) {
		t.Error("default port not normalised")
	}
}

// A hub behind a public URL refuses the handshake of a page whose origin
// matches the Host header but not the public scheme, and accepts the
// public origin.
func TestHubPublicOrigin(t *testing.T) {
	check, err := PublicOrigin("https://shop.example")
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *HubConfig, _ *httptest.Server) { c.Origin = check })
	rm := e.open("R-PUBORIG1")
	ws, resp, err := websocket.DefaultDialer.Dial(e.wsURL(), http.Header{"Origin": {e.srv.URL}})
	if err == nil {
		ws.Close()
		t.Fatal("the Host's own http origin upgraded")
	}
	if resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("refusal: %v %+v", err, resp)
	}
	resp.Body.Close()
	ws, resp, err = websocket.DefaultDialer.Dial(e.wsURL(), http.Header{"Origin": {"https://shop.example"}})
	if err != nil {
		t.Fatalf("public origin refused: %v", err)
	}
	resp.Body.Close()
	c := &client{t: t, ws: ws}
	t.Cleanup(func() { ws.Close() })
	c.send(map[string]string{"type": "join", "secret": rm.BuyerSecret})
	if f := c.next(); f.Type != "joined" {
		t.Fatalf("join: %+v", f)
	}
}
