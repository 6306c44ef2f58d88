package server

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"veil/server/shop"
	"veil/server/staff"
)

// Issue 10 item 7: a request path that begins with two slashes (or a slash
// and a backslash) must not become a scheme-relative link: every href and
// action on the page stays on the site.
func TestLinksStayOnSite(t *testing.T) {
	e := newConsoleEnv(t)
	olga := e.login("olga")
	attr := regexp.MustCompile(`(?:href|action|src)="([^"]*)"`)
	for _, target := range []string{
		"//evil.example/x", "/\\evil.example/x", "///evil.example/x", "//evil.example/x?lang=en",
		"/%2F%2Fevil.example/x", "//evil.example/admin", "//evil.example/admin/approvals?cursor=1",
		"//admin/", "//evil.example/admin/", "/\\evil.example/admin/", "//evil.example/%2e%2e/admin",
	} {
		for _, who := range []string{"buyer", "staff"} {
			var w = e.get(t, target, nil)
			if who == "staff" {
				w = e.page(olga, target)
			}
			if w.Code == http.StatusMovedPermanently || w.Code == http.StatusSeeOther || w.Code == http.StatusFound ||
				w.Code == http.StatusPermanentRedirect || w.Code == http.StatusTemporaryRedirect {
				loc := w.Header().Get("Location")
				if !localLink(loc) {
					t.Errorf("%s %s: redirect to %q", who, target, loc)
				}
				continue
			}
			for _, m := range attr.FindAllStringSubmatch(w.Body.String(), -1) {
				if !localLink(m[1]) {
					t.Errorf("%s %s (%d): link %q leaves the site", who, target, w.Code, m[1])
				}
			}
		}
	}
}

// localLink reports whether a link is a path on this site (or a data: URL
// of an image, or a fragment).
func localLink(u string) bool {
	u = strings.ReplaceAll(u, "&amp;", "&")
	switch {
	case strings.HasPrefix(u, "data:image/"), u == "data:,", strings.HasPrefix(u, "#"):
		return true
	case strings.HasPrefix(u, "//"), strings.HasPrefix(u, "/\\"), strings.HasPrefix(u, "\\"):
		return false
	case strings.HasPrefix(u, "/"):
		return true
	}
	return false
}

// Issue 10 item 5: a mask shows at most a quarter of a key and never more
// than four characters, and only owners see the masks of unsold keys (API
// and stock page); support sees ids and states.
func TestKeyMasksOwnersOnly(t *testing.T) {
	e := newConsoleEnv(t)
	const key = "Q7XK-8D2P-M9PZ" // the example shape
	p := e.addProduct(t, "masked", key, "A1B2C3D4E")
	e.member("sam", staff.RoleSupport)
	e.next()
	olga, sam := e.login("olga"), e.login("sam")

	var list struct {
		Keys []struct {
			ID, Mask string
		} `json:"keys"`
	}
	decode(t, e.api(olga, "GET", "/api/v1/admin/products/"+p.ID+"/keys", ""), &list)
	masks := map[string]bool{}
	for _, k := range list.Keys {
		masks[k.Mask] = true
	}
	// 14 and 9 characters: three and two shown.
	if len(list.Keys) != 2 || !masks["…9PZ"] || !masks["…4E"] {
		t.Fatalf("owner's masks: %+v", list.Keys)
	}
	page := e.page(olga, "/admin/products/"+p.ID+"/stock?lang=en").Body.String()
	if !strings.Contains(page, "…9PZ") || strings.Contains(page, "M9PZ") || strings.Contains(page, "Q7XK") {
		t.Fatal("owner's stock page: mask missing or too long")
	}

	w := e.api(sam, "GET", "/api/v1/admin/products/"+p.ID+"/keys", "")
	decode(t, w, &list)
	if w.Code != http.StatusOK || len(list.Keys) != 2 {
		t.Fatalf("support's list: %d %s", w.Code, w.Body)
	}
	for _, k := range list.Keys {
		if k.Mask != "" {
			t.Fatalf("support sees mask %q", k.Mask)
		}
	}
	page = e.page(sam, "/admin/products/"+p.ID+"/stock?lang=en").Body.String()
	if strings.Contains(page, "9PZ") || strings.Contains(page, "…4E") {
		t.Fatal("support's stock page shows masks")
	}
}

func TestMaskKey(t *testing.T) {
	for key, want := range map[string]string{
		"Q7XKAM9PZ":                  "…PZ", // 9 characters: two
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ": "…WXYZ",
		"ABCDEFGHIJKLMNOP":           "…MNOP",
		"ABCDEFG":                    "…G",
		"ABC":                        "•••",
		"":                           "•••",
		"卡密卡密卡密卡密":                   "…卡密",
	} {
		got := shop.MaskKey(key)
		if got != want {
			t.Errorf("MaskKey(%q) = %q, want %q", key, got, want)
		}
		shown := utf8.RuneCountInString(strings.TrimLeft(got, "…•"))
		if n := utf8.RuneCountInString(key); shown > 4 || shown*4 > n {
			t.Errorf("MaskKey(%q) shows %d of %d characters", key, shown, n)
		}
	}
}

// sessionFrom reads the session of a 200 sign-in answer.
func sessionFrom(t *testing.T, name string, w *httptest.ResponseRecorder) session {
	t.Helper()
	var out struct{ CSRF string }
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || out.CSRF == "" {
		t.Fatalf("sign-in answer %d %s", w.Code, w.Body)
	}
	for _, c := range w.Result().Cookies() {
		if c.Name == staffCookie && c.Value != "" {
			return session{name: name, cookie: c.Value, csrf: out.CSRF}
		}
	}
	t.Fatal("no session cookie")
	return session{}
}

// enrolDirect adds an enrolled member through the staff service and
// returns their recovery codes.
func (e *consoleEnv) enrolDirect(name string, role staff.Role) []string {
	e.t.Helper()
	enrol, err := e.staff.CreateUser(context.Background(), name, role, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	en, err := e.staff.PendingEnrolment(name, enrol)
	if err != nil {
		e.t.Fatal(err)
	}
	e.mu.Lock()
	e.secrets[name] = en.Secret
	e.mu.Unlock()
	codes, err := e.staff.FinishEnrolment(name, enrol, consolePass, e.code(name))
	if err != nil {
		e.t.Fatal(err)
	}
	e.next()
	return codes
}

func (e *consoleEnv) signInJSON(body string) *httptest.ResponseRecorder {
	return e.do(e.t, req{method: http.MethodPost, target: "/api/v1/admin/session", ctype: "application/json", body: body})
}

// Issue 10 item 9 over HTTP: the API and the sign-in page answer every
// refused pair alike (same status, code and text), and wrong passwords
// lock sign-in after five.
func TestSignInOneAnswer(t *testing.T) {
	e := newConsoleEnv(t)
	used := e.code("olga")
	e.login("olga")
	wrong := "000000"
	if used == wrong {
		wrong = "111111"
	}
	bodies := map[string]string{}
	for name, body := range map[string]string{
		"right password, wrong code":    `{"user":"olga","password":"` + consolePass + `","totp":"` + wrong + `"}`,
		"right password, no code":       `{"user":"olga","password":"` + consolePass + `","totp":""}`,
		"wrong password, replayed code": `{"user":"olga","password":"wrong password!","totp":"` + used + `"}`,
		"unknown name":                  `{"user":"ghost","password":"` + consolePass + `","totp":"` + used + `"}`,
	} {
		w := e.signInJSON(body)
		wantErrorJSON(t, w, http.StatusUnauthorized, "bad_credentials")
		bodies[w.Body.String()] = name
	}
	if len(bodies) != 1 {
		t.Fatalf("refusals differ: %v", bodies)
	}
	// The public contract's one exception: the right password with a code
	// already accepted.
	wantErrorJSON(t, e.signInJSON(`{"user":"olga","password":"`+consolePass+`","totp":"`+used+`"}`),
		http.StatusUnauthorized, "totp_replayed")
	form := func(pw, code string) string {
		w := e.do(t, req{method: http.MethodPost, target: "/admin/login?lang=en", ctype: "application/x-www-form-urlencoded",
			body: url.Values{"user": {"olga"}, "password": {pw}, "code": {code}}.Encode()})
		if w.Code != http.StatusUnauthorized {
			t.Fatalf("sign-in form: %d", w.Code)
		}
		return regexp.MustCompile(`role="alert">([^<]*)<`).FindString(w.Body.String())
	}
	if a, b := form(consolePass, wrong), form("wrong password!", used); a == "" || a != b {
		t.Fatalf("the page tells the refusals apart: %q vs %q", a, b)
	}
	// Two wrong passwords so far (the replay and the page's); three more
	// lock sign-in, and then even the right pair is refused.
	for range 3 {
		wantErrorJSON(t, e.signInJSON(`{"user":"olga","password":"wrong password!","totp":""}`), http.StatusUnauthorized, "bad_credentials")
	}
	e.next()
	wantErrorJSON(t, e.signInJSON(`{"user":"olga","password":"`+consolePass+`","totp":"`+e.code("olga")+`"}`),
		http.StatusTooManyRequests, "locked_out")
	// Nine refusals of olga (the unknown name is not audited), one lock.
	if e.auditCount("staff.login_failed", "") != 9 || e.auditCount("staff.locked_out", "") != 1 {
		t.Fatalf("audit: %d failures, %d locks", e.auditCount("staff.login_failed", ""), e.auditCount("staff.locked_out", ""))
	}
}

// Issue 10 item 12 over HTTP: a recovery code signs in once (API and
// page); the session can only re-enrol TOTP until a code from the new
// secret confirms it; everything is audited.
func TestRecoveryCodeSignIn(t *testing.T) {
	e := newConsoleEnv(t)
	codes := e.enrolDirect("sam", staff.RoleOwner)
	recovery := func(code string) *httptest.ResponseRecorder {
		return e.signInJSON(`{"user":"sam","password":"` + consolePass + `","recovery_code":"` + code + `"}`)
	}
	wantErrorJSON(t, e.signInJSON(`{"user":"sam","password":"`+consolePass+`","totp":"`+e.code("sam")+`","recovery_code":"`+codes[0]+`"}`),
		http.StatusBadRequest, "bad_request")
	w := recovery(codes[0])
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"reenrol":true`) {
		t.Fatalf("recovery sign-in: %d %s", w.Code, w.Body)
	}
	sam := sessionFrom(t, "sam", w)
	wantErrorJSON(t, recovery(codes[0]), http.StatusUnauthorized, "bad_credentials") // burned

	// Limited to re-enrolment.
	wantErrorJSON(t, e.api(sam, "GET", "/api/v1/admin/approvals", ""), http.StatusForbidden, "reenrol_required")
	wantErrorJSON(t, e.api(sam, "POST", "/api/v1/admin/vault/lock", `{}`), http.StatusForbidden, "reenrol_required")
	if w := e.page(sam, "/admin/orders?lang=en"); w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/admin/reenrol") {
		t.Fatalf("page in a re-enrolment session: %d %q", w.Code, w.Header().Get("Location"))
	}
	var en struct {
		TOTPSecret string `json:"totp_secret"`
		OTPAuthURL string `json:"otpauth_url"`
	}
	decode(t, e.api(sam, "GET", "/api/v1/admin/reenrol", ""), &en)
	if en.TOTPSecret == "" || en.TOTPSecret == e.secrets["sam"] || !strings.HasPrefix(en.OTPAuthURL, "otpauth://totp/") {
		t.Fatalf("new secret: %+v", en)
	}
	// The old secret's code does not confirm; the new one's does.
	wantErrorJSON(t, e.api(sam, "POST", "/api/v1/admin/reenrol", `{"totp":"`+e.code("sam")+`"}`), http.StatusUnauthorized, "totp_invalid")
	e.mu.Lock()
	e.secrets["sam"] = en.TOTPSecret
	e.mu.Unlock()
	var done struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}
	w = e.api(sam, "POST", "/api/v1/admin/reenrol", `{"totp":"`+e.code("sam")+`"}`)
	decode(t, w, &done)
	if w.Code != http.StatusOK || len(done.RecoveryCodes) != 10 {
		t.Fatalf("finish: %d %s", w.Code, w.Body)
	}
	if w := e.api(sam, "GET", "/api/v1/admin/approvals", ""); w.Code != http.StatusOK {
		t.Fatalf("after re-enrolment: %d %s", w.Code, w.Body)
	}
	// Old codes are gone; a new one works through the sign-in page, which
	// leads to the re-enrolment page.
	wantErrorJSON(t, recovery(codes[1]), http.StatusUnauthorized, "bad_credentials")
	w = e.do(t, req{method: http.MethodPost, target: "/admin/login?lang=en", ctype: "application/x-www-form-urlencoded",
		body: url.Values{"user": {"sam"}, "password": {consolePass}, "recovery": {done.RecoveryCodes[0]}}.Encode()})
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/admin/reenrol") {
		t.Fatalf("page sign-in with a recovery code: %d %q", w.Code, w.Header().Get("Location"))
	}
	var cookie string
	for _, c := range w.Result().Cookies() {
		if c.Name == staffCookie {
			cookie = c.Value
		}
	}
	sess, err := e.staff.Authenticate(cookie)
	if err != nil || !sess.Reenrol {
		t.Fatalf("page session: %+v %v", sess, err)
	}
	pageSess := session{name: "sam", cookie: cookie, csrf: sess.CSRF}
	w = e.page(pageSess, "/admin/reenrol?lang=en")
	checkHTML(t, w)
	m := regexp.MustCompile(`class="mono secret">([A-Z2-7]+)<`).FindStringSubmatch(w.Body.String())
	if w.Code != http.StatusOK || m == nil || !strings.Contains(w.Body.String(), `src="data:image/png;base64,`) {
		t.Fatalf("re-enrolment page: %d", w.Code)
	}
	e.mu.Lock()
	e.secrets["sam"] = m[1]
	e.mu.Unlock()
	e.next()
	w = e.form(pageSess, "/admin/reenrol?lang=en", url.Values{"code": {e.code("sam")}})
	if w.Code != http.StatusOK || strings.Count(w.Body.String(), "<li>") != 10 {
		t.Fatalf("re-enrolment form: %d %s", w.Code, w.Body)
	}
	if e.auditCount("staff.recovery_used", "") != 2 || e.auditCount("staff.totp_reenrol", "") != 2 {
		t.Fatal("recovery and re-enrolment not audited")
	}
}

// Issue 10 item 8 over HTTP: with the two-person rule on staff_add, the
// proposer gets nothing to enrol with; the approver gets the one-time
// secret on the approvals page (a page, not a redirect: never in a URL).
func TestStaffAddSecretToApprover(t *testing.T) {
	e := newConsoleEnv(t)
	e.enrolDirect("paul", staff.RoleOwner)
	if err := e.staff.SetTwoPerson("test", staff.KindStaffAdd, true); err != nil {
		t.Fatal(err)
	}
	paul, olga := e.login("paul"), e.login("olga")
	e.next()
	w := e.api(paul, "POST", "/api/v1/admin/staff", `{"action":"add","name":"mallory","role":"owner","totp":"`+e.code("paul")+`"}`)
	var b opBody
	decode(t, w, &b)
	if w.Code != http.StatusAccepted || b.EnrolmentSecret != "" {
		t.Fatalf("proposal: %d %s", w.Code, w.Body)
	}
	w = e.form(olga, "/admin/approvals/"+b.ApprovalID+"?lang=en", url.Values{"decision": {"approve"}, "totp": {e.code("olga")}})
	if w.Code != http.StatusOK {
		t.Fatalf("approve by form: %d %s", w.Code, w.Body)
	}
	checkHTML(t, w)
	m := regexp.MustCompile(`class="mono secret">([0-9a-z]{4}(?:-[0-9a-z]{4}){5})<`).FindStringSubmatch(w.Body.String())
	if m == nil || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("no enrolment secret on the approver's page:\n%s", w.Body)
	}
	for _, path := range []string{"/admin/approvals?lang=en", "/admin/staff?lang=en", "/admin/audit?lang=en"} {
		if strings.Contains(e.page(paul, path).Body.String(), m[1]) {
			t.Fatalf("%s shows the secret", path)
		}
	}
	w = e.do(t, req{method: "POST", target: "/admin/enrol?lang=en", ctype: "application/x-www-form-urlencoded",
		body: url.Values{"user": {"mallory"}, "secret": {m[1]}}.Encode()})
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "otpauth://totp/") {
		t.Fatalf("the handed-over secret does not open enrolment: %d", w.Code)
	}
}

// The staff form, approved at once with the owner's code, shows the
// enrolment secret on the answer page itself (never a redirect with it).
func TestStaffFormHandsOverSecret(t *testing.T) {
	e := newConsoleEnv(t)
	olga := e.login("olga")
	e.next()
	w := e.form(olga, "/admin/staff?lang=zh-CN", url.Values{"action": {"add"}, "name": {"nina"}, "role": {"support"}, "totp": {e.code("olga")}})
	if w.Code != http.StatusOK || w.Header().Get("Location") != "" {
		t.Fatalf("staff form: %d %q", w.Code, w.Header().Get("Location"))
	}
	checkHTML(t, w)
	m := regexp.MustCompile(`class="mono secret">([0-9a-z]{4}(?:-[0-9a-z]{4}){5})<`).FindStringSubmatch(w.Body.String())
	if m == nil || !strings.Contains(w.Body.String(), e.srv.site.Pages.T("zh-CN", "admin.enrol.handover_title")) {
		t.Fatalf("no handover page:\n%s", w.Body)
	}
	if _, err := e.staff.PendingEnrolment("nina", m[1]); err != nil {
		t.Fatalf("the shown secret: %v", err)
	}
}
