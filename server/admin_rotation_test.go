package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"veil/server/shop"
	"veil/server/staff"
)

// TestKeyRotationRoutes: owners rotate identities and change the
// passphrase with a fresh code and the current passphrase; everyone else,
// and every malformed or replayed request, is refused; each action is
// audited; the page shows the progress and, once, a new backup identity.
func TestKeyRotationRoutes(t *testing.T) {
	e := newConsoleEnv(t)
	p := e.addProduct(t, "card", "ROTATE-KEY-1", "ROTATE-KEY-2")
	e.member("sam", staff.RoleSupport)
	e.next()
	olga, sam := e.login("olga"), e.login("sam")
	const pass = "test passphrase"

	e.next()
	wantErrorJSON(t, e.api(sam, "POST", "/api/v1/admin/rotation", `{"which":"inventory","passphrase":"`+pass+`","totp":"`+e.code("sam")+`"}`),
		http.StatusForbidden, "forbidden")
	wantErrorJSON(t, e.api(olga, "POST", "/api/v1/admin/rotation", `{"which":"inventory","passphrase":"`+pass+`"}`),
		http.StatusUnauthorized, "totp_required")
	wantErrorJSON(t, e.api(olga, "POST", "/api/v1/admin/rotation", `{"which":"everything","passphrase":"`+pass+`","totp":"`+e.code("olga")+`"}`),
		http.StatusBadRequest, "bad_request")
	wantErrorJSON(t, e.api(olga, "POST", "/api/v1/admin/rotation", `{"which":"inventory","passphrase":"`+pass+`","totp":"1","extra":1}`),
		http.StatusBadRequest, "bad_request")
	wantErrorJSON(t, e.api(olga, "POST", "/api/v1/admin/rotation", `{"which":"inventory","passphrase":"`+strings.Repeat("x", 300<<10)+`"}`),
		http.StatusRequestEntityTooLarge, "body_too_large")
	wantErrorJSON(t, e.api(olga, "POST", "/api/v1/admin/rotation", `{"which":"inventory","passphrase":"wrong one","totp":"`+e.code("olga")+`"}`),
		http.StatusUnauthorized, "wrong_passphrase")
	if e.auditCount("rotation.refused", "wrong_passphrase") != 1 {
		t.Fatal("a refused rotation is not audited")
	}
	// Without the CSRF token: refused before anything happens.
	noCSRF := olga
	noCSRF.csrf = ""
	e.next()
	wantErrorJSON(t, e.api(noCSRF, "POST", "/api/v1/admin/rotation", `{"which":"inventory","passphrase":"`+pass+`","totp":"`+e.code("olga")+`"}`),
		http.StatusForbidden, "csrf")

	e.next()
	code := e.code("olga")
	w := e.api(olga, "POST", "/api/v1/admin/rotation", `{"which":"inventory","passphrase":"`+pass+`","totp":"`+code+`"}`)
	if w.Code != http.StatusAccepted {
		t.Fatalf("start: %d %s", w.Code, w.Body)
	}
	// The same code twice: replayed, whatever the route.
	wantErrorJSON(t, e.api(olga, "POST", "/api/v1/admin/vault/passphrase", `{"passphrase":"`+pass+`","new_passphrase":"a new passphrase","totp":"`+code+`"}`),
		http.StatusUnauthorized, "totp_replayed")
	e.next()
	wantErrorJSON(t, e.api(olga, "POST", "/api/v1/admin/rotation", `{"which":"support","passphrase":"`+pass+`","totp":"`+e.code("olga")+`"}`),
		http.StatusConflict, "rotation_running")
	var view struct {
		Rotation *shop.Rotation `json:"rotation"`
	}
	decode(t, e.api(sam, "GET", "/api/v1/admin/rotation", ""), &view)
	if view.Rotation == nil || view.Rotation.State != shop.RotationRunning || view.Rotation.Total != 1 {
		t.Fatalf("progress: %+v", view.Rotation)
	}
	if pg := e.page(olga, "/admin/keys?lang=en"); pg.Code != http.StatusOK || !strings.Contains(pg.Body.String(), "0 of 1 re-sealed") {
		t.Fatalf("keys page while running: %d", pg.Code)
	}
	if r, err := e.shop.RotationStep(); err != nil || r.State != shop.RotationDone {
		t.Fatalf("job: %+v %v", r, err)
	}
	decode(t, e.api(olga, "GET", "/api/v1/admin/rotation", ""), &view)
	if view.Rotation.State != shop.RotationDone || view.Rotation.Done != 1 {
		t.Fatalf("after the job: %+v", view.Rotation)
	}
	// Stock still sells after the old inventory identity is gone.
	if o := e.paidOrder(p); o.Status != shop.StatusDelivered {
		t.Fatal(o.Status)
	}

	// A backup rotation from the page shows the new identity once.
	e.next()
	pg := e.form(olga, "/admin/keys/rotate?lang=en", url.Values{"which": {"backup"}, "passphrase": {pass}, "totp": {e.code("olga")}})
	if pg.Code != http.StatusOK || !strings.Contains(pg.Body.String(), "AGE-SECRET-KEY-PQ-1") || pg.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("backup rotation page: %d %s", pg.Code, pg.Header().Get("Cache-Control"))
	}
	if strings.Contains(e.page(olga, "/admin/keys?lang=en").Body.String(), "AGE-SECRET-KEY") {
		t.Fatal("the backup identity is shown again")
	}

	// Passphrase: the new one unlocks, the old one no longer does.
	e.next()
	wantErrorJSON(t, e.api(olga, "POST", "/api/v1/admin/vault/passphrase", `{"passphrase":"`+pass+`","new_passphrase":"short","totp":"`+e.code("olga")+`"}`),
		http.StatusBadRequest, "bad_request")
	e.next()
	if w := e.api(olga, "POST", "/api/v1/admin/vault/passphrase", `{"passphrase":"`+pass+`","new_passphrase":"a new passphrase","totp":"`+e.code("olga")+`"}`); w.Code != http.StatusOK {
		t.Fatalf("change passphrase: %d %s", w.Code, w.Body)
	}
	e.shop.Lock()
	if err := e.shop.Unlock(pass); err == nil {
		t.Fatal("the old passphrase still opens the vault")
	}
	if err := e.shop.Unlock("a new passphrase"); err != nil {
		t.Fatal(err)
	}
	for action, n := range map[string]int{"rotation.start": 2, "vault.passphrase": 1} {
		if got := e.auditCount(action, ""); got != n {
			t.Errorf("%s audited %d times, want %d", action, got, n)
		}
	}
	// The shop has no 易支付 key to rotate.
	e.next()
	wantErrorJSON(t, e.api(olga, "POST", "/api/v1/admin/epay/key", `{"key":"a-new-merchant-key","totp":"`+e.code("olga")+`"}`),
		http.StatusNotFound, "not_found")
	// No passphrase or identity in any log line.
	if logs := e.logs.String(); strings.Contains(logs, pass) || strings.Contains(logs, "a new passphrase") || strings.Contains(logs, "AGE-SECRET-KEY") {
		t.Fatal("a secret reached the log")
	}
}
