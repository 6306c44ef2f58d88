package server

import (
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"veil/msg"
	"veil/pages"
	"veil/server/pay"
	"veil/server/shop"
	"veil/server/staff"
	"veil/server/store"
)

// afterSalesEnv is the console over one real Badger with sealed threads, a
// chat hub behind a real HTTP server, the store handle for remedies, and
// one clock for the shop and the staff service (TOTP codes and after-sales
// windows move together).
type afterSalesEnv struct {
	*consoleEnv
	threads *msg.Threads
	hub     *msg.Hub
	ts      *httptest.Server
}

func newAfterSalesEnv(t *testing.T) *afterSalesEnv {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	clk := &consoleClock{t: time.Date(2025, 3, 3, 12, 0, 10, 0, time.UTC)}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sh, err := shop.New(db, shop.Config{VaultWorkFactor: 10, Now: clk.Now, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sh.InitVault("test passphrase"); err != nil {
		t.Fatal(err)
	}
	st := staff.New(db, staff.Options{Now: clk.Now, Argon2: staff.Argon2Params{Time: 1, MemoryKiB: 256, Threads: 1}})
	threads := msg.NewThreads(db, nil)
	hub := msg.NewHub(msg.HubConfig{Threads: threads, Logger: log})
	srv, err := New(Config{
		Shop: sh, Staff: st, Payments: pay.Demo{}, DemoPayments: true, Logger: log,
		Threads: threads, Hub: hub, Store: db,
	})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		ts.Close()
		hub.Close()
		_ = db.Close()
	})
	ce := &consoleEnv{env: &env{shop: sh, srv: srv, h: srv.Handler(), logs: logs}, t: t, db: db, staff: st, clk: clk,
		secrets: map[string]string{}}
	enr, _, err := st.Bootstrap("olga", consolePass)
	if err != nil {
		t.Fatal(err)
	}
	ce.secrets["olga"] = enr.Secret
	return &afterSalesEnv{consoleEnv: ce, threads: threads, hub: hub, ts: ts}
}

// setPolicy changes a product's after-sales policy.
func (e *afterSalesEnv) setPolicy(p shop.Product, fn func(*shop.Policy)) shop.Product {
	e.t.Helper()
	fn(&p.Policy)
	p, err := e.shop.UpdateProduct(p)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// paid places and pays an order of one key: its token and order.
func (e *afterSalesEnv) paid(p shop.Product, proofs ...string) shop.Placed {
	e.t.Helper()
	placed, err := e.shop.PlaceOrder(p.ID, 1, proofs)
	if err != nil {
		e.t.Fatal(err)
	}
	o, err := e.shop.Pay(placed.Order.Ref, pay.DemoPayment(placed.Order))
	if err != nil || o.Status != shop.StatusDelivered {
		e.t.Fatalf("pay %s: %v %v", placed.Order.Ref, o.Status, err)
	}
	placed.Order = o
	return placed
}

// openTicket files a ticket on the order's first item as its buyer.
func (e *afterSalesEnv) openTicket(pl shop.Placed, reason, detail string) string {
	e.t.Helper()
	body := fmt.Sprintf(`{"reason":%q,"detail":%q,"item_id":%q}`, reason, detail, pl.Order.Items[0])
	w := e.bearerDo(e.t, http.MethodPost, "/api/v1/order/tickets", pl.Token, body)
	if w.Code != http.StatusCreated {
		e.t.Fatalf("open ticket: %d %s", w.Code, w.Body)
	}
	var out ticketCreated
	decode(e.t, w, &out)
	return out.ID
}

func (e *afterSalesEnv) ticket(id string) shop.Ticket {
	e.t.Helper()
	tk, err := e.shop.Ticket(id)
	if err != nil {
		e.t.Fatal(err)
	}
	return tk
}

// TestTicketOwnership: the first staff member to answer owns the ticket;
// another's answer is refused with 409 not_owner (API and form) and leaves
// nothing in the thread, until the owner hands it over.
func TestTicketOwnership(t *testing.T) {
	e := newAfterSalesEnv(t)
	p := e.addProduct(t, "card", "OWN-KEY-1", "OWN-KEY-2")
	pl := e.paid(p)
	id := e.openTicket(pl, "key_invalid", "the key says invalid")
	e.member("sam", staff.RoleSupport)
	e.next()
	olga, sam := e.login("olga"), e.login("sam")

	// The queue shows it unowned, with its order ref.
	w := e.api(olga, http.MethodGet, "/api/v1/admin/tickets?owner=unowned", "")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), id) || !strings.Contains(w.Body.String(), pl.Order.Ref) {
		t.Fatalf("queue: %d %s", w.Code, w.Body)
	}
	if w := e.api(olga, http.MethodPost, "/api/v1/admin/tickets/"+id+"/answer", `{"text":"Please try again in the EU store."}`); w.Code != http.StatusOK {
		t.Fatalf("olga answers: %d %s", w.Code, w.Body)
	}
	if tk := e.ticket(id); tk.Owner != "olga" || tk.Status != shop.TicketAnswered {
		t.Fatalf("after olga's answer: %+v", tk)
	}
	wantErrorJSON(t, e.api(sam, http.MethodPost, "/api/v1/admin/tickets/"+id+"/answer", `{"text":"sam here"}`), http.StatusConflict, "not_owner")
	wantErrorJSON(t, e.api(sam, http.MethodPost, "/api/v1/admin/tickets/"+id+"/propose", `{"remedy":"refund"}`), http.StatusConflict, "not_owner")
	// The form says so plainly and keeps the text typed.
	fw := e.form(sam, "/admin/tickets/"+id+"/answer?lang=en", url.Values{"text": {"sam typed this"}})
	if fw.Code != http.StatusConflict || !strings.Contains(fw.Body.String(), html.EscapeString(e.srv.site.Pages.T("en", "err.not_owner.message"))) ||
		!strings.Contains(fw.Body.String(), "sam typed this") {
		t.Fatalf("form not_owner: %d\n%s", fw.Code, fw.Body)
	}
	if q := e.api(sam, http.MethodGet, "/api/v1/admin/tickets?owner=mine", ""); strings.Contains(q.Body.String(), id) {
		t.Fatalf("sam's queue holds olga's ticket: %s", q.Body)
	}

	// Hand-over, then sam may answer.
	wantErrorJSON(t, e.api(olga, http.MethodPost, "/api/v1/admin/tickets/"+id+"/handover", `{"to":"nobody"}`), http.StatusBadRequest, "bad_request")
	if w := e.api(olga, http.MethodPost, "/api/v1/admin/tickets/"+id+"/handover", `{"to":"sam"}`); w.Code != http.StatusOK {
		t.Fatalf("handover: %d %s", w.Code, w.Body)
	}
	if w := e.api(sam, http.MethodPost, "/api/v1/admin/tickets/"+id+"/answer", `{"text":"Sam takes over."}`); w.Code != http.StatusOK {
		t.Fatalf("sam answers: %d %s", w.Code, w.Body)
	}
	wantErrorJSON(t, e.api(olga, http.MethodPost, "/api/v1/admin/tickets/"+id+"/answer", `{"text":"olga again"}`), http.StatusConflict, "not_owner")

	// The thread, opened with the support identity, holds the buyer's
	// detail and both accepted answers, and nothing refused.
	var got adminTicketJSON
	w = e.api(sam, http.MethodGet, "/api/v1/admin/tickets/"+id, "")
	decode(t, w, &got)
	var texts []string
	for _, m := range got.Thread {
		texts = append(texts, m.From+"/"+m.Staff+": "+m.Text)
	}
	want := []string{"buyer/: [key_invalid] the key says invalid", "staff/olga: Please try again in the EU store.", "staff/sam: Sam takes over."}
	if strings.Join(texts, "|") != strings.Join(want, "|") || got.Ticket.Owner != "sam" || got.Order.Ref != pl.Order.Ref {
		t.Fatalf("ticket JSON: %+v", got)
	}
	for _, it := range got.Order.Items {
		if strings.Contains(w.Body.String(), "OWN-KEY") || it.State != "delivered" {
			t.Fatalf("ticket JSON shows a key or a wrong state: %s", w.Body)
		}
	}
	// The buyer reads the answers with the token.
	if b := e.tickets(t, pl.Token); len(b.Thread) != 3 || b.Thread[2].Text != "Sam takes over." {
		t.Fatalf("buyer's thread %+v", b.Thread)
	}
	// The page shows the owner and never a key.
	pg := e.page(sam, "/admin/tickets/"+id+"?lang=en")
	if pg.Code != http.StatusOK || !strings.Contains(pg.Body.String(), "Sam takes over.") || strings.Contains(pg.Body.String(), "OWN-KEY") {
		t.Fatalf("ticket page %d\n%s", pg.Code, pg.Body)
	}
	checkHTML(t, pg)
}

// decideAs approves id as sess with its current code.
func (e *afterSalesEnv) approve(sess session, id string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.decideAPI(sess, id, "approve", e.code(sess.name))
}

// TestReplacementThroughTicket: a replace remedy becomes an approval; once
// approved with TOTP the buyer's order shows the new key, the old one as
// reported_bad, and the ticket is resolved.
func TestReplacementThroughTicket(t *testing.T) {
	e := newAfterSalesEnv(t)
	p := e.addProduct(t, "card", "BAD-KEY-1", "GOOD-KEY-2")
	pl := e.paid(p)
	id := e.openTicket(pl, "key_invalid", "")
	olga := e.login("olga")
	w := e.api(olga, http.MethodPost, "/api/v1/admin/tickets/"+id+"/propose", `{"remedy":"replace"}`)
	if w.Code != http.StatusAccepted {
		t.Fatalf("propose: %d %s", w.Code, w.Body)
	}
	var op opBody
	decode(t, w, &op)
	tk := e.ticket(id)
	if tk.Status != shop.TicketProposed || tk.Approval != op.ApprovalID || tk.Remedy != shop.RemedyReplace || tk.Auto {
		t.Fatalf("ticket after propose: %+v", tk)
	}
	// A remedy the policy does not offer is refused.
	wantErrorJSON(t, e.api(olga, http.MethodPost, "/api/v1/admin/tickets/"+id+"/propose", `{"remedy":"partial_refund","amount_minor":100}`),
		http.StatusConflict, "remedy_not_allowed")

	e.next()
	if w := e.approve(olga, op.ApprovalID); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"approved"`) {
		t.Fatalf("approve: %d %s", w.Code, w.Body)
	}
	if tk := e.ticket(id); tk.Status != shop.TicketResolved {
		t.Fatalf("ticket after approval: %+v", tk)
	}
	v, err := e.shop.Retrieve(pl.Token)
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]shop.KeyState{}
	for _, it := range v.Items {
		states[it.Key] = it.State
	}
	if v.Order.Status != shop.StatusReplaced || states["BAD-KEY-1"] != shop.KeyReportedBad || states["GOOD-KEY-2"] != "" || len(states) != 2 {
		t.Fatalf("order after replacement: %s %+v", v.Order.Status, states)
	}
	page := e.postForm(t, "/order?lang=en", url.Values{"token": {pl.Token}, "reveal": {"1"}})
	if body := page.Body.String(); !strings.Contains(body, "<del><code>BAD-KEY-1</code></del>") || !strings.Contains(body, "GOOD-KEY-2") ||
		!strings.Contains(body, e.srv.site.Pages.T("en", "key_state.reported_bad")) {
		t.Fatalf("buyer's order page:\n%s", body)
	}
	if st, _ := e.shop.Stock(p.ID); len(st) != 1 || st[0].Bad != 1 || st[0].Delivered != 1 || st[0].Available != 0 {
		t.Fatalf("stock %+v", st)
	}
}

// TestReplacementApprovedTwiceConcurrently: two staff members approve the
// same replacement at once; exactly one new key is delivered and the
// other gets already_decided.
func TestReplacementApprovedTwiceConcurrently(t *testing.T) {
	e := newAfterSalesEnv(t)
	p := e.addProduct(t, "card", "R-KEY-1", "R-KEY-2", "R-KEY-3", "R-KEY-4")
	pl := e.paid(p)
	e.member("sam", staff.RoleSupport)
	e.next()
	olga, sam := e.login("olga"), e.login("sam")
	w := e.api(sam, http.MethodPost, "/api/v1/admin/replacements", `{"ref":"`+pl.Order.Ref+`"}`)
	if w.Code != http.StatusAccepted {
		t.Fatalf("propose: %d %s", w.Code, w.Body)
	}
	var op opBody
	decode(t, w, &op)
	e.next()
	codes := []string{e.code("olga"), e.code("sam")}
	var wg sync.WaitGroup
	res := make([]*httptest.ResponseRecorder, 2)
	for i, s := range []session{olga, sam} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i] = e.api(s, http.MethodPost, "/api/v1/admin/approvals/"+op.ApprovalID, `{"decision":"approve","totp":"`+codes[i]+`"}`)
		}()
	}
	wg.Wait()
	ok := 0
	for _, w := range res {
		switch w.Code {
		case http.StatusOK:
			ok++
		case http.StatusConflict:
			if !strings.Contains(w.Body.String(), "already_decided") {
				t.Errorf("409 %s", w.Body)
			}
		default:
			t.Errorf("decision: %d %s", w.Code, w.Body)
		}
	}
	if ok != 1 {
		t.Fatalf("%d approvals went through", ok)
	}
	st, err := e.shop.Stock(p.ID)
	if err != nil || len(st) != 1 || st[0].Delivered != 1 || st[0].Bad != 1 || st[0].Available != 2 {
		t.Fatalf("stock after two approvals: %+v %v", st, err)
	}
	v, err := e.shop.Retrieve(pl.Token)
	if err != nil || len(v.Items) != 2 || len(v.Order.Items) != 1 || len(v.Order.Payloads) != 2 {
		t.Fatalf("order holds %d items, %d payloads: %v", len(v.Items), len(v.Order.Payloads), err)
	}
	if p2, _ := e.shop.Product(p.ID); p2.InStock != 2 {
		t.Fatalf("in stock after reconcile: %d", p2.InStock)
	}
}

// TestRecallFiftyKeys: recalling a batch with 50 delivered keys replaces
// what another batch can cover and makes the rest refund_due, for all 50.
func TestRecallFiftyKeys(t *testing.T) {
	e := newAfterSalesEnv(t)
	keys := make([]string, 50)
	for i := range keys {
		keys[i] = fmt.Sprintf("OLD-%04d", i)
	}
	p := e.addProduct(t, "card", keys...)
	bs, err := e.shop.Batches(p.ID)
	if err != nil || len(bs) != 1 {
		t.Fatalf("batches %v %v", bs, err)
	}
	bad := bs[0].ID
	refs := make([]string, 50)
	var wg sync.WaitGroup
	for i := range refs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			placed, err := e.shop.PlaceOrder(p.ID, 1, nil)
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := e.shop.Pay(placed.Order.Ref, pay.DemoPayment(placed.Order)); err != nil {
				t.Error(err)
				return
			}
			refs[i] = placed.Order.Ref
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	fresh := make([]string, 30)
	for i := range fresh {
		fresh[i] = fmt.Sprintf("NEW-%04d", i)
	}
	if _, err := e.shop.ImportKeys(p.ID, shop.BatchInfo{Supplier: "other"}, strings.NewReader(strings.Join(fresh, "\n"))); err != nil {
		t.Fatal(err)
	}
	olga := e.login("olga")
	wantErrorJSON(t, e.api(olga, http.MethodPost, "/api/v1/admin/recalls", `{"batch":"nope"}`), http.StatusBadRequest, "bad_request")
	e.next()
	w := e.api(olga, http.MethodPost, "/api/v1/admin/recalls", `{"batch":"`+bad+`","totp":"`+e.code("olga")+`"}`)
	if w.Code != http.StatusOK {
		t.Fatalf("recall: %d %s", w.Code, w.Body)
	}
	var op opBody
	decode(t, w, &op)
	if !strings.Contains(op.Result, "50 delivered keys recalled, 30 replaced, 20 orders refund_due") {
		t.Fatalf("recall result %q", op.Result)
	}
	counts := map[shop.Status]int{}
	for _, ref := range refs {
		o, err := e.shop.OrderByRef(ref)
		if err != nil {
			t.Fatal(err)
		}
		counts[o.Status]++
		var notice string
		if len(o.Notices) > 0 {
			notice = o.Notices[len(o.Notices)-1].Code
		}
		switch {
		case o.Status == shop.StatusReplaced && notice == "recalled_replaced" && len(o.Items) == 1 && !strings.HasPrefix(o.Items[0], bad+"-"):
		case o.Status == shop.StatusRefundDue && notice == "recalled_refund_due":
		default:
			t.Errorf("order %s: %s %v %v", ref, o.Status, o.Notices, o.Items)
		}
		for id, st := range o.Bad {
			if st != shop.KeyRecalled || !strings.HasPrefix(id, bad+"-") {
				t.Errorf("order %s: bad %s %s", ref, id, st)
			}
		}
	}
	if counts[shop.StatusReplaced] != 30 || counts[shop.StatusRefundDue] != 20 {
		t.Fatalf("orders by status %v", counts)
	}
	st, err := e.shop.Stock(p.ID)
	if err != nil || len(st) != 2 {
		t.Fatalf("stock %+v %v", st, err)
	}
	for _, b := range st {
		if b.Batch.ID == bad && (b.Recalled != 50 || b.Delivered != 0) || b.Batch.ID != bad && (b.Delivered != 30 || b.Available != 0) {
			t.Fatalf("stock of batch %s: %+v", b.Batch.ID, b)
		}
	}
	// The stock page offers the recall form.
	if pg := e.page(olga, "/admin/products/"+p.ID+"/stock?lang=en"); !strings.Contains(pg.Body.String(), `action="/admin/recalls?lang=en"`) {
		t.Fatalf("stock page lacks the recall form:\n%s", pg.Body)
	}
}

// TestTrustedTierRemedyAutoApproved: an order placed with proofs of settled
// orders reaches the policy's tier; its remedy is approved by policy at
// once, with the rule in the audit log, and the ticket resolved.
func TestTrustedTierRemedyAutoApproved(t *testing.T) {
	e := newAfterSalesEnv(t)
	p := e.addProduct(t, "card", "T-1", "T-2", "T-3")
	p = e.setPolicy(p, func(pol *shop.Policy) {
		pol.AutoApproveTier = 1
		pol.Remedies = []shop.Remedy{shop.RemedyReplace, shop.RemedyPartialRefund, shop.RemedyRefund}
	})
	old := e.paid(p)
	e.clk.Add(time.Duration(p.Policy.WindowHours+1) * time.Hour)
	if r, err := e.shop.Sweep(); err != nil || r.Settled != 1 {
		t.Fatalf("sweep %+v %v", r, err)
	}
	pl := e.paid(p, old.Token)
	if pl.Order.Tier < 1 {
		t.Fatalf("tier %d with a settled proof", pl.Order.Tier)
	}
	newcomer := e.paid(p)
	if newcomer.Order.Tier != 0 {
		t.Fatalf("newcomer tier %d", newcomer.Order.Tier)
	}
	id := e.openTicket(pl, "key_already_used", "")
	id0 := e.openTicket(newcomer, "key_already_used", "")
	olga := e.login("olga")
	e.next()
	if w := e.api(olga, http.MethodPost, "/api/v1/admin/settings",
		`{"fast_track":{"remedies":["partial_refund"],"max_order_minor":500,"max_day_minor":1000},"totp":"`+e.code("olga")+`"}`); w.Code != http.StatusOK {
		t.Fatalf("fast-track bounds: %d %s", w.Code, w.Body)
	}

	w := e.api(olga, http.MethodPost, "/api/v1/admin/tickets/"+id+"/propose", `{"remedy":"partial_refund","amount_minor":300}`)
	if w.Code != http.StatusOK {
		t.Fatalf("trusted propose: %d %s", w.Code, w.Body)
	}
	var op opBody
	decode(t, w, &op)
	tk := e.ticket(id)
	if op.Status != "approved" || tk.Status != shop.TicketResolved || !tk.Auto || tk.Approval != op.ApprovalID || tk.AmountMinor != 300 {
		t.Fatalf("trusted remedy: %+v %+v", op, tk)
	}
	o, _ := e.shop.OrderByRef(pl.Order.Ref)
	if o.Status != shop.StatusPartiallyRefunded || o.Refunded() != 300 {
		t.Fatalf("order %s refunded %d", o.Status, o.Refunded())
	}
	if n := e.auditCount(staff.ActionApprovalApprove, "id="+op.ApprovalID+" kind=partial_refund rule=fast_track tier>=1"); n != 1 {
		t.Fatalf("%d policy approvals in the audit log", n)
	}
	// The newcomer's remedy waits for a person.
	w = e.api(olga, http.MethodPost, "/api/v1/admin/tickets/"+id0+"/propose", `{"remedy":"refund"}`)
	if w.Code != http.StatusAccepted {
		t.Fatalf("newcomer propose: %d %s", w.Code, w.Body)
	}
	decode(t, w, &op)
	if tk := e.ticket(id0); tk.Status != shop.TicketProposed || tk.Auto {
		t.Fatalf("newcomer ticket %+v", tk)
	}
	// Rejected, the ticket is answerable again.
	e.next()
	if w := e.decideAPI(olga, op.ApprovalID, "reject", e.code("olga")); w.Code != http.StatusOK {
		t.Fatalf("reject: %d %s", w.Code, w.Body)
	}
	if tk := e.ticket(id0); tk.Status != shop.TicketAnswered {
		t.Fatalf("after a rejected remedy: %+v", tk)
	}
	if w := e.api(olga, http.MethodPost, "/api/v1/admin/tickets/"+id0+"/reject", ``); w.Code != http.StatusOK {
		t.Fatalf("reject ticket: %d %s", w.Code, w.Body)
	}
	if tk := e.ticket(id0); tk.Status != shop.TicketRejected || tk.Owner != "olga" {
		t.Fatalf("rejected ticket %+v", tk)
	}
}

// TestCoolingOffRefundByPolicy: a refund without reason, keys never shown,
// is approved by policy (rule cooling_off) and carried out at once.
func TestCoolingOffRefundByPolicy(t *testing.T) {
	e := newAfterSalesEnv(t)
	p := e.addProduct(t, "card", "C-1")
	pl := e.paid(p)
	w := e.postForm(t, "/order/cooling-off?lang=en", url.Values{"token": {pl.Token}})
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), html.EscapeString(e.srv.site.Pages.T("en", "order.cooling_off_done"))) {
		t.Fatalf("cooling-off: %d\n%s", w.Code, w.Body)
	}
	o, _ := e.shop.OrderByRef(pl.Order.Ref)
	if o.Status != shop.StatusRefunded || o.Refunded() != o.AmountMinor {
		t.Fatalf("order %s refunded %d", o.Status, o.Refunded())
	}
	if n := e.auditCount(staff.ActionApprovalApprove, ""); n != 1 || e.auditCount(staff.ActionApprovalApprove, "id=1 kind=refund rule=cooling_off") != 1 {
		t.Fatalf("audit: %d approvals", n)
	}
	// A second request finds nothing left.
	if w := e.postForm(t, "/order/cooling-off?lang=en", url.Values{"token": {pl.Token}}); w.Code != http.StatusConflict {
		t.Fatalf("second cooling-off: %d", w.Code)
	}
}

// TestThreadLockedForStaff: while the vault is locked a ticket's thread
// cannot be opened; the page says to unlock, the JSON says thread_locked.
func TestThreadLockedForStaff(t *testing.T) {
	e := newAfterSalesEnv(t)
	p := e.addProduct(t, "card", "L-1")
	pl := e.paid(p)
	id := e.openTicket(pl, "other", "a secret detail")
	olga := e.login("olga")
	e.shop.Lock()
	for _, lang := range pages.Languages() {
		w := e.page(olga, "/admin/tickets/"+id+"?lang="+lang)
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), html.EscapeString(e.srv.site.Pages.T(lang, "admin.ticket.thread_locked"))) ||
			strings.Contains(w.Body.String(), "a secret detail") {
			t.Fatalf("%s locked page: %d\n%s", lang, w.Code, w.Body)
		}
	}
	var got adminTicketJSON
	decode(t, e.api(olga, http.MethodGet, "/api/v1/admin/tickets/"+id, ""), &got)
	if !got.ThreadLocked || len(got.Thread) != 0 {
		t.Fatalf("locked JSON %+v", got)
	}
	// Answering still works: it seals to public recipients only.
	if w := e.api(olga, http.MethodPost, "/api/v1/admin/tickets/"+id+"/answer", `{"text":"looking into it"}`); w.Code != http.StatusOK {
		t.Fatalf("answer while locked: %d %s", w.Code, w.Body)
	}
	if err := e.shop.Unlock("test passphrase"); err != nil {
		t.Fatal(err)
	}
	decode(t, e.api(olga, http.MethodGet, "/api/v1/admin/tickets/"+id, ""), &got)
	if got.ThreadLocked || len(got.Thread) != 2 || got.Thread[0].Text != "[other] a secret detail" {
		t.Fatalf("unlocked JSON %+v", got)
	}
}

// TestStaffJoinsRoom: a buyer's open room is listed; staff join it with
// their own secret (once) and talk with the buyer.
func TestStaffJoinsRoom(t *testing.T) {
	e := newAfterSalesEnv(t)
	p := e.addProduct(t, "card", "CH-1")
	pl := e.paid(p)
	w := e.bearerDo(t, http.MethodPost, "/api/v1/order/chat", pl.Token, "")
	if w.Code != http.StatusCreated {
		t.Fatalf("open room: %d %s", w.Code, w.Body)
	}
	var room chatOpened
	decode(t, w, &room)
	buyer := dialChat(t, e.ts, room.WSPath, room.JoinSecret)
	olga := e.login("olga")
	w = e.api(olga, http.MethodGet, "/api/v1/admin/rooms", "")
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), pl.Order.Ref) || !strings.Contains(w.Body.String(), `"buyer_joined":true`) {
		t.Fatalf("rooms: %d %s", w.Code, w.Body)
	}
	pg := e.page(olga, "/admin/rooms?lang=en")
	if !strings.Contains(pg.Body.String(), pl.Order.Ref) || !strings.Contains(pg.Body.String(), "/static/admin_chat.") {
		t.Fatalf("rooms page:\n%s", pg.Body)
	}
	// The join form's page carries the secret for the script.
	fw := e.form(olga, "/admin/rooms/"+room.Room+"/join?lang=en", url.Values{})
	if fw.Code != http.StatusOK || !strings.Contains(fw.Body.String(), `id="staff-chat"`) {
		t.Fatalf("join page: %d\n%s", fw.Code, fw.Body)
	}
	w = e.api(olga, http.MethodPost, "/api/v1/admin/rooms/"+room.Room+"/join", "")
	var join struct {
		JoinSecret string `json:"join_secret"`
		WSPath     string `json:"ws_path"`
	}
	decode(t, w, &join)
	staffConn := dialChat(t, e.ts, join.WSPath, join.JoinSecret)
	staffConn.send(map[string]string{"type": "msg", "text": "Hello, this is olga."})
	if f := buyer.next("msg"); f.From != "staff" || f.Text != "Hello, this is olga." {
		t.Fatalf("buyer got %+v", f)
	}
	staffConn.send(map[string]string{"type": "end"})
	buyer.next("closed")
	wantErrorJSON(t, e.api(olga, http.MethodPost, "/api/v1/admin/rooms/"+room.Room+"/join", ""), http.StatusConflict, "room_closed")
	wantErrorJSON(t, e.api(olga, http.MethodPost, "/api/v1/admin/rooms/nope/join", ""), http.StatusNotFound, "room_not_found")
}

// TestTrustConsole: tier rules change through a settings approval; the
// abuse flag makes a proof count for nothing, audited.
func TestTrustConsole(t *testing.T) {
	e := newAfterSalesEnv(t)
	p := e.addProduct(t, "card", "A-1", "A-2", "A-3")
	olga := e.login("olga")
	rules := shop.DefaultTierRules()
	rules.MaxQuantity[0] = 2
	e.next()
	body := fmt.Sprintf(`{"tiers":{"min_settled":[0,1,3,10],"min_span_days":[0,0,0,28],"max_quantity":[2,10,50,1000],"max_amount_minor":[50000,200000,1000000,0],"max_unpaid":[2,3,5,10],"proof_uses_per_day":3,"reward_min_tier":2,"reward_every":5,"reward_percent":5},"totp":%q}`, e.code("olga"))
	if w := e.api(olga, http.MethodPost, "/api/v1/admin/settings", body); w.Code != http.StatusOK {
		t.Fatalf("settings: %d %s", w.Code, w.Body)
	}
	if got := e.shop.TierRules(); got != rules {
		t.Fatalf("rules %+v", got)
	}
	wantErrorJSON(t, e.api(olga, http.MethodPost, "/api/v1/admin/settings", `{"tiers":{"min_settled":[3,1,0,0]}}`), http.StatusBadRequest, "bad_request")
	// The form queues a change without a code.
	f := url.Values{}
	for i := range 4 {
		f.Set(fmt.Sprintf("min_settled_%d", i), fmt.Sprint(rules.MinSettled[i]))
		f.Set(fmt.Sprintf("min_span_%d", i), "0")
		f.Set(fmt.Sprintf("max_quantity_%d", i), "9")
		f.Set(fmt.Sprintf("max_amount_%d", i), "")
		f.Set(fmt.Sprintf("max_unpaid_%d", i), "4")
	}
	f.Set("proof_uses", "2")
	f.Set("reward_min_tier", "2")
	f.Set("reward_every", "0")
	f.Set("reward_percent", "0")
	if w := e.form(olga, "/admin/tiers?lang=en", f); w.Code != http.StatusSeeOther || !strings.Contains(w.Header().Get("Location"), "/admin/approvals") {
		t.Fatalf("tiers form: %d %s", w.Code, w.Header().Get("Location"))
	}
	f.Set("min_settled_1", "-1")
	if w := e.form(olga, "/admin/tiers?lang=en", f); w.Code != http.StatusBadRequest {
		t.Fatalf("bad tiers form: %d", w.Code)
	}

	// Flag a settled order: its token no longer raises the tier.
	old := e.paid(p)
	e.clk.Add(80 * time.Hour)
	if _, err := e.shop.Sweep(); err != nil {
		t.Fatal(err)
	}
	if r, _ := e.shop.EvaluateProofs([]string{old.Token}); r.Tier != 1 {
		t.Fatalf("tier before the flag: %d", r.Tier)
	}
	olga = e.login("olga") // the clock outran the session
	if w := e.api(olga, http.MethodPost, "/api/v1/admin/orders/"+old.Order.Ref+"/abuse", `{"flagged":true}`); w.Code != http.StatusOK {
		t.Fatalf("flag: %d %s", w.Code, w.Body)
	}
	if r, _ := e.shop.EvaluateProofs([]string{old.Token}); r.Tier != 0 || r.Counted != 0 {
		t.Fatalf("a flagged proof counted: %+v", r)
	}
	if n := e.auditCount("order.abuse_flag", "flagged=true"); n != 1 {
		t.Fatalf("%d abuse audit entries", n)
	}
	if w := e.form(olga, "/admin/orders/"+old.Order.Ref+"/abuse?lang=en", url.Values{"flagged": {"0"}}); w.Code != http.StatusSeeOther {
		t.Fatalf("clear flag form: %d", w.Code)
	}
	wantErrorJSON(t, e.api(olga, http.MethodPost, "/api/v1/admin/orders/R-NOPE0000/abuse", `{"flagged":true}`), http.StatusNotFound, "order_not_found")
}

// TestAfterSalesPagesBothLanguages: the new console pages render in both
// languages, no-store, with no inline style or script, and the heatmap is
// drawn from the pattern data.
func TestAfterSalesPagesBothLanguages(t *testing.T) {
	e := newAfterSalesEnv(t)
	p := e.addProduct(t, "card", "H-1", "H-2")
	pl := e.paid(p)
	id := e.openTicket(pl, "wrong_region", "")
	olga := e.login("olga")
	for _, lang := range pages.Languages() {
		tr := func(k string) string { return html.EscapeString(e.srv.site.Pages.T(lang, k)) }
		q := "?lang=" + lang
		for _, c := range []struct {
			path string
			want []string
		}{
			{"/admin/tickets" + q, []string{tr("admin.tickets.title"), id, pl.Order.Ref, tr("reason.wrong_region")}},
			{"/admin/tickets" + q + "&owner=mine", []string{tr("admin.tickets.empty")}},
			{"/admin/tickets/" + id + q, []string{tr("admin.ticket.propose"), tr("remedy.replace"), pl.Order.Ref, tr("admin.abuse.flag"), tr("admin.ticket.answer_submit")}},
			{"/admin/rooms" + q, []string{tr("admin.rooms.title"), tr("admin.rooms.empty")}},
			{"/admin/tiers" + q, []string{tr("admin.tiers.title"), `name="min_settled_3"`, `value="500.00"`}},
			{"/admin/patterns" + q, []string{tr("admin.patterns.heatmap"), `class="chart-svg heatmap"`, tr("admin.weekday.0"), tr("admin.weekday.6"), "heat4", tr("admin.patterns.by_product")}},
			{"/admin/patterns" + q + "&product=" + p.ID, []string{`<option value="` + p.ID + `" selected>`}},
		} {
			w := e.page(olga, c.path)
			if w.Code != http.StatusOK {
				t.Errorf("%s: %d\n%s", c.path, w.Code, w.Body)
				continue
			}
			if cc := w.Header().Get("Cache-Control"); !strings.Contains(cc, "no-store") {
				t.Errorf("%s: Cache-Control %q", c.path, cc)
			}
			body := w.Body.String()
			for _, s := range c.want {
				if !strings.Contains(body, s) {
					t.Errorf("%s lacks %q", c.path, s)
				}
			}
			if strings.Contains(body, "style=") || strings.Contains(body, "<script>") || strings.Contains(body, "H-1") {
				t.Errorf("%s: inline style, inline script or a key", c.path)
			}
			checkHTML(t, w)
		}
	}
	wantErrorJSON(t, e.api(olga, http.MethodGet, "/api/v1/admin/tickets?owner=someone", ""), http.StatusBadRequest, "bad_request")
	if w := e.api(olga, http.MethodGet, "/api/v1/admin/patterns?product="+p.ID, ""); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"count":1`) {
		t.Fatalf("patterns JSON: %d %s", w.Code, w.Body)
	}
}
