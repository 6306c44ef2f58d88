package server

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"veil/pages"
	"veil/server/pay"
	"veil/server/shop"
	"veil/server/staff"
)

type opBody struct {
	ApprovalID string `json:"approval_id"`
	Status     string `json:"status"`
	Result     string `json:"result"`
	Download   string `json:"download"`

	EnrolmentSecret string `json:"enrolment_secret"`
}

// proposeRefund asks for a full refund of ref without a code: queued.
func (e *consoleEnv) proposeRefund(sess session, ref string) string {
	e.t.Helper()
	w := e.api(sess, http.MethodPost, "/api/v1/admin/refunds", `{"ref":"`+ref+`","reason":"key did not work"}`)
	if w.Code != http.StatusAccepted {
		e.t.Fatalf("propose refund: %d %s", w.Code, w.Body)
	}
	var b opBody
	decode(e.t, w, &b)
	if b.ApprovalID == "" || b.Status != "pending" {
		e.t.Fatalf("propose answer %s", w.Body)
	}
	return b.ApprovalID
}

func (e *consoleEnv) decideAPI(sess session, id, decision, code string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.api(sess, http.MethodPost, "/api/v1/admin/approvals/"+id, `{"decision":"`+decision+`","totp":"`+code+`"}`)
}

// The same TOTP code is accepted once, ever: login then approval, and two
// approvals.
func TestConsoleTOTPCodeOnce(t *testing.T) {
	e := newConsoleEnv(t)
	p := e.addProduct(t, "card", "K-0001-AAAA", "K-0002-BBBB", "K-0003-CCCC")
	o1, o2 := e.paidOrder(p), e.paidOrder(p)

	olga := e.login("olga")
	loginCode := e.code("olga")
	id1 := e.proposeRefund(olga, o1.Ref)
	id2 := e.proposeRefund(olga, o2.Ref)

	// Login, then the same code for an approval.
	wantErrorJSON(t, e.decideAPI(olga, id1, "approve", loginCode), http.StatusUnauthorized, "totp_replayed")

	// Two approvals with one fresh code: the second is refused.
	e.next()
	c := e.code("olga")
	if w := e.decideAPI(olga, id1, "approve", c); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"status":"approved"`) {
		t.Fatalf("approve: %d %s", w.Code, w.Body)
	}
	wantErrorJSON(t, e.decideAPI(olga, id2, "approve", c), http.StatusUnauthorized, "totp_replayed")
	if o, _ := e.shop.OrderByRef(o2.Ref); o.Status != shop.StatusDelivered {
		t.Fatalf("second refund ran: %s", o.Status)
	}

	// Without a code, and with a wrong one.
	e.next()
	wantErrorJSON(t, e.decideAPI(olga, id2, "approve", ""), http.StatusUnauthorized, "totp_required")
	wantErrorJSON(t, e.decideAPI(olga, id2, "approve", "000000"), http.StatusUnauthorized, "totp_invalid")
	if w := e.decideAPI(olga, id2, "approve", e.code("olga")); w.Code != http.StatusOK {
		t.Fatalf("approve with the fresh code: %d %s", w.Code, w.Body)
	}
	// An approval decided already.
	e.next()
	wantErrorJSON(t, e.decideAPI(olga, id1, "approve", e.code("olga")), http.StatusConflict, "already_decided")
}

// Five bad codes lock the account; the right code is refused until the
// lock ends.
func TestConsoleLockout(t *testing.T) {
	e := newConsoleEnv(t)
	login := func(code string) *httptest.ResponseRecorder {
		return e.do(t, req{method: http.MethodPost, target: "/api/v1/admin/session", ctype: "application/json",
			body: `{"user":"olga","password":"` + consolePass + `","totp":"` + code + `"}`})
	}
	for i := range 5 {
		bad := "000000"
		if e.code("olga") == bad {
			bad = "111111"
		}
		// One answer for any refused pair (issue 10 item 9).
		wantErrorJSON(t, login(bad), http.StatusUnauthorized, "bad_credentials")
		_ = i
	}
	locked := login(e.code("olga"))
	wantErrorJSON(t, locked, http.StatusTooManyRequests, "locked_out")
	if locked.Header().Get("Retry-After") != "900" {
		t.Fatalf("Retry-After %q", locked.Header().Get("Retry-After"))
	}
	e.clk.Add(14 * time.Minute)
	wantErrorJSON(t, login(e.code("olga")), http.StatusTooManyRequests, "locked_out")
	// The lock ends after 15 minutes.
	e.clk.Add(90 * time.Second)
	if w := login(e.code("olga")); w.Code != http.StatusOK {
		t.Fatalf("after the lock: %d %s", w.Code, w.Body)
	}
	// Wrong passwords are bad_credentials too (and counted: see
	// TestSignInOneAnswer).
	w := e.do(t, req{method: http.MethodPost, target: "/api/v1/admin/session", ctype: "application/json",
		body: `{"user":"olga","password":"wrong password!","totp":"123456"}`})
	wantErrorJSON(t, w, http.StatusUnauthorized, "bad_credentials")
	// The login page shows the refusal inline, with its status.
	w = e.do(t, req{method: http.MethodPost, target: "/admin/login?lang=en", ctype: "application/x-www-form-urlencoded",
		body: url.Values{"user": {"olga"}, "password": {consolePass}, "code": {"000000"}}.Encode()})
	if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), e.srv.site.Pages.T("en", "err.bad_credentials.message")[:20]) {
		t.Fatalf("login form: %d %s", w.Code, w.Body)
	}
}

// Admin calls need the session and its CSRF token, and are refused from
// another origin.
func TestConsoleCSRFAndOrigin(t *testing.T) {
	e := newConsoleEnv(t)
	p := e.addProduct(t, "card", "K-0001-AAAA")
	o := e.paidOrder(p)
	olga := e.login("olga")
	body := `{"ref":"` + o.Ref + `","reason":"test"}`
	cookie := staffCookie + "=" + olga.cookie

	// No cookie.
	wantErrorJSON(t, e.do(t, req{method: "POST", target: "/api/v1/admin/refunds", body: body, ctype: "application/json",
		header: map[string]string{"X-CSRF-Token": olga.csrf}}), http.StatusUnauthorized, "unauthenticated")
	wantErrorJSON(t, e.get(t, "/api/v1/admin/approvals", nil), http.StatusUnauthorized, "unauthenticated")
	// No CSRF header, or a wrong one.
	wantErrorJSON(t, e.do(t, req{method: "POST", target: "/api/v1/admin/refunds", body: body, ctype: "application/json",
		header: map[string]string{"Cookie": cookie}}), http.StatusForbidden, "csrf")
	wantErrorJSON(t, e.do(t, req{method: "POST", target: "/api/v1/admin/refunds", body: body, ctype: "application/json",
		header: map[string]string{"Cookie": cookie, "X-CSRF-Token": olga.csrf + "x"}}), http.StatusForbidden, "csrf")
	wantErrorJSON(t, e.do(t, req{method: "DELETE", target: "/api/v1/admin/session",
		header: map[string]string{"Cookie": cookie}}), http.StatusForbidden, "csrf")
	// A JSON call may not use the form field instead.
	wantErrorJSON(t, e.do(t, req{method: "POST", target: "/api/v1/admin/settings", body: "csrf=" + olga.csrf,
		ctype: "application/x-www-form-urlencoded", header: map[string]string{"Cookie": cookie}}), http.StatusForbidden, "csrf")
	// Another origin, even with cookie and token (a browser would not send
	// the cookie with SameSite=Strict; this is the second layer).
	for _, h := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site"},
		{"Origin": "https://evil.example"},
	} {
		h["Cookie"], h["X-CSRF-Token"] = cookie, olga.csrf
		wantErrorJSON(t, e.do(t, req{method: "POST", target: "/api/v1/admin/refunds", body: body, ctype: "application/json",
			header: h}), http.StatusForbidden, "cross_origin")
	}
	// A console form without its csrf field.
	w := e.do(t, req{method: "POST", target: "/admin/refunds", body: url.Values{"ref": {o.Ref}, "reason": {"x"}}.Encode(),
		ctype: "application/x-www-form-urlencoded", header: map[string]string{"Cookie": cookie}})
	if w.Code != http.StatusForbidden {
		t.Fatalf("form without csrf: %d", w.Code)
	}
	// A page without a session goes to the sign-in page.
	if w := e.get(t, "/admin/approvals?lang=en", nil); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/admin/login?lang=en" {
		t.Fatalf("page without session: %d %s", w.Code, w.Header().Get("Location"))
	}
	// Nothing was proposed by any refused call.
	if list, _, _ := e.staff.List(staff.Filter{}, "", 10); len(list) != 0 {
		t.Fatalf("%d approvals after refused calls", len(list))
	}
	// Same origin works; logout ends the session on the server.
	if w := e.api(olga, "POST", "/api/v1/admin/refunds", body); w.Code != http.StatusAccepted {
		t.Fatalf("same origin: %d %s", w.Code, w.Body)
	}
	if w := e.api(olga, "DELETE", "/api/v1/admin/session", ""); w.Code != http.StatusOK {
		t.Fatalf("logout: %d %s", w.Code, w.Body)
	}
	wantErrorJSON(t, e.api(olga, "GET", "/api/v1/admin/approvals", ""), http.StatusUnauthorized, "unauthenticated")
}

// Twenty concurrent approvals of one refund make one refund and one audit
// entry.
func TestConsoleConcurrentApprovals(t *testing.T) {
	e := newConsoleEnv(t)
	p := e.addProduct(t, "card", "K-0001-AAAA")
	o := e.paidOrder(p)
	sessions := []session{e.login("olga")}
	for i := 1; i < 20; i++ {
		name := fmt.Sprintf("owner%02d", i)
		e.member(name, staff.RoleOwner)
	}
	e.next()
	for i := 1; i < 20; i++ {
		sessions = append(sessions, e.login(fmt.Sprintf("owner%02d", i)))
	}
	id := e.proposeRefund(sessions[0], o.Ref)
	e.next()

	codes := make([]string, len(sessions))
	for i, s := range sessions {
		codes[i] = e.code(s.name)
	}
	var wg sync.WaitGroup
	statuses := make([]int, len(sessions))
	bodies := make([]string, len(sessions))
	for i, s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := e.api(s, http.MethodPost, "/api/v1/admin/approvals/"+id, `{"decision":"approve","totp":"`+codes[i]+`"}`)
			statuses[i], bodies[i] = w.Code, w.Body.String()
		}()
	}
	wg.Wait()
	ok := 0
	for i, st := range statuses {
		switch st {
		case http.StatusOK:
			ok++
		case http.StatusConflict:
			if !strings.Contains(bodies[i], "already_decided") {
				t.Errorf("409 body %s", bodies[i])
			}
		default:
			t.Errorf("approval %d: %d %s", i, st, bodies[i])
		}
	}
	if ok != 1 {
		t.Fatalf("%d approvals succeeded", ok)
	}
	got, err := e.shop.OrderByRef(o.Ref)
	if err != nil || got.Status != shop.StatusRefunded || len(got.Refunds) != 1 || got.Refunded() != o.AmountMinor {
		t.Fatalf("order after approvals: %+v %v", got, err)
	}
	if n := e.auditCount(staff.ActionApprovalApprove, "id="+id+" "); n != 1 {
		t.Fatalf("%d approve entries in the audit log", n)
	}
}

// A support account cannot approve a refund or an export; proposing with a
// code only queues.
func TestConsoleSupportCannotApprove(t *testing.T) {
	e := newConsoleEnv(t)
	p := e.addProduct(t, "card", "K-0001-AAAA", "K-0002-BBBB")
	o := e.paidOrder(p)
	e.member("sam", staff.RoleSupport)
	e.next()
	olga, sam := e.login("olga"), e.login("sam")
	refund := e.proposeRefund(olga, o.Ref)
	id, _ := age.GenerateX25519Identity()
	w := e.api(olga, "POST", "/api/v1/admin/exports", `{"product":"`+p.ID+`","recipient":"`+id.Recipient().String()+`"}`)
	if w.Code != http.StatusAccepted {
		t.Fatalf("export proposal: %d %s", w.Code, w.Body)
	}
	var ex opBody
	decode(t, w, &ex)

	e.next()
	wantErrorJSON(t, e.decideAPI(sam, refund, "approve", e.code("sam")), http.StatusForbidden, "forbidden")
	e.next()
	wantErrorJSON(t, e.decideAPI(sam, ex.ApprovalID, "approve", e.code("sam")), http.StatusForbidden, "forbidden")
	// Proposing with a valid code queues instead of executing.
	e.next()
	w = e.api(sam, "POST", "/api/v1/admin/refunds", `{"ref":"`+o.Ref+`","reason":"again","totp":"`+e.code("sam")+`"}`)
	if w.Code != http.StatusAccepted {
		t.Fatalf("support refund with code: %d %s", w.Code, w.Body)
	}
	// Nor may support download an export or edit the catalog.
	wantErrorJSON(t, e.api(sam, "GET", "/api/v1/admin/exports/abc", ""), http.StatusForbidden, "forbidden")
	wantErrorJSON(t, e.api(sam, "POST", "/api/v1/admin/products", `{"slug":"x","name":"X","price_minor":1,"currency":"CNY","kind":"unique"}`),
		http.StatusForbidden, "forbidden")
	if got, _ := e.shop.OrderByRef(o.Ref); got.Status != shop.StatusDelivered {
		t.Fatalf("order is %s", got.Status)
	}
	if got, _ := e.shop.Product(p.ID); got.InStock != 1 {
		t.Fatalf("stock %d", got.InStock)
	}
}

// An export with a code runs at once; its file opens with the recipient's
// identity, holds the unsold keys, and downloads once.
func TestConsoleExport(t *testing.T) {
	e := newConsoleEnv(t)
	p := e.addProduct(t, "card", "K-0001-AAAA", "K-0002-BBBB", "K-0003-CCCC")
	e.paidOrder(p)
	olga := e.login("olga")
	e.next()
	id, _ := age.GenerateX25519Identity()
	w := e.api(olga, "POST", "/api/v1/admin/exports", `{"product":"`+p.ID+`","recipient":"`+id.Recipient().String()+`","totp":"`+e.code("olga")+`"}`)
	if w.Code != http.StatusOK {
		t.Fatalf("export: %d %s", w.Code, w.Body)
	}
	var ex opBody
	decode(t, w, &ex)
	if ex.Status != "approved" || !strings.HasPrefix(ex.Download, "/api/v1/admin/exports/") {
		t.Fatalf("export answer %s", w.Body)
	}
	if got, _ := e.shop.Product(p.ID); got.InStock != 0 {
		t.Fatalf("stock after export: %d", got.InStock)
	}
	w = e.api(olga, "GET", ex.Download, "")
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/octet-stream" ||
		!strings.Contains(w.Header().Get("Content-Disposition"), `filename="veil-export-`) ||
		w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("download: %d %v", w.Code, w.Header())
	}
	r, err := age.Decrypt(bytes.NewReader(w.Body.Bytes()), id)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(r)
	keys := strings.Fields(string(plain))
	if len(keys) != 2 {
		t.Fatalf("exported %q", keys)
	}
	wantErrorJSON(t, e.api(olga, "GET", ex.Download, ""), http.StatusNotFound, "not_found")
	// A bad recipient is refused before anything is proposed.
	wantErrorJSON(t, e.api(olga, "POST", "/api/v1/admin/exports", `{"product":"`+p.ID+`","recipient":"age1nope"}`), http.StatusBadRequest, "bad_request")
}

// Replacements and recalls (admin_remedies.go) refuse an empty request.
func TestConsoleNotYet(t *testing.T) {
	e := newConsoleEnv(t)
	olga := e.login("olga")
	for _, path := range []string{"/api/v1/admin/replacements", "/api/v1/admin/recalls"} {
		wantErrorJSON(t, e.api(olga, "POST", path, `{}`), http.StatusBadRequest, "bad_request")
	}
}

// Settings go through an approval; with the two-person rule on, the
// proposer's code only queues and the proposer cannot approve.
func TestConsoleTwoPerson(t *testing.T) {
	e := newConsoleEnv(t)
	p := e.addProduct(t, "card", "K-0001-AAAA")
	o := e.paidOrder(p)
	e.member("ivan", staff.RoleOwner)
	e.next()
	olga, ivan := e.login("olga"), e.login("ivan")
	e.next()
	w := e.api(olga, "POST", "/api/v1/admin/settings", `{"two_person":{"refund":true},"totp":"`+e.code("olga")+`"}`)
	if w.Code != http.StatusOK {
		t.Fatalf("settings: %d %s", w.Code, w.Body)
	}
	if on, _ := e.staff.TwoPerson(staff.KindRefund); !on {
		t.Fatal("two-person not on")
	}
	wantErrorJSON(t, e.api(olga, "POST", "/api/v1/admin/settings", `{"two_person":{"nope":true}}`), http.StatusBadRequest, "bad_request")
	e.next()
	w = e.api(olga, "POST", "/api/v1/admin/refunds", `{"ref":"`+o.Ref+`","reason":"r","totp":"`+e.code("olga")+`"}`)
	if w.Code != http.StatusAccepted {
		t.Fatalf("refund with two-person: %d %s", w.Code, w.Body)
	}
	var b opBody
	decode(t, w, &b)
	e.next()
	wantErrorJSON(t, e.decideAPI(olga, b.ApprovalID, "approve", e.code("olga")), http.StatusForbidden, "two_person")
	if w := e.decideAPI(ivan, b.ApprovalID, "approve", e.code("ivan")); w.Code != http.StatusOK {
		t.Fatalf("second person: %d %s", w.Code, w.Body)
	}
	if got, _ := e.shop.OrderByRef(o.Ref); got.Status != shop.StatusRefunded {
		t.Fatalf("order %s", got.Status)
	}
}

// A partial refund, a refused one, and the refund form.
func TestConsoleRefunds(t *testing.T) {
	e := newConsoleEnv(t)
	p := e.addProduct(t, "card", "K-0001-AAAA", "K-0002-BBBB")
	o, o2 := e.paidOrder(p), e.paidOrder(p)
	olga := e.login("olga")
	e.next()
	w := e.api(olga, "POST", "/api/v1/admin/refunds", `{"ref":"`+o.Ref+`","amount_minor":300,"reason":"partly","totp":"`+e.code("olga")+`"}`)
	if w.Code != http.StatusOK {
		t.Fatalf("partial: %d %s", w.Code, w.Body)
	}
	got, _ := e.shop.OrderByRef(o.Ref)
	if got.Status != shop.StatusPartiallyRefunded || got.Refunded() != 300 {
		t.Fatalf("after partial: %s %d", got.Status, got.Refunded())
	}
	a, _, _ := e.staff.List(staff.Filter{}, "", 1)
	if a[0].Kind != staff.KindPartialRefund {
		t.Fatalf("kind %s", a[0].Kind)
	}
	e.next()
	wantErrorJSON(t, e.api(olga, "POST", "/api/v1/admin/refunds", `{"ref":"`+o.Ref+`","amount_minor":999999,"reason":"x","totp":"`+e.code("olga")+`"}`),
		http.StatusBadRequest, "bad_request")
	wantErrorJSON(t, e.api(olga, "POST", "/api/v1/admin/refunds", `{"ref":"R-NOPE0000","reason":"x"}`), http.StatusNotFound, "order_not_found")
	wantErrorJSON(t, e.api(olga, "POST", "/api/v1/admin/refunds", `{"ref":"`+o.Ref+`"}`), http.StatusBadRequest, "bad_request")
	// The page form, in major units, queued without a code.
	w = e.form(olga, "/admin/refunds?lang=en", url.Values{"ref": {o2.Ref}, "amount": {"1.50"}, "reason": {"form"}})
	if w.Code != http.StatusSeeOther || !strings.Contains(w.Header().Get("Location"), "notice=queued") {
		t.Fatalf("form: %d %s", w.Code, w.Header().Get("Location"))
	}
	list, _, _ := e.staff.List(staff.Filter{Status: staff.StatusPending}, "", 5)
	if len(list) != 1 || !strings.Contains(string(list[0].Params), `"amount_minor":150`) {
		t.Fatalf("pending %+v", list)
	}
}

// importBody builds a key list: unique keys, the first dups of them again,
// and bad lines (a control character) spread through.
func importKeysBody(unique, dups, bad int) string {
	var b strings.Builder
	b.Grow((unique + dups + bad) * 24)
	every := max(1, (unique+dups)/max(bad, 1))
	badLeft := bad
	for i := range unique + dups {
		n := i
		if i >= unique {
			n = i - unique
		}
		fmt.Fprintf(&b, "KEY-%08d-ABCDEF\n", n)
		if badLeft > 0 && i%every == every/2 {
			b.WriteString("BAD\x01LINE\n")
			badLeft--
		}
	}
	for ; badLeft > 0; badLeft-- {
		b.WriteString("BAD\x02LINE\n")
	}
	return b.String()
}

// 100k keys with 1,000 duplicates and 10 malformed lines through the API.
func TestConsoleImport100k(t *testing.T) {
	e := newConsoleEnv(t)
	p := e.addProduct(t, "big")
	olga := e.login("olga")
	body := importKeysBody(99_000, 1_000, 10)
	h := map[string]string{"Cookie": staffCookie + "=" + olga.cookie, "X-CSRF-Token": olga.csrf}
	start := time.Now()
	w := e.do(t, req{method: "POST", target: "/api/v1/admin/products/" + p.ID + "/keys?batch=supplier-a&cost_minor=120",
		body: body, ctype: "text/plain; charset=utf-8", header: h})
	elapsed := time.Since(start)
	if w.Code != http.StatusOK {
		t.Fatalf("import: %d %s", w.Code, w.Body)
	}
	var res importAnswer
	decode(t, w, &res)
	if res.Imported != 99_000 || res.Duplicates != 1_000 || res.Rejected != 10 || len(res.Rejections) != 10 {
		t.Fatalf("import counts: imported %d duplicates %d rejected %d", res.Imported, res.Duplicates, res.Rejected)
	}
	for _, rj := range res.Rejections {
		if rj.Reason != "bad_char" || rj.Line < 1 {
			t.Fatalf("rejection %+v", rj)
		}
	}
	t.Logf("imported 100,010 lines (%.1f MiB) through the API in %v (%.0f keys/s)", float64(len(body))/(1<<20), elapsed.Round(time.Millisecond),
		float64(res.Imported+res.Duplicates)/elapsed.Seconds())
	if got, _ := e.shop.Product(p.ID); got.InStock != 99_000 {
		t.Fatalf("in stock %d", got.InStock)
	}
	// Importing them again: every one is a duplicate of a key ever imported.
	w = e.do(t, req{method: "POST", target: "/api/v1/admin/products/" + p.ID + "/keys?batch=again",
		body: "KEY-00000001-ABCDEF\nKEY-00000002-ABCDEF\nNEW-KEY-1234-5678\n", ctype: "text/plain", header: h})
	decode(t, w, &res)
	if res.Imported != 1 || res.Duplicates != 2 {
		t.Fatalf("re-import: %s", w.Body)
	}
}

// The JSON form and the page's multipart form (CSV file with a header, the
// csrf field ahead of the keys).
func TestConsoleImportForms(t *testing.T) {
	e := newConsoleEnv(t)
	p := e.addProduct(t, "card")
	olga := e.login("olga")
	w := e.api(olga, "POST", "/api/v1/admin/products/"+p.ID+"/keys", `{"batch":"json","keys":["J-0001-AAAA","J-0002-BBBB","J-0001-AAAA","bad\nkey",""],"cost_minor":99}`)
	var res importAnswer
	decode(t, w, &res)
	if w.Code != http.StatusOK || res.Imported != 2 || res.Duplicates != 1 || res.Rejected != 1 {
		t.Fatalf("json import: %d %s", w.Code, w.Body)
	}
	// Without the header, the JSON route refuses.
	wantErrorJSON(t, e.do(t, req{method: "POST", target: "/api/v1/admin/products/" + p.ID + "/keys", body: `{"keys":["A-1234-5678"]}`,
		ctype: "application/json", header: map[string]string{"Cookie": staffCookie + "=" + olga.cookie}}), http.StatusForbidden, "csrf")

	multipartBody := func(csrf string, csv string) (string, string) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		if csrf != "" {
			_ = mw.WriteField("csrf", csrf)
		}
		_ = mw.WriteField("batch", "supplier-csv")
		_ = mw.WriteField("cost", "1.20")
		_ = mw.WriteField("date", "2025-02-28")
		fw, _ := mw.CreateFormFile("file", "keys.csv")
		_, _ = io.WriteString(fw, csv)
		_ = mw.WriteField("keys", "")
		_ = mw.Close()
		return buf.String(), mw.FormDataContentType()
	}
	csv := "卡密,备注\nC-0001-AAAA,first\n\"C-0002-BBBB\",second\nC-0003-CCCC\nJ-0001-AAAA,dup\n"
	body, ct := multipartBody(olga.csrf, csv)
	w = e.do(t, req{method: "POST", target: "/admin/products/" + p.ID + "/import?lang=en", body: body, ctype: ct,
		header: map[string]string{"Cookie": staffCookie + "=" + olga.cookie}})
	if w.Code != http.StatusOK {
		t.Fatalf("form import: %d %s", w.Code, w.Body)
	}
	checkHTML(t, w)
	page := w.Body.String()
	for _, want := range []string{e.srv.site.Pages.T("en", "admin.import.result"), "<dd>3</dd>", "<dd>1</dd>"} {
		if !strings.Contains(page, want) {
			t.Fatalf("result page lacks %q", want)
		}
	}
	st, _ := e.shop.Stock(p.ID)
	if len(st) != 2 {
		t.Fatalf("batches %+v", st)
	}
	for _, b := range st {
		if b.Batch.Supplier == "supplier-csv" && (b.Batch.CostMinor != 120 || b.Batch.Date != "2025-02-28" || b.Available != 3) {
			t.Fatalf("csv batch %+v", b)
		}
	}
	// The form without its csrf field imports nothing.
	body, ct = multipartBody("", "Z-0001-AAAA\n")
	w = e.do(t, req{method: "POST", target: "/admin/products/" + p.ID + "/import", body: body, ctype: ct,
		header: map[string]string{"Cookie": staffCookie + "=" + olga.cookie}})
	if w.Code != http.StatusForbidden {
		t.Fatalf("form without csrf: %d", w.Code)
	}
	if got, _ := e.shop.Product(p.ID); got.InStock != 5 {
		t.Fatalf("stock %d", got.InStock)
	}
}

// Products through the API: create (name as one string or both
// languages), slug taken, update.
func TestConsoleProductsAPI(t *testing.T) {
	e := newConsoleEnv(t)
	olga := e.login("olga")
	w := e.api(olga, "POST", "/api/v1/admin/products", `{"slug":"vip-month","name":{"en":"VIP month","zh-CN":"月卡"},"price_minor":2500,"currency":"CNY","kind":"unique",
		"disclosure":{"validity":"30 days","regions":{"en":"CN only","zh-CN":"仅限大陆"},"failure_rate_permille":5},
		"policy":{"window_hours":48,"remedies":["replace","refund"],"cooling_off_minutes":10}}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	var created struct{ ID, Slug string }
	decode(t, w, &created)
	p, err := e.shop.Product(created.ID)
	if err != nil || p.Slug != "vip-month" || p.Name["zh-CN"] != "月卡" || p.Disclosure.Regions["en"] != "CN only" ||
		p.Disclosure.Validity.In("zh-CN") != "30 days" || p.Policy.WindowHours != 48 || len(p.Policy.Remedies) != 2 {
		t.Fatalf("stored %+v %v", p, err)
	}
	wantErrorJSON(t, e.api(olga, "POST", "/api/v1/admin/products", `{"slug":"vip-month","name":"Again","price_minor":1,"currency":"CNY","kind":"unique"}`),
		http.StatusConflict, "slug_taken")
	wantErrorJSON(t, e.api(olga, "POST", "/api/v1/admin/products", `{"slug":"x","name":"X","price_minor":1,"currency":"CNY"}`),
		http.StatusBadRequest, "bad_request")
	wantErrorJSON(t, e.api(olga, "POST", "/api/v1/admin/products", `{"slug":"Bad Slug","name":"X","price_minor":1,"currency":"CNY","kind":"unique"}`),
		http.StatusBadRequest, "bad_request")
	// A new price (and policy) with a code from an owner who may approve
	// alone applies at once (money_test.go covers the approval).
	e.next()
	w = e.api(olga, "PUT", "/api/v1/admin/products/"+created.ID, `{"slug":"vip-month","name":"VIP 30","price_minor":2600,"currency":"CNY","totp":"`+e.code("olga")+`"}`)
	if w.Code != http.StatusOK {
		t.Fatalf("update: %d %s", w.Code, w.Body)
	}
	if p, _ := e.shop.Product(created.ID); p.PriceMinor != 2600 {
		t.Fatalf("price %d", p.PriceMinor)
	}
	// The form: a typo in the price shows the form again, with the input.
	w = e.form(olga, "/admin/new-product?lang=en", url.Values{"slug": {"form-made"}, "name_en": {"Form"}, "price": {"nine"}, "currency": {"CNY"}, "kind": {"unique"}})
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), `value="form-made"`) {
		t.Fatalf("form error: %d", w.Code)
	}
	w = e.form(olga, "/admin/new-product?lang=en", url.Values{"slug": {"form-made"}, "name_en": {"Form"}, "name_zh": {"表单"}, "price": {"9.90"},
		"currency": {"CNY"}, "kind": {"unique"}, "validity_en": {"a year"}, "guide_zh": {"兑换"}, "failure_rate": {"15"},
		"window_hours": {"24"}, "remedy": {"replace", "partial_refund"}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("form create: %d %s", w.Code, w.Body)
	}
	fp, err := e.shop.Product("form-made")
	if err != nil || fp.PriceMinor != 990 || fp.Disclosure.FailureRatePermille != 15 || fp.Disclosure.UsageGuide["zh-CN"] != "兑换" ||
		len(fp.Policy.Remedies) != 2 {
		t.Fatalf("form product %+v %v", fp, err)
	}
}

// The vault locks and unlocks from the console with a code each; orders
// paid while it was locked are delivered after.
func TestConsoleVault(t *testing.T) {
	e := newConsoleEnv(t)
	p := e.addProduct(t, "card", "K-0001-AAAA")
	olga := e.login("olga")
	e.next()
	wantErrorJSON(t, e.api(olga, "POST", "/api/v1/admin/vault/lock", `{}`), http.StatusUnauthorized, "totp_required")
	if w := e.api(olga, "POST", "/api/v1/admin/vault/lock", `{"totp":"`+e.code("olga")+`"}`); w.Code != http.StatusOK || !e.shop.Locked() {
		t.Fatalf("lock: %d %s", w.Code, w.Body)
	}
	placed, err := e.shop.PlaceOrder(p.ID, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := e.shop.Pay(placed.Order.Ref, pay.DemoPayment(placed.Order)); o.Status != shop.StatusPaid {
		t.Fatalf("paid while locked: %s", o.Status)
	}
	e.next()
	wantErrorJSON(t, e.api(olga, "POST", "/api/v1/admin/vault/unlock", `{"passphrase":"wrong one","totp":"`+e.code("olga")+`"}`),
		http.StatusUnauthorized, "wrong_passphrase")
	// The code was spent on the failed attempt.
	wantErrorJSON(t, e.api(olga, "POST", "/api/v1/admin/vault/unlock", `{"passphrase":"test passphrase","totp":"`+e.code("olga")+`"}`),
		http.StatusUnauthorized, "totp_replayed")
	e.next()
	if w := e.api(olga, "POST", "/api/v1/admin/vault/unlock", `{"passphrase":"test passphrase","totp":"`+e.code("olga")+`"}`); w.Code != http.StatusOK || e.shop.Locked() {
		t.Fatalf("unlock: %d %s", w.Code, w.Body)
	}
	if _, err := e.shop.Sweep(); err != nil { // what the shop's worker does on the unlock's wake-up
		t.Fatal(err)
	}
	if o, _ := e.shop.OrderByRef(placed.Order.Ref); o.Status != shop.StatusDelivered {
		t.Fatalf("after unlock: %s", o.Status)
	}
	if e.auditCount("vault.unlock", "") != 1 || e.auditCount("vault.lock", "") != 1 {
		t.Fatal("vault actions not audited")
	}
}

// A staff member added through an approval enrols on the console: the
// approver gets the one-time enrolment secret, the member sees the QR
// code, chooses a password, gives a first code and gets recovery codes
// once; then signs in.
func TestConsoleStaffAddAndEnrol(t *testing.T) {
	e := newConsoleEnv(t)
	olga := e.login("olga")
	e.next()
	// The API no longer takes a password for a new member.
	wantErrorJSON(t, e.api(olga, "POST", "/api/v1/admin/staff", `{"action":"add","name":"nina","password":"`+consolePass+`","role":"support"}`),
		http.StatusBadRequest, "bad_request")
	w := e.api(olga, "POST", "/api/v1/admin/staff", `{"action":"add","name":"nina","role":"support","totp":"`+e.code("olga")+`"}`)
	if w.Code != http.StatusOK {
		t.Fatalf("add: %d %s", w.Code, w.Body)
	}
	var added opBody
	decode(t, w, &added)
	enrol := added.EnrolmentSecret
	if len(enrol) != 29 {
		t.Fatalf("no enrolment secret in %s", w.Body)
	}
	u, err := e.staff.User("nina")
	if err != nil || u.Role != staff.RoleSupport || u.Enrolled {
		t.Fatalf("nina %+v %v", u, err)
	}
	// The secret is in no list, approval or audit entry.
	for _, path := range []string{"/api/v1/admin/approvals?status=all", "/api/v1/admin/approvals/" + added.ApprovalID, "/api/v1/admin/audit", "/api/v1/admin/staff"} {
		if w := e.api(olga, "GET", path, ""); w.Code != http.StatusOK || strings.Contains(w.Body.String(), enrol) {
			t.Fatalf("%s: %d, shows the enrolment secret", path, w.Code)
		}
	}
	// A wrong enrolment secret shows nothing.
	w = e.do(t, req{method: "POST", target: "/admin/enrol?lang=en", ctype: "application/x-www-form-urlencoded",
		body: url.Values{"user": {"nina"}, "secret": {"0000-0000-0000-0000-0000-0000"}}.Encode()})
	if w.Code != http.StatusUnauthorized || strings.Contains(w.Body.String(), "otpauth://") {
		t.Fatalf("wrong secret: %d", w.Code)
	}
	// The enrolment page shows the QR code as a PNG data: URL.
	w = e.do(t, req{method: "POST", target: "/admin/enrol?lang=en", ctype: "application/x-www-form-urlencoded",
		body: url.Values{"user": {"nina"}, "secret": {enrol}}.Encode()})
	if w.Code != http.StatusOK {
		t.Fatalf("enrol page: %d %s", w.Code, w.Body)
	}
	checkHTML(t, w)
	page := w.Body.String()
	if !strings.Contains(page, `src="data:image/png;base64,iVBOR`) || !strings.Contains(page, "otpauth://totp/") ||
		!strings.Contains(page, `name="password2"`) {
		t.Fatal("no QR code, otpauth URL or password field on the enrolment page")
	}
	m := regexp.MustCompile(`class="mono secret">([A-Z2-7]+)<`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no secret on the page")
	}
	e.mu.Lock()
	e.secrets["nina"] = m[1]
	e.mu.Unlock()
	finish := func(code, pw2 string) *httptest.ResponseRecorder {
		return e.do(t, req{method: "POST", target: "/admin/enrol/finish?lang=en", ctype: "application/x-www-form-urlencoded",
			body: url.Values{"user": {"nina"}, "secret": {enrol}, "password": {"nina's own password"}, "password2": {pw2}, "code": {code}}.Encode()})
	}
	// Passwords that differ, a wrong first code, then the right one.
	if w := finish(e.code("nina"), "another password"); w.Code != http.StatusBadRequest {
		t.Fatalf("passwords differ: %d", w.Code)
	}
	if w := finish("000000", "nina's own password"); w.Code != http.StatusUnauthorized {
		t.Fatalf("wrong first code: %d", w.Code)
	}
	w = finish(e.code("nina"), "nina's own password")
	if w.Code != http.StatusOK || strings.Count(w.Body.String(), "<li>") != 10 {
		t.Fatalf("finish: %d %s", w.Code, w.Body)
	}
	// The page cannot show the secret again: the enrolment secret is spent.
	w = e.do(t, req{method: "POST", target: "/admin/enrol?lang=en", ctype: "application/x-www-form-urlencoded",
		body: url.Values{"user": {"nina"}, "secret": {enrol}}.Encode()})
	if w.Code != http.StatusUnauthorized || strings.Contains(w.Body.String(), m[1]) {
		t.Fatalf("enrol again: %d", w.Code)
	}
	e.next()
	w = e.do(t, req{method: http.MethodPost, target: "/api/v1/admin/session", ctype: "application/json",
		body: `{"user":"nina","password":"nina's own password","totp":"` + e.code("nina") + `"}`})
	if w.Code != http.StatusOK {
		t.Fatalf("nina signs in with her own password: %d %s", w.Code, w.Body)
	}
	nina := sessionFrom(t, "nina", w)
	// Role change and removal go through approvals too.
	wantErrorJSON(t, e.api(olga, "POST", "/api/v1/admin/staff", `{"action":"fire","name":"nina"}`), http.StatusBadRequest, "bad_request")
	w = e.api(olga, "POST", "/api/v1/admin/staff", `{"action":"remove","name":"nina"}`)
	if w.Code != http.StatusAccepted {
		t.Fatalf("remove: %d %s", w.Code, w.Body)
	}
	var b opBody
	decode(t, w, &b)
	e.next()
	if w := e.decideAPI(olga, b.ApprovalID, "approve", e.code("olga")); w.Code != http.StatusOK {
		t.Fatalf("approve removal: %d %s", w.Code, w.Body)
	}
	wantErrorJSON(t, e.api(nina, "GET", "/api/v1/admin/approvals", ""), http.StatusUnauthorized, "unauthenticated")
	e.next()
	wantErrorJSON(t, e.api(olga, "POST", "/api/v1/admin/staff", `{"action":"remove","name":"olga","totp":"`+e.code("olga")+`"}`),
		http.StatusConflict, "last_owner")
}

// The audit log through the API: newest first, chained, paginated, and
// verified.
func TestConsoleAuditAPI(t *testing.T) {
	e := newConsoleEnv(t)
	olga := e.login("olga")
	for range 3 {
		e.next()
		e.login("olga")
	}
	w := e.api(olga, "GET", "/api/v1/admin/audit?limit=2", "")
	var page struct {
		Entries []staff.AuditEntry `json:"entries"`
		Next    string             `json:"next"`
	}
	decode(t, w, &page)
	if w.Code != http.StatusOK || len(page.Entries) != 2 || page.Next == "" || page.Entries[0].Seq <= page.Entries[1].Seq ||
		page.Entries[0].Prev != page.Entries[1].Hash || page.Entries[0].Hash == "" {
		t.Fatalf("audit page: %s", w.Body)
	}
	first := page.Entries[1].Seq
	w = e.api(olga, "GET", "/api/v1/admin/audit?limit=2&cursor="+page.Next, "")
	decode(t, w, &page)
	if len(page.Entries) == 0 || page.Entries[0].Seq != first-1 {
		t.Fatalf("second page: %s", w.Body)
	}
	wantErrorJSON(t, e.api(olga, "GET", "/api/v1/admin/audit?cursor=x", ""), http.StatusBadRequest, "bad_request")
	w = e.api(olga, "GET", "/api/v1/admin/audit/verify", "")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"ok":true`) {
		t.Fatalf("verify: %d %s", w.Code, w.Body)
	}
}

// Every console page renders in both languages, under the CSP, no-store,
// with no untranslated key.
func TestConsolePagesBothLanguages(t *testing.T) {
	e := newConsoleEnv(t)
	p := e.addProduct(t, "card", "K-0001-AAAA", "K-0002-BBBB", "K-0003-CCCC")
	e.addProduct(t, "empty")
	o := e.paidOrder(p)
	e.member("sam", staff.RoleSupport)
	e.next()
	olga := e.login("olga")
	e.proposeRefund(olga, o.Ref)
	e.next()
	if w := e.api(olga, "POST", "/api/v1/admin/refunds", `{"ref":"`+o.Ref+`","amount_minor":100,"reason":"part","totp":"`+e.code("olga")+`"}`); w.Code != http.StatusOK {
		t.Fatalf("refund: %d %s", w.Code, w.Body)
	}
	st, _ := e.shop.Stock(p.ID)
	untranslated := regexp.MustCompile(`\b(admin|err|disclosure|policy|remedy)\.[a-z_]+(\.[a-z_]+)?\b`)

	for _, lang := range pages.Languages() {
		t.Run(lang, func(t *testing.T) {
			tr := func(key string) string { return strings.ReplaceAll(e.srv.site.Pages.T(lang, key), "'", "&#39;") }
			q := "?lang=" + lang
			cases := []struct {
				target string
				anon   bool
				want   []string
			}{
				{"/admin/login" + q, true, []string{tr("admin.login.title"), `name="code"`}},
				{"/admin/enrol" + q, true, []string{tr("admin.enrol.title"), `name="secret"`}},
				{"/admin" + q, false, []string{tr("admin.dashboard.title"), "<svg", `class="bar"`, tr("admin.dashboard.low"), tr("admin.dashboard.batches"), st[0].Batch.ID}},
				{"/admin/approvals" + q, false, []string{tr("admin.approvals.queue"), tr("admin.approvals.approve"), `name="totp"`, tr("admin.kind.partial_refund")}},
				{"/admin/orders" + q, false, []string{tr("admin.orders.title"), o.Ref, tr("admin.order_status.partially_refunded")}},
				{"/admin/orders?status=expired&lang=" + lang, false, []string{tr("admin.orders.empty")}},
				{"/admin/products" + q, false, []string{tr("admin.products.title"), "card", tr("admin.products.import")}},
				{"/admin/new-product" + q, false, []string{tr("admin.product.new_title"), `name="guide_zh"`, `name="failure_rate"`, `name="cooling_off"`}},
				{"/admin/products/" + p.ID + "/edit" + q, false, []string{tr("admin.product.edit_title"), `value="9.90"`}},
				{"/admin/products/" + p.ID + "/import" + q, false, []string{tr("admin.import.title"), `enctype="multipart/form-data"`, `id="import-progress"`}},
				{"/admin/products/" + p.ID + "/stock" + q, false, []string{tr("admin.stock.batches"), "…CC", tr("admin.export.title")}},
				{"/admin/products/" + p.ID + "/stock?batch=" + st[0].Batch.ID + "&lang=" + lang, false, []string{`class="selected"`}},
				{"/admin/audit" + q, false, []string{tr("admin.audit.title"), "approval.approve"}},
				{"/admin/vault" + q, false, []string{tr("admin.vault.unlocked"), tr("admin.vault.lock")}},
				{"/admin/staff" + q, false, []string{tr("admin.staff.members"), "sam", tr("admin.settings.title"), tr("admin.kind.export")}},
				{"/admin/audit?verify=1&lang=" + lang, false, []string{tr("admin.audit.intact")}},
			}
			for _, c := range cases {
				var w *httptest.ResponseRecorder
				if c.anon {
					w = e.get(t, c.target, nil)
				} else {
					w = e.page(olga, c.target)
				}
				if w.Code != http.StatusOK {
					t.Fatalf("%s: %d %s", c.target, w.Code, w.Body)
				}
				checkHTML(t, w)
				if w.Header().Get("Cache-Control") != "no-store" {
					t.Errorf("%s: Cache-Control %q", c.target, w.Header().Get("Cache-Control"))
				}
				body := w.Body.String()
				if !strings.Contains(body, `<html lang="`+lang+`">`) {
					t.Errorf("%s: not in %s", c.target, lang)
				}
				if k := untranslated.FindString(body); k != "" {
					t.Errorf("%s: untranslated key %s", c.target, k)
				}
				for _, want := range c.want {
					if !strings.Contains(body, want) {
						t.Errorf("%s: lacks %q", c.target, want)
					}
				}
			}
			// An empty console: empty states everywhere.
			e2 := newConsoleEnv(t)
			o2 := e2.login("olga")
			for _, c := range []struct{ target, want string }{
				{"/admin" + q, tr("admin.dashboard.no_sales")},
				{"/admin/approvals" + q, tr("admin.approvals.queue_empty")},
				{"/admin/orders" + q, tr("admin.orders.empty")},
				{"/admin/products" + q, tr("admin.products.empty")},
			} {
				w := e2.page(o2, c.target)
				if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), c.want) {
					t.Errorf("empty %s: %d lacks %q", c.target, w.Code, c.want)
				}
			}
		})
	}
}

// Console forms post, redirect and say what happened.
func TestConsoleFormsJourney(t *testing.T) {
	e := newConsoleEnv(t)
	p := e.addProduct(t, "card", "K-0001-AAAA", "K-0002-BBBB")
	o := e.paidOrder(p)
	// Sign in through the page form.
	w := e.do(t, req{method: "POST", target: "/admin/login?lang=en", ctype: "application/x-www-form-urlencoded",
		body: url.Values{"user": {"olga"}, "password": {consolePass}, "code": {e.code("olga")}}.Encode()})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/admin?lang=en" {
		t.Fatalf("login form: %d %v", w.Code, w.Header())
	}
	var cookie string
	for _, c := range w.Result().Cookies() {
		if c.Name == staffCookie {
			cookie = c.Value
		}
	}
	sess, err := e.staff.Authenticate(cookie)
	if err != nil {
		t.Fatal(err)
	}
	olga := session{name: "olga", cookie: cookie, csrf: sess.CSRF}
	// Propose a refund by form, then approve it by form.
	w = e.form(olga, "/admin/refunds?lang=en", url.Values{"ref": {o.Ref}, "reason": {"broken"}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("refund form: %d %s", w.Code, w.Body)
	}
	list, _, _ := e.staff.List(staff.Filter{Status: staff.StatusPending}, "", 5)
	e.next()
	w = e.form(olga, "/admin/approvals/"+list[0].ID+"?lang=en", url.Values{"decision": {"approve"}, "totp": {e.code("olga")}})
	if w.Code != http.StatusSeeOther || !strings.Contains(w.Header().Get("Location"), "notice=approved") {
		t.Fatalf("approve form: %d %s", w.Code, w.Header().Get("Location"))
	}
	w = e.page(olga, w.Header().Get("Location"))
	if !strings.Contains(w.Body.String(), e.srv.site.Pages.T("en", "admin.notice.approved")) {
		t.Fatal("no notice after approving")
	}
	// Settings and vault by form.
	e.next()
	w = e.form(olga, "/admin/settings?lang=en", url.Values{"two_person": {"export", "refund"}, "totp": {e.code("olga")}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("settings form: %d %s", w.Code, w.Body)
	}
	for k, want := range map[staff.Kind]bool{staff.KindExport: true, staff.KindRefund: true, staff.KindSettings: false} {
		if on, _ := e.staff.TwoPerson(k); on != want {
			t.Fatalf("two-person %s = %v", k, on)
		}
	}
	e.next()
	if w := e.form(olga, "/admin/vault/lock?lang=en", url.Values{"totp": {e.code("olga")}}); w.Code != http.StatusSeeOther || !e.shop.Locked() {
		t.Fatalf("lock form: %d", w.Code)
	}
	w = e.page(olga, "/admin/products/"+p.ID+"/stock?lang=en")
	if !strings.Contains(w.Body.String(), e.srv.site.Pages.T("en", "admin.stock.locked")) || strings.Contains(w.Body.String(), "…CC") {
		t.Fatal("masks shown while locked")
	}
	e.next()
	if w := e.form(olga, "/admin/vault/unlock?lang=en", url.Values{"passphrase": {"test passphrase"}, "totp": {e.code("olga")}}); w.Code != http.StatusSeeOther || e.shop.Locked() {
		t.Fatalf("unlock form: %d", w.Code)
	}
	// Log out: the session is gone on the server.
	if w := e.form(olga, "/admin/logout?lang=en", url.Values{}); w.Code != http.StatusSeeOther {
		t.Fatalf("logout: %d", w.Code)
	}
	if _, err := e.staff.Authenticate(cookie); err == nil {
		t.Fatal("session alive after logout")
	}
}
