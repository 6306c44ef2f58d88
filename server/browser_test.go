package server_test

// Browser tests: the journeys as a person does them, in headless Chromium
// (Debian's chromium; see browser_helpers_test.go) against the real server
// over a real Badger. In CI a missing chromium fails the test.
//
//	go test -run Browser ./server/
//
// VEIL_CHROMIUM names the browser; VEIL_SCREENSHOTS the directory for the
// screenshots of failed journeys (default: $TMPDIR/veil-screenshots).

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"veil/server/shop"
)

func TestBrowser(t *testing.T) {
	b := startBrowser(t)

	// Buy, pay and open the keys by token, with JavaScript off and on; the
	// zh-CN run also shows that the Chinese pages log nothing.
	t.Run("BuyJSOff", func(t *testing.T) { buyJourney(t, b, "en", false) })
	t.Run("BuyJSOn", func(t *testing.T) { buyJourney(t, b, "en", true) })
	t.Run("BuyJSOnZhCN", func(t *testing.T) { buyJourney(t, b, "zh-CN", true) })
	t.Run("BuyJSOffZhCN", func(t *testing.T) { buyJourney(t, b, "zh-CN", false) })
	t.Run("SupportChat", func(t *testing.T) { chatJourney(t, b) })
	t.Run("RefundWithTOTP", func(t *testing.T) { refundJourney(t, b) })
	t.Run("ConsoleNarrow", func(t *testing.T) { consoleNarrowJourney(t, b) })
	t.Run("Compensation", func(t *testing.T) { compensationJourney(t, b) })
	t.Run("ShopIsTheirs", func(t *testing.T) { shopIsTheirsJourney(t, b) })
	t.Run("ConsoleReports", func(t *testing.T) { consoleReportsJourney(t, b) })
}

// buyJourney: catalog → product page (disclosure shown) → buy → the token
// page (the token read off the page) → demo payment → lookup page → the
// token typed in → the order page shows exactly the imported key. Every
// page logs no error and no CSP violation.
func buyJourney(t *testing.T, b *browser, lang string, js bool) {
	s := newBrowserShop(t)
	const key = "BRW-7Q2M-4K9X-ZP31"
	p := s.product("browser-card", key)
	name := p.Name[lang]
	tb := b.newTab(t, "buyer", s.ts.URL, lang, js)

	// The catalog, in the browser's language.
	wantStatus(t, "catalog", tb.open("/"), http.StatusOK)
	if got := tb.text("main h1"); got != s.T(lang, "catalog.title") {
		t.Fatalf("catalog heading %q, want %q", got, s.T(lang, "catalog.title"))
	}
	wantStatus(t, "product page", tb.submit(`//a[contains(@class,"name") and normalize-space()=`+xq(name)+`]`), http.StatusOK)

	// The product page shows the disclosure before the buy button.
	if got := tb.text("main h1"); got != name {
		t.Fatalf("product heading %q, want %q", got, name)
	}
	tb.waitVisible(`//h2[normalize-space()=` + xq(s.T(lang, "disclosure.title")) + `]`)
	facts := tb.text("dl.facts")
	for _, want := range []string{p.Disclosure.Validity[lang], p.Disclosure.Regions[lang], p.Disclosure.Devices[lang], "1.5%"} {
		if !strings.Contains(facts, want) {
			t.Errorf("disclosure lacks %q:\n%s", want, facts)
		}
	}
	if got := tb.text(`//h3[normalize-space()=` + xq(s.T(lang, "disclosure.usage_guide")) + `]/following-sibling::p[1]`); got != p.Disclosure.UsageGuide[lang] {
		t.Errorf("usage guide %q, want %q", got, p.Disclosure.UsageGuide[lang])
	}
	wantStatus(t, "checkout", tb.submit(`form[action^="/checkout"] button[type="submit"]`), http.StatusOK)

	// The token page: the token is shown once; read it off the page as the
	// buyer would write it down, in its groups.
	shown := strings.Join(strings.Fields(tb.text("#order-token")), " ")
	value := eval[string](tb, `document.getElementById("order-token").getAttribute("data-value")`)
	if strings.Join(strings.Fields(shown), "") != strings.NewReplacer("-", "", " ", "").Replace(value) || len(strings.Fields(shown)) < 4 {
		t.Fatalf("token shown as %q, its value is %q", shown, value)
	}
	ref := tb.text("table.summary td.mono")
	if st := s.status(ref); st != shop.StatusPending {
		t.Fatalf("order %s is %s after checkout", ref, st)
	}
	// Copy buttons appear with JavaScript only; the wallet stays off.
	if got := tb.shown(`button.copy[data-copy="order-token"]`); got != js {
		t.Errorf("token copy button shown: %v with JavaScript %v", got, js)
	}
	if tb.shown("#wallet-saved") {
		t.Error("the token page says the wallet saved the token; the wallet is off by default")
	}
	if js && !eval[bool](tb, `localStorage.length === 0`) {
		t.Errorf("localStorage holds %s; the wallet is off by default", eval[string](tb, `JSON.stringify(localStorage)`))
	}

	// Pay on the demo page.
	wantStatus(t, "pay page", tb.submit(`a.btn.big[href*="/pay/demo"]`), http.StatusOK)
	if got := tb.text("table.summary td.mono"); got != ref {
		t.Fatalf("pay page for %q, want %q", got, ref)
	}
	wantStatus(t, "pay", tb.submit(`form[action^="/pay/demo"] button[type="submit"]`), http.StatusOK)
	if got := tb.text("main .notice.ok"); !strings.Contains(got, s.T(lang, "paydemo.paid_title")) {
		t.Fatalf("after paying: %q", got)
	}
	if st := s.status(ref); st != shop.StatusDelivered {
		t.Fatalf("order %s is %s after paying", ref, st)
	}

	// The lookup page; with JavaScript the wallet offers itself, off.
	wantStatus(t, "lookup page", tb.submit(`main a.btn.big[href^="/order"]`), http.StatusOK)
	tb.waitVisible("#token")
	if js {
		tb.waitVisible("#wallet")
		if eval[bool](tb, `document.getElementById("wallet-on").checked`) || tb.shown("#wallet-list") {
			t.Error("the wallet is on by default")
		}
	} else if tb.shown("#wallet") {
		t.Error("the wallet settings show without JavaScript")
	}
	tb.typeIn("#token", shown)
	wantStatus(t, "order page", tb.submit(`main form[action^="/order"] button[type="submit"]`), http.StatusOK)

	// The order page: exactly the imported key, delivered.
	tb.waitVisible("ul.keys")
	if keys := tb.texts("ul.keys code"); !slices.Equal(keys, []string{key}) {
		t.Fatalf("order page shows keys %q, want exactly %q", keys, key)
	}
	if got := tb.text("main h1"); !strings.Contains(got, ref) {
		t.Errorf("order page heading %q lacks %s", got, ref)
	}
	if got := tb.text("main .badge"); got != s.T(lang, "status.delivered") {
		t.Errorf("status %q, want %q", got, s.T(lang, "status.delivered"))
	}
	if got := tb.shown(`button.copy[data-copy="key-0"]`); got != js {
		t.Errorf("key copy button shown: %v with JavaScript %v", got, js)
	}
	// The live chat is offered with JavaScript only; the message form
	// always.
	if got := tb.shown("#chat-start"); got != js {
		t.Errorf("live chat offered: %v with JavaScript %v", got, js)
	}
	tb.waitVisible(`form[action^="/order/thread"] textarea`)
	tb.wantCleanConsole()
}

// chatJourney: the buyer opens the order page and starts a live chat; a
// staff member signs in to the console in a second browser context, opens
// the room from the live-chat page, and they exchange messages both ways,
// each seeing the other's text; the buyer ends the chat, both see it
// closed, and the sealed thread on the order page keeps both sides.
func chatJourney(t *testing.T, b *browser) {
	s := newBrowserShop(t)
	p := s.product("chat-card", "CHAT-7Q2M-0001")
	placed := s.paidOrder(p)
	ref := placed.Order.Ref
	buyer := b.newTab(t, "buyer", s.ts.URL, "en", true)

	openOrder := func() {
		wantStatus(t, "lookup page", buyer.open("/order"), http.StatusOK)
		buyer.typeIn("#token", placed.Token)
		wantStatus(t, "order page", buyer.submit(`main form[action^="/order"] button[type="submit"]`), http.StatusOK)
	}
	openOrder()
	buyer.click("#chat-start")
	buyer.waitVisible("#chat-form") // joined the room
	if got := buyer.text("#chat-status"); got != s.T("en", "chat.waiting") {
		t.Errorf("chat status %q, want %q", got, s.T("en", "chat.waiting"))
	}

	// A line before staff join: the staff's chat page shows it once, from
	// the sealed thread, although the room replays it on join.
	const earlyText = "BUYER-EARLY-5120: the key says already used"
	buyer.typeIn("#chat-text", earlyText)
	buyer.click(`#chat-form button[type="submit"]`)
	buyer.waitVisible(`//ol[@id="chat-log"]/li[contains(@class,"from-buyer")]/p[normalize-space()=` + xq(earlyText) + `]`)

	staff := joinRoomAsStaff(t, b, s, buyer, ref)

	const staffText = "STAFF-REPLY-4471: please try the key again now"
	const buyerText = "BUYER-LINE-9034: it works now, thank you"
	staff.say(staffText)
	fromStaff := `//ol[@id="chat-log"]/li[contains(@class,"from-staff")]`
	buyer.waitVisible(fromStaff + `/p[normalize-space()=` + xq(staffText) + `]`)
	if got := buyer.text(fromStaff + `/span[@class="who"]`); got != s.T("en", "thread.from_staff") {
		t.Errorf("staff message labelled %q, want %q", got, s.T("en", "thread.from_staff"))
	}

	buyer.typeIn("#chat-text", buyerText)
	buyer.click(`#chat-form button[type="submit"]`)
	buyer.waitVisible(`//ol[@id="chat-log"]/li[contains(@class,"from-buyer")]/p[normalize-space()=` + xq(buyerText) + `]`)
	staff.sees("buyer", buyerText)
	if staff.texts != nil {
		// Every line once: the replay on join and the live relay add
		// nothing the page already shows.
		seen := map[string]int{}
		for _, x := range staff.texts() {
			seen[x]++
		}
		for _, want := range []string{earlyText, staffText, buyerText} {
			if seen[want] != 1 {
				t.Errorf("the staff chat shows %q %d times: %q", want, seen[want], staff.texts())
			}
		}
	}

	// The buyer ends the chat: both sides see it closed.
	buyer.click("#chat-end")
	staff.closed()
	buyer.waitVisible("#chat-start")
	if got := buyer.text("#chat-status"); got != s.T("en", "chat.closed") {
		t.Errorf("chat status %q, want %q", got, s.T("en", "chat.closed"))
	}

	// The thread, sealed to the order, keeps both sides.
	openOrder()
	thread := buyer.texts("#thread li p")
	for _, want := range []string{staffText, buyerText} {
		if !slices.Contains(thread, want) {
			t.Errorf("thread lacks %q: %q", want, thread)
		}
	}
	buyer.wantCleanConsole()
	staff.cleanConsole()
}

// chatStaff is the staff side of a chat: what they say and what they see.
type chatStaff struct {
	say          func(text string)
	sees         func(from, text string)
	closed       func()
	cleanConsole func()
	texts        func() []string // the chat log's lines; nil without the console page
}

// joinRoomAsStaff has olga sign in to the console in her own browser
// context, find the order's room on the live-chat page and join it. While
// the console has no /admin/rooms (it came in with the after-sales
// console), she joins over a WebSocket client with a secret from the hub.
func joinRoomAsStaff(t *testing.T, b *browser, s *browserShop, buyer *tab, ref string) chatStaff {
	t.Helper()
	if !s.hasRoute("/admin/rooms") {
		t.Log("no /admin/rooms page: the staff side joins over a WebSocket client with hub.StaffSecret")
		c := s.joinAsStaff(buyer.ctx, s.roomOf(buyer.ctx, ref), "olga")
		return chatStaff{
			say:          func(text string) { c.send(map[string]string{"type": "msg", "text": text}) },
			sees:         func(from, text string) { c.next("msg", from, text) },
			closed:       func() { c.next("closed", "", "") },
			cleanConsole: func() {},
		}
	}
	st := b.newTab(t, "staff", s.ts.URL, "en", true)
	staffLogin(t, st, s)
	wantStatus(t, "live chat page", st.open("/admin/rooms"), http.StatusOK)
	row := `//tbody[@id="rooms-body"]/tr[td[normalize-space()=` + xq(ref) + `]]`
	st.waitVisible(row)
	if got := st.text(row + `/td[3]`); got != s.T("en", "admin.rooms.yes") {
		t.Errorf("rooms page: buyer connected %q, want %q", got, s.T("en", "admin.rooms.yes"))
	}
	wantStatus(t, "join room", st.submit(row+`//button[@type="submit"]`), http.StatusOK)
	st.waitVisible("#chat-form") // joined
	if got := st.text("main h1"); !strings.Contains(got, ref) {
		t.Errorf("chat page heading %q lacks %s", got, ref)
	}
	return chatStaff{
		say: func(text string) {
			st.typeIn("#chat-text", text)
			st.click(`#chat-form button[type="submit"]`)
			st.waitVisible(`//ol[@id="chat-log"]/li[contains(@class,"from-staff")]/p[normalize-space()=` + xq(text) + `]`)
		},
		sees: func(from, text string) {
			st.waitVisible(`//ol[@id="chat-log"]/li[contains(@class,"from-` + from + `")]/p[normalize-space()=` + xq(text) + `]`)
		},
		closed: func() {
			st.waitVisible(`//p[@id="chat-status" and normalize-space()=` + xq(s.T("en", "admin.chat.closed")) + `]`)
		},
		cleanConsole: st.wantCleanConsole,
		texts:        func() []string { return st.texts("#chat-log li p") },
	}
}

// staffLogin signs olga in on the console's sign-in page with her current
// TOTP code.
func staffLogin(t *testing.T, st *tab, s *browserShop) {
	t.Helper()
	// A console page without a session leads to the sign-in page.
	wantStatus(t, "sign-in page", st.open("/admin/approvals"), http.StatusOK)
	if loc := st.location(); !strings.HasPrefix(loc, "/admin/login") {
		t.Fatalf("without a session: at %s", loc)
	}
	st.typeIn("#user", "olga")
	st.typeIn("#password", browserStaffPass)
	st.typeIn("#code", s.code())
	wantStatus(t, "sign in", st.submit(`form[action^="/admin/login"] button[type="submit"]`), http.StatusOK)
	if got := st.text("form.logout"); !strings.Contains(got, "olga") {
		t.Fatalf("signed in as %q", got)
	}
}

// refundJourney: staff sign in with TOTP, propose two refunds on the
// orders page, approve one with a fresh code and see the order refunded,
// then try the same code on the other approval and see it refused.
func refundJourney(t *testing.T, b *browser) {
	s := newBrowserShop(t)
	p := s.product("refund-card", "REFUND-7Q2M-0001", "REFUND-7Q2M-0002")
	o1, o2 := s.paidOrder(p).Order.Ref, s.paidOrder(p).Order.Ref
	st := b.newTab(t, "staff", s.ts.URL, "en", true)
	staffLogin(t, st, s)

	// Propose both refunds on the orders page, without a code: queued.
	for _, ref := range []string{o1, o2} {
		wantStatus(t, "orders page", st.open("/admin/orders"), http.StatusOK)
		row := `//tr[td[normalize-space()=` + xq(ref) + `]]`
		st.click(row + `//summary`)
		st.typeIn(row+`//input[@name="reason"]`, "the key did not work")
		wantStatus(t, "propose refund", st.submit(row+`//button[@type="submit"]`), http.StatusOK)
		if got := st.text(`main .notice[role="status"]`); got != s.T("en", "admin.notice.queued") {
			t.Fatalf("after proposing the refund of %s: %q", ref, got)
		}
	}
	if s.status(o1) != shop.StatusDelivered || s.status(o2) != shop.StatusDelivered {
		t.Fatal("a proposal refunded an order")
	}

	// Approve the first with a fresh code: the order is refunded.
	item := func(ref string) string {
		return `//ul[contains(@class,"approvals")]/li[.//span[contains(@class,"mono") and normalize-space()=` + xq(ref) + `]]`
	}
	code := s.nextCode()
	st.typeIn(item(o1)+`//input[@name="totp"]`, code)
	wantStatus(t, "approve", st.submit(item(o1)+`//button[@value="approve"]`), http.StatusOK)
	if got := st.text(`main .notice[role="status"]`); got != s.T("en", "admin.notice.approved") {
		t.Fatalf("after approving: %q", got)
	}
	if got := s.status(o1); got != shop.StatusRefunded {
		t.Fatalf("order %s is %s after the approval", o1, got)
	}
	if got := st.text(`//table[contains(@class,"list")]//tr[td[normalize-space()=` + xq(o1) + `]]//span[contains(@class,"badge")]`); got != s.T("en", "admin.approval_status.approved") {
		t.Errorf("history shows the refund of %s as %q", o1, got)
	}
	wantStatus(t, "orders page", st.open("/admin/orders"), http.StatusOK)
	if got := st.text(`//tr[td[normalize-space()=` + xq(o1) + `]]//span[contains(@class,"badge")]`); got != s.T("en", "admin.order_status.refunded") {
		t.Errorf("orders page shows %s as %q", o1, got)
	}

	// The same code again, on the other approval: refused, nothing done.
	wantStatus(t, "approvals page", st.open("/admin/approvals"), http.StatusOK)
	st.typeIn(item(o2)+`//input[@name="totp"]`, code)
	wantStatus(t, "approve with the used code", st.submit(item(o2)+`//button[@value="approve"]`), http.StatusUnauthorized)
	if got := st.text("main h1"); got != s.T("en", "err.totp_replayed.title") {
		t.Errorf("refusal titled %q, want %q", got, s.T("en", "err.totp_replayed.title"))
	}
	if got := st.text("main"); !strings.Contains(got, s.T("en", "err.totp_replayed.message")) || !strings.Contains(got, "totp_replayed") {
		t.Errorf("refusal page:\n%s", got)
	}
	if got := s.status(o2); got != shop.StatusDelivered {
		t.Fatalf("order %s is %s after the refused approval", o2, got)
	}
	wantStatus(t, "approvals page", st.open("/admin/approvals"), http.StatusOK)
	st.waitVisible(item(o2) + `//button[@value="approve"]`) // still waiting
}

func wantStatus(t *testing.T, what string, got int64, want int) {
	t.Helper()
	if got != int64(want) {
		t.Fatalf("%s: HTTP %d, want %d", what, got, want)
	}
}
