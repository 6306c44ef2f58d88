package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"veil/server/pay"
)

// Issue 10 item 10, wired: `serve --public-url` makes the chat accept only
// the public origin; the origin of the Host the request names (here the
// listener's own http://127.0.0.1:port) is refused.
func TestServePublicURLChatOrigin(t *testing.T) {
	a := newInitApp(t)
	ready := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- a.serveHTTP(ctx, serveConfig{addr: "127.0.0.1:0", payments: pay.Demo{}, demo: true,
			publicURL: "https://shop.example", ready: func(addr string) { ready <- addr }})
	}()
	defer func() { cancel(); <-served }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-served:
		t.Fatalf("serve: %v", err)
	}
	dial := func(origin string) int {
		ws, resp, err := websocket.DefaultDialer.Dial("ws://"+addr+"/chat/ws", http.Header{"Origin": {origin}})
		if err == nil {
			ws.Close()
		}
		if resp == nil {
			t.Fatalf("origin %s: no answer: %v", origin, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := dial("http://" + addr); got != http.StatusForbidden {
		t.Fatalf("the listener's own http origin: %d, want 403", got)
	}
	if got := dial("http://shop.example"); got != http.StatusForbidden {
		t.Fatalf("the public host over http: %d, want 403", got)
	}
	if got := dial("https://shop.example"); got != http.StatusSwitchingProtocols {
		t.Fatalf("the public origin: %d, want 101", got)
	}
}

func TestServeRefusesBadPublicURL(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"serve", "--data", t.TempDir(), "--public-url", "ftp://shop.example"}, &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), "--public-url") {
		t.Fatalf("exit %d, %q", code, errb.String())
	}
}
