package server

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"veil/server/pow"
)

func hoardEnv(t *testing.T) (*env, *payClock) {
	clock := &payClock{}
	clock.Add(time.Duration(time.Now().UnixNano()))
	e := newEnv(t, func(c *Config) { c.HoardGuard = true; c.Now = clock.Now })
	return e, clock
}

// TestHoardGuardAPI: unpaid orders hold at most half a product's stock
// without work; the next gets 428 pow_required with a challenge; paid
// work places it; the same challenge pays once; a paid order leaves the
// count.
func TestHoardGuardAPI(t *testing.T) {
	e, _ := hoardEnv(t)
	p := e.addProduct(t, "card", "K1", "K2", "K3", "K4", "K5", "K6")
	first := e.placeAPI(t, p.ID, 1)
	e.placeAPI(t, p.ID, 1)
	e.placeAPI(t, p.ID, 1)
	w := e.postJSON(t, "/api/v1/orders", `{"product":"card","quantity":1}`)
	var ans struct {
		Error struct{ Code string }
		Pow   struct {
			Challenge string
			Bits      int
		}
	}
	if w.Code != http.StatusPreconditionRequired || json.Unmarshal(w.Body.Bytes(), &ans) != nil ||
		ans.Error.Code != "pow_required" || ans.Pow.Challenge == "" || ans.Pow.Bits != pow.HoldBits(4, 6) {
		t.Fatalf("fourth unpaid order: %d %s", w.Code, w.Body)
	}
	if got := e.shop.UnpaidHeld(p.ID); got != 3 {
		t.Fatalf("held after the refusal: %d", got)
	}
	nonce, err := pow.Solve(context.Background(), ans.Pow.Challenge, ans.Pow.Bits)
	if err != nil {
		t.Fatal(err)
	}
	body := `{"product":"card","quantity":1,"pow":{"challenge":"` + ans.Pow.Challenge + `","nonce":"` + nonce + `"}}`
	if w := e.postJSON(t, "/api/v1/orders", body); w.Code != http.StatusCreated {
		t.Fatalf("with work: %d %s", w.Code, w.Body)
	}
	if w := e.postJSON(t, "/api/v1/orders", body); w.Code != http.StatusPreconditionRequired {
		t.Fatalf("the same work again: %d %s", w.Code, w.Body)
	}
	if w := e.postJSON(t, "/api/v1/orders", `{"product":"card","quantity":1,"pow":{"challenge":"x"}}`); w.Code != http.StatusBadRequest {
		t.Fatalf("pow without a nonce: %d %s", w.Code, w.Body)
	}
	// Paying one order frees its place under the line.
	if w := e.postJSON(t, "/api/v1/pay/demo", `{"ref":"`+first.Ref+`"}`); w.Code != http.StatusOK {
		t.Fatalf("pay: %d %s", w.Code, w.Body)
	}
	if got := e.shop.UnpaidHeld(p.ID); got != 3 {
		t.Fatalf("held after a payment: %d, want 3", got)
	}
	// 5 left of which 3 held, 2 available: 4 of 5 held is over half.
	if w := e.postJSON(t, "/api/v1/orders", `{"product":"card","quantity":1}`); w.Code != http.StatusPreconditionRequired {
		t.Fatalf("still over half: %d %s", w.Code, w.Body)
	}
}

// TestHoardGuardLoneUnit: a product with one key sells without work.
func TestHoardGuardLoneUnit(t *testing.T) {
	e, _ := hoardEnv(t)
	p := e.addProduct(t, "one", "K1")
	e.placeAPI(t, p.ID, 1)
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// formOf reads the hidden fields of the form with id in page.
func formOf(t *testing.T, page, id string) url.Values {
	t.Helper()
	i := strings.Index(page, `id="`+id+`"`)
	if i < 0 {
		t.Fatalf("no form %s in:\n%s", id, page)
	}
	end := strings.Index(page[i:], "</form>")
	f := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(page[i:i+end], -1) {
		f.Set(m[1], html.UnescapeString(m[2]))
	}
	return f
}

// TestHoardGuardCheckoutPage: the product form past the line gets the
// "one more step" page (428): a form for the Web Worker, carrying the
// challenge, and a form without JavaScript that places the order only
// after its wait — too early it says "not yet" and keeps the ticket.
func TestHoardGuardCheckoutPage(t *testing.T) {
	e, clock := hoardEnv(t)
	p := e.addProduct(t, "card", "K1", "K2")
	e.placeAPI(t, p.ID, 1)
	w := e.postForm(t, "/checkout?lang=en", url.Values{"product": {"card"}, "quantity": {"1"}, "pay_with": {"demo"}})
	if w.Code != http.StatusPreconditionRequired {
		t.Fatalf("checkout past the line: %d %s", w.Code, w.Body)
	}
	checkHTML(t, w)
	page := w.Body.String()
	for _, want := range []string{`id="pow-js" hidden`, `data-bits="24"`, "Wait 6", " seconds,", `name="pow_nonce" value="0"`} {
		if !strings.Contains(page, want) {
			t.Fatalf("the page lacks %q:\n%s", want, page)
		}
	}
	js := formOf(t, page, "pow-form")
	if js.Get("product") != "card" || js.Get("pay_with") != "demo" || js.Get("pow_challenge") == "" {
		t.Fatalf("worker form: %v", js)
	}
	wait := formOf(t, page, "pow-wait-form")
	w = e.postForm(t, "/checkout?lang=en", wait)
	if w.Code != http.StatusPreconditionRequired || !strings.Contains(w.Body.String(), "Not yet") ||
		formOf(t, w.Body.String(), "pow-wait-form").Get("pow_challenge") != wait.Get("pow_challenge") {
		t.Fatalf("too early: %d %s", w.Code, w.Body)
	}
	clock.Add(59 * time.Second)
	if w := e.postForm(t, "/checkout?lang=en", wait); w.Code != http.StatusPreconditionRequired {
		t.Fatalf("a second early: %d", w.Code)
	}
	clock.Add(2 * time.Second) // the ticket's start is rounded up to the second
	w = e.postForm(t, "/checkout?lang=en", wait)
	if w.Code != http.StatusOK || tokenFromPage(t, w.Body.String()) == "" {
		t.Fatalf("after the wait: %d %s", w.Code, w.Body)
	}
	// The worker's form, paid, places an order too (stock allowing).
	e2, _ := hoardEnv(t)
	p2 := e2.addProduct(t, "card", "K1", "K2", "K3", "K4")
	e2.placeAPI(t, p2.ID, 1)
	e2.placeAPI(t, p2.ID, 1)
	w = e2.postForm(t, "/checkout?lang=en", url.Values{"product": {"card"}, "quantity": {"1"}})
	js = formOf(t, w.Body.String(), "pow-form")
	nonce, err := pow.Solve(context.Background(), js.Get("pow_challenge"), pow.HoldBits(3, 4))
	if err != nil {
		t.Fatal(err)
	}
	js.Set("pow_nonce", nonce)
	if w = e2.postForm(t, "/checkout?lang=en", js); w.Code != http.StatusOK {
		t.Fatalf("worker form with the work: %d %s", w.Code, w.Body)
	}
}
