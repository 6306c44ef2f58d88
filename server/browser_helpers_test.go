package server_test

// Helpers of the browser tests (browser_test.go): one headless Chromium for
// the package, a fresh browser context (its own cookies and storage) per
// journey, a real shop with the console and the chat behind a real HTTP
// server on loopback, the page's console collected, and a screenshot of
// every tab when a journey fails.

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/gorilla/websocket"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"veil/msg"
	"veil/pages"
	"veil/server"
	"veil/server/pay"
	"veil/server/shop"
	"veil/server/staff"
	"veil/server/store"
)

// journeyTimeout bounds one journey: generous, so that a slow CI machine
// never fails a journey that works. Nothing in the journeys is timed.
const journeyTimeout = 60 * time.Second

// chromiumPath finds Debian's chromium: $VEIL_CHROMIUM, else the PATH.
func chromiumPath() string {
	if p := os.Getenv("VEIL_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser is the one Chromium process the browser tests share.
type browser struct {
	ctx context.Context // a chromedp context whose browser runs
}

// startBrowser starts headless Chromium for t and its subtests, and stops it
// when t ends. Without chromium the test fails in CI (CI set) and is
// skipped elsewhere.
func startBrowser(t *testing.T) *browser {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		const how = "no chromium: install Debian's chromium (apt-get install -y chromium) or set VEIL_CHROMIUM"
		if os.Getenv("CI") != "" {
			t.Fatal(how + "; CI must run the browser tests")
		}
		t.Skip(how)
	}
	out := &syncBuffer{}
	// The flags that work on this network: without the background-networking
	// ones, Chromium's own connections are refused many at a time. No
	// UserDataDir: the allocator makes a fresh one and deletes it.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // run as root in CI
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.WindowSize(1280, 1000),
		chromedp.CombinedOutput(out),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		if t.Failed() {
			t.Logf("browser output:\n%s", tail(out.Bytes(), 40))
		}
	})
	// The first Do starts the browser; it must not run under a timeout,
	// which would end the browser with it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v\n%s", path, err, out.Bytes())
	}
	t.Logf("browser: %s", path)
	return &browser{ctx: ctx}
}

// consoleEntry is one message of a page's console or browser log.
type consoleEntry struct {
	Type, Source, Text, URL string
}

func (e consoleEntry) String() string {
	s := e.Type
	if e.Source != "" {
		s += "/" + e.Source
	}
	return s + ": " + e.Text + " (" + e.URL + ")"
}

// cspViolation tells whether the entry reports a Content Security Policy
// violation (Chromium: "… violates the following Content Security Policy
// directive …", logged with the source "security").
func (e consoleEntry) cspViolation() bool {
	return e.Source == "security" || strings.Contains(e.Text, "Content Security Policy") ||
		strings.Contains(e.Text, "Content-Security-Policy")
}

// tab is one tab in its own browser context (own cookies, own storage),
// driven by one journey.
type tab struct {
	t    *testing.T
	name string
	// ctx is bound by the journey's timeout; tabCtx is not, so that a
	// screenshot can still be taken after a timeout.
	ctx, tabCtx context.Context
	base        string // the shop's URL

	mu       sync.Mutex
	entries  []consoleEntry
	reported int         // entries wantCleanConsole went through
	synced   chan string // markers seen by the console reader
	seq      int
}

// newTab opens a tab in a fresh browser context. lang is sent as
// Accept-Language, as the buyer's browser would; js false turns JavaScript
// off for every page of the tab. At the end: any CSP violation fails the
// test, and when the test failed the tab's screenshot is saved.
func (b *browser) newTab(t *testing.T, name, base, lang string, js bool) *tab {
	t.Helper()
	tabCtx, cancelTab := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	ctx, cancel := context.WithTimeout(tabCtx, journeyTimeout)
	tb := &tab{t: t, name: name, ctx: ctx, tabCtx: tabCtx, base: base, synced: make(chan string, 16)}
	// Subscribe before the first page, so no message is lost; this also
	// opens the tab.
	messages := chromedp.Console(tabCtx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleDebug && strings.HasPrefix(m.Text, "veil-sync-") {
				select {
				case tb.synced <- m.Text:
				default: // nobody waits for it any more
				}
				continue
			}
			tb.mu.Lock()
			tb.entries = append(tb.entries, consoleEntry{Type: string(m.Type), Source: m.Source, Text: m.Text, URL: m.URL})
			tb.mu.Unlock()
		}
	}()
	// Cleanups run last first: the screenshot and the CSP check, then the
	// tab closes and the console reader ends.
	t.Cleanup(func() {
		cancel()
		cancelTab()
		<-done
	})
	t.Cleanup(func() {
		if t.Failed() {
			tb.screenshot()
		}
		tb.mu.Lock()
		rest := append([]consoleEntry(nil), tb.entries[tb.reported:]...)
		tb.mu.Unlock()
		for _, e := range rest {
			if e.cspViolation() {
				t.Errorf("%s: CSP violation: %s", name, e)
			}
		}
	})
	headers := network.Headers{"Accept-Language": lang}
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: headers}); err != nil {
		t.Fatalf("%s: Accept-Language: %v", name, err)
	}
	if !js {
		if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatalf("%s: JavaScript off: %v", name, err)
		}
	}
	return tb
}

// screenshotDir is where failed journeys leave their screenshots: outside
// t.TempDir(), which is deleted when the test ends.
func screenshotDir() string {
	if d := os.Getenv("VEIL_SCREENSHOTS"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "veil-screenshots")
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// screenshot saves the whole page as PNG and logs where.
func (tb *tab) screenshot() {
	ctx, cancel := context.WithTimeout(tb.tabCtx, 15*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		tb.t.Logf("%s: no screenshot: %v", tb.name, err)
		return
	}
	dir := screenshotDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.t.Logf("%s: no screenshot: %v", tb.name, err)
		return
	}
	name := unsafeName.ReplaceAllString(tb.t.Name()+"-"+tb.name, "_") + "-" + time.Now().Format("20060102-150405") + ".png"
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		tb.t.Logf("%s: no screenshot: %v", tb.name, err)
		return
	}
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	tb.t.Logf("%s: screenshot of %s saved to %s", tb.name, loc, path)
}

// console returns the messages so far.
func (tb *tab) console() []consoleEntry {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]consoleEntry(nil), tb.entries...)
}

// syncConsole waits until the console reader has seen every message the
// page wrote so far: it writes a marker and waits for it to come back.
func (tb *tab) syncConsole() {
	tb.t.Helper()
	tb.seq++
	marker := fmt.Sprintf("veil-sync-%d", tb.seq)
	if err := chromedp.Do(tb.ctx, chromedp.Evaluate[chromedp.Void](`console.debug(`+fmt.Sprintf("%q", marker)+`)`)); err != nil {
		tb.t.Fatalf("%s: console marker: %v", tb.name, err)
	}
	for {
		select {
		case m := <-tb.synced:
			if m == marker {
				return
			}
		case <-tb.ctx.Done():
			tb.t.Fatalf("%s: console marker %s never came back: %v", tb.name, marker, tb.ctx.Err())
		}
	}
}

// wantCleanConsole fails on any error or exception the pages logged (a
// failed load, a script error, a CSP violation) and on any CSP report at
// any level; other messages are logged.
func (tb *tab) wantCleanConsole() {
	tb.t.Helper()
	tb.syncConsole()
	entries := tb.console()
	tb.mu.Lock()
	tb.reported = len(entries)
	tb.mu.Unlock()
	for _, e := range entries {
		switch {
		case e.cspViolation(), e.Type == string(chromedp.ConsoleError), e.Type == string(chromedp.ConsoleException):
			tb.t.Errorf("%s: console: %s", tb.name, e)
		default:
			tb.t.Logf("%s: console: %s", tb.name, e)
		}
	}
}

// open navigates to path on the shop and returns the HTTP status.
func (tb *tab) open(path string) int64 {
	tb.t.Helper()
	resp, err := chromedp.Run(tb.ctx, chromedp.NavigateResponse(tb.base+path))
	if err != nil {
		tb.t.Fatalf("%s: open %s: %v", tb.name, path, err)
	}
	return resp.Status
}

// submit clicks what sel finds (a link or a submit button), waits for the
// page it leads to, and returns that page's HTTP status (after redirects).
func (tb *tab) submit(sel string) int64 {
	tb.t.Helper()
	resp, err := chromedp.RunResponse(tb.ctx, chromedp.Click(sel, chromedp.NodeVisible))
	if err != nil {
		tb.t.Fatalf("%s: click %s: %v", tb.name, sel, err)
	}
	return resp.Status
}

// click clicks what sel finds, with no page load expected.
func (tb *tab) click(sel string) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, chromedp.Click(sel, chromedp.NodeVisible)); err != nil {
		tb.t.Fatalf("%s: click %s: %v", tb.name, sel, err)
	}
}

// typeIn types s into the field sel finds, as keystrokes.
func (tb *tab) typeIn(sel, s string) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, chromedp.SendKeys(sel, s, chromedp.NodeVisible)); err != nil {
		tb.t.Fatalf("%s: type into %s: %v", tb.name, sel, err)
	}
}

// waitVisible waits until sel finds a visible element.
func (tb *tab) waitVisible(sel string) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, chromedp.WaitVisible(sel)); err != nil {
		tb.t.Fatalf("%s: wait for %s: %v", tb.name, sel, err)
	}
}

// text is the visible text of the first element sel finds, trimmed; it
// waits for the element to be visible.
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	s, err := chromedp.Run(tb.ctx, chromedp.Text(sel, chromedp.NodeVisible))
	if err != nil {
		tb.t.Fatalf("%s: text of %s: %v", tb.name, sel, err)
	}
	return strings.TrimSpace(s)
}

// eval evaluates a JavaScript expression in the page (DevTools may, with
// the page's own scripts off) and decodes its value.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tb.t.Fatalf("%s: evaluate %s: %v", tb.name, expr, err)
	}
	return v
}

// shown tells, without waiting, whether the CSS selector finds an element
// that is rendered (not hidden, not display:none).
func (tb *tab) shown(css string) bool {
	tb.t.Helper()
	return eval[bool](tb, fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.getClientRects().length > 0; })()`, css))
}

// texts is the trimmed text of every element the CSS selector finds, now.
func (tb *tab) texts(css string) []string {
	tb.t.Helper()
	return eval[[]string](tb, fmt.Sprintf(`Array.from(document.querySelectorAll(%q), e => e.textContent.trim())`, css))
}

// location is the tab's URL, without the shop's base.
func (tb *tab) location() string {
	tb.t.Helper()
	loc, err := chromedp.Run(tb.ctx, chromedp.Location())
	if err != nil {
		tb.t.Fatalf("%s: location: %v", tb.name, err)
	}
	return strings.TrimPrefix(loc, tb.base)
}

// xq quotes s as an XPath string literal (s holds no double quote).
func xq(s string) string { return `"` + s + `"` }

// staffClock is the staff service's clock: TOTP codes are made for its
// time, and a fresh code is one step (30 s) later. The browser does not
// care about the server's time.
type staffClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *staffClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *staffClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

const browserStaffPass = "correct horse battery staple"

// browserShop is a whole shop as the binary runs it: a real Badger, the
// vault, the staff service (owner "olga"), sealed threads and the chat hub,
// the real server on loopback.
type browserShop struct {
	t      *testing.T
	db     *store.DB
	shop   *shop.Shop
	staff  *staff.Service
	hub    *msg.Hub
	clock  *staffClock
	secret string // olga's TOTP secret, from her enrolment
	ts     *httptest.Server
	pages  *pages.Templates
	logs   *syncBuffer
}

// openBrowserStore opens a real store in a temp dir and an unlocked shop
// on it that logs (debug and up) into logs.
func openBrowserStore(t *testing.T) (db *store.DB, sh *shop.Shop, log *slog.Logger, logs *syncBuffer) {
	t.Helper()
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	logs = &syncBuffer{}
	log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if sh, err = shop.New(db, shop.Config{VaultWorkFactor: 10, Logger: log}); err != nil {
		t.Fatal(err)
	}
	if _, err := sh.InitVault("browser test passphrase"); err != nil {
		t.Fatal(err)
	}
	return db, sh, log, logs
}

func newBrowserShop(t *testing.T) *browserShop {
	t.Helper()
	db, sh, log, logs := openBrowserStore(t)
	// Mid-step, so that the ±1 step window is unambiguous.
	clock := &staffClock{t: time.Date(2025, 3, 1, 12, 0, 10, 0, time.UTC)}
	st := staff.New(db, staff.Options{Now: clock.Now, Argon2: staff.Argon2Params{Time: 1, MemoryKiB: 256, Threads: 1}})
	enr, _, err := st.Bootstrap("olga", browserStaffPass)
	if err != nil {
		t.Fatal(err)
	}
	threads := msg.NewThreads(db, nil)
	var srv *server.Server
	hub := msg.NewHub(msg.HubConfig{Threads: threads, Logger: log,
		AutoAnswer: func(ref, text string) (string, bool) { return srv.AutoAnswer(ref, text) }})
	srv, err = server.New(server.Config{
		Shop: sh, Staff: st, Payments: pay.Demo{}, DemoPayments: true, Logger: log,
		Threads: threads, Hub: hub, Store: db,
	})
	if err != nil {
		hub.Close()
		t.Fatal(err)
	}
	tpl, err := pages.New()
	if err != nil {
		t.Fatal(err)
	}
	s := &browserShop{t: t, db: db, shop: sh, staff: st, hub: hub, clock: clock, secret: enr.Secret,
		ts: httptest.NewServer(srv.Handler()), pages: tpl, logs: logs}
	t.Cleanup(func() {
		s.ts.Close()
		hub.Close()
		if err := db.Close(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", tail(logs.Bytes(), 60))
		}
	})
	return s
}

// tail is the last n lines of b.
func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// T is the page text key in lang.
func (s *browserShop) T(lang, key string) string { return s.pages.T(lang, key) }

// product adds a product with a full disclosure and imports keys.
func (s *browserShop) product(slug string, keys ...string) shop.Product {
	s.t.Helper()
	p, err := s.shop.CreateProduct(shop.Product{
		Slug:        slug,
		Name:        shop.Text{"en": "Browser Card " + slug, "zh-CN": "浏览器点卡 " + slug},
		Description: shop.Text{"en": "A card for the browser test.", "zh-CN": "浏览器测试用的卡。"},
		PriceMinor:  1990,
		Currency:    "CNY",
		MaxPerOrder: 2,
		Disclosure: shop.Disclosure{
			Validity:            shop.Text{"en": "90 days from activation", "zh-CN": "激活后 90 天"},
			Regions:             shop.Text{"en": "Mainland China only", "zh-CN": "仅限中国大陆"},
			Devices:             shop.Text{"en": "Two devices", "zh-CN": "限两台设备"},
			UsageGuide:          shop.Text{"en": "Redeem it in the game's shop.", "zh-CN": "在游戏商城兑换。"},
			FailureRatePermille: 15,
		},
		Policy: shop.Policy{WindowHours: 72, Remedies: []shop.Remedy{shop.RemedyReplace, shop.RemedyRefund}},
	})
	if err != nil {
		s.t.Fatal(err)
	}
	res, err := s.shop.ImportKeys(p.ID, shop.BatchInfo{Supplier: "browser"}, strings.NewReader(strings.Join(keys, "\n")+"\n"))
	if err != nil || res.Imported != len(keys) {
		s.t.Fatalf("import: %+v %v", res, err)
	}
	return p
}

// paidOrder places an order of one key of p and pays it (demo): delivered.
func (s *browserShop) paidOrder(p shop.Product) shop.Placed {
	s.t.Helper()
	placed, err := s.shop.PlaceOrder(p.ID, 1, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	o, err := s.shop.Pay(placed.Order.Ref, pay.DemoPayment(placed.Order))
	if err != nil || o.Status != shop.StatusDelivered {
		s.t.Fatalf("pay %s: %s %v", o.Ref, o.Status, err)
	}
	placed.Order = o
	return placed
}

// status is the order's status in the store.
func (s *browserShop) status(ref string) shop.Status {
	s.t.Helper()
	o, err := s.shop.OrderByRef(ref)
	if err != nil {
		s.t.Fatal(err)
	}
	return o.Status
}

// code is olga's TOTP code at the staff clock's time.
func (s *browserShop) code() string {
	s.t.Helper()
	c, err := totp.GenerateCodeCustom(s.secret, s.clock.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		s.t.Fatal(err)
	}
	return c
}

// nextCode moves the staff clock one TOTP step on and returns the code.
func (s *browserShop) nextCode() string {
	s.clock.Add(30 * time.Second)
	return s.code()
}

// hasRoute tells whether the shop serves path at all: a console page
// without a session redirects to the sign-in page, an unknown path is 404.
func (s *browserShop) hasRoute(path string) bool {
	s.t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(s.ts.URL + path)
	if err != nil {
		s.t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode != http.StatusNotFound
}

// roomOf waits for the order's open chat room in the hub and returns its id.
func (s *browserShop) roomOf(ctx context.Context, ref string) string {
	s.t.Helper()
	for {
		for _, r := range s.hub.Waiting() {
			if r.Ref == ref && r.BuyerJoined {
				return r.ID
			}
		}
		select {
		case <-ctx.Done():
			s.t.Fatalf("no open room for %s: %v", ref, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// chatFrame is a frame of the chat protocol (API.md).
type chatFrame struct {
	Type, Room, From, Text, Reason, Code, Message string
}

// staffChat is a staff member in a chat room over a real WebSocket, as the
// console's rooms page would be.
type staffChat struct {
	t   *testing.T
	ctx context.Context
	c   *websocket.Conn
}

// joinAsStaff joins the room as name with a secret from the hub.
func (s *browserShop) joinAsStaff(ctx context.Context, room, name string) *staffChat {
	s.t.Helper()
	secret, err := s.hub.StaffSecret(room, name)
	if err != nil {
		s.t.Fatal(err)
	}
	u := "ws" + strings.TrimPrefix(s.ts.URL, "http") + "/chat/ws"
	c, resp, err := websocket.DefaultDialer.DialContext(ctx, u, http.Header{"Origin": {s.ts.URL}})
	if err != nil {
		s.t.Fatalf("dial %s: %v (%v)", u, err, resp)
	}
	s.t.Cleanup(func() { _ = c.Close() })
	sc := &staffChat{t: s.t, ctx: ctx, c: c}
	sc.send(map[string]string{"type": "join", "secret": secret})
	sc.next("joined", "", "")
	return sc
}

func (c *staffChat) send(v any) {
	c.t.Helper()
	if err := c.c.WriteJSON(v); err != nil {
		c.t.Fatal(err)
	}
}

// next reads frames until one of type typ (from from, with text holding
// text, when given); the journey's deadline bounds the wait.
func (c *staffChat) next(typ, from, text string) chatFrame {
	c.t.Helper()
	if dl, ok := c.ctx.Deadline(); ok {
		_ = c.c.SetReadDeadline(dl)
	}
	for {
		var f chatFrame
		if err := c.c.ReadJSON(&f); err != nil {
			c.t.Fatalf("staff: waiting for %s %q: %v", typ, text, err)
		}
		if f.Type == "error" && typ != "error" {
			c.t.Fatalf("staff: error frame %+v", f)
		}
		if f.Type == typ && (from == "" || f.From == from) && strings.Contains(f.Text, text) {
			return f
		}
	}
}
