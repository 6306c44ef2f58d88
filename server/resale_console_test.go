package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"veil/crypto"
	"veil/server/resale"
	"veil/server/staff"
)

// TestConsoleResale: the console's reseller routes keep to the rules of
// every sensitive route — owners only, a fresh TOTP code where a secret or
// money moves, audited — and the secret is shown once, never logged.
func TestConsoleResale(t *testing.T) {
	e := newConsoleEnv(t)
	olga := e.login("olga")
	e.next()
	e.member("sam", staff.RoleSupport)
	e.next()
	sam := e.login("sam")
	id, _ := crypto.NewIdentity(crypto.X25519)
	spec := `{"name":"agent","recipient":"` + id.Recipient() + `","currency":"CNY","percent_off":10`
	if w := e.api(sam, http.MethodPost, "/api/v1/admin/resellers", spec+`}`); w.Code != http.StatusForbidden {
		t.Fatalf("support created an account: %d %s", w.Code, w.Body)
	}
	e.next()
	if w := e.api(olga, http.MethodPost, "/api/v1/admin/resellers", spec+`,"totp":"`+e.code("olga")+`"}`); w.Code != http.StatusOK {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	w := e.api(olga, http.MethodGet, "/api/v1/admin/resellers", "")
	var list struct {
		Resellers []struct {
			ID           string `json:"id"`
			SecretIssued bool   `json:"secret_issued"`
		}
	}
	if json.Unmarshal(w.Body.Bytes(), &list); len(list.Resellers) != 1 || list.Resellers[0].SecretIssued || strings.Contains(w.Body.String(), "salt") {
		t.Fatalf("list: %s", w.Body)
	}
	rk := list.Resellers[0].ID
	if w := e.api(sam, http.MethodPost, "/api/v1/admin/resellers/"+rk+"/secret", `{"totp":"`+e.code("sam")+`"}`); w.Code != http.StatusForbidden {
		t.Fatalf("support issued a secret: %d", w.Code)
	}
	if w := e.api(olga, http.MethodPost, "/api/v1/admin/resellers/"+rk+"/secret", `{"totp":""}`); w.Code != http.StatusUnauthorized {
		t.Fatalf("a secret without a code: %d %s", w.Code, w.Body)
	}
	e.next()
	w = e.api(olga, http.MethodPost, "/api/v1/admin/resellers/"+rk+"/secret", `{"totp":"`+e.code("olga")+`"}`)
	var sec struct{ Secret string }
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &sec) != nil || !strings.HasPrefix(sec.Secret, "rs_") {
		t.Fatalf("secret: %d %s", w.Code, w.Body)
	}
	if w := e.api(olga, http.MethodGet, "/api/v1/admin/resellers", ""); strings.Contains(w.Body.String(), sec.Secret) {
		t.Fatal("the secret is shown again")
	}
	// Money waits for approval without a code.
	if w := e.api(olga, http.MethodPost, "/api/v1/admin/resellers/"+rk+"/balance", `{"kind":"top_up","amount_minor":5000}`); w.Code != http.StatusAccepted {
		t.Fatalf("top-up without a code: %d %s", w.Code, w.Body)
	}
	if w := e.api(olga, http.MethodPost, "/api/v1/admin/resellers/"+rk+"/balance", `{"kind":"top_up","amount_minor":-5}`); w.Code != http.StatusBadRequest {
		t.Fatalf("a negative top-up: %d %s", w.Code, w.Body)
	}
	// The API is mounted: the secret signs, suspension refuses at once.
	if w := e.api(olga, http.MethodPost, "/api/v1/admin/resellers/"+rk+"/status", `{"status":"suspended"}`); w.Code != http.StatusOK {
		t.Fatalf("suspend: %d %s", w.Code, w.Body)
	}
	r := httptest.NewRequest(http.MethodGet, "/api/v1/reseller/balance", nil)
	resale.SignRequest(r, rk, sec.Secret, nil, time.Now(), "console-test-nonce-1", "")
	rw := httptest.NewRecorder()
	e.h.ServeHTTP(rw, r)
	if rw.Code != http.StatusForbidden || !strings.Contains(rw.Body.String(), "reseller_suspended") {
		t.Fatalf("a suspended account's call: %d %s", rw.Code, rw.Body)
	}
	if e.auditCount("reseller.secret_issued", "") != 1 || e.auditCount("reseller.status", "status=suspended") != 1 {
		t.Fatal("not audited")
	}
	if strings.Contains(e.logs.String(), sec.Secret) {
		t.Fatal("the secret reached the log")
	}
}

// TestForwardOnlySourcedTickets: the ticket page offers "forward upstream"
// only for a key bought upstream, and forwarding any other ticket is
// refused with not_sourced, nothing sent.
func TestForwardOnlySourcedTickets(t *testing.T) {
	e := newAfterSalesEnv(t)
	p := e.addProduct(t, "card", "K-0001-AAAA")
	pl := e.paid(p)
	id := e.openTicket(pl, "key_invalid", "does not redeem")
	olga := e.login("olga")
	page := e.page(olga, "/admin/tickets/"+id+"?lang=en").Body.String()
	if strings.Contains(page, "/forward") {
		t.Fatal("a local key's ticket offers forwarding")
	}
	w := e.form(olga, "/admin/tickets/"+id+"/forward?lang=en", url.Values{"text": {"x"}})
	if w.Code != http.StatusConflict {
		t.Fatalf("forward a local ticket: %d", w.Code)
	}
	if w := e.api(olga, http.MethodPost, "/api/v1/admin/tickets/"+id+"/forward", `{}`); w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "not_sourced") {
		t.Fatalf("API: %d %s", w.Code, w.Body)
	}
	if tk := e.ticket(id); tk.Upstream != nil {
		t.Fatalf("ticket marked forwarded: %+v", tk.Upstream)
	}
}
