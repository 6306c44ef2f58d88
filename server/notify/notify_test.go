package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"veil/crypto"
	"veil/server/store"
)

const (
	testToken  = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
	testSecret = "whsec-0123456789abcdef-SECRET"
	testChat   = "-1001234567890"
)

// clock is a test clock moved by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeTelegram stands in for api.telegram.org.
type fakeTelegram struct {
	mu    sync.Mutex
	msgs  []map[string]any
	paths []string
	srv   *httptest.Server
}

func newFakeTelegram(t *testing.T) *fakeTelegram {
	f := &fakeTelegram{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.paths = append(f.paths, r.URL.Path)
		if r.URL.Path != "/bot"+testToken+"/sendMessage" {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"ok":false,"error_code":401,"description":"Unauthorized"}`)
			return
		}
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		f.msgs = append(f.msgs, m)
		io.WriteString(w, `{"ok":true,"result":{"message_id":1}}`)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeTelegram) texts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, m := range f.msgs {
		out = append(out, m["chat_id"].(string)+"|"+m["text"].(string))
	}
	return out
}

// receiver is a webhook endpoint that checks the signature and can fail
// its first calls.
type receiver struct {
	mu       sync.Mutex
	failures int // answer 500 to this many more calls
	calls    int
	bodies   [][]byte
	bad      int // calls with a wrong signature
	srv      *httptest.Server
	now      func() time.Time
}

func newReceiver(t *testing.T, now func() time.Time) *receiver {
	rc := &receiver{now: now}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		rc.calls++
		if !Verify(testSecret, r.Header.Get(HeaderSignature), body, rc.now(), 5*time.Minute) {
			rc.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if rc.failures > 0 {
			rc.failures--
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		rc.bodies = append(rc.bodies, body)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) got() (calls int, bodies [][]byte, bad int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.calls, append([][]byte(nil), rc.bodies...), rc.bad
}

type env struct {
	dir   string
	db    *store.DB
	n     *Notifier
	vault *crypto.Vault
	clock *clock
	tg    *fakeTelegram
	rc    *receiver
	opt   Options
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{dir: t.TempDir(), clock: &clock{t: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)}}
	var err error
	if e.vault, err = crypto.NewVault(crypto.X25519); err != nil {
		t.Fatal(err)
	}
	e.tg = newFakeTelegram(t)
	e.rc = newReceiver(t, e.clock.Now)
	e.opt = Options{
		Identity:    func() (*crypto.Identity, error) { return e.vault.NotifyIdentity(crypto.X25519) },
		TelegramAPI: e.tg.srv.URL,
		Backoff:     time.Second,
		MaxAttempts: 4,
		Now:         e.clock.Now,
	}
	e.open(t)
	t.Cleanup(func() { e.db.Close() })
	return e
}

func (e *env) open(t *testing.T) {
	t.Helper()
	db, err := store.Open(e.dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e.db = db
	e.n = New(db, e.opt)
}

func (e *env) apply(t *testing.T, c Change) {
	t.Helper()
	p, _, err := e.n.Prepare(c)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(p)
	if err := e.db.Update(func(tx *store.Txn) error { _, err := e.n.ApplyTx(tx, raw); return err }); err != nil {
		t.Fatal(err)
	}
}

func ptr[T any](v T) *T { return &v }

func (e *env) setUp(t *testing.T, events ...Kind) {
	t.Helper()
	if len(events) == 0 {
		events = Kinds()
	}
	e.apply(t, Change{
		Telegram: &ChannelChange{Target: ptr(testChat), Secret: ptr(testToken), Events: &events, Lang: ptr("en")},
		Webhook:  &ChannelChange{Target: ptr(e.rc.srv.URL + "/hook"), Secret: ptr(testSecret), Events: &events},
	})
}

func (e *env) enqueue(t *testing.T, ev Event) {
	t.Helper()
	if err := e.db.Update(func(tx *store.Txn) error { return e.n.Enqueue(tx, ev) }); err != nil {
		t.Fatal(err)
	}
}

func (e *env) drain(t *testing.T) {
	t.Helper()
	if err := e.n.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func paid() Event {
	return Event{Kind: OrderPaid, Ref: "R-ABCD2345", Product: "steam-card", Quantity: 2, AmountMinor: 1980, Currency: "CNY"}
}

func TestPaidOrderTelegramAndSignedWebhook(t *testing.T) {
	e := newEnv(t)
	e.setUp(t)
	e.enqueue(t, paid())
	e.drain(t)
	texts := e.tg.texts()
	if len(texts) != 1 || texts[0] != testChat+"|veil · Order paid\nR-ABCD2345 · steam-card ×2 · ¥19.80" {
		t.Fatalf("telegram got %q", texts)
	}
	calls, bodies, bad := e.rc.got()
	if calls != 1 || bad != 0 || len(bodies) != 1 {
		t.Fatalf("webhook: %d calls, %d bad signatures, %d accepted", calls, bad, len(bodies))
	}
	var got Event
	if err := json.Unmarshal(bodies[0], &got); err != nil {
		t.Fatal(err)
	}
	if got.Kind != OrderPaid || got.Ref != "R-ABCD2345" || got.AmountMinor != 1980 || got.Currency != "CNY" || got.ID == "" {
		t.Fatalf("webhook body %s", bodies[0])
	}
	ds, err := e.n.Deliveries(0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 {
		t.Fatalf("deliveries: %+v", ds)
	}
	for _, d := range ds {
		if d.State != StateSent || d.Attempts != 1 {
			t.Fatalf("delivery %+v", d)
		}
	}
	// Nothing is sent twice.
	e.clock.Add(time.Hour)
	e.drain(t)
	if n := len(e.tg.texts()); n != 1 {
		t.Fatalf("telegram got %d messages after a second drain", n)
	}
	if calls, _, _ := e.rc.got(); calls != 1 {
		t.Fatalf("webhook called %d times after a second drain", calls)
	}
}

func TestEventsPerChannel(t *testing.T) {
	e := newEnv(t)
	e.apply(t, Change{
		Telegram: &ChannelChange{Target: ptr(testChat), Secret: ptr(testToken), Events: &[]Kind{OrderPaid}},
		Webhook:  &ChannelChange{Target: ptr(e.rc.srv.URL), Secret: ptr(testSecret), Events: &[]Kind{TicketOpened}},
	})
	e.enqueue(t, paid())
	e.enqueue(t, Event{Kind: TicketOpened, Ref: "R-ABCD2345", Reason: "key_invalid", Ticket: "t0123abc"})
	e.enqueue(t, Event{Kind: ChatOpened, Ref: "R-ABCD2345"}) // nobody listens
	e.drain(t)
	if texts := e.tg.texts(); len(texts) != 1 || !strings.Contains(texts[0], "订单已付款") {
		t.Fatalf("telegram got %q (zh-CN by default)", texts)
	}
	_, bodies, _ := e.rc.got()
	if len(bodies) != 1 || !bytes.Contains(bodies[0], []byte(`"event":"ticket_opened"`)) {
		t.Fatalf("webhook got %q", bodies)
	}
	if ds, _ := e.n.Deliveries(0); len(ds) != 2 {
		t.Fatalf("%d deliveries, want 2", len(ds))
	}
}

func TestWebhookFailsTwiceThenOneDelivery(t *testing.T) {
	e := newEnv(t)
	e.setUp(t, OrderPaid)
	e.rc.failures = 2
	e.enqueue(t, paid())
	e.drain(t) // 500
	ds, _ := e.n.Deliveries(0)
	wh := find(ds, Webhook)
	if wh.State != StatePending || wh.Attempts != 1 || wh.LastError != "answered 500" ||
		!wh.NextAt.Equal(e.clock.Now().Add(time.Second)) {
		t.Fatalf("after one failure: %+v", wh)
	}
	e.drain(t) // not due yet
	if calls, _, _ := e.rc.got(); calls != 1 {
		t.Fatalf("retried before its backoff: %d calls", calls)
	}
	e.clock.Add(time.Second)
	e.drain(t) // 500 again; next wait 2 s
	e.clock.Add(time.Second)
	e.drain(t)
	if calls, _, _ := e.rc.got(); calls != 2 {
		t.Fatalf("backoff did not double: %d calls", calls)
	}
	e.clock.Add(time.Second)
	e.drain(t) // 204
	e.clock.Add(time.Hour)
	e.drain(t)
	calls, bodies, bad := e.rc.got()
	if calls != 3 || len(bodies) != 1 || bad != 0 {
		t.Fatalf("%d calls, %d accepted, %d bad signatures; want 3, 1, 0", calls, len(bodies), bad)
	}
	ds, _ = e.n.Deliveries(0)
	var whs []Delivery
	for _, d := range ds {
		if d.Channel == Webhook {
			whs = append(whs, d)
		}
	}
	if len(whs) != 1 || whs[0].State != StateSent || whs[0].Attempts != 3 || whs[0].LastError != "" {
		t.Fatalf("webhook deliveries %+v", whs)
	}
}

func find(ds []Delivery, ch string) Delivery {
	for _, d := range ds {
		if d.Channel == ch {
			return d
		}
	}
	return Delivery{}
}

func TestFailedAfterBoundedAttempts(t *testing.T) {
	e := newEnv(t)
	e.setUp(t, OrderPaid)
	e.rc.failures = 100
	e.enqueue(t, paid())
	for range 10 {
		e.drain(t)
		e.clock.Add(time.Hour)
	}
	calls, _, _ := e.rc.got()
	if calls != 4 {
		t.Fatalf("%d calls, want MaxAttempts=4", calls)
	}
	wh := find(mustDeliveries(t, e.n), Webhook)
	if wh.State != StateFailed || wh.Attempts != 4 || wh.LastError != "answered 500" {
		t.Fatalf("%+v", wh)
	}
}

func mustDeliveries(t *testing.T, n *Notifier) []Delivery {
	t.Helper()
	ds, err := n.Deliveries(0)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}

func TestPermanentRefusalFailsAtOnce(t *testing.T) {
	e := newEnv(t)
	other := "987654321:ZZHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
	e.apply(t, Change{Telegram: &ChannelChange{Target: ptr(testChat), Secret: ptr(other), Events: &[]Kind{OrderPaid}}})
	e.enqueue(t, paid())
	e.drain(t)
	tg := find(mustDeliveries(t, e.n), Telegram)
	if tg.State != StateFailed || tg.Attempts != 1 || tg.LastError != "permanent: answered 401" {
		t.Fatalf("%+v", tg)
	}
	if strings.Contains(tg.LastError, other) || strings.Contains(tg.LastError, "ZZHdq") {
		t.Fatal("the token is in the error")
	}
}

func TestQueuedEventSurvivesRestart(t *testing.T) {
	e := newEnv(t)
	e.setUp(t, OrderPaid)
	e.enqueue(t, paid())
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	e.open(t)
	e.drain(t)
	if n := len(e.tg.texts()); n != 1 {
		t.Fatalf("telegram got %d after restart", n)
	}
	if _, bodies, _ := e.rc.got(); len(bodies) != 1 {
		t.Fatalf("webhook got %d after restart", len(bodies))
	}
	// And once sent, a restart sends nothing again.
	e.db.Close()
	e.open(t)
	e.drain(t)
	if n := len(e.tg.texts()); n != 1 {
		t.Fatalf("telegram got %d after a second restart", n)
	}
}

func TestLockedWaitsWithoutSpendingAttempts(t *testing.T) {
	e := newEnv(t)
	e.setUp(t, OrderPaid)
	// A restart with the vault locked: the secrets cannot be opened.
	e.db.Close()
	locked := true
	e.opt.Identity = func() (*crypto.Identity, error) {
		if locked {
			return nil, errors.New("locked")
		}
		return e.vault.NotifyIdentity(crypto.X25519)
	}
	e.open(t)
	e.enqueue(t, paid())
	for range 3 {
		e.drain(t)
		e.clock.Add(time.Hour)
	}
	if n := len(e.tg.texts()); n != 0 {
		t.Fatalf("sent %d while locked", n)
	}
	for _, d := range mustDeliveries(t, e.n) {
		if d.State != StatePending || d.Attempts != 0 {
			t.Fatalf("locked delivery %+v", d)
		}
	}
	locked = false
	e.n.Unlocked()
	e.drain(t)
	// Locked again: the opened secrets stay in memory, so the alert still goes.
	locked = true
	e.enqueue(t, Event{Kind: OrderPaid, Ref: "R-ZZZZ2345", AmountMinor: 5, Currency: "CNY"})
	e.drain(t)
	if n := len(e.tg.texts()); n != 2 {
		t.Fatalf("telegram got %d, want 2", n)
	}
}

func TestSettingsValidationAndView(t *testing.T) {
	e := newEnv(t)
	for name, c := range map[string]Change{
		"token":    {Telegram: &ChannelChange{Secret: ptr("not-a-token")}},
		"chat":     {Telegram: &ChannelChange{Target: ptr("hello there")}},
		"url":      {Webhook: &ChannelChange{Target: ptr("ftp://x.example/")}},
		"userinfo": {Webhook: &ChannelChange{Target: ptr("https://u:p@x.example/")}},
		"secret":   {Webhook: &ChannelChange{Secret: ptr("short")}},
		"event":    {Webhook: &ChannelChange{Events: &[]Kind{"order_paid", "nope"}}},
		"repeat":   {Webhook: &ChannelChange{Events: &[]Kind{"order_paid", "order_paid"}}},
		"test":     {Webhook: &ChannelChange{Events: &[]Kind{Test}}},
		"lang":     {Telegram: &ChannelChange{Lang: ptr("fr")}},
		"thresh":   {Thresholds: map[string]int{"p1": -1}},
		"empty":    {},
	} {
		_, _, err := e.n.Prepare(c)
		var inv *ErrInvalid
		if !errors.As(err, &inv) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	_, _, err := e.n.Prepare(Change{Telegram: &ChannelChange{Secret: ptr("123:" + strings.Repeat("x", 30) + "bad token")}})
	if err == nil || strings.Contains(err.Error(), "bad token") {
		t.Fatalf("error %v quotes the secret", err)
	}
	e.setUp(t, OrderPaid, StockLow)
	v, err := e.n.Settings()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v)
	if bytes.Contains(b, []byte(testToken)) || bytes.Contains(b, []byte(testSecret)) || bytes.Contains(b, []byte("AAHdq")) {
		t.Fatalf("view shows a secret: %s", b)
	}
	if v.Channels[0].SecretHint != "123456789:…Dsaw" || v.Channels[1].SecretHint != "…CRET" || !v.Channels[0].Configured {
		t.Fatalf("view %+v", v)
	}
	// A change applies its sealed secret once.
	p, _, err := e.n.Prepare(Change{Webhook: &ChannelChange{Secret: ptr("another-secret-0123456789")}})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(p)
	if bytes.Contains(raw, []byte("another-secret")) || len(raw) > 200 {
		t.Fatalf("params %s", raw)
	}
	for i, want := range []error{nil, ErrSecretGone} {
		err := e.db.Update(func(tx *store.Txn) error { _, err := e.n.ApplyTx(tx, raw); return err })
		if !errors.Is(err, want) {
			t.Fatalf("apply %d: %v, want %v", i, err, want)
		}
	}
	// Turning a channel off: an empty target and secret.
	e.apply(t, Change{Telegram: &ChannelChange{Target: ptr(""), Secret: ptr("")}})
	v, _ = e.n.Settings()
	if v.Channels[0].Configured || v.Channels[0].SecretHint != "" {
		t.Fatalf("telegram still on: %+v", v.Channels[0])
	}
}

func TestEventShapeRefusesFreeText(t *testing.T) {
	e := newEnv(t)
	e.setUp(t)
	for name, ev := range map[string]Event{
		"ref":      {Kind: OrderPaid, Ref: "ABCD-EFGH-JKMN-PQRS-TVWX-YZ01-2345-6789-ABCD-K"},
		"reason":   {Kind: TicketOpened, Ref: "R-ABCD2345", Reason: "my key does not work!"},
		"product":  {Kind: StockLow, Product: "Some Product Name"},
		"currency": {Kind: OrderPaid, Currency: "yuan renminbi"},
		"kind":     {Kind: "hello"},
		"ticket":   {Kind: TicketOpened, Ticket: "t 1"},
		"amount":   {Kind: OrderPaid, AmountMinor: -1},
	} {
		ev.ID = newEventID(e.clock.Now())
		if err := ev.Check(); !errors.Is(err, ErrBadEvent) {
			t.Errorf("%s: %v, want ErrBadEvent", name, err)
		}
		if err := e.db.Update(func(tx *store.Txn) error { return e.n.Enqueue(tx, ev) }); err != nil {
			t.Errorf("%s: %v: a malformed event must not fail its transaction", name, err)
		}
	}
	if ds := mustDeliveries(t, e.n); len(ds) != 0 {
		t.Fatalf("queued %d", len(ds))
	}
}

func TestStockLowOncePerFall(t *testing.T) {
	e := newEnv(t)
	e.setUp(t, StockLow)
	e.apply(t, Change{Thresholds: map[string]int{"p1": 5}})
	report := func(n int) {
		if err := e.db.Update(func(tx *store.Txn) error { return e.n.StockTx(tx, "p1", "steam-card", n) }); err != nil {
			t.Fatal(err)
		}
	}
	report(7) // above
	report(4) // falls: told
	report(3) // still low: not again
	report(9) // restocked
	report(2) // falls again: told
	if err := e.db.Update(func(tx *store.Txn) error { return e.n.StockTx(tx, "p2", "other", 0) }); err != nil {
		t.Fatal(err) // no threshold: nothing
	}
	e.drain(t)
	texts := e.tg.texts()
	want := []string{testChat + "|veil · Low stock\nsteam-card · 4 left, below 5", testChat + "|veil · Low stock\nsteam-card · 2 left, below 5"}
	if strings.Join(texts, "\n--\n") != strings.Join(want, "\n--\n") {
		t.Fatalf("telegram got %q", texts)
	}
}

func TestSendTest(t *testing.T) {
	e := newEnv(t)
	if _, err := e.n.SendTest(Telegram); !errors.Is(err, ErrNotConfigured) {
		t.Fatalf("unconfigured: %v", err)
	}
	e.setUp(t, OrderPaid) // not subscribed to test: it goes anyway
	if _, err := e.n.SendTest(Webhook); err != nil {
		t.Fatal(err)
	}
	if _, err := e.n.SendTest("email"); err == nil {
		t.Fatal("unknown channel accepted")
	}
	e.drain(t)
	if _, bodies, _ := e.rc.got(); len(bodies) != 1 || !bytes.Contains(bodies[0], []byte(`"event":"test"`)) {
		t.Fatalf("webhook got %q", bodies)
	}
	if len(e.tg.texts()) != 0 {
		t.Fatal("telegram got the webhook's test")
	}
}

// TestNoSecretOnDisk: the bot token and webhook secret never reach the
// store's files in the clear, nor any payload.
func TestNoSecretOnDisk(t *testing.T) {
	e := newEnv(t)
	e.setUp(t)
	e.enqueue(t, paid())
	e.drain(t)
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	needles := []string{testToken, "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", testSecret}
	err := filepath.WalkDir(e.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, s := range needles {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds a secret in the clear", filepath.Base(p))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_, bodies, _ := e.rc.got()
	for _, b := range bodies {
		for _, s := range needles {
			if bytes.Contains(b, []byte(s)) {
				t.Error("a webhook body holds a secret")
			}
		}
	}
	e.open(t)
}

// TestSignKnownAnswer is the worked example of server/API.md.
func TestSignKnownAnswer(t *testing.T) {
	body := []byte(`{"id":"187d5e9a3c000000-00000001","event":"order_paid","at":"2026-12-03T10:00:00Z","ref":"R-ABCD2345","product":"steam-card","quantity":1,"amount_minor":990,"currency":"CNY"}`)
	ts := time.Unix(1764756000, 0)
	got := Sign("whsec-example-secret-0123", ts, body)
	const want = "t=1764756000,v1=c00745188d4fba38ac03797699930e9524646a94f7f2647e6ecd78f62e320b62"
	if got != want {
		t.Fatalf("Sign = %q", got)
	}
	if !Verify("whsec-example-secret-0123", got, body, ts.Add(time.Minute), 5*time.Minute) {
		t.Fatal("Verify refused its own signature")
	}
	if Verify("whsec-example-secret-0123", got, body, ts.Add(10*time.Minute), 5*time.Minute) {
		t.Fatal("Verify accepted an old timestamp")
	}
	if Verify("whsec-example-secret-0123", got, append(body, ' '), ts, 5*time.Minute) {
		t.Fatal("Verify accepted another body")
	}
	if Verify("another-secret-0123456789", got, body, ts, 5*time.Minute) {
		t.Fatal("Verify accepted another secret")
	}
}
