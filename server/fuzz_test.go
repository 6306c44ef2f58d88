package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"veil/crypto"
	"veil/server/pay"
	"veil/server/shop"
	"veil/server/store"
)

// fuzzStatuses are the answers POST /api/v1/orders may give, by code.
var fuzzStatuses = map[string]int{
	"bad_request":       http.StatusBadRequest,
	"token_malformed":   http.StatusBadRequest,
	"product_not_found": http.StatusNotFound,
	"out_of_stock":      http.StatusConflict,
	"tier_limit":        http.StatusForbidden,
	"body_too_large":    http.StatusRequestEntityTooLarge,
	"rate_limited":      http.StatusTooManyRequests,
}

// FuzzOrderBody posts arbitrary bodies to POST /api/v1/orders through the
// real handler, over a real shop on a real Badger with the 易支付 provider.
// Every answer must be 201 with a usable order (a token that parses, the
// product's price times the quantity asked, a signed pay URL naming the
// ref) or one of the documented client errors in the exact JSON error
// shape; never a 500 and never a panic.
func FuzzOrderBody(f *testing.F) {
	db, err := store.Open(f.TempDir(), store.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = db.Close() })
	sh, err := shop.New(db, shop.Config{VaultWorkFactor: 10})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := sh.InitVault("test passphrase"); err != nil {
		f.Fatal(err)
	}
	// A unique product that runs out (409 is an answer too) and a shared
	// one whose million seats keep 201 reachable for the whole run.
	prices := map[string]int64{}
	for i, kind := range []shop.Kind{shop.Unique, shop.Shared} {
		p, err := sh.CreateProduct(shop.Product{Slug: string(kind), Name: shop.Text{"en": "Fuzz " + string(kind)},
			PriceMinor: 990 + int64(i), Currency: "CNY", Kind: kind})
		if err != nil {
			f.Fatal(err)
		}
		keys, info := "FUZZ-KEY-1\nFUZZ-KEY-2\nFUZZ-KEY-3\n", shop.BatchInfo{}
		if kind == shop.Shared {
			keys, info = "SHARED-ACCOUNT:pw", shop.BatchInfo{Seats: 1_000_000}
		}
		if _, err := sh.ImportKeys(p.ID, info, strings.NewReader(keys)); err != nil {
			f.Fatal(err)
		}
		prices[p.ID], prices[p.Slug] = p.PriceMinor, p.PriceMinor
	}
	ep, err := pay.NewEpay(pay.EpayConfig{
		PID: "1001", Key: "fuzz-merchant-key", Gateway: "https://pay.example/submit.php", Type: "alipay",
		NotifyURL: "https://shop.example/pay/epay/notify", ReturnURL: "https://shop.example/pay/epay/return",
	})
	if err != nil {
		f.Fatal(err)
	}
	srv, err := New(Config{Shop: sh, Payments: ep, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		f.Fatal(err)
	}
	h := srv.Handler()

	f.Add(`{"product":"unique","quantity":1}`)
	f.Add(`{"product":"shared"}`)
	f.Add(`{"product":"shared","quantity":2,"proofs":["000G-40R4-0M30-E209-185G-R38E-1W81-24GK-G"],"discount":"VEIL-AAAA-BBBB"}`)
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest(http.MethodPost, "/api/v1/orders", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)

		if ct := w.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("%d with Content-Type %q: %s", w.Code, ct, w.Body)
		}
		if w.Code == http.StatusCreated {
			checkCreated(t, body, w.Body.Bytes(), prices)
			return
		}
		var e struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
			t.Fatalf("%d: not the JSON error shape (%v): %s", w.Code, err, w.Body)
		}
		if want, ok := fuzzStatuses[e.Error.Code]; !ok || want != w.Code {
			t.Fatalf("body %q answered %d %s", body, w.Code, w.Body)
		}
	})
}

// checkCreated checks a 201 answer against the body that asked for it.
func checkCreated(t *testing.T, body string, answer []byte, prices map[string]int64) {
	t.Helper()
	var req struct {
		Product  string `json:"product"`
		Quantity *int   `json:"quantity"`
	}
	if err := json.Unmarshal([]byte(body), &req); err != nil {
		t.Fatalf("201 for a body that is not an order: %q", body)
	}
	qty := 1
	if req.Quantity != nil {
		qty = *req.Quantity
	}
	var oc orderCreated
	if err := json.Unmarshal(answer, &oc); err != nil {
		t.Fatal(err)
	}
	price, ok := prices[req.Product]
	if !ok {
		t.Fatalf("201 for product %q: %s", req.Product, answer)
	}
	if _, err := crypto.ParseToken(oc.Token); err != nil {
		t.Fatalf("201 with a token that does not parse: %s", answer)
	}
	if oc.Status != string(shop.StatusPending) || oc.Currency != "CNY" || oc.AmountMinor != price*int64(qty) || oc.ExpiresAt == "" {
		t.Fatalf("body %q (quantity %d) answered %s", body, qty, answer)
	}
	u, err := url.Parse(oc.Payment.URL)
	if err != nil || oc.Payment.Provider != "epay" || !strings.HasPrefix(oc.Payment.URL, "https://pay.example/submit.php?") {
		t.Fatalf("payment %+v", oc.Payment)
	}
	q := u.Query()
	if q.Get("out_trade_no") != oc.Ref || q.Get("money") != fmt.Sprintf("%d.%02d", oc.AmountMinor/100, oc.AmountMinor%100) ||
		q.Get("sign") != pay.EpaySign(map[string]string{
			"pid": q.Get("pid"), "type": q.Get("type"), "out_trade_no": q.Get("out_trade_no"), "notify_url": q.Get("notify_url"),
			"return_url": q.Get("return_url"), "name": q.Get("name"), "money": q.Get("money"),
		}, "fuzz-merchant-key") {
		t.Fatalf("pay URL %s for order %s of %d", oc.Payment.URL, oc.Ref, oc.AmountMinor)
	}
}
