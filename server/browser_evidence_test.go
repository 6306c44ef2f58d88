package server_test

// Browser tests of issue 13 §3 and §4: the order page's receipt button
// downloads a receipt that verifies, and the public case library in both
// languages, JavaScript off, on a 390 px phone.

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"veil/crypto"
	"veil/server/shop"
	"veil/server/store"
)

func TestBrowserEvidence(t *testing.T) {
	b := startBrowser(t)
	t.Run("ReceiptButton", func(t *testing.T) { receiptJourney(t, b) })
	t.Run("CasesEn", func(t *testing.T) { casesJourney(t, b, "en") })
	t.Run("CasesZhCN", func(t *testing.T) { casesJourney(t, b, "zh-CN") })
}

// narrow makes the tab a 390 px wide phone.
func narrow(t *testing.T, tb *tab) {
	t.Helper()
	if _, err := chromedp.Call(tb.ctx, emulation.SetDeviceMetricsOverride,
		emulation.SetDeviceMetricsOverrideParams{Width: 390, Height: 844, DeviceScaleFactor: 2, Mobile: true}); err != nil {
		t.Fatal(err)
	}
}

// fits fails when the page is wider than the screen.
func fits(t *testing.T, tb *tab, what string) {
	t.Helper()
	if w := eval[int](tb, `document.documentElement.scrollWidth - document.documentElement.clientWidth`); w > 0 {
		t.Errorf("%s is %d px wider than a 390 px screen", what, w)
	}
}

// receiptJourney: the buyer opens the order by token (JavaScript off, a
// phone), presses "Download signed receipt" — a POST form, the token in
// its body — and gets a file that verifies under the shop's notice key
// and commits to the key on the page.
func receiptJourney(t *testing.T, b *browser) {
	s := newBrowserShop(t)
	const key = "RCP-7Q2M-4K9X-ZP31"
	p := s.product("receipt-card", key)
	placed := s.paidOrder(p)
	tb := b.newTab(t, "buyer", s.ts.URL, "en", false)
	narrow(t, tb)
	wantStatus(t, "lookup page", tb.open("/order"), http.StatusOK)
	tb.typeIn("#token", placed.Token)
	wantStatus(t, "order page", tb.submit(`main form[action^="/order"] button[type="submit"]`), http.StatusOK)
	tb.waitVisible("#receipt-download")
	if got := tb.text("#receipt-download"); got != s.T("en", "receipt.download") {
		t.Errorf("receipt button %q", got)
	}
	fits(t, tb, "the order page")
	if m := eval[string](tb, `document.getElementById("receipt-download").form.method`); m != "post" {
		t.Fatalf("the receipt form is %q, not a POST", m)
	}

	dir := t.TempDir()
	c := chromedp.FromContext(tb.ctx)
	if _, err := chromedp.CallBrowser(tb.ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
		Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir, BrowserContextID: c.BrowserContextID}); err != nil {
		t.Fatal(err)
	}
	before := tb.location()
	tb.click("#receipt-download")
	file := filepath.Join(dir, "receipt-"+placed.Order.Ref+".txt")
	var got []byte
	for deadline := time.Now().Add(journeyTimeout / 2); ; time.Sleep(50 * time.Millisecond) {
		if b, err := os.ReadFile(file); err == nil && strings.HasSuffix(string(b), "-----END VEIL RECEIPT-----\n") {
			got = b
			break
		}
		if time.Now().After(deadline) {
			entries, _ := os.ReadDir(dir)
			t.Fatalf("no receipt downloaded; the directory holds %v", entries)
		}
	}
	r, err := crypto.VerifyReceipt(string(got))
	if err != nil || r.Ref != placed.Order.Ref || r.Fingerprint != s.shop.NoticeFingerprint() || r.Quantity != 1 {
		t.Fatalf("downloaded receipt: %v %+v\n%s", err, r, got)
	}
	if _, ok := r.Match("", key); !ok {
		t.Fatal("the receipt does not commit to the key the page shows")
	}
	if strings.Contains(string(got), key) || strings.Contains(string(got), placed.Token) {
		t.Fatal("the receipt shows the key or the token")
	}
	if after := tb.location(); after != before || strings.Contains(after, "token") {
		t.Errorf("the page moved from %q to %q", before, after)
	}
	tb.wantCleanConsole()
}

// casesJourney: a resolved ticket published as a case shows on /cases in
// lang with the staff text, the problem and the remedy, and with no ref,
// token, ticket id or key anywhere in the page; the filter narrows to
// another product's empty state; the product page shows its record and
// links to its cases. JavaScript off, a 390 px phone.
func casesJourney(t *testing.T, b *browser, lang string) {
	s := newBrowserShop(t)
	p := s.product("case-card", "CAS-0001-K7Q2-ZX9M", "CAS-0002-P3W8-LT4N")
	q := s.product("quiet-card", "QUI-0001-H6R1-VB5C")
	placed := s.paidOrder(p)
	tk, err := s.shop.OpenTicket(placed.Token, shop.ReasonKeyInvalid, "")
	if err != nil {
		t.Fatal(err)
	}
	text := shop.Text{"en": "The platform refused the key; we sent a fresh one.", "zh-CN": "平台拒绝了卡密，已补发新卡密。"}
	err = s.db.Update(func(tx *store.Txn) error {
		if err := s.shop.MarkProposedTx(tx, tk.ID, shop.RemedyReplace, 0, "1", false); err != nil {
			return err
		}
		if _, err := s.shop.ReplaceTx(tx, placed.Order.Ref, "", tk.ID); err != nil {
			return err
		}
		_, err := s.shop.PublishCaseTx(tx, shop.CaseDraft{Ticket: tk.ID, Text: text})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	tb := b.newTab(t, "visitor", s.ts.URL, lang, false)
	narrow(t, tb)
	wantStatus(t, "catalog", tb.open("/"), http.StatusOK)
	wantStatus(t, "cases", tb.submit(`//nav//a[normalize-space()=`+xq(s.T(lang, "nav.cases"))+`]`), http.StatusOK)
	if got := tb.text("main h1"); got != s.T(lang, "cases.title") {
		t.Fatalf("cases heading %q", got)
	}
	if got := tb.text("article.case p.guide"); got != text[lang] {
		t.Errorf("case text %q, want %q", got, text[lang])
	}
	facts := tb.text("article.case dl.facts")
	for _, want := range []string{s.T(lang, "reason.key_invalid"), s.T(lang, "remedy.replace")} {
		if !strings.Contains(facts, want) {
			t.Errorf("case lacks %q:\n%s", want, facts)
		}
	}
	html := eval[string](tb, `document.documentElement.outerHTML`)
	for _, secret := range []string{placed.Order.Ref, placed.Token, tk.ID, "CAS-0001", "CAS-0002"} {
		if strings.Contains(html, secret) {
			t.Errorf("the cases page shows %q", secret)
		}
	}
	fits(t, tb, "the cases page")

	// The filter, without JavaScript: another product has no case yet.
	if err := chromedp.Do(tb.ctx, chromedp.SetValue("#case-product", q.Slug)); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "filtered", tb.submit(`form.filters button[type="submit"]`), http.StatusOK)
	if got := tb.text(".empty h2"); got != s.T(lang, "cases.empty_title") {
		t.Errorf("empty state %q", got)
	}
	if !strings.Contains(tb.text(".empty p"), q.Name[lang]) {
		t.Errorf("the empty state does not name %s", q.Name[lang])
	}

	// The product page's record links to its one case.
	wantStatus(t, "product page", tb.open("/p/case-card"), http.StatusOK)
	tb.waitVisible("#record")
	record := tb.text("#record")
	for _, want := range []string{s.T(lang, "figures.rate"), "100.0%"} {
		if !strings.Contains(record, want) {
			t.Errorf("record lacks %q:\n%s", want, record)
		}
	}
	fits(t, tb, "the product page")
	wantStatus(t, "product cases", tb.submit(`#record a[href^="/cases"]`), http.StatusOK)
	if n := len(tb.texts("article.case")); n != 1 {
		t.Errorf("%d cases shown for the product, want 1", n)
	}
	tb.wantCleanConsole()
}
