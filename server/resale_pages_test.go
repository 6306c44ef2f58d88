package server

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"veil/crypto"
	"veil/server/shop"
	"veil/server/staff"
	"veil/server/store"
)

// resellerForm is the console's create form for an account.
func resellerForm(name, rcpt string) url.Values {
	return url.Values{"name": {name}, "recipient": {rcpt}, "currency": {"CNY"}, "percent_off": {"10"}, "daily_limit": {"500"}}
}

// wantRedirect checks a 303 to a path with the notice.
func wantRedirect(t *testing.T, what string, w interface {
	Result() *http.Response
}, path, notice string) {
	t.Helper()
	res := w.Result()
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, path+"?") || (notice != "" && !strings.Contains(loc, "notice="+notice)) {
		t.Fatalf("%s: %d to %q, want 303 to %s (notice %s)", what, res.StatusCode, loc, path, notice)
	}
}

var secretRE = regexp.MustCompile(`rs_[A-Za-z0-9_-]{43}`)

// TestResellerPages: the owner creates an account on the resellers page
// (a clerk cannot, a form without the CSRF token is refused), issues its
// secret — shown on that answer only, never on a page again nor in a log —
// tops its balance up through an approval that needs a TOTP code, reads the
// movement in the ledger, and suspends it at once. The page shows the
// recipient as a short fingerprint, not the recipient itself.
func TestResellerPages(t *testing.T) {
	e := newConsoleEnv(t)
	e.addProduct(t, "card", "K-0001-AAAA")
	olga := e.login("olga")
	e.next()
	e.member("sam", staff.RoleSupport)
	e.next()
	sam := e.login("sam")
	id, _ := crypto.NewIdentity(crypto.X25519)
	rcpt := id.Recipient()

	pg := e.page(olga, "/admin/resellers?lang=en")
	if pg.Code != http.StatusOK || !strings.Contains(pg.Body.String(), "No reseller accounts yet") || !strings.Contains(pg.Body.String(), `id="reseller-new"`) {
		t.Fatalf("empty list: %d", pg.Code)
	}
	checkHTML(t, pg)
	if pg := e.page(sam, "/admin/resellers?lang=en").Body.String(); strings.Contains(pg, `id="reseller-new"`) {
		t.Fatal("a clerk is offered the create form")
	}

	// Abuse: a clerk, and a form without the CSRF token.
	e.next()
	f := resellerForm("agent", rcpt)
	f.Set("totp", e.code("sam"))
	if w := e.form(sam, "/admin/resellers?lang=en", f); w.Code != http.StatusForbidden {
		t.Fatalf("a clerk created an account: %d", w.Code)
	}
	noCSRF := e.do(t, req{method: http.MethodPost, target: "/admin/resellers?lang=en", body: resellerForm("agent", rcpt).Encode(),
		ctype: "application/x-www-form-urlencoded", header: map[string]string{"Cookie": staffCookie + "=" + olga.cookie}})
	if noCSRF.Code != http.StatusForbidden {
		t.Fatalf("a form without CSRF: %d", noCSRF.Code)
	}
	if rs, _ := e.shop.Resellers(); len(rs) != 0 {
		t.Fatalf("accounts after refused forms: %d", len(rs))
	}

	// Create with a code: at once.
	e.next()
	f = resellerForm("agent", rcpt)
	f.Set("prices", "card = 8.00")
	f.Set("totp", e.code("olga"))
	wantRedirect(t, "create", e.form(olga, "/admin/resellers?lang=en", f), "/admin/resellers", "reseller_created")
	rs, _ := e.shop.Resellers()
	if len(rs) != 1 || rs[0].PercentOff != 10 || rs[0].DailyLimitMinor != 50000 || len(rs[0].Prices) != 1 {
		t.Fatalf("accounts %+v", rs)
	}
	rk := rs[0].ID
	list := e.page(olga, "/admin/resellers?lang=en").Body.String()
	if !strings.Contains(list, rk) || !strings.Contains(list, "¥500.00") || !strings.Contains(list, "No API secret yet") {
		t.Fatalf("list after create:\n%s", list)
	}
	acct := e.page(olga, "/admin/resellers/"+rk+"?lang=en")
	checkHTML(t, acct)
	body := acct.Body.String()
	if strings.Contains(body, rcpt) || !strings.Contains(body, recipientPrintOf(rcpt)) {
		t.Fatal("the account page shows the recipient, not its fingerprint")
	}
	if !strings.Contains(body, `<tr data-slug="card">`) || !strings.Contains(body, "¥8.00") {
		t.Fatalf("agent prices missing:\n%s", body)
	}

	// The secret: owners, a code, shown once.
	secretURL := "/admin/resellers/" + rk + "/secret?lang=en"
	if w := e.form(olga, secretURL, url.Values{}); w.Code != http.StatusUnauthorized {
		t.Fatalf("a secret without a code: %d", w.Code)
	}
	e.next()
	if w := e.form(sam, secretURL, url.Values{"totp": {e.code("sam")}}); w.Code != http.StatusForbidden {
		t.Fatalf("a clerk issued a secret: %d", w.Code)
	}
	e.next()
	code := e.code("olga")
	w := e.form(olga, secretURL, url.Values{"totp": {code}})
	secret := secretRE.FindString(w.Body.String())
	if w.Code != http.StatusOK || secret == "" || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("issue: %d %q %s", w.Code, w.Header().Get("Cache-Control"), w.Body)
	}
	if _, key, err := e.shop.ResellerKey(rk); err != nil || shop.FormatResellerSecret(key) != secret {
		t.Fatalf("the shown secret does not sign: %v", err)
	}
	if w := e.form(olga, secretURL, url.Values{"totp": {code}}); w.Code == http.StatusOK || strings.Contains(w.Body.String(), secret) {
		t.Fatalf("the same code again: %d", w.Code)
	}
	for _, p := range []string{"/admin/resellers/" + rk + "?lang=en", "/admin/resellers?lang=en", "/admin/audit?lang=en"} {
		if strings.Contains(e.page(olga, p).Body.String(), secret) {
			t.Fatalf("%s shows the secret again", p)
		}
	}
	if w := e.page(olga, secretURL); w.Code == http.StatusOK {
		t.Fatalf("GET of the secret form: %d", w.Code)
	}

	// Top-up: a clerk cannot; without a code it waits; approved with one.
	bal := "/admin/resellers/" + rk + "/balance?lang=en"
	if w := e.form(sam, bal, url.Values{"kind": {"top_up"}, "amount": {"50"}}); w.Code != http.StatusForbidden {
		t.Fatalf("a clerk topped up: %d", w.Code)
	}
	wantRedirect(t, "top-up without a code", e.form(olga, bal, url.Values{"kind": {"top_up"}, "amount": {"50"}, "note": {"bank transfer"}}),
		"/admin/approvals", "queued")
	if a, _ := e.shop.Reseller(rk); a.BalanceMinor != 0 {
		t.Fatalf("balance moved before approval: %d", a.BalanceMinor)
	}
	pend, err := e.staff.Pending()
	if err != nil || len(pend) != 1 || pend[0].Kind != staff.KindResellerTopUp {
		t.Fatalf("pending %+v %v", pend, err)
	}
	if w := e.form(olga, "/admin/approvals/"+pend[0].ID+"?lang=en", url.Values{"decision": {"approve"}}); w.Code != http.StatusUnauthorized {
		t.Fatalf("approved without a code: %d", w.Code)
	}
	e.next()
	wantRedirect(t, "approve", e.form(olga, "/admin/approvals/"+pend[0].ID+"?lang=en", url.Values{"decision": {"approve"}, "totp": {e.code("olga")}}),
		"/admin/approvals", "approved")
	if a, _ := e.shop.Reseller(rk); a.BalanceMinor != 5000 {
		t.Fatalf("balance after approval: %d", a.BalanceMinor)
	}
	body = e.page(olga, "/admin/resellers/"+rk+"?lang=en").Body.String()
	if !strings.Contains(body, `<tr data-seq="1">`) || !strings.Contains(body, "+¥50.00") || !strings.Contains(body, "approval-"+pend[0].ID) ||
		!strings.Contains(body, "bank transfer") {
		t.Fatalf("the ledger does not show the top-up:\n%s", body)
	}
	// A correction that would go below zero is refused by its executor;
	// a bad amount never becomes an approval.
	if w := e.form(olga, bal, url.Values{"kind": {"top_up"}, "amount": {"-3"}}); w.Code != http.StatusBadRequest {
		t.Fatalf("a negative amount: %d", w.Code)
	}
	if w := e.form(olga, bal, url.Values{"kind": {"gift"}, "amount": {"3"}}); w.Code != http.StatusBadRequest {
		t.Fatalf("an unknown kind: %d", w.Code)
	}

	// Suspend at once; resume.
	wantRedirect(t, "suspend", e.form(olga, "/admin/resellers/"+rk+"/status?lang=en", url.Values{"status": {"suspended"}}),
		"/admin/resellers/"+rk, "reseller_suspended")
	if a, _ := e.shop.Reseller(rk); a.Status != shop.ResellerSuspended {
		t.Fatalf("status %s", a.Status)
	}
	if w := e.form(sam, "/admin/resellers/"+rk+"/status?lang=en", url.Values{"status": {"active"}}); w.Code != http.StatusForbidden {
		t.Fatalf("a clerk resumed: %d", w.Code)
	}
	if e.auditCount("reseller.status", "status=suspended") != 1 || e.auditCount("reseller.secret_issued", "") != 1 {
		t.Fatal("not audited")
	}
	if w := e.page(olga, "/admin/resellers/rk_00000000000000000000?lang=en"); w.Code != http.StatusNotFound {
		t.Fatalf("no such account: %d", w.Code)
	}
	if logs := e.logs.String(); strings.Contains(logs, secret) || strings.Contains(logs, rcpt) {
		t.Fatal("the secret or the recipient reached the log")
	}
}

// recipientPrintOf is the console's short fingerprint, computed apart.
func recipientPrintOf(rcpt string) string {
	h := sha256.Sum256([]byte(rcpt))
	x := fmt.Sprintf("%x", h[:8])
	return x[:4] + " " + x[4:8] + " " + x[8:12] + " " + x[12:]
}

// TestResellerPagesPaginate: the accounts list and an account's ledger
// page by 50, and the second page holds the rest.
func TestResellerPagesPaginate(t *testing.T) {
	e := newConsoleEnv(t)
	olga := e.login("olga")
	id, _ := crypto.NewIdentity(crypto.X25519)
	var first string
	err := e.db.Update(func(tx *store.Txn) error {
		for i := range 52 {
			r, err := e.shop.CreateResellerTx(tx, shop.ResellerSpec{Name: fmt.Sprintf("agent-%02d", i), Recipient: id.Recipient(), Currency: "CNY"})
			if err != nil {
				return err
			}
			if i == 0 {
				first = r.ID
			}
		}
		for i := range 53 {
			if _, err := e.shop.BalanceTx(tx, first, shop.LedgerTopUp, int64(100+i), fmt.Sprintf("approval-%d", i), ""); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	p1 := e.page(olga, "/admin/resellers?lang=en").Body.String()
	if strings.Count(p1, "<tr data-reseller=") != 50 || !strings.Contains(p1, "agent-49") || strings.Contains(p1, "agent-50") ||
		!strings.Contains(p1, "cursor=50") {
		t.Fatalf("first page: %d rows", strings.Count(p1, "<tr data-reseller="))
	}
	p2 := e.page(olga, "/admin/resellers?lang=en&cursor=50").Body.String()
	if strings.Count(p2, "<tr data-reseller=") != 2 || !strings.Contains(p2, "agent-51") {
		t.Fatalf("second page: %d rows", strings.Count(p2, "<tr data-reseller="))
	}
	l1 := e.page(olga, "/admin/resellers/"+first+"?lang=en").Body.String()
	if strings.Count(l1, "<tr data-seq=") != 50 || !strings.Contains(l1, `<tr data-seq="53">`) || !strings.Contains(l1, "cursor=4") {
		t.Fatalf("ledger first page: %d rows", strings.Count(l1, "<tr data-seq="))
	}
	l2 := e.page(olga, "/admin/resellers/"+first+"?lang=en&cursor=4").Body.String()
	if strings.Count(l2, "<tr data-seq=") != 3 || !strings.Contains(l2, `<tr data-seq="1">`) || strings.Contains(l2, `<tr data-seq="4">`) {
		t.Fatalf("ledger second page: %d rows", strings.Count(l2, "<tr data-seq="))
	}
	if w := e.page(olga, "/admin/resellers?lang=en&cursor=x"); w.Code != http.StatusBadRequest {
		t.Fatalf("a bad cursor: %d", w.Code)
	}
}

// failingUpstream shows stock but cannot be bought from.
type failingUpstream struct{}

var errUpstreamDown = errors.New("resale: upstream unreachable: connection refused")

func (failingUpstream) Buy(context.Context, shop.Upstream, string, string, int) (shop.UpstreamBuy, error) {
	return shop.UpstreamBuy{}, errUpstreamDown
}
func (failingUpstream) Order(context.Context, shop.Upstream, string, string) (shop.UpstreamBuy, error) {
	return shop.UpstreamBuy{}, errUpstreamDown
}
func (failingUpstream) Available(context.Context, shop.Upstream, string) (int, error) {
	return 5, nil
}

// TestUpstreamPage: the owner sources a product on its upstream page with
// the API's checks (a code, a well-formed secret and identity); the page
// then shows where it comes from, the upstream's last error and the paid
// order waiting for it — never the secret or the identity — and clearing
// it makes the product local again.
func TestUpstreamPage(t *testing.T) {
	e := newConsoleEnv(t)
	p := e.addProduct(t, "sourced")
	olga := e.login("olga")
	e.next()
	e.member("sam", staff.RoleSupport)
	e.next()
	sam := e.login("sam")
	upID, _ := crypto.NewIdentity(crypto.X25519)
	identity := upID.String()
	secret := "rs_" + strings.Repeat("Q", 43)
	target := "/admin/products/" + p.ID + "/upstream?lang=en"
	pg := e.page(olga, target)
	if pg.Code != http.StatusOK || !strings.Contains(pg.Body.String(), "sells its own imported keys") {
		t.Fatalf("local product's page: %d", pg.Code)
	}
	checkHTML(t, pg)
	form := func(code string) url.Values {
		return url.Values{"base_url": {"https://upstream.example"}, "key_id": {"rk_abcdefghij0123456789"}, "product": {"gift-card"},
			"max_unit": {"8.50"}, "secret": {secret}, "identity": {identity}, "totp": {code}}
	}
	if w := e.form(olga, target, form("")); w.Code != http.StatusUnauthorized {
		t.Fatalf("without a code: %d", w.Code)
	}
	e.next()
	if w := e.form(sam, target, form(e.code("sam"))); w.Code != http.StatusForbidden {
		t.Fatalf("a clerk: %d", w.Code)
	}
	e.next()
	bad := form(e.code("olga"))
	bad.Set("secret", "hunter2")
	if w := e.form(olga, target, bad); w.Code != http.StatusBadRequest {
		t.Fatalf("a malformed secret: %d", w.Code)
	}
	e.next()
	wantRedirect(t, "set", e.form(olga, target, form(e.code("olga"))), "/admin/products/"+p.ID+"/upstream", "upstream_set")
	got, _ := e.shop.Product(p.ID)
	if got.Upstream == nil || got.Upstream.MaxUnitMinor != 850 || got.Upstream.Product != "gift-card" {
		t.Fatalf("upstream %+v", got.Upstream)
	}
	// A paid order waits for the upstream, which is down.
	e.shop.SetSourcer(failingUpstream{})
	e.shop.RefreshUpstreamStock(context.Background(), true)
	placed, err := e.shop.PlaceOrder(p.ID, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.pay(t, placed.Order.Ref)
	if _, err := e.shop.PurchaseQueued(context.Background()); err != nil {
		t.Fatal(err)
	}
	pg = e.page(olga, target)
	checkHTML(t, pg)
	body := pg.Body.String()
	for _, want := range []string{"https://upstream.example", "rk_abcdefghij0123456789", "gift-card", "connection refused", placed.Order.Ref, "Purchasing"} {
		if !strings.Contains(body, want) {
			t.Errorf("the upstream page lacks %q", want)
		}
	}
	if strings.Contains(body, secret) || strings.Contains(body, identity) {
		t.Fatal("the upstream page shows a credential")
	}
	if e.auditCount("product.sourced", "upstream=https://upstream.example") != 1 {
		t.Fatal("not audited")
	}
	e.next()
	wantRedirect(t, "clear", e.form(olga, target, url.Values{"remove": {"1"}, "totp": {e.code("olga")}}),
		"/admin/products/"+p.ID+"/upstream", "upstream_cleared")
	if got, _ := e.shop.Product(p.ID); got.Upstream != nil {
		t.Fatal("still sourced")
	}
	if logs := e.logs.String(); strings.Contains(logs, secret) || strings.Contains(logs, identity) {
		t.Fatal("a credential reached the log")
	}
}

// TestResaleTicketsPage: a reseller's ticket shows in the queue with its
// words opened for staff; staff answer it on the page, and a replacement
// proposed there with a code is carried out: the ticket is resolved.
func TestResaleTicketsPage(t *testing.T) {
	e := newConsoleEnv(t)
	p := e.addProduct(t, "card", "RS-KEY-0001", "RS-KEY-0002")
	olga := e.login("olga")
	pg := e.page(olga, "/admin/resale/tickets?lang=en")
	if pg.Code != http.StatusOK || !strings.Contains(pg.Body.String(), "No resale tickets") {
		t.Fatalf("empty queue: %d", pg.Code)
	}
	id, _ := crypto.NewIdentity(crypto.X25519)
	var rk string
	err := e.db.Update(func(tx *store.Txn) error {
		r, err := e.shop.CreateResellerTx(tx, shop.ResellerSpec{Name: "agent", Recipient: id.Recipient(), Currency: "CNY"})
		if err != nil {
			return err
		}
		rk = r.ID
		_, err = e.shop.BalanceTx(tx, rk, shop.LedgerTopUp, 5000, "approval-x", "")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	pl, err := e.shop.PlaceResale(shop.ResaleRequest{Reseller: rk, Product: p.Slug, Quantity: 1, IdemKey: "k1", BodyHash: sha256.Sum256([]byte("b"))})
	if err != nil {
		t.Fatal(err)
	}
	opened, err := e.shop.OpenResaleTicket(shop.ResaleTicketRequest{Reseller: rk, Order: pl.Order.ID, ItemID: pl.Order.Items[0],
		Reason: shop.ReasonKeyInvalid, Detail: "the key says invalid", IdemKey: "t1", BodyHash: sha256.Sum256([]byte("t"))})
	if err != nil {
		t.Fatal(err)
	}
	tid := opened.Ticket.ID
	pg = e.page(olga, "/admin/resale/tickets?lang=en")
	checkHTML(t, pg)
	body := pg.Body.String()
	if !strings.Contains(body, `data-ticket="`+tid+`"`) || !strings.Contains(body, "the key says invalid") || !strings.Contains(body, pl.Order.ID) {
		t.Fatalf("queue:\n%s", body)
	}
	wantRedirect(t, "answer", e.form(olga, "/admin/resale/tickets/"+tid+"/answer?lang=en", url.Values{"text": {"checking with the supplier"}}),
		"/admin/resale/tickets", "resale_answered")
	if body := e.page(olga, "/admin/resale/tickets?lang=en").Body.String(); !strings.Contains(body, "checking with the supplier") {
		t.Fatal("the answer is not in the thread")
	}
	e.next()
	wantRedirect(t, "replace", e.form(olga, "/admin/resale/tickets/"+tid+"/remedy?lang=en", url.Values{"remedy": {"replace"}, "totp": {e.code("olga")}}),
		"/admin/resale/tickets", "done")
	tk, err := e.shop.ResaleTicket("", tid)
	if err != nil || tk.Status != shop.TicketResolved || tk.Remedy != shop.RemedyReplace {
		t.Fatalf("ticket %+v %v", tk, err)
	}
	if w := e.form(olga, "/admin/resale/tickets/"+tid+"/answer?lang=en", url.Values{"text": {"again"}}); w.Code == http.StatusSeeOther {
		t.Fatal("a resolved ticket was answered")
	}
}

// TestReportsShowResaleChannel: the reports page and its CSV split the
// totals between the shop's buyers and resellers, with the resale's exact
// figures (one key at 10% off 9.90 = 8.91; no cost recorded).
func TestReportsShowResaleChannel(t *testing.T) {
	e := newConsoleEnv(t)
	p := e.addProduct(t, "card", "RPT-KEY-0001", "RPT-KEY-0002")
	e.paidOrder(p)
	olga := e.login("olga")
	if body := e.page(olga, "/admin/reports?lang=en").Body.String(); strings.Contains(body, `data-channel=`) {
		t.Fatal("a shop without resale shows channels")
	}
	id, _ := crypto.NewIdentity(crypto.X25519)
	var rk string
	err := e.db.Update(func(tx *store.Txn) error {
		r, err := e.shop.CreateResellerTx(tx, shop.ResellerSpec{Name: "agent", Recipient: id.Recipient(), Currency: "CNY", PercentOff: 10})
		if err != nil {
			return err
		}
		rk = r.ID
		_, err = e.shop.BalanceTx(tx, rk, shop.LedgerTopUp, 5000, "approval-x", "")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.shop.PlaceResale(shop.ResaleRequest{Reseller: rk, Product: p.ID, Quantity: 1, IdemKey: "k"}); err != nil {
		t.Fatal(err)
	}
	pg := e.page(olga, "/admin/reports?lang=en")
	checkHTML(t, pg)
	row := regexp.MustCompile(`<tr data-channel="resale"><td>([^<]*)</td><td class="num">(\d+)</td><td class="num">([^<]*)</td>`).FindStringSubmatch(pg.Body.String())
	if row == nil || row[1] != "Resellers (agent prices)" || row[2] != "1" || row[3] != "¥8.91" {
		t.Fatalf("resale channel row %q", row)
	}
	if !strings.Contains(pg.Body.String(), `<tr data-channel="shop"><td>Shop buyers</td><td class="num">1</td><td class="num">¥9.90</td>`) {
		t.Fatal("no shop channel row")
	}
	csv := e.page(olga, "/admin/reports/csv?lang=en").Body.String()
	if !strings.Contains(csv, "\nchannel_resale,") || !strings.Contains(csv, ",CNY,1,1,8.91,0.00,0.00,0.00,8.91,100.0,") {
		t.Fatalf("CSV:\n%s", csv)
	}
}
