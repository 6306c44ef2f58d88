package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"veil/crypto"
)

// TestBrowserResale walks the resale console in headless Chromium.
func TestBrowserResale(t *testing.T) {
	b := startBrowser(t)
	t.Run("ResellerJSOff390", func(t *testing.T) { resellerJourney(t, b) })
}

// resellerJourney: on a 390 px phone with JavaScript off, the owner
// creates a reseller account with a code, issues its API secret (shown
// once, gone from the account page after), proposes a top-up without a
// code, approves it on the approvals page with a fresh one, and reads the
// top-up in the ledger. No page is wider than the screen.
func resellerJourney(t *testing.T, b *browser) {
	s := newBrowserShop(t)
	s.product("resale-card", "RESALE-7Q2M-0001")
	id, err := crypto.NewIdentity(crypto.X25519)
	if err != nil {
		t.Fatal(err)
	}
	st := b.newTab(t, "owner", s.ts.URL, "en", false)
	if _, err := chromedp.Call(st.ctx, emulation.SetDeviceMetricsOverride,
		emulation.SetDeviceMetricsOverrideParams{Width: 390, Height: 844, DeviceScaleFactor: 2, Mobile: true}); err != nil {
		t.Fatal(err)
	}
	fits := func(what string) {
		t.Helper()
		if w := eval[int](st, `document.documentElement.scrollWidth - document.documentElement.clientWidth`); w > 0 {
			t.Errorf("%s: the page is %d px wider than a 390 px screen", what, w)
		}
	}
	notice := func(what, key string) {
		t.Helper()
		if got := st.text(`main .notice[role="status"]`); got != s.T("en", key) {
			t.Fatalf("%s: notice %q", what, got)
		}
	}
	staffLogin(t, st, s)

	wantStatus(t, "resellers", st.open("/admin/resellers?lang=en"), http.StatusOK)
	if got := st.text(".empty h2"); got != s.T("en", "admin.resale.empty") {
		t.Fatalf("empty state %q", got)
	}
	fits("resellers (empty)")
	st.typeIn(`#reseller-new input[name="name"]`, "Agent Zhang")
	st.typeIn(`#reseller-new input[name="recipient"]`, id.Recipient())
	st.typeIn(`#reseller-new input[name="percent_off"]`, "5")
	st.typeIn(`#reseller-new input[name="totp"]`, s.nextCode())
	wantStatus(t, "create", st.submit(`#reseller-new button[type="submit"]`), http.StatusOK)
	notice("create", "admin.notice.reseller_created")
	fits("resellers")

	wantStatus(t, "account", st.submit(`#resellers td a`), http.StatusOK)
	keyID := st.text("#reseller-id")
	if !strings.HasPrefix(keyID, "rk_") || strings.Contains(eval[string](st, `document.body.innerHTML`), id.Recipient()) {
		t.Fatalf("account page: key id %q, or the recipient shown in full", keyID)
	}
	fits("account")

	// The secret, once.
	st.typeIn(`#reseller-secret-form input[name="totp"]`, s.nextCode())
	wantStatus(t, "issue secret", st.submit(`#reseller-secret-form button[type="submit"]`), http.StatusOK)
	secret := st.text("#new-secret")
	if !strings.HasPrefix(secret, "rs_") || st.text("#new-key-id") != keyID {
		t.Fatalf("secret page: %q %q", secret, st.text("#new-key-id"))
	}
	fits("secret")
	wantStatus(t, "back to the account", st.submit(`main a.btn`), http.StatusOK)
	if strings.Contains(eval[string](st, `document.documentElement.outerHTML`), secret) {
		t.Fatal("the account page shows the secret again")
	}

	// Top up without a code: it waits; approve with a fresh code.
	st.typeIn(`#reseller-balance-form input[name="amount"]`, "50")
	st.typeIn(`#reseller-balance-form input[name="note"]`, "bank transfer 12-03")
	wantStatus(t, "propose top-up", st.submit(`#reseller-balance-form button[type="submit"]`), http.StatusOK)
	notice("top-up", "admin.notice.queued")
	if acct, err := s.shop.Reseller(keyID); err != nil || acct.BalanceMinor != 0 {
		t.Fatalf("balance before approval: %+v %v", acct, err)
	}
	item := `//ul[contains(@class,"approvals")]/li[.//span[contains(@class,"mono") and normalize-space()=` + xq(keyID) + `]]`
	st.typeIn(item+`//input[@name="totp"]`, s.nextCode())
	wantStatus(t, "approve", st.submit(item+`//button[@value="approve"]`), http.StatusOK)
	notice("approve", "admin.notice.approved")

	wantStatus(t, "account", st.open("/admin/resellers/"+keyID+"?lang=en"), http.StatusOK)
	if got := st.text("#reseller-balance"); got != "¥50.00" {
		t.Errorf("balance tile %q", got)
	}
	if got := st.text(`#ledger tr[data-seq="1"] td.delta`); got != "+¥50.00" {
		t.Errorf("ledger top-up %q", got)
	}
	if got := st.text(`#ledger tr[data-seq="1"]`); !strings.Contains(got, "bank transfer 12-03") {
		t.Errorf("ledger row %q", got)
	}
	fits("account with ledger")
	if acct, _ := s.shop.Reseller(keyID); acct.BalanceMinor != 5000 || acct.PercentOff != 5 {
		t.Errorf("account %+v", acct)
	}
	st.wantCleanConsole()
}
