package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"veil/msg"
	"veil/pages"
	"veil/server/pay"
	"veil/server/shop"
	"veil/server/store"
	"veil/static"
)

// fakeClock is the shop's clock in these tests, moved by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// supportEnv is env with sealed threads, a real chat hub behind a real
// HTTP server, and a clock to move.
type supportEnv struct {
	*env
	dir      string
	db       *store.DB
	hub      *msg.Hub
	threads  *msg.Threads
	ts       *httptest.Server
	clock    *fakeClock
	closeAll func()
}

func newSupportEnv(t *testing.T, rateLimit int) *supportEnv {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Now().UTC().Truncate(time.Second)}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	threads := msg.NewThreads(db, nil)
	// As cmd wires it: a purged order takes its thread along.
	sh, err := shop.New(db, shop.Config{VaultWorkFactor: 10, Now: clock.Now, Logger: log, OnPurge: threads.Delete})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sh.InitVault("test passphrase"); err != nil {
		t.Fatal(err)
	}
	var srv *Server
	hub := msg.NewHub(msg.HubConfig{
		Threads: threads, Logger: log,
		AutoAnswer: func(ref, text string) (string, bool) { return srv.AutoAnswer(ref, text) },
	})
	srv, err = New(Config{
		Shop: sh, Payments: pay.Demo{}, DemoPayments: true, Logger: log,
		Threads: threads, Hub: hub, RateLimit: rateLimit,
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	var once sync.Once
	closeAll := func() {
		once.Do(func() {
			ts.Close()
			hub.Close()
			_ = db.Close()
		})
	}
	t.Cleanup(closeAll)
	return &supportEnv{
		env: &env{shop: sh, srv: srv, h: srv.Handler(), logs: logs},
		dir: dir, db: db, hub: hub, threads: threads, ts: ts, clock: clock, closeAll: closeAll,
	}
}

func (e *env) pay(t *testing.T, ref string) {
	t.Helper()
	if w := e.postJSON(t, "/api/v1/pay/demo", `{"ref":"`+ref+`"}`); w.Code != http.StatusOK {
		t.Fatalf("pay %s: %d %s", ref, w.Code, w.Body)
	}
}

// bearerDo sends a JSON request with the token as a Bearer credential.
func (e *env) bearerDo(t *testing.T, method, target, token, body string) *httptest.ResponseRecorder {
	t.Helper()
	h := map[string]string{}
	if token != "" {
		h["Authorization"] = "Bearer " + token
	}
	return e.do(t, req{method: method, target: target, body: body, ctype: "application/json", header: h})
}

type ticketsAnswer struct {
	Tickets []struct {
		ID     string  `json:"id"`
		Reason string  `json:"reason"`
		Status string  `json:"status"`
		Remedy *string `json:"remedy"`
		Thread []struct {
			From, Text, At string
		} `json:"thread"`
	} `json:"tickets"`
	Thread []struct {
		From, Text, At string
	} `json:"thread"`
}

func (e *env) tickets(t *testing.T, token string) ticketsAnswer {
	t.Helper()
	w := e.bearerDo(t, http.MethodGet, "/api/v1/order/tickets", token, "")
	if w.Code != http.StatusOK {
		t.Fatalf("GET tickets: %d %s", w.Code, w.Body)
	}
	var out ticketsAnswer
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestTicketsAPI opens tickets through the API, lists them with the thread
// holding their detail, and runs into each limit.
func TestTicketsAPI(t *testing.T) {
	e := newSupportEnv(t, 0)
	p := e.addProduct(t, "card", "K-1", "K-2", "K-3")
	o := e.placeAPI(t, p.ID, 1)

	// Unpaid: no support yet.
	w := e.bearerDo(t, http.MethodPost, "/api/v1/order/tickets", o.Token, `{"reason":"not_received"}`)
	wantErrorJSON(t, w, http.StatusBadRequest, "bad_request")
	e.pay(t, o.Ref)

	w = e.bearerDo(t, http.MethodPost, "/api/v1/order/tickets", "", `{"reason":"key_invalid"}`)
	wantErrorJSON(t, w, http.StatusUnauthorized, "unauthenticated")
	w = e.bearerDo(t, http.MethodGet, "/api/v1/order/tickets", "", "")
	wantErrorJSON(t, w, http.StatusUnauthorized, "unauthenticated")
	w = e.bearerDo(t, http.MethodPost, "/api/v1/order/tickets", typo(o.Token), `{"reason":"key_invalid"}`)
	wantErrorJSON(t, w, http.StatusBadRequest, "token_malformed")

	const detail = "The game says: code EXPIRED-4711 already redeemed"
	w = e.bearerDo(t, http.MethodPost, "/api/v1/order/tickets", o.Token, `{"reason":"key_invalid","detail":"`+detail+`"}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("open ticket: %d %s", w.Code, w.Body)
	}
	var created struct{ ID, Status string }
	if err := json.Unmarshal(w.Body.Bytes(), &created); err != nil || created.ID == "" || created.Status != "open" {
		t.Fatalf("answer %s", w.Body)
	}

	got := e.tickets(t, o.Token)
	if len(got.Tickets) != 1 || got.Tickets[0].ID != created.ID || got.Tickets[0].Reason != "key_invalid" ||
		got.Tickets[0].Status != "open" || got.Tickets[0].Remedy != nil {
		t.Fatalf("tickets %+v", got)
	}
	th := got.Tickets[0].Thread
	if len(th) != 1 || th[0].From != "buyer" || th[0].Text != "[key_invalid] "+detail || th[0].At == "" {
		t.Fatalf("thread %+v", th)
	}
	// GET /api/v1/order lists the ticket too.
	w = e.bearerDo(t, http.MethodGet, "/api/v1/order", o.Token, "")
	if !strings.Contains(w.Body.String(), `"id":"`+created.ID+`"`) {
		t.Errorf("order answer lacks the ticket: %s", w.Body)
	}

	// Refused inputs leave no ticket behind.
	for name, body := range map[string]string{
		"bad reason":    `{"reason":"angry"}`,
		"long detail":   `{"reason":"other","detail":"` + strings.Repeat("x", 4100) + `"}`,
		"control chars": `{"reason":"other","detail":"a\u0007b"}`,
		"foreign item":  `{"reason":"other","item_id":"nope-1"}`,
	} {
		w = e.bearerDo(t, http.MethodPost, "/api/v1/order/tickets", o.Token, body)
		if w.Code != http.StatusBadRequest {
			t.Errorf("%s: %d %s", name, w.Code, w.Body)
		}
	}
	big := `{"reason":"other","detail":"` + strings.Repeat("x", 17<<10) + `"}`
	wantErrorJSON(t, e.bearerDo(t, http.MethodPost, "/api/v1/order/tickets", o.Token, big), http.StatusRequestEntityTooLarge, "body_too_large")
	if n := len(e.tickets(t, o.Token).Tickets); n != 1 {
		t.Fatalf("%d tickets after refused inputs", n)
	}

	// At most shop.MaxOpenTickets open at once.
	for i := 1; i < shop.MaxOpenTickets; i++ {
		if w = e.bearerDo(t, http.MethodPost, "/api/v1/order/tickets", o.Token, `{"reason":"other"}`); w.Code != http.StatusCreated {
			t.Fatalf("ticket %d: %d %s", i, w.Code, w.Body)
		}
	}
	wantErrorJSON(t, e.bearerDo(t, http.MethodPost, "/api/v1/order/tickets", o.Token, `{"reason":"other"}`),
		http.StatusTooManyRequests, "too_many_tickets")

	// After the window, key problems are refused (a second order, so the
	// ticket limit is not what answers).
	o2 := e.placeAPI(t, p.ID, 1)
	e.pay(t, o2.Ref)
	e.clock.Add(time.Duration(p.Policy.WindowHours+1) * time.Hour)
	wantErrorJSON(t, e.bearerDo(t, http.MethodPost, "/api/v1/order/tickets", o2.Token, `{"reason":"wrong_region"}`),
		http.StatusConflict, "window_closed")
	if w = e.bearerDo(t, http.MethodPost, "/api/v1/order/tickets", o2.Token, `{"reason":"not_received"}`); w.Code != http.StatusCreated {
		t.Fatalf("not_received after the window: %d %s", w.Code, w.Body)
	}

	for _, secret := range []string{o.Token, o2.Token, detail, "K-1"} {
		if strings.Contains(e.logs.String(), secret) {
			t.Errorf("logs contain %q", secret)
		}
	}
}

// chatConn is one side of a chat over a real WebSocket.
type chatConn struct {
	t *testing.T
	c *websocket.Conn
}

type frame struct {
	Type, Room, Role, From, Text, At, Reason, Code, Message string
}

func dialChat(t *testing.T, ts *httptest.Server, path, secret string) *chatConn {
	t.Helper()
	u := "ws" + strings.TrimPrefix(ts.URL, "http") + path
	c, resp, err := websocket.DefaultDialer.Dial(u, http.Header{"Origin": {ts.URL}})
	if err != nil {
		t.Fatalf("dial %s: %v (%v)", path, err, resp)
	}
	t.Cleanup(func() { _ = c.Close() })
	cc := &chatConn{t, c}
	cc.send(map[string]string{"type": "join", "secret": secret})
	if f := cc.next("joined"); f.Room == "" {
		t.Fatalf("joined frame %+v", f)
	}
	return cc
}

func (c *chatConn) send(v any) {
	c.t.Helper()
	if err := c.c.WriteJSON(v); err != nil {
		c.t.Fatal(err)
	}
}

// next reads frames until one of type typ.
func (c *chatConn) next(typ string) frame {
	c.t.Helper()
	_ = c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		var f frame
		if err := c.c.ReadJSON(&f); err != nil {
			c.t.Fatalf("waiting for %s: %v", typ, err)
		}
		if f.Type == "error" && typ != "error" {
			c.t.Fatalf("error frame %+v", f)
		}
		if f.Type == typ {
			return f
		}
	}
}

// TestChatOverWebSocket: the buyer opens a room through the API, joins it
// at ws_path, gets an automatic answer, talks with staff, ends it; the
// thread then opens with the token, and the data dir holds none of it in
// the clear.
func TestChatOverWebSocket(t *testing.T) {
	e := newSupportEnv(t, 0)
	p := e.addProduct(t, "card", "CHAT-KEY-1", "CHAT-KEY-2")
	o := e.placeAPI(t, p.ID, 1)

	wantErrorJSON(t, e.bearerDo(t, http.MethodPost, "/api/v1/order/chat", o.Token, ""), http.StatusConflict, "not_paid")
	e.pay(t, o.Ref)
	wantErrorJSON(t, e.bearerDo(t, http.MethodPost, "/api/v1/order/chat", "", ""), http.StatusUnauthorized, "unauthenticated")

	w := e.bearerDo(t, http.MethodPost, "/api/v1/order/chat", o.Token, "")
	if w.Code != http.StatusCreated || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("open chat: %d %v %s", w.Code, w.Header(), w.Body)
	}
	var room struct {
		Room       string `json:"room"`
		JoinSecret string `json:"join_secret"`
		WSPath     string `json:"ws_path"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &room); err != nil || room.Room == "" || room.JoinSecret == "" || room.WSPath != "/chat/ws" {
		t.Fatalf("answer %s", w.Body)
	}
	w = e.bearerDo(t, http.MethodPost, "/api/v1/order/chat", o.Token, "{}")
	wantErrorJSON(t, w, http.StatusConflict, "room_open")
	if !strings.Contains(w.Body.String(), `\"end\":true`) {
		t.Errorf("room_open does not say how to end the room: %s", w.Body)
	}

	// A cross-origin upgrade is refused before the hub speaks.
	u := "ws" + strings.TrimPrefix(e.ts.URL, "http") + room.WSPath
	if _, resp, err := websocket.DefaultDialer.Dial(u, http.Header{"Origin": {"https://evil.example"}}); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin upgrade: %v %v", err, resp)
	}

	buyer := dialChat(t, e.ts, room.WSPath, room.JoinSecret)

	// Before staff joins, a common question gets an automatic answer from
	// the product's disclosure.
	buyer.send(map[string]string{"type": "msg", "text": "怎么用？"})
	if f := buyer.next("msg"); f.From != "buyer" || f.Text != "怎么用？" {
		t.Fatalf("echo %+v", f)
	}
	auto := buyer.next("msg")
	if auto.From != "auto" || !strings.Contains(auto.Text, p.Disclosure.UsageGuide["zh-CN"]) || !strings.Contains(auto.Text, "自动回复") {
		t.Fatalf("automatic answer %+v", auto)
	}

	staffSecret, err := e.hub.StaffSecret(room.Room, "alice")
	if err != nil {
		t.Fatal(err)
	}
	staff := dialChat(t, e.ts, room.WSPath, staffSecret)

	const staffText, buyerText = "STAFF-REPLY-8812: try again now", "BUYER-LINE-5531 it works, thanks"
	staff.send(map[string]string{"type": "msg", "text": staffText})
	if f := buyer.next("msg"); f.From != "staff" || f.Text != staffText || f.At == "" {
		t.Fatalf("buyer got %+v", f)
	}
	buyer.send(map[string]string{"type": "msg", "text": buyerText})
	if f := staff.next("msg"); f.From != "buyer" || f.Text != buyerText {
		for f.Text != buyerText { // the staff side may first see the history
			f = staff.next("msg")
		}
	}
	buyer.send(map[string]string{"type": "end"})
	if f := buyer.next("closed"); f.Reason != msg.ReasonEndedByBuyer {
		t.Fatalf("closed %+v", f)
	}
	staff.next("closed")

	// A new room can be opened, and ended through the API.
	if w = e.bearerDo(t, http.MethodPost, "/api/v1/order/chat", o.Token, ""); w.Code != http.StatusCreated {
		t.Fatalf("second room: %d %s", w.Code, w.Body)
	}
	if w = e.bearerDo(t, http.MethodPost, "/api/v1/order/chat", o.Token, `{"end":true}`); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"ended":true`) {
		t.Fatalf("end: %d %s", w.Code, w.Body)
	}
	if w = e.bearerDo(t, http.MethodPost, "/api/v1/order/chat", o.Token, ""); w.Code != http.StatusCreated {
		t.Fatalf("room after end: %d %s", w.Code, w.Body)
	}

	// The thread opens with the token: API and order page.
	got := e.tickets(t, o.Token)
	var texts []string
	for _, m := range got.Thread {
		texts = append(texts, m.From+":"+m.Text)
	}
	joined := strings.Join(texts, "\n")
	for _, want := range []string{"buyer:怎么用？", "auto:", "staff:" + staffText, "buyer:" + buyerText} {
		if !strings.Contains(joined, want) {
			t.Errorf("thread lacks %q:\n%s", want, joined)
		}
	}
	w = e.postForm(t, "/order?lang=en", url.Values{"token": {o.Token}})
	checkHTML(t, w)
	if body := w.Body.String(); !strings.Contains(body, html.EscapeString(staffText)) || !strings.Contains(body, "Automatic answer") ||
		!strings.Contains(body, static.Path("chat.js")) || !strings.Contains(body, `id="chat"`) {
		t.Fatalf("order page lacks the thread or the chat:\n%s", body)
	}

	// Close everything; the data dir holds none of it in the clear (but
	// does hold the ref, so the scan sees plain bytes at all).
	e.closeAll()
	dump := readDir(t, e.dir)
	if !bytes.Contains(dump, []byte(o.Ref)) {
		t.Fatal("the scan finds not even the ref: it sees no plain bytes")
	}
	for _, secret := range []string{staffText, buyerText, "STAFF-REPLY-8812", "BUYER-LINE-5531", "怎么用", o.Token, "CHAT-KEY-1"} {
		if bytes.Contains(dump, []byte(secret)) {
			t.Errorf("data dir holds %q in the clear", secret)
		}
	}
	for _, secret := range []string{staffText, buyerText, o.Token, room.JoinSecret} {
		if strings.Contains(e.logs.String(), secret) {
			t.Errorf("logs hold %q", secret)
		}
	}
}

func readDir(t *testing.T, dir string) []byte {
	t.Helper()
	var all []byte
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		all = append(all, b...)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return all
}

// TestSupportFormsNoJS: the order page's forms without JavaScript: report
// a problem, send a message; both languages, no inline script.
func TestSupportFormsNoJS(t *testing.T) {
	e := newSupportEnv(t, 0)
	p := e.addProduct(t, "card", "F-1", "F-2")
	o := e.placeAPI(t, p.ID, 2)
	e.pay(t, o.Ref)

	for _, lang := range pages.Languages() {
		tr := func(key string) string { return html.EscapeString(e.srv.site.Pages.T(lang, key)) }
		q := "?lang=" + lang
		text := "FORM-MESSAGE " + lang + "\r\nsecond line"
		w := e.postForm(t, "/order/thread"+q, url.Values{"token": {o.Token}, "text": {text}})
		if w.Code != http.StatusOK {
			t.Fatalf("thread post: %d\n%s", w.Code, w.Body)
		}
		checkHTML(t, w)
		body := w.Body.String()
		for _, want := range []string{tr("order.message_sent"), "FORM-MESSAGE " + lang + "\nsecond line", tr("thread.from_buyer"),
			tr("report.title"), tr("support.send"), tr("chat.start"), `action="/order/tickets` + q, `action="/order/thread` + q} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: page lacks %q", lang, want)
			}
		}
		if w.Header().Get("Cache-Control") != "no-store" {
			t.Error("order page cached")
		}

		w = e.postForm(t, "/order/tickets"+q, url.Values{"token": {o.Token}, "reason": {"wrong_region"}, "item_id": {""}, "detail": {"region " + lang}})
		if w.Code != http.StatusOK {
			t.Fatalf("ticket post: %d\n%s", w.Code, w.Body)
		}
		checkHTML(t, w)
		body = w.Body.String()
		for _, want := range []string{tr("order.ticket_opened"), tr("reason.wrong_region"), tr("ticket_status.open"), "[" + tr("reason.wrong_region") + "] region " + lang} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: page lacks %q", lang, want)
			}
		}
		// A refused form keeps what was typed and says why.
		w = e.postForm(t, "/order/tickets"+q, url.Values{"token": {o.Token}, "reason": {"other"}, "detail": {strings.Repeat("é", 2100)}})
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), tr("err.bad_request.message")) || !strings.Contains(w.Body.String(), strings.Repeat("é", 2100)) {
			t.Errorf("%s: refused detail: %d", lang, w.Code)
		}
	}
	// The buy form takes proofs and a discount code; the lookup page has the
	// wallet's settings, hidden until its script shows them.
	e.addProduct(t, "stocked", "S-1")
	for _, lang := range pages.Languages() {
		w := e.get(t, "/p/stocked?lang="+lang, nil)
		checkHTML(t, w)
		for _, want := range []string{`name="proofs"`, `name="discount"`, static.Path("wallet.js"), `id="wallet-fill" hidden`,
			html.EscapeString(e.srv.site.Pages.T(lang, "product.proofs"))} {
			if !strings.Contains(w.Body.String(), want) {
				t.Errorf("%s product page lacks %q", lang, want)
			}
		}
		w = e.get(t, "/order?lang="+lang, nil)
		checkHTML(t, w)
		for _, want := range []string{`id="wallet" hidden`, `id="wallet-on"`, static.Path("wallet.js"), html.EscapeString(e.srv.site.Pages.T(lang, "wallet.warning"))} {
			if !strings.Contains(w.Body.String(), want) {
				t.Errorf("%s lookup page lacks %q", lang, want)
			}
		}
	}
	// Third ticket is fine, the fourth over the limit shows as a notice.
	e.postForm(t, "/order/tickets", url.Values{"token": {o.Token}, "reason": {"other"}})
	w := e.postForm(t, "/order/tickets?lang=en", url.Values{"token": {o.Token}, "reason": {"other"}})
	if w.Code != http.StatusTooManyRequests || !strings.Contains(w.Body.String(), html.EscapeString(e.srv.site.Pages.T("en", "err.too_many_tickets.message"))) {
		t.Errorf("fourth ticket: %d", w.Code)
	}
	if w = e.postForm(t, "/order/thread", url.Values{"text": {"hi"}}); w.Code != http.StatusUnauthorized {
		t.Errorf("thread without token: %d", w.Code)
	}
	if w = e.postForm(t, "/order/thread?lang=en", url.Values{"token": {typo(o.Token)}, "text": {"hi"}}); w.Code != http.StatusBadRequest ||
		!strings.Contains(w.Body.String(), html.EscapeString(e.srv.site.Pages.T("en", "lookup.err_malformed"))) {
		t.Errorf("thread with a typo: %d", w.Code)
	}
	if got := e.tickets(t, o.Token); len(got.Tickets) != 3 || len(got.Thread) != 5 {
		t.Errorf("%d tickets, %d messages", len(got.Tickets), len(got.Thread))
	}
}

// TestProofsRaiseTier: tokens of settled orders, presented as proofs, give
// the new order a tier, through the API and the product form.
func TestProofsRaiseTier(t *testing.T) {
	e := newSupportEnv(t, 0)
	p := e.addProduct(t, "card", "P-1", "P-2", "P-3", "P-4", "P-5")
	var proofs []string
	for range 3 {
		o := e.placeAPI(t, p.ID, 1)
		e.pay(t, o.Ref)
		proofs = append(proofs, o.Token)
	}
	e.clock.Add(time.Duration(p.Policy.WindowHours+1) * time.Hour)
	if res, err := e.shop.Sweep(); err != nil || res.Settled != 3 {
		t.Fatalf("sweep %+v %v", res, err)
	}
	body, _ := json.Marshal(map[string]any{"product": p.ID, "quantity": 1, "proofs": proofs})
	w := e.postJSON(t, "/api/v1/orders", string(body))
	if w.Code != http.StatusCreated {
		t.Fatalf("order with proofs: %d %s", w.Code, w.Body)
	}
	var oc orderCreated
	if err := json.Unmarshal(w.Body.Bytes(), &oc); err != nil || oc.Tier < 1 {
		t.Fatalf("tier %d (%s)", oc.Tier, w.Body)
	}
	// A proof with a typo is named, not silently dropped.
	body, _ = json.Marshal(map[string]any{"product": p.ID, "quantity": 1, "proofs": []string{typo(proofs[0])}})
	wantErrorJSON(t, e.postJSON(t, "/api/v1/orders", string(body)), http.StatusBadRequest, "bad_request")

	w = e.postForm(t, "/checkout?lang=en", url.Values{"product": {"card"}, "quantity": {"1"}, "proofs": {strings.Join(proofs, "\r\n") + "\r\n"}})
	if w.Code != http.StatusOK {
		t.Fatalf("checkout with proofs: %d\n%s", w.Code, w.Body)
	}
	checkHTML(t, w)
	if !strings.Contains(w.Body.String(), fmt.Sprintf("<td>%d <span", oc.Tier)) || !strings.Contains(w.Body.String(), static.Path("wallet.js")) {
		t.Errorf("token page does not show tier %d or load the wallet:\n%s", oc.Tier, w.Body)
	}
	w = e.postForm(t, "/order?lang=en", url.Values{"token": {oc.Token}})
	if !strings.Contains(w.Body.String(), fmt.Sprintf("<td>%d <span", oc.Tier)) {
		t.Error("order page does not show the tier")
	}
	for _, tok := range proofs {
		if strings.Contains(e.logs.String(), tok) {
			t.Error("logs hold a proof")
		}
	}
}

// TestTierLimit: a newcomer cannot hold more unpaid orders than tier 0
// allows, or take more than its quantity cap; stock is untouched.
func TestTierLimit(t *testing.T) {
	e := newSupportEnv(t, 1000)
	p := e.addProduct(t, "card", "L-1", "L-2", "L-3", "L-4", "L-5", "L-6", "L-7", "L-8")
	rules := e.shop.TierRules()
	for i := range rules.MaxUnpaid[0] {
		if w := e.postJSON(t, "/api/v1/orders", `{"product":"card","quantity":1}`); w.Code != http.StatusCreated {
			t.Fatalf("order %d: %d %s", i, w.Code, w.Body)
		}
	}
	stock := func() int {
		p, err := e.shop.Product(p.ID)
		if err != nil {
			t.Fatal(err)
		}
		return p.InStock
	}
	before := stock()
	w := e.postJSON(t, "/api/v1/orders", `{"product":"card","quantity":1}`)
	wantErrorJSON(t, w, http.StatusForbidden, "tier_limit")
	if !strings.Contains(w.Body.String(), "unpaid") {
		t.Errorf("tier_limit does not explain: %s", w.Body)
	}
	w = e.postForm(t, "/checkout?lang=en", url.Values{"product": {"card"}, "quantity": {"1"}})
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), fmt.Sprintf("hold at most %d unpaid orders", rules.MaxUnpaid[0])) {
		t.Errorf("checkout over the limit: %d\n%s", w.Code, w.Body)
	}
	checkHTML(t, w)
	// Another address may order, but not over tier 0's quantity cap.
	w = e.do(t, req{method: http.MethodPost, target: "/api/v1/orders", ctype: "application/json", remote: "198.51.100.7:4000",
		body: fmt.Sprintf(`{"product":"card","quantity":%d}`, rules.MaxQuantity[0]+1)})
	wantErrorJSON(t, w, http.StatusForbidden, "tier_limit")
	if got := stock(); got != before {
		t.Errorf("stock %d after refusals, was %d", got, before)
	}
	if strings.Contains(e.logs.String(), "192.0.2.1") || strings.Contains(e.logs.String(), "198.51.100.7") {
		t.Error("logs hold a client address")
	}
}

// TestCoolingOffKeysHidden: loading the order page of a cooling-off
// product does not reveal the keys; "show my keys" does, and ends the offer.
func TestCoolingOffKeysHidden(t *testing.T) {
	e := newSupportEnv(t, 0)
	p := e.addProduct(t, "card", "COOL-KEY-1")
	if p.Policy.CoolingOffMinutes == 0 {
		t.Fatal("the test product has no cooling-off period")
	}
	o := e.placeAPI(t, p.ID, 1)
	e.pay(t, o.Ref)
	revealed := func() bool {
		v, err := e.shop.Lookup(o.Token)
		if err != nil {
			t.Fatal(err)
		}
		return v.Order.Revealed
	}
	for _, lang := range pages.Languages() {
		w := e.postForm(t, "/order?lang="+lang, url.Values{"token": {o.Token}})
		checkHTML(t, w)
		body := w.Body.String()
		if w.Code != http.StatusOK || strings.Contains(body, "COOL-KEY-1") ||
			!strings.Contains(body, html.EscapeString(e.srv.site.Pages.T(lang, "order.show_keys"))) ||
			!strings.Contains(body, `action="/order/cooling-off?lang=`+lang+`"`) {
			t.Fatalf("%s: order page before reveal: %d\n%s", lang, w.Code, body)
		}
	}
	e.tickets(t, o.Token)
	if revealed() {
		t.Fatal("viewing the order revealed the keys")
	}
	w := e.postForm(t, "/order?lang=en", url.Values{"token": {o.Token}, "reveal": {"1"}})
	if !strings.Contains(w.Body.String(), "COOL-KEY-1") || strings.Contains(w.Body.String(), "/order/cooling-off") {
		t.Fatalf("after reveal:\n%s", w.Body)
	}
	if !revealed() {
		t.Fatal("show my keys did not record the reveal")
	}
	// The offer is gone for good: the route refuses.
	if w = e.postForm(t, "/order/cooling-off?lang=en", url.Values{"token": {o.Token}}); w.Code != http.StatusConflict {
		t.Errorf("cooling-off after reveal: %d", w.Code)
	}
}

// TestReplacedKeysStruck: a replaced key shows struck through with its
// state, the new one plainly, with the notice.
func TestReplacedKeysStruck(t *testing.T) {
	e := newSupportEnv(t, 0)
	p := e.addProduct(t, "card", "OLD-KEY-1", "NEW-KEY-2")
	o := e.placeAPI(t, p.ID, 1)
	e.pay(t, o.Ref)
	if err := e.db.Update(func(tx *store.Txn) error {
		_, err := e.shop.ReplaceTx(tx, o.Ref, "", "")
		return err
	}); err != nil {
		t.Fatalf("replace: %v", err)
	}
	w := e.postForm(t, "/order?lang=en", url.Values{"token": {o.Token}, "reveal": {"1"}})
	body := w.Body.String()
	if !strings.Contains(body, "<del><code>OLD-KEY-1</code></del>") || !strings.Contains(body, "NEW-KEY-2") ||
		!strings.Contains(body, e.srv.site.Pages.T("en", "key_state.reported_bad")) ||
		!strings.Contains(body, html.EscapeString(e.srv.site.Pages.T("en", "notice.replaced"))) {
		t.Fatalf("replaced key:\n%s", body)
	}
}

func TestAutoAnswer(t *testing.T) {
	e := newSupportEnv(t, 0)
	p := e.addProduct(t, "card", "A-1")
	o := e.placeAPI(t, p.ID, 1)
	for _, c := range []struct {
		text string
		want []string
	}{
		{"How do I use this?", []string{"[Automatic answer]", p.Disclosure.UsageGuide["en"]}},
		{"有效期多久？地区有限制吗", []string{"【自动回复】", p.Disclosure.Validity["zh-CN"], p.Disclosure.Regions["zh-CN"]}},
		{"卡密在哪", []string{"尚未支付"}},
		{"where is my key?", []string{"not paid"}},
	} {
		ans, ok := e.srv.AutoAnswer(o.Ref, c.text)
		if !ok {
			t.Errorf("%q: no answer", c.text)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(ans, w) {
				t.Errorf("%q: answer lacks %q:\n%s", c.text, w, ans)
			}
		}
		if _, err := msg.CleanText(ans); err != nil {
			t.Errorf("%q: answer fails CleanText: %v", c.text, err)
		}
	}
	// A question no intent covers gets no guess: a person will answer —
	// said once, not again to the next message within ten minutes.
	if ans, ok := e.srv.AutoAnswer(o.Ref, "hello there"); !ok || !strings.Contains(ans, "A person from support has been told") ||
		strings.Contains(ans, p.Disclosure.UsageGuide["en"]) {
		t.Errorf("greeting: %v %q", ok, ans)
	}
	if ans, ok := e.srv.AutoAnswer(o.Ref, "anyone there?"); ok {
		t.Errorf("told twice that a person will answer: %q", ans)
	}
	if _, ok := e.srv.AutoAnswer("R-NOPE0000", "how to use"); ok {
		t.Error("answered for an unknown order")
	}
}

// TestChatOff: without threads and hub the routes answer cleanly.
func TestChatOff(t *testing.T) {
	e := newEnv(t, nil)
	p := e.addProduct(t, "card", "O-1")
	o := e.placeAPI(t, p.ID, 1)
	e.pay(t, o.Ref)
	wantErrorJSON(t, e.bearerDo(t, http.MethodPost, "/api/v1/order/chat", o.Token, ""), http.StatusNotFound, "chat_unavailable")
	if w := e.get(t, "/chat/ws", nil); w.Code != http.StatusNotFound {
		t.Errorf("ws without hub: %d", w.Code)
	}
	// A ticket without a detail still opens; one with a detail has nowhere
	// to keep it.
	if w := e.bearerDo(t, http.MethodPost, "/api/v1/order/tickets", o.Token, `{"reason":"other"}`); w.Code != http.StatusCreated {
		t.Errorf("ticket without threads: %d %s", w.Code, w.Body)
	}
	wantErrorJSON(t, e.bearerDo(t, http.MethodPost, "/api/v1/order/tickets", o.Token, `{"reason":"other","detail":"x"}`),
		http.StatusServiceUnavailable, "support_unavailable")
	w := e.postForm(t, "/order/thread?lang=en", url.Values{"token": {o.Token}, "text": {"hello"}})
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), html.EscapeString(e.srv.site.Pages.T("en", "err.support_unavailable.message"))) {
		t.Errorf("thread form without threads: %d", w.Code)
	}
	if got := e.tickets(t, o.Token); len(got.Tickets) != 1 || len(got.Thread) != 0 {
		t.Errorf("tickets %+v", got)
	}
}
