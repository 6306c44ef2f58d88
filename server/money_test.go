package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"veil/server/shop"
	"veil/server/staff"
	"veil/server/store"
)

// TestProductPolicyChangeNeedsApproval: an owner alone, without a code,
// cannot change an existing product's price or after-sales policy — the
// change waits as a product_policy approval (202) while names and texts
// change at once; two-person holds it even with a code; a second owner's
// approval applies it to the catalog. Creating a product stays 201 at
// once, and a change of names only stays 200.
func TestProductPolicyChangeNeedsApproval(t *testing.T) {
	e := newConsoleEnv(t)
	e.member("pat", staff.RoleOwner)
	e.next()
	olga, pat := e.login("olga"), e.login("pat")
	w := e.api(olga, http.MethodPost, "/api/v1/admin/products", `{"slug":"pol","name":"Policy card","price_minor":990,"currency":"CNY","kind":"unique",
		"policy":{"window_hours":72,"remedies":["replace"]}}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	var created struct{ ID string }
	decode(t, w, &created)
	id := created.ID

	w = e.api(olga, http.MethodPut, "/api/v1/admin/products/"+id, `{"slug":"pol","name":"Policy card 2","price_minor":990,"currency":"CNY",
		"policy":{"window_hours":0,"remedies":["replace","refund"],"auto_approve_tier":1}}`)
	if w.Code != http.StatusAccepted {
		t.Fatalf("policy change without a code: %d %s", w.Code, w.Body)
	}
	var op opBody
	decode(t, w, &op)
	p, _ := e.shop.Product(id)
	if p.Policy.WindowHours != 72 || p.Policy.AutoApproveTier != 0 || len(p.Policy.Remedies) != 1 || p.Name.In("en") != "Policy card 2" {
		t.Fatalf("after a queued change: %+v %v", p.Policy, p.Name)
	}
	a, err := e.staff.Get(op.ApprovalID)
	if err != nil || a.Kind != staff.KindProductPolicy || a.Status != staff.StatusPending ||
		!strings.Contains(a.Summary, "window_hours 72→0") || !strings.Contains(a.Summary, "auto_approve_tier 0→1") {
		t.Fatalf("approval %+v %v", a, err)
	}

	// Two-person on: the proposer's own code only queues it.
	if err := e.staff.SetTwoPerson("staff:olga", staff.KindProductPolicy, true); err != nil {
		t.Fatal(err)
	}
	w = e.api(olga, http.MethodPut, "/api/v1/admin/products/"+id, `{"slug":"pol","name":"Policy card 2","price_minor":1,"currency":"CNY",
		"policy":{"window_hours":72,"remedies":["replace"]},"totp":"`+e.code("olga")+`"}`)
	if w.Code != http.StatusAccepted {
		t.Fatalf("two-person, own code: %d %s", w.Code, w.Body)
	}
	if p, _ := e.shop.Product(id); p.PriceMinor != 990 {
		t.Fatalf("price changed to %d without a second person", p.PriceMinor)
	}
	if w := e.decideAPI(olga, op.ApprovalID, "approve", e.code("olga")); w.Code != http.StatusForbidden {
		t.Fatalf("self-approval: %d %s", w.Code, w.Body)
	}
	e.next()
	if w := e.decideAPI(pat, op.ApprovalID, "approve", e.code("pat")); w.Code != http.StatusOK {
		t.Fatalf("second owner approves: %d %s", w.Code, w.Body)
	}
	p, _ = e.shop.Product(id)
	if p.Policy.WindowHours != 0 || p.Policy.AutoApproveTier != 1 || !slices.Equal(p.Policy.Remedies, []shop.Remedy{shop.RemedyReplace, shop.RemedyRefund}) {
		t.Fatalf("approved change not in the catalog: %+v", p.Policy)
	}

	// Names only: at once, no approval.
	w = e.api(olga, http.MethodPut, "/api/v1/admin/products/"+id, `{"slug":"pol","name":"Policy card 3","price_minor":990,"currency":"CNY",
		"policy":{"window_hours":0,"remedies":["replace","refund"],"auto_approve_tier":1}}`)
	if w.Code != http.StatusOK {
		t.Fatalf("name change: %d %s", w.Code, w.Body)
	}
	if p, _ := e.shop.Product(id); p.Name.In("en") != "Policy card 3" {
		t.Fatalf("name %v", p.Name)
	}

	// The console form says the change was sent for approval.
	e.next()
	w = e.form(olga, "/admin/products/"+id+"/edit?lang=en", url.Values{"slug": {"pol"}, "name_en": {"Policy card 3"}, "price": {"9.90"},
		"currency": {"CNY"}, "window_hours": {"48"}, "remedy": {"replace", "refund"}, "auto_approve": {"1"}})
	if w.Code != http.StatusSeeOther || !strings.Contains(w.Header().Get("Location"), "notice=product_policy_queued") {
		t.Fatalf("form: %d %s", w.Code, w.Header().Get("Location"))
	}
	pg := e.page(olga, w.Header().Get("Location"))
	if !strings.Contains(pg.Body.String(), "sent for approval") {
		t.Fatalf("the products page does not say the change was sent for approval:\n%s", pg.Body)
	}
	if p, _ := e.shop.Product(id); p.Policy.WindowHours != 0 {
		t.Fatalf("the form changed the window to %d at once", p.Policy.WindowHours)
	}
	if pg := e.page(olga, "/admin/products/"+id+"/edit?lang=en"); !strings.Contains(pg.Body.String(), `name="totp"`) {
		t.Fatal("the edit form has no code field")
	}
}

// TestFastTrackBounds: a trusted tier lets policy approve a remedy only
// within the bounds the owner set with a code; with none set, a support
// member's proposal waits for an owner; within them it executes and the
// audit log names the rule; past the daily bound it waits again.
func TestFastTrackBounds(t *testing.T) {
	e := newAfterSalesEnv(t)
	p := e.addProduct(t, "card", "F-1", "F-2", "F-3", "F-4", "F-5")
	p = e.setPolicy(p, func(pol *shop.Policy) {
		pol.AutoApproveTier = 1
		pol.Remedies = []shop.Remedy{shop.RemedyReplace, shop.RemedyPartialRefund, shop.RemedyRefund}
	})
	old := e.paid(p)
	e.clk.Add(time.Duration(p.Policy.WindowHours+1) * time.Hour)
	if r, err := e.shop.Sweep(); err != nil || r.Settled != 1 {
		t.Fatalf("sweep %+v %v", r, err)
	}
	// Late in the UTC day, already the next day in Shanghai (the shop's
	// default zone): the daily bound counts the shop's day.
	now := e.clk.Now()
	e.clk.Add(time.Date(now.Year(), now.Month(), now.Day(), 23, 0, 0, 0, time.UTC).Sub(now))
	a, b, c := e.paid(p, old.Token), e.paid(p, old.Token), e.paid(p, old.Token)
	if a.Order.Tier < 1 {
		t.Fatalf("tier %d", a.Order.Tier)
	}
	e.member("sam", staff.RoleSupport)
	e.next()
	olga, sam := e.login("olga"), e.login("sam")

	// No bounds set: a support member's refund waits for an owner.
	ta := e.openTicket(a, "key_already_used", "")
	w := e.api(sam, http.MethodPost, "/api/v1/admin/tickets/"+ta+"/propose", `{"remedy":"refund"}`)
	if w.Code != http.StatusAccepted {
		t.Fatalf("fast track without bounds: %d %s", w.Code, w.Body)
	}
	if o, _ := e.shop.OrderByRef(a.Order.Ref); o.Refunded() != 0 {
		t.Fatal("refunded by policy with no bounds set")
	}
	// Support cannot set the bounds.
	e.next()
	w = e.api(sam, http.MethodPost, "/api/v1/admin/settings", `{"fast_track":{"remedies":["refund"],"max_order_minor":99999,"max_day_minor":99999},"totp":"`+e.code("sam")+`"}`)
	if w.Code == http.StatusOK {
		t.Fatalf("support set fast-track bounds: %s", w.Body)
	}
	// The owner sets them with a code.
	w = e.api(olga, http.MethodPost, "/api/v1/admin/settings",
		`{"fast_track":{"remedies":["partial_refund"],"max_order_minor":400,"max_day_minor":500},"totp":"`+e.code("olga")+`"}`)
	if w.Code != http.StatusOK {
		t.Fatalf("bounds: %d %s", w.Code, w.Body)
	}
	if w := e.api(olga, http.MethodGet, "/api/v1/admin/fast-track", ""); !strings.Contains(w.Body.String(), `"max_day_minor":500`) {
		t.Fatalf("GET fast-track: %s", w.Body)
	}

	// A kind not allowed waits.
	tb := e.openTicket(b, "key_already_used", "")
	if w := e.api(sam, http.MethodPost, "/api/v1/admin/tickets/"+tb+"/propose", `{"remedy":"refund"}`); w.Code != http.StatusAccepted {
		t.Fatalf("refund outside the allowed kinds: %d %s", w.Code, w.Body)
	}
	e.next()
	if w := e.api(olga, http.MethodPost, "/api/v1/admin/approvals/"+e.ticket(tb).Approval, `{"decision":"reject","totp":"`+e.code("olga")+`"}`); w.Code != http.StatusOK {
		t.Fatalf("reject: %d %s", w.Code, w.Body)
	}
	// Within the bounds: approved by policy, the rule in the audit log.
	w = e.api(sam, http.MethodPost, "/api/v1/admin/tickets/"+tb+"/propose", `{"remedy":"partial_refund","amount_minor":300}`)
	if w.Code != http.StatusOK {
		t.Fatalf("within the bounds: %d %s", w.Code, w.Body)
	}
	var op opBody
	decode(t, w, &op)
	if o, _ := e.shop.OrderByRef(b.Order.Ref); o.Refunded() != 300 {
		t.Fatalf("refunded %d", o.Refunded())
	}
	if n := e.auditCount(staff.ActionApprovalApprove, "id="+op.ApprovalID+" kind=partial_refund rule=fast_track tier>=1 partial_refund 300; order 300/400; day 300/500"); n != 1 {
		t.Fatalf("%d audit entries naming the fast-track rule", n)
	}
	// Past the daily bound (300 + 300 > 500): waits for a person.
	tc := e.openTicket(c, "key_already_used", "")
	if w := e.api(sam, http.MethodPost, "/api/v1/admin/tickets/"+tc+"/propose", `{"remedy":"partial_refund","amount_minor":300}`); w.Code != http.StatusAccepted {
		t.Fatalf("past the daily bound: %d %s", w.Code, w.Body)
	}
	if o, _ := e.shop.OrderByRef(c.Order.Ref); o.Refunded() != 0 {
		t.Fatal("refunded past the daily bound")
	}
	shanghai, utc := e.clk.Now().In(e.shop.Location()).Format(time.DateOnly), e.clk.Now().UTC().Format(time.DateOnly)
	if shanghai == utc {
		t.Fatalf("the test's clock (%v) is on the same day in both zones", e.clk.Now())
	}
	err := e.db.View(func(tx *store.Txn) error {
		var given int64
		if err := tx.GetJSON("fasttrack/day/"+shanghai+"/CNY", &given); err != nil || given != 300 {
			return fmt.Errorf("the shop's day %s: %d given, %v", shanghai, given, err)
		}
		if _, err := tx.Get("fasttrack/day/" + utc + "/CNY"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("a count on the UTC day %s: %v", utc, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestWholeRefundAsPartialNeedsTwoPeople: with the two-person rule on for
// refunds only, a "partial" refund of the whole amount is not carried out
// by its proposer's own code, and the settings form's two boxes for money
// kinds act as one switch.
func TestWholeRefundAsPartialNeedsTwoPeople(t *testing.T) {
	e := newConsoleEnv(t)
	p := e.addProduct(t, "card", "TP-1", "TP-2")
	o := e.paidOrder(p)
	olga := e.login("olga")
	e.next()
	w := e.api(olga, http.MethodPost, "/api/v1/admin/settings", `{"two_person":{"refund":true},"totp":"`+e.code("olga")+`"}`)
	if w.Code != http.StatusOK {
		t.Fatalf("two-person on: %d %s", w.Code, w.Body)
	}
	e.next()
	w = e.api(olga, http.MethodPost, "/api/v1/admin/refunds", `{"ref":"`+o.Ref+`","amount_minor":990,"reason":"all of it","totp":"`+e.code("olga")+`"}`)
	if w.Code != http.StatusAccepted {
		t.Fatalf("whole amount as a partial refund, alone: %d %s", w.Code, w.Body)
	}
	if got, _ := e.shop.OrderByRef(o.Ref); got.Refunded() != 0 {
		t.Fatalf("refunded %d alone", got.Refunded())
	}
	// The form sends both money boxes; one checked is on for both.
	e.next()
	w = e.form(olga, "/admin/settings?lang=en", url.Values{"two_person": {"partial_refund"}, "totp": {e.code("olga")}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("settings form: %d %s", w.Code, w.Body)
	}
	for _, k := range []staff.Kind{staff.KindRefund, staff.KindPartialRefund} {
		if on, _ := e.staff.TwoPerson(k); !on {
			t.Fatalf("two-person off for %s after checking partial_refund only", k)
		}
	}
}

// TestPaidOrdersLeaveTheUnpaidCap: a newcomer who pays the orders it
// holds may order again at once (issue 10 item 11: the third order of a
// buyer who paid two was refused with tier_limit).
func TestPaidOrdersLeaveTheUnpaidCap(t *testing.T) {
	e := newSupportEnv(t, 1000)
	e.addProduct(t, "card", "PC-1", "PC-2", "PC-3", "PC-4", "PC-5")
	max := e.shop.TierRules().MaxUnpaid[0]
	for i := range max + 1 {
		w := e.postJSON(t, "/api/v1/orders", `{"product":"card","quantity":1}`)
		if w.Code != http.StatusCreated {
			t.Fatalf("order %d after paying the others: %d %s", i+1, w.Code, w.Body)
		}
		var o struct{ Ref string }
		decode(t, w, &o)
		if w := e.postJSON(t, "/api/v1/pay/demo", `{"ref":"`+o.Ref+`"}`); w.Code != http.StatusOK {
			t.Fatalf("pay %d: %d %s", i+1, w.Code, w.Body)
		}
	}
}

// TestFastTrackForm: the tiers page shows the fast-track bounds and sets
// them through a settings approval — at once with the owner's code, queued
// without one.
func TestFastTrackForm(t *testing.T) {
	e := newConsoleEnv(t)
	olga := e.login("olga")
	pg := e.page(olga, "/admin/tiers?lang=en")
	if pg.Code != http.StatusOK || !strings.Contains(pg.Body.String(), `action="/admin/fast-track?lang=en"`) {
		t.Fatalf("tiers page without the fast-track form: %d", pg.Code)
	}
	w := e.form(olga, "/admin/fast-track?lang=en", url.Values{"remedy": {"replace"}, "max_order": {"20"}, "max_day": {"100.50"}})
	if w.Code != http.StatusSeeOther || !strings.Contains(w.Header().Get("Location"), "/admin/approvals") {
		t.Fatalf("without a code: %d %s", w.Code, w.Header().Get("Location"))
	}
	if f, _ := e.shop.FastTrack(); len(f.Remedies) != 0 {
		t.Fatalf("bounds set without approval: %+v", f)
	}
	e.next()
	w = e.form(olga, "/admin/fast-track?lang=en", url.Values{"remedy": {"replace", "partial_refund"}, "max_order": {"20"}, "max_day": {"100.50"},
		"totp": {e.code("olga")}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("with a code: %d %s", w.Code, w.Body)
	}
	f, _ := e.shop.FastTrack()
	if !slices.Equal(f.Remedies, []shop.Remedy{shop.RemedyReplace, shop.RemedyPartialRefund}) || f.MaxOrderMinor != 2000 || f.MaxDayMinor != 10050 {
		t.Fatalf("bounds %+v", f)
	}
	pg = e.page(olga, "/admin/tiers?lang=en")
	if body := pg.Body.String(); !strings.Contains(body, `value="100.50"`) || !strings.Contains(body, `value="partial_refund" checked`) {
		t.Fatal("the form does not show the bounds in force")
	}
	e.next()
	w = e.form(olga, "/admin/fast-track?lang=en", url.Values{"remedy": {"give_all"}, "max_order": {"-1"}, "totp": {e.code("olga")}})
	if w.Code != http.StatusBadRequest {
		t.Fatalf("bad amount: %d", w.Code)
	}
}

// The product page promises fast track only once the owner's bounds let
// something through: a product's auto_approve_tier alone promises nothing.
func TestProductPageFastTrackPromise(t *testing.T) {
	e := newAfterSalesEnv(t)
	p := e.addProduct(t, "card", "FP-1")
	p = e.setPolicy(p, func(pol *shop.Policy) { pol.AutoApproveTier = 2 })
	promise := e.srv.site.Pages.T("en", "policy.fast_track_tier")
	promise = promise[:strings.Index(promise, "%d")]
	if w := e.get(t, "/p/"+p.Slug+"?lang=en", nil); w.Code != http.StatusOK || strings.Contains(w.Body.String(), promise) {
		t.Fatalf("fast track promised with no bounds set: %d", w.Code)
	}
	olga := e.login("olga")
	e.next()
	w := e.api(olga, http.MethodPost, "/api/v1/admin/settings",
		`{"fast_track":{"remedies":["replace"],"max_order_minor":1000,"max_day_minor":5000},"totp":"`+e.code("olga")+`"}`)
	if w.Code != http.StatusOK {
		t.Fatalf("bounds: %d %s", w.Code, w.Body)
	}
	if w := e.get(t, "/p/"+p.Slug+"?lang=en", nil); !strings.Contains(w.Body.String(), promise+"2") {
		t.Fatal("fast track not promised once bounds allow it")
	}
}
