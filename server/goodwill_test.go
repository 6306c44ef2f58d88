package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"veil/server/shop"
	"veil/server/staff"
)

// TestConsoleCompensation: the owner gives a paid order one key of
// another product with a TOTP code; the buyer's retrieval shows it once,
// marked; the decision is audited; support may propose but not decide;
// a missing CSRF token, bad input and an empty product are refused.
func TestConsoleCompensation(t *testing.T) {
	e := newConsoleEnv(t)
	game := e.addProduct(t, "game", "GAME-KEY-0001", "GAME-KEY-0002")
	gift := e.addProduct(t, "gift", "GIFT-KEY-0001")
	empty := e.addProduct(t, "empty")
	placed, err := e.shop.PlaceOrder(game.ID, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.pay(t, placed.Order.Ref)
	olga := e.login("olga")
	e.member("sam", staff.RoleSupport)
	e.next()
	sam := e.login("sam")

	body := func(product, code string) string {
		return fmt.Sprintf(`{"ref":%q,"product":%q,"totp":%q}`, placed.Order.Ref, product, code)
	}
	w := e.do(t, req{method: http.MethodPost, target: "/api/v1/admin/compensations", ctype: "application/json",
		body: body("gift", e.code("olga")), header: map[string]string{"Cookie": staffCookie + "=" + olga.cookie}})
	if w.Code != http.StatusForbidden {
		t.Fatalf("without CSRF: %d %s", w.Code, w.Body)
	}
	wantErrorJSON(t, e.api(olga, http.MethodPost, "/api/v1/admin/compensations", `{"ref":"`+placed.Order.Ref+`"}`), http.StatusBadRequest, "bad_request")
	wantErrorJSON(t, e.api(olga, http.MethodPost, "/api/v1/admin/compensations", `{"ref":"R-NOPE0000","product":"gift"}`), http.StatusNotFound, "order_not_found")
	wantErrorJSON(t, e.api(olga, http.MethodPost, "/api/v1/admin/compensations", body(empty.Slug, "")), http.StatusConflict, "out_of_stock")
	wantErrorJSON(t, e.api(olga, http.MethodPost, "/api/v1/admin/compensations", `{"ref":"`+placed.Order.Ref+`","product":"gift","x":1}`), http.StatusBadRequest, "bad_request")

	// Support proposes; only an owner decides.
	w = e.api(sam, http.MethodPost, "/api/v1/admin/compensations", body("gift", ""))
	var op struct {
		ApprovalID string `json:"approval_id"`
		Status     string
	}
	decode(t, w, &op)
	if w.Code != http.StatusAccepted || op.Status != "pending" {
		t.Fatalf("support's proposal: %d %s", w.Code, w.Body)
	}
	wantErrorJSON(t, e.api(sam, http.MethodPost, "/api/v1/admin/approvals/"+op.ApprovalID, `{"decision":"approve","totp":"`+e.code("sam")+`"}`), http.StatusForbidden, "forbidden")
	e.next()
	before := e.auditCount(staff.ActionApprovalApprove, "")
	w = e.api(olga, http.MethodPost, "/api/v1/admin/approvals/"+op.ApprovalID, `{"decision":"approve","totp":"`+e.code("olga")+`"}`)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"approved"`) {
		t.Fatalf("owner's decision: %d %s", w.Code, w.Body)
	}
	if e.auditCount(staff.ActionApprovalApprove, "") != before+1 {
		t.Fatal("no audit entry")
	}
	v, err := e.shop.Retrieve(placed.Token)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Items) != 2 || !v.Items[1].Compensation || v.Items[1].Key != "GIFT-KEY-0001" || v.Items[0].Compensation {
		t.Fatalf("items %+v", v.Items)
	}
	if p, _ := e.shop.Product(gift.ID); p.InStock != 0 {
		t.Fatalf("gift stock %d", p.InStock)
	}
	// The buyer's JSON and page mark it.
	w = e.get(t, "/api/v1/order", map[string]string{"Authorization": "Bearer " + placed.Token})
	if !strings.Contains(w.Body.String(), `"key":"GIFT-KEY-0001","compensation":true,"product":"gift"`) {
		t.Fatalf("order JSON %s", w.Body)
	}
	w = e.postForm(t, "/order?lang=en", url.Values{"token": {placed.Token}})
	if page := w.Body.String(); strings.Count(page, "GIFT-KEY-0001") != 1 || !strings.Contains(page, ">compensation</span>") {
		t.Fatalf("order page:\n%s", page)
	}
}

// TestConsoleFreezeAndProRata: three orders' reports freeze a batch; the
// console lists it with its evidence; the owner unfreezes it with a TOTP
// code. A ticket's refund by use is quoted and proposed with its
// computation as the approval's summary.
func TestConsoleFreezeAndProRata(t *testing.T) {
	e := newConsoleEnv(t)
	var keys []string
	for i := range 12 {
		keys = append(keys, fmt.Sprintf("FRZ-KEY-%04d", i))
	}
	p := e.addProduct(t, "frz", keys...)
	var toks []string
	for range 4 {
		pl, err := e.shop.PlaceOrder(p.ID, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		e.pay(t, pl.Order.Ref)
		toks = append(toks, pl.Token)
	}
	for _, tok := range toks[:3] {
		if _, err := e.shop.OpenTicket(tok, shop.ReasonKeyInvalid, ""); err != nil {
			t.Fatal(err)
		}
	}
	olga := e.login("olga")
	w := e.api(olga, http.MethodGet, "/api/v1/admin/freezes", "")
	var fz struct {
		Rule   shop.FreezeRule
		Frozen []struct {
			Batch       string
			ProductSlug string `json:"product_slug"`
			Held        int
			Reports     []shop.BatchReport
		}
	}
	decode(t, w, &fz)
	if len(fz.Frozen) != 1 || fz.Frozen[0].Held != 8 || len(fz.Frozen[0].Reports) != 3 || fz.Frozen[0].ProductSlug != "frz" || fz.Rule.MinReports != 3 {
		t.Fatalf("freezes %s", w.Body)
	}
	batch := fz.Frozen[0].Batch
	page := e.page(olga, "/admin/goodwill?lang=en").Body.String()
	if !strings.Contains(page, batch) || !strings.Contains(page, fz.Frozen[0].Reports[0].Ref) || !strings.Contains(page, "3 orders reported its keys bad, of 4 delivered") {
		t.Fatalf("goodwill page:\n%s", page)
	}
	if q, _ := e.shop.Product(p.ID); q.InStock != 0 || !q.TemporarilyUnavailable {
		t.Fatalf("product %+v", q)
	}
	if page := e.get(t, "/p/frz?lang=en", nil).Body.String(); !strings.Contains(page, "Temporarily unavailable") {
		t.Fatalf("product page:\n%s", page)
	}
	wantErrorJSON(t, e.api(olga, http.MethodPost, "/api/v1/admin/freezes/b-nope/unfreeze", `{"totp":""}`), http.StatusConflict, "not_frozen")
	e.next()
	w = e.api(olga, http.MethodPost, "/api/v1/admin/freezes/"+batch+"/unfreeze", `{"totp":"`+e.code("olga")+`"}`)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "8 keys back on sale") {
		t.Fatalf("unfreeze: %d %s", w.Code, w.Body)
	}
	if q, _ := e.shop.Product(p.ID); q.InStock != 8 {
		t.Fatalf("stock after unfreeze %d", q.InStock)
	}
	// The rule: bad input refused; a change is an approval.
	wantErrorJSON(t, e.api(olga, http.MethodPost, "/api/v1/admin/freeze-rule", `{"min_reports":0,"min_permille":50,"window_hours":24}`), http.StatusBadRequest, "bad_request")
	w = e.api(olga, http.MethodPost, "/api/v1/admin/freeze-rule", `{"min_reports":5,"min_permille":100,"window_hours":24}`)
	if w.Code != http.StatusAccepted {
		t.Fatalf("rule: %d %s", w.Code, w.Body)
	}

	// Refund by use.
	vip, err := e.shop.CreateProduct(shop.Product{Slug: "vip", Name: shop.Text{"en": "VIP"}, PriceMinor: 3000, Currency: "CNY",
		Policy: shop.Policy{WindowHours: 72, Remedies: []shop.Remedy{shop.RemedyPartialRefund}, ProRataDays: 30}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.shop.ImportKeys(vip.ID, shop.BatchInfo{}, strings.NewReader("VIP-KEY-1\n")); err != nil {
		t.Fatal(err)
	}
	pl, err := e.shop.PlaceOrder(vip.ID, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.pay(t, pl.Order.Ref)
	tk, err := e.shop.OpenTicket(pl.Token, shop.ReasonOther, "")
	if err != nil {
		t.Fatal(err)
	}
	w = e.api(olga, http.MethodGet, "/api/v1/admin/tickets/"+tk.ID+"/pro-rata", "")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"amount_minor":3000`) {
		t.Fatalf("quote: %d %s", w.Code, w.Body)
	}
	w = e.api(olga, http.MethodPost, "/api/v1/admin/tickets/"+tk.ID+"/pro-rata", `{}`)
	var op struct {
		ApprovalID string `json:"approval_id"`
	}
	decode(t, w, &op)
	a, err := e.staff.Get(op.ApprovalID)
	if err != nil || a.Kind != staff.KindRefund || !strings.Contains(a.Summary, "pro-rata refund by use") || !strings.Contains(a.Summary, "= 3000 CNY") {
		t.Fatalf("approval %+v %v", a, err)
	}
	if got, _ := e.shop.Ticket(tk.ID); got.Status != shop.TicketProposed || got.Approval != a.ID {
		t.Fatalf("ticket %+v", got)
	}
}
