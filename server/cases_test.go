package server

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"veil/server/pay"
	"veil/server/shop"
	"veil/server/staff"
	"veil/server/store"
)

// TestConsoleCaseForm: the resolved ticket's page offers the case form; a
// support member's form (with their own code) only queues the case, which
// support cannot approve; a text naming the ref is refused and shown again
// with the reason; the owner's form with a code publishes it, the ticket
// page then says so, and /cases shows the text and not the ref; a second
// publication is 409 case_published; a withdrawal by support is refused.
func TestConsoleCaseForm(t *testing.T) {
	e := newConsoleEnv(t)
	e.member("sam", staff.RoleSupport)
	p := e.addProduct(t, "case-card", "CASE-KEY-1", "CASE-KEY-2")
	placed, err := e.shop.PlaceOrder(p.ID, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if o, err := e.shop.Pay(placed.Order.Ref, pay.DemoPayment(placed.Order)); err != nil || o.Status != shop.StatusDelivered {
		t.Fatalf("pay: %v", err)
	}
	tk, err := e.shop.OpenTicket(placed.Token, shop.ReasonKeyInvalid, "")
	if err != nil {
		t.Fatal(err)
	}
	ref := placed.Order.Ref
	err = e.db.Update(func(tx *store.Txn) error {
		if err := e.shop.MarkProposedTx(tx, tk.ID, shop.RemedyReplace, 0, "1", false); err != nil {
			return err
		}
		_, err := e.shop.ReplaceTx(tx, ref, "", tk.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	e.next()
	sam := e.login("sam")
	olga := e.login("olga")
	e.next()
	ticket := "/admin/tickets/" + tk.ID
	if w := e.page(olga, ticket+"?lang=en"); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `action="`+ticket+`/case?lang=en"`) {
		t.Fatalf("ticket page: %d, no case form", w.Code)
	}

	w := e.form(sam, ticket+"/case?lang=en", url.Values{"text_en": {"Replaced at once."}, "totp": {e.code("sam")}})
	if w.Code != http.StatusSeeOther || !strings.Contains(w.Header().Get("Location"), "notice=queued") {
		t.Fatalf("support's case: %d %s", w.Code, w.Header().Get("Location"))
	}
	e.next()
	if _, n, _ := e.shop.Cases("", 1); n != 0 {
		t.Fatal("support published a case")
	}

	w = e.form(olga, ticket+"/case?lang=en", url.Values{"text_en": {"Order " + ref + " was fixed."}, "totp": {e.code("olga")}})
	if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "describe the case in words") {
		t.Fatalf("a text naming the ref: %d", w.Code)
	}
	w = e.form(olga, ticket+"/case?lang=en", url.Values{"text_en": {"The platform refused the key; we sent a fresh one."}, "totp": {e.code("olga")}})
	if w.Code != http.StatusSeeOther || !strings.Contains(w.Header().Get("Location"), "notice=case_published") {
		t.Fatalf("owner's case: %d %s %s", w.Code, w.Header().Get("Location"), w.Body)
	}
	e.next()
	if w := e.page(olga, ticket+"?lang=en"); !strings.Contains(w.Body.String(), "This ticket is published as a case.") {
		t.Fatal("the ticket page does not say the case is published")
	}
	w = e.get(t, "/cases?lang=en", nil)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "The platform refused the key; we sent a fresh one.") ||
		strings.Contains(w.Body.String(), ref) || strings.Contains(w.Body.String(), tk.ID) {
		t.Fatalf("/cases: %d", w.Code)
	}
	wantErrorJSON(t, e.api(olga, http.MethodPost, "/api/v1/admin/cases", `{"ticket":"`+tk.ID+`","text":{"en":"Again."}}`), http.StatusConflict, "case_published")
	wantErrorJSON(t, e.api(sam, http.MethodPost, "/api/v1/admin/cases/1/withdraw", ""), http.StatusForbidden, "forbidden")
	if w := e.api(olga, http.MethodPost, "/api/v1/admin/cases/1/withdraw", ""); w.Code != http.StatusOK {
		t.Fatalf("withdraw: %d %s", w.Code, w.Body)
	}
	if e.auditCount("case.withdraw", "case=1") != 1 {
		t.Fatal("withdrawal not audited")
	}
}
