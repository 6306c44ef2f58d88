package msg

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"veil/crypto"
	"veil/server/store"
)

// wait bounds every blocking step of a test; it only stops hangs, nothing
// is asserted about time.
const wait = 15 * time.Second

// clock is a settable clock for rate limits and per-day counts.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// logBuffer collects log output for the privacy checks.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type env struct {
	t          *testing.T
	dir        string
	db         *store.DB
	threads    *Threads
	hub        *Hub
	srv        *httptest.Server
	clock      *clock
	logs       *logBuffer
	order      *crypto.Identity
	support    *crypto.Identity
	recipients []string
	closeOnce  sync.Once
}

type envOption func(*HubConfig, *httptest.Server)

// newEnv opens a real Badger in a temp dir and serves a hub over a real
// HTTP server.
func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	order, err := crypto.NewIdentity(crypto.Hybrid)
	if err != nil {
		t.Fatal(err)
	}
	support, err := crypto.NewIdentity(crypto.Hybrid)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{
		t: t, dir: dir, db: db, clock: newClock(), logs: &logBuffer{},
		order: order, support: support,
		recipients: []string{order.Recipient(), support.Recipient()},
	}
	e.threads = NewThreads(db, e.clock.Now)
	cfg := HubConfig{
		Threads: e.threads,
		Now:     e.clock.Now,
		Logger:  slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	mux := http.NewServeMux()
	e.srv = httptest.NewUnstartedServer(mux)
	for _, o := range opts {
		o(&cfg, e.srv)
	}
	e.hub = NewHub(cfg)
	mux.Handle("/chat/ws", e.hub)
	e.srv.Start()
	t.Cleanup(e.close)
	return e
}

// close stops the server and the hub and closes the store (idempotent).
func (e *env) close() {
	e.closeOnce.Do(func() {
		e.hub.Close()
		e.srv.CloseClientConnections()
		e.srv.Close()
		if err := e.db.Close(); err != nil {
			e.t.Error(err)
		}
	})
}

func (e *env) open(ref string) Room {
	e.t.Helper()
	rm, err := e.hub.Open(ref, e.recipients)
	if err != nil {
		e.t.Fatalf("Open(%s): %v", ref, err)
	}
	return rm
}

func (e *env) staffSecret(roomID, name string) string {
	e.t.Helper()
	s, err := e.hub.StaffSecret(roomID, name)
	if err != nil {
		e.t.Fatalf("StaffSecret: %v", err)
	}
	return s
}

func (e *env) wsURL() string { return "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/chat/ws" }

// frame is any server frame.
type frame struct {
	Type    string `json:"type"`
	Room    string `json:"room"`
	Role    string `json:"role"`
	From    string `json:"from"`
	Text    string `json:"text"`
	At      string `json:"at"`
	Reason  string `json:"reason"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

type client struct {
	t  *testing.T
	ws *websocket.Conn
}

// dial connects with the site's own Origin.
func (e *env) dial() *client {
	e.t.Helper()
	return e.dialWith(&websocket.Dialer{HandshakeTimeout: wait})
}

func (e *env) dialWith(d *websocket.Dialer) *client {
	e.t.Helper()
	h := http.Header{"Origin": {e.srv.URL}}
	ws, resp, err := d.Dial(e.wsURL(), h)
	if err != nil {
		e.t.Fatalf("dial: %v", err)
	}
	resp.Body.Close()
	c := &client{t: e.t, ws: ws}
	e.t.Cleanup(func() { ws.Close() })
	return c
}

// join dials, joins with secret and expects the joined frame.
func (e *env) join(secret, role string) *client {
	e.t.Helper()
	c := e.dial()
	c.send(map[string]string{"type": "join", "secret": secret})
	f := c.next()
	if f.Type != "joined" || f.Role != role || f.Room == "" {
		e.t.Fatalf("join: got %+v, want joined as %s", f, role)
	}
	return c
}

func (c *client) send(v any) {
	c.t.Helper()
	if err := c.trySend(v); err != nil {
		c.t.Fatal(err)
	}
}

// trySend is send returning its error, for goroutines other than the
// test's (which must not call t.Fatal).
func (c *client) trySend(v any) error {
	_ = c.ws.SetWriteDeadline(time.Now().Add(wait))
	if err := c.ws.WriteJSON(v); err != nil {
		return fmt.Errorf("send: %w", err)
	}
	return nil
}

func (c *client) say(text string) {
	c.t.Helper()
	c.send(map[string]string{"type": "msg", "text": text})
}

// next reads the next data frame.
func (c *client) next() frame {
	c.t.Helper()
	f, err := c.read()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return f
}

func (c *client) read() (frame, error) {
	var f frame
	_ = c.ws.SetReadDeadline(time.Now().Add(wait))
	err := c.ws.ReadJSON(&f)
	return f, err
}

// expectMsg reads the next frame and checks it is the message from/text.
func (c *client) expectMsg(from, text string) {
	c.t.Helper()
	if err := c.checkMsg(from, text); err != nil {
		c.t.Fatal(err)
	}
}

// checkMsg is expectMsg returning what went wrong, for goroutines other
// than the test's.
func (c *client) checkMsg(from, text string) error {
	f, err := c.read()
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if f.Type != "msg" || f.From != from || f.Text != text {
		return fmt.Errorf("got %+v, want msg from %s: %.40q", f, from, text)
	}
	if _, err := time.Parse(time.RFC3339, f.At); err != nil {
		return fmt.Errorf("msg at %q: %w", f.At, err)
	}
	return nil
}

func (c *client) expectError(code string) {
	c.t.Helper()
	f := c.next()
	if f.Type != "error" || f.Code != code {
		c.t.Fatalf("got %+v, want error %s", f, code)
	}
}

// expectEnd reads until the connection ends and returns the close code
// (-1 when it ended without a close frame). It fails on a data frame.
func (c *client) expectEnd() int {
	c.t.Helper()
	f, err := c.read()
	if err == nil {
		c.t.Fatalf("got %+v, want the connection to end", f)
	}
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return ce.Code
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatalf("connection still open after %v", wait)
	}
	return -1
}

// uniq returns text with a random marker, so that a scan for it cannot
// match anything by chance.
func uniq(prefix string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return prefix + " " + hex.EncodeToString(b)
}

// smallBuffers bounds the server's socket send buffers (which Linux would
// grow to megabytes), so a client that stops reading backs up after a few
// dozen messages rather than thousands. 32 KiB keeps readers that do read
// fast on loopback.
func smallBuffers(_ *HubConfig, s *httptest.Server) {
	s.Listener = smallListener{s.Listener}
}

type smallListener struct{ net.Listener }

func (l smallListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(32 << 10)
	}
	return c, err
}

// smallDialer connects with a small receive buffer.
func smallDialer() *websocket.Dialer {
	return &websocket.Dialer{
		HandshakeTimeout: wait,
		ReadBufferSize:   1024,
		WriteBufferSize:  1024,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetReadBuffer(4096)
			}
			return c, err
		},
	}
}

// eventually polls cond until it holds (or the test's patience runs out).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
