package storefront

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode"

	"veil/crypto"
	"veil/pages"
	"veil/server/pay"
	"veil/server/shop"
	"veil/server/web"
)

// maxProofs caps the old tokens presented for a trust tier in one order.
const maxProofs = shop.MaxProofs

// orderInput is what a buyer sends to place an order.
type orderInput struct {
	product  string
	qty      int
	proofs   []string // old order tokens, for the trust tier
	discount string   // a reward code
	coupon   string   // a merchant coupon or a voucher (commerce)
	payWith  string   // a provider's name; "" the default
	// powChallenge and powNonce are the proof of work the hoarding guard
	// asked for (hoard.go), if any.
	powChallenge, powNonce string
}

// placeOrder is the one way both the API and the checkout form create an
// order: validate, reserve, then ask the provider how to pay.
func (s *Server) placeOrder(r *http.Request, in orderInput) (shop.Placed, shop.Product, pay.Start, error) {
	productRef, qty, proofs := in.product, in.qty, in.proofs
	if strings.TrimSpace(productRef) == "" {
		return shop.Placed{}, shop.Product{}, pay.Start{}, &shop.InputError{Message: "product is required"}
	}
	if len(proofs) > maxProofs {
		return shop.Placed{}, shop.Product{}, pay.Start{}, &shop.InputError{Message: fmt.Sprintf("at most %d proofs", maxProofs)}
	}
	p, err := s.Shop.Product(productRef)
	if err != nil {
		return shop.Placed{}, shop.Product{}, pay.Start{}, err
	}
	if limit := web.MaxPerOrder(p); qty < 1 || qty > limit {
		return shop.Placed{}, p, pay.Start{}, &shop.InputError{Message: fmt.Sprintf("quantity must be between 1 and %d", limit)}
	}
	// Refuse before reserving: a product the provider cannot charge for
	// must not hold stock until its reservation expires.
	prov := s.payments.Default()
	if in.payWith != "" {
		if prov = s.payments.Get(in.payWith); prov == nil {
			return shop.Placed{}, p, pay.Start{}, web.BadRequest("pay_with: this shop takes %s", strings.Join(s.payments.Names(), ", "))
		}
	}
	if c, ok := prov.(pay.CurrencyChecker); ok && !c.Accepts(p.Currency) {
		return shop.Placed{}, p, pay.Start{}, pay.ErrCurrency
	}
	if prov.Name() == "monero" {
		if _, err := s.xmrRate(p.Currency); err != nil {
			return shop.Placed{}, p, pay.Start{}, err
		}
	}
	worked, err := s.checkWork(p, qty, in.powChallenge, in.powNonce)
	if err != nil {
		return shop.Placed{}, p, pay.Start{}, err
	}
	placed, err := s.Shop.Place(shop.OrderRequest{
		Product: p.ID, Quantity: qty, Proofs: proofs,
		Holder: s.holder(r), Discount: strings.TrimSpace(in.discount), PayWith: prov.Name(),
		Coupon: strings.TrimSpace(in.coupon),
	})
	if err != nil {
		return shop.Placed{}, p, pay.Start{}, err
	}
	if !worked {
		if err := s.recheck(p, placed.Order); err != nil {
			return shop.Placed{}, p, pay.Start{}, err
		}
	}
	if placed.Order, err = s.createInvoice(r.Context(), placed.Order); err != nil {
		return shop.Placed{}, p, pay.Start{}, err
	}
	start, err := s.startPayment(placed.Order, p)
	if err != nil {
		// The reservation expires by itself; nothing to undo.
		return shop.Placed{}, p, pay.Start{}, err
	}
	s.Log.Info("order placed", "ref", placed.Order.Ref, "product", p.ID, "quantity", qty)
	return placed, p, start, nil
}

// orderCreated is the 201 answer of POST /api/v1/orders.
type orderCreated struct {
	Token       string    `json:"token"`
	Ref         string    `json:"ref"`
	Status      string    `json:"status"`
	AmountMinor int64     `json:"amount_minor"`
	Currency    string    `json:"currency"`
	Tier        int       `json:"tier"`
	ExpiresAt   string    `json:"expires_at"`
	Payment     pay.Start `json:"payment"`
	// CouponOffMinor is what a coupon or voucher took off (commerce).
	CouponOffMinor int64 `json:"coupon_off_minor,omitempty"`
}

// apiCreateOrder is POST /api/v1/orders.
func (s *Server) apiCreateOrder(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Product  string   `json:"product"`
		Quantity *int     `json:"quantity"`
		Proofs   []string `json:"proofs"`
		Discount string   `json:"discount"`
		Coupon   string   `json:"coupon"`
		// PayWith names one of the shop's providers (payments.go); Pow
		// pays the hoarding guard's challenge (hoard.go).
		PayWith string `json:"pay_with"`
		Pow     *struct {
			Challenge string `json:"challenge"`
			Nonce     string `json:"nonce"`
		} `json:"pow"`
	}
	if err := web.DecodeJSON(r, &req); err != nil {
		s.WriteError(w, r, err)
		return
	}
	qty := 1
	if req.Quantity != nil {
		qty = *req.Quantity
	}
	in := orderInput{product: req.Product, qty: qty, proofs: req.Proofs, discount: req.Discount, coupon: req.Coupon, payWith: req.PayWith}
	if req.Pow != nil {
		in.powChallenge, in.powNonce = req.Pow.Challenge, req.Pow.Nonce
		if in.powChallenge == "" || in.powNonce == "" {
			s.WriteError(w, r, web.BadRequest("pow: challenge and nonce are required"))
			return
		}
	}
	placed, _, start, err := s.placeOrder(r, in)
	if pe := (*powRequiredError)(nil); errors.As(err, &pe) {
		writePowRequired(w, pe)
		return
	}
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	o := placed.Order
	web.NoStore(w)
	web.WriteJSON(w, http.StatusCreated, orderCreated{
		Token: placed.Token, Ref: o.Ref, Status: string(o.Status),
		AmountMinor: o.AmountMinor, Currency: o.Currency, Tier: o.Tier,
		ExpiresAt: web.RFC3339(o.ExpiresAt), Payment: start, CouponOffMinor: o.CouponOff,
	})
}

// checkoutPage is POST /checkout: the product form's target. It creates the
// order and shows its token, once.
func (s *Server) checkoutPage(w http.ResponseWriter, r *http.Request) {
	if err := web.ParseForm(r); err != nil {
		s.WriteError(w, r, err)
		return
	}
	qty, err := strconv.Atoi(strings.TrimSpace(r.PostForm.Get("quantity")))
	if err != nil {
		s.WriteError(w, r, &shop.InputError{Message: "quantity must be a whole number"})
		return
	}
	// A form without a nonce (an older page, a script) places its order
	// as before; one with a used nonce places nothing (checkout_once.go).
	nonce := r.PostForm.Get("nonce")
	if nonce != "" {
		if !checkoutNonceRE.MatchString(nonce) {
			s.WriteError(w, r, web.BadRequest("nonce: reload the product page"))
			return
		}
		if !s.nonces.claim(nonce, s.Now()) {
			web.NoStore(w)
			s.WriteError(w, r, errAlreadyShown)
			return
		}
	}
	placed, p, start, err := s.placeOrder(r, orderInput{
		product: r.PostForm.Get("product"), qty: qty,
		proofs: splitProofs(r.PostForm.Get("proofs")), discount: r.PostForm.Get("discount"),
		coupon:       r.PostForm.Get("coupon"),
		payWith:      r.PostForm.Get("pay_with"),
		powChallenge: r.PostForm.Get("pow_challenge"), powNonce: r.PostForm.Get("pow_nonce"),
	})
	if err != nil {
		if nonce != "" {
			s.nonces.release(nonce)
		}
		if pe := (*powRequiredError)(nil); errors.As(err, &pe) {
			s.renderPow(w, r, pe, p)
			return
		}
		s.WriteError(w, r, err)
		return
	}
	s.renderToken(w, r, s.Lang(r), placed.Token, placed.Order, p, start)
}

// renderToken shows the "save your token" page.
func (s *Server) renderToken(w http.ResponseWriter, r *http.Request, lang, token string, o shop.Order, p shop.Product, start pay.Start) {
	web.NoStore(w)
	page := &pages.TokenPage{
		Base:        s.TokenBase(lang, "/order/saved", token),
		Token:       token,
		Groups:      tokenGroups(token),
		Ref:         o.Ref,
		ProductName: p.Name.In(lang),
		Quantity:    o.Quantity,
		Amount:      pages.Money(o.AmountMinor, o.Currency),
		ExpiresAt:   o.ExpiresAt,
		PayURL:      payLink(o, start),
		PayProvider: start.Provider,
		Invoice:     invoicePage(o),
		Tier:        o.Tier,
	}
	page.Scripts = []string{s.walletJS} // saves the token when the buyer turned the wallet on
	s.Render(w, r, http.StatusOK, page)
}

// splitProofs reads the proofs textarea: one old token a line (commas and
// semicolons also separate; spaces inside a token do not).
func splitProofs(text string) []string {
	var out []string
	for _, p := range strings.FieldsFunc(text, func(r rune) bool {
		return r == '\n' || r == '\r' || r == ',' || r == ';' || r == '，' || r == '；'
	}) {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// holder is the opaque key of this client for the cap on unpaid orders:
// an HMAC of its address under a per-process random key. It lives in the
// shop's memory only and is never logged; after a restart it means nothing.
// With the rate web.Limiter off (RateLimit 0: a load test on loopback, where
// every client shares one address) there is no per-address cap either.
func (s *Server) holder(r *http.Request) string {
	if s.Limiter == nil || s.Tor {
		return ""
	}
	m := hmac.New(sha256.New, s.holderKey[:])
	m.Write([]byte(s.ClientAddr(r)))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// tokenGroups splits a formatted token into its groups for display; an
// unformatted one is cut into fours.
func tokenGroups(token string) []string {
	groups := strings.FieldsFunc(token, func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	if len(groups) != 1 {
		return groups
	}
	var out []string
	for t := groups[0]; len(t) > 0; {
		n := min(4, len(t))
		out = append(out, t[:n])
		t = t[n:]
	}
	return out
}

// tokenPageAgain is POST /order/saved: the token page's language switch. It
// shows the token page again in another language for the token in the
// body; once the order is no longer waiting for payment, the order page.
func (s *Server) tokenPageAgain(w http.ResponseWriter, r *http.Request) {
	if err := web.ParseForm(r); err != nil {
		s.WriteError(w, r, err)
		return
	}
	lang := s.Lang(r)
	t, err := parseOrderToken(strings.TrimSpace(r.PostForm.Get("token")))
	if err != nil {
		s.lookupFailed(w, r, lang, err)
		return
	}
	v, err := s.Shop.LookupToken(t.tok)
	if err != nil {
		s.lookupFailed(w, r, lang, err)
		return
	}
	if v.Order.Status != shop.StatusPending {
		s.showOrder(w, r, lang, t, false, flash{})
		return
	}
	start, err := s.startPayment(v.Order, v.Product)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.renderToken(w, r, lang, t.text, v.Order, v.Product, start)
}

// tokenText is POST /order/token.txt: the token as a plain-text download.
// The token comes in the form body and is checked, so this cannot be used
// to make the shop serve arbitrary text.
func (s *Server) tokenText(w http.ResponseWriter, r *http.Request) {
	if err := web.ParseForm(r); err != nil {
		s.WriteError(w, r, err)
		return
	}
	tok, err := crypto.ParseToken(r.PostForm.Get("token"))
	if err != nil {
		if !errors.Is(err, crypto.ErrTokenMalformed) {
			err = fmt.Errorf("%w: %w", crypto.ErrTokenMalformed, err)
		}
		s.WriteError(w, r, err)
		return
	}
	lang := s.Lang(r)
	ref := tok.Ref()
	scheme := "http"
	if s.TLS {
		scheme = "https"
	}
	var b strings.Builder
	b.WriteString(s.Pages.T(lang, "tokentxt.header") + "\n\n")
	fmt.Fprintf(&b, "%s: %s\n", s.Pages.T(lang, "tokentxt.token"), tok.String())
	fmt.Fprintf(&b, "%s: %s\n", s.Pages.T(lang, "tokentxt.ref"), ref)
	fmt.Fprintf(&b, "%s: %s://%s/order\n\n", s.Pages.T(lang, "tokentxt.lookup"), scheme, r.Host)
	b.WriteString(s.Pages.T(lang, "tokentxt.howto") + "\n")
	web.NoStore(w)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="veil-order-`+safeFilename(ref)+`.txt"`)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(b.String()))
}

// safeFilename keeps letters, digits and dashes.
func safeFilename(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || (r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r))) {
			return r
		}
		return -1
	}, s)
}
