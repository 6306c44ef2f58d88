package storefront

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"veil/crypto"
	"veil/pages"
	"veil/server/pay"
	"veil/server/shop"
	"veil/server/web"
)

// orderToken is an order token as a buyer sent it, parsed once where it
// arrived: tok for the shop and the sealed thread, text (as typed) for the
// page to post back.
type orderToken struct {
	tok  crypto.Token
	text string
}

// parseOrderToken parses a token from a form; crypto.ErrTokenMalformed.
func parseOrderToken(text string) (orderToken, error) {
	tok, err := crypto.ParseToken(text)
	return orderToken{tok: tok, text: text}, err
}

// bearerToken reads and parses the "Authorization: Bearer <token>" header:
// web.ErrUnauthenticated without one, crypto.ErrTokenMalformed for a typo.
func bearerToken(r *http.Request) (crypto.Token, error) {
	token, ok := bearer(r)
	if !ok {
		return crypto.Token{}, web.ErrUnauthenticated
	}
	return crypto.ParseToken(token)
}

// bearer returns the token of an "Authorization: Bearer <token>" header.
func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", false
	}
	return tok, true
}

type itemJSON struct {
	ID  string `json:"id"`
	Key string `json:"key"`
	// State is reported_bad or recalled for a replaced or recalled key.
	State string `json:"state,omitempty"`
	// Compensation marks a key given free on top of the order; Product
	// is its product's slug (issue 13 §1).
	Compensation bool   `json:"compensation,omitempty"`
	Product      string `json:"product,omitempty"`
}

type noticeJSON struct {
	Code string `json:"code"`
	At   string `json:"at"`
}

type afterSalesJSON struct {
	WindowEnds *string       `json:"window_ends"` // null until delivered
	Tickets    []ticketBrief `json:"tickets"`
}

// orderJSON is the 200 answer of GET /api/v1/order. Beyond API.md it adds
// notices, and for an order waiting for payment its deadline and payment.
type orderJSON struct {
	Ref         string         `json:"ref"`
	Status      string         `json:"status"`
	Product     string         `json:"product"`
	Quantity    int            `json:"quantity"`
	AmountMinor int64          `json:"amount_minor"`
	Currency    string         `json:"currency"`
	Tier        int            `json:"tier"`
	Items       []itemJSON     `json:"items"`
	AfterSales  afterSalesJSON `json:"after_sales"`
	Notices     []noticeJSON   `json:"notices"`
	ExpiresAt   string         `json:"expires_at,omitempty"`
	Payment     *pay.Start     `json:"payment,omitempty"`
	// Vouchers are compensation vouchers for the token holder (commerce).
	Vouchers []voucherJSON `json:"vouchers"`
}

// voucherJSON is a compensation voucher as its token holder sees it.
type voucherJSON struct {
	Code        string `json:"code"`
	AmountMinor int64  `json:"amount_minor"`
	Currency    string `json:"currency"`
	Cause       string `json:"cause"`
	Used        bool   `json:"used"`
}

// apiOrder is GET /api/v1/order with the token as a Bearer credential.
func (s *Server) apiOrder(w http.ResponseWriter, r *http.Request) {
	tok, err := bearerToken(r)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	v, err := s.Shop.RetrieveToken(tok)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	o := v.Order
	out := orderJSON{
		Ref: o.Ref, Status: string(o.Status), Product: o.ProductID, Quantity: o.Quantity,
		AmountMinor: o.AmountMinor, Currency: o.Currency, Tier: o.Tier,
		Items:      []itemJSON{},
		AfterSales: afterSalesJSON{Tickets: []ticketBrief{}},
		Notices:    []noticeJSON{},
		Vouchers:   []voucherJSON{},
	}
	for _, vc := range v.Vouchers {
		out.Vouchers = append(out.Vouchers, voucherJSON{Code: vc.Code, AmountMinor: vc.AmountMinor, Currency: vc.Currency,
			Cause: vc.Cause, Used: vc.Used})
	}
	if o.Status != shop.StatusPending {
		for _, it := range v.Items {
			j := itemJSON{ID: it.ID, Key: it.Key, State: string(it.State), Compensation: it.Compensation}
			if it.Compensation {
				if p, err := s.Shop.Product(it.Product); err == nil {
					j.Product = p.Slug
				}
			}
			out.Items = append(out.Items, j)
		}
	}
	if !o.WindowEnds.IsZero() {
		we := web.RFC3339(o.WindowEnds)
		out.AfterSales.WindowEnds = &we
	}
	for _, n := range o.Notices {
		out.Notices = append(out.Notices, noticeJSON{Code: n.Code, At: web.RFC3339(n.At)})
	}
	ts, err := s.Shop.TicketsOf(o.Ref)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	for _, t := range ts {
		out.AfterSales.Tickets = append(out.AfterSales.Tickets, ticketToBrief(t))
	}
	if o.Status == shop.StatusPending {
		start, err := s.startPayment(o, v.Product)
		if err != nil {
			s.WriteError(w, r, err)
			return
		}
		out.ExpiresAt = web.RFC3339(o.ExpiresAt)
		out.Payment = &start
	}
	web.NoStore(w)
	web.WriteJSON(w, http.StatusOK, out)
}

// lookupPage is GET /order: the token form.
func (s *Server) lookupPage(w http.ResponseWriter, r *http.Request) {
	s.Render(w, r, http.StatusOK, s.lookupData(r, s.Lang(r), ""))
}

// lookupData is the token form with the opt-in token wallet's script.
func (s *Server) lookupData(r *http.Request, lang, errText string) *pages.Lookup {
	page := &pages.Lookup{Base: s.Base(r, lang), Error: errText}
	page.Scripts = []string{s.walletJS}
	return page
}

// orderPage is POST /order: the order of the token in the form.
func (s *Server) orderPage(w http.ResponseWriter, r *http.Request) {
	if err := web.ParseForm(r); err != nil {
		s.WriteError(w, r, err)
		return
	}
	lang := s.Lang(r)
	token := strings.TrimSpace(r.PostForm.Get("token"))
	if token == "" {
		s.Render(w, r, http.StatusBadRequest, s.lookupData(r, lang, s.Pages.T(lang, "lookup.err_empty")))
		return
	}
	t, err := parseOrderToken(token)
	if err != nil {
		s.lookupFailed(w, r, lang, err)
		return
	}
	s.showOrder(w, r, lang, t, r.PostForm.Get("reveal") == "1", flash{})
}

// showOrder opens the order of token and shows it. The keys of a product
// with a cooling-off period stay behind a "show my keys" button (reveal)
// until first shown, since showing them ends the offer: the order is then
// read with Lookup, which opens no key and records nothing.
func (s *Server) showOrder(w http.ResponseWriter, r *http.Request, lang string, t orderToken, reveal bool, f flash) {
	v, err := s.Shop.LookupToken(t.tok)
	if err != nil {
		s.lookupFailed(w, r, lang, err)
		return
	}
	o := v.Order
	hidden := !reveal && v.Product.Policy.CoolingOffMinutes > 0 && !o.Revealed && len(o.Payloads) > 0
	if !hidden && len(o.Payloads) > 0 {
		if v, err = s.Shop.RetrieveToken(t.tok); err != nil {
			s.lookupFailed(w, r, lang, err)
			return
		}
	}
	s.renderOrderPage(w, r, lang, t, v, hidden, f)
}

// lookupFailed re-renders the lookup form telling a typo from an unknown
// token; other errors take the usual way.
func (s *Server) lookupFailed(w http.ResponseWriter, r *http.Request, lang string, err error) {
	var key string
	switch {
	case errors.Is(err, crypto.ErrTokenMalformed):
		key = "lookup.err_malformed"
	case errors.Is(err, shop.ErrOrderNotFound):
		key = "lookup.err_not_found"
	default:
		s.WriteError(w, r, err)
		return
	}
	s.Render(w, r, web.Classify(err).Status, s.lookupData(r, lang, s.Pages.T(lang, key)))
}

// renderOrderPage shows an order to its token holder, with its
// after-sales; keysHidden offers "show my keys" instead of the keys, f is
// the outcome of a form.
func (s *Server) renderOrderPage(w http.ResponseWriter, r *http.Request, lang string, t orderToken, v shop.View, keysHidden bool, f flash) {
	o := v.Order
	page := &pages.OrderPage{
		Base:        s.TokenBase(lang, "/order", t.text),
		Ref:         o.Ref,
		Status:      string(o.Status),
		StatusText:  s.Pages.T(lang, "status."+string(o.Status)),
		StatusHint:  s.Pages.T(lang, "status_hint."+string(o.Status)),
		ProductName: v.Product.Name.In(lang),
		Quantity:    o.Quantity,
		Amount:      pages.Money(o.AmountMinor, o.Currency),
		Tier:        o.Tier,
		Pending:     o.Status == shop.StatusPending,
		ExpiresAt:   o.ExpiresAt,
		WindowEnds:  o.WindowEnds,
	}
	if !s.Pages.Has("status." + string(o.Status)) {
		page.StatusText, page.StatusHint = string(o.Status), ""
	}
	if v.Product.Slug != "" {
		page.ProductPath = "/p/" + url.PathEscape(v.Product.Slug)
	}
	if !page.Pending {
		for _, it := range v.Items {
			item := pages.Item{ID: it.ID, Key: it.Key, State: string(it.State), Compensation: it.Compensation}
			if it.Compensation {
				if p, err := s.Shop.Product(it.Product); err == nil {
					item.Product = p.Name.In(lang)
				}
			}
			if item.State != "" {
				item.StateText = s.Pages.T(lang, "key_state."+item.State)
			}
			page.Items = append(page.Items, item)
		}
	}
	page.Delivered = len(page.Items) > 0 || keysHidden
	page.Receipt = o.HasReceipt() // evidence.go
	if keysHidden {
		// "Your keys are below" would be wrong: they wait behind a button.
		page.StatusHint = s.Pages.T(lang, "status_hint.keys_hidden")
	}
	for _, n := range o.Notices {
		key := "notice." + n.Code
		if !s.Pages.Has(key) {
			key = "notice.other"
		}
		page.Notices = append(page.Notices, pages.Notice{Text: s.Pages.T(lang, key), At: n.At, Bad: badNotice(n.Code) || n.Code == "recalled_refund_due"})
	}
	if err := s.orderAfterSales(page, lang, t, v, keysHidden, f); err != nil {
		s.WriteError(w, r, err)
		return
	}
	if page.Pending {
		start, err := s.startPayment(o, v.Product)
		if err != nil {
			s.WriteError(w, r, err)
			return
		}
		page.PayURL, page.Invoice = payLink(o, start), invoicePage(o)
	}
	status := http.StatusOK
	if f.bad && f.status != 0 {
		status = f.status
	}
	web.NoStore(w)
	s.Render(w, r, status, page)
}

// orderAfterSales fills the order page's after-sales part: tickets, the
// thread opened with the token, the forms and the offers.
func (s *Server) orderAfterSales(page *pages.OrderPage, lang string, t orderToken, v shop.View, keysHidden bool, f flash) error {
	o, p := v.Order, v.Product
	page.Token = t.text
	page.KeysHidden = keysHidden
	page.RewardCode = v.RewardCode
	for _, vc := range v.Vouchers {
		page.Vouchers = append(page.Vouchers, pages.VoucherLine{Code: vc.Code, Amount: pages.Money(vc.AmountMinor, vc.Currency), Used: vc.Used})
	}
	if o.CouponOff > 0 {
		page.CouponOff = pages.Money(o.CouponOff, o.Currency)
	}
	page.Flash, page.FlashBad = f.text, f.bad
	if f.bad {
		page.Detail, page.Message = f.detail, f.message
	}
	if s.Shop.CoolingOffOK(o, p) {
		page.CoolingOff, page.CoolingOffEnds = true, coolingOffEnds(o, p)
	}
	if !supportOpen(o) {
		return nil
	}
	page.CanReport = o.Payment != nil
	_, err := s.ThreadRecipients(o)
	page.CanMessage = err == nil
	page.Chat = page.CanMessage && s.Hub != nil
	if page.Chat {
		page.Scripts = append(page.Scripts, s.chatJS)
	}
	for _, rs := range shop.Reasons() {
		page.Reasons = append(page.Reasons, pages.Option{Value: string(rs), Label: s.Pages.T(lang, "reason."+string(rs))})
	}
	for i, id := range o.Items {
		page.ItemOptions = append(page.ItemOptions, pages.Option{Value: id, Label: fmt.Sprintf(s.Pages.T(lang, "order.item_n"), i+1)})
	}
	ts, err := s.Shop.TicketsOf(o.Ref)
	if err != nil {
		return err
	}
	for _, t := range ts {
		pt := pages.Ticket{
			ID: t.ID, Reason: s.Pages.T(lang, "reason."+string(t.Reason)), Status: string(t.Status),
			StatusText: s.Pages.T(lang, "ticket_status."+string(t.Status)), CreatedAt: t.CreatedAt,
		}
		if t.Remedy != "" {
			pt.Remedy = s.Pages.T(lang, "remedy."+string(t.Remedy))
			if t.AmountMinor > 0 {
				pt.Amount = pages.Money(t.AmountMinor, o.Currency)
			}
		}
		page.Tickets = append(page.Tickets, pt)
	}
	ms, err := s.readThread(t.tok, o)
	if err != nil {
		return err
	}
	for _, m := range ms {
		page.Thread = append(page.Thread, pages.ThreadMessage{
			From: m.From, FromText: s.Pages.T(lang, threadFromKey(m.From)), Text: s.ThreadText(lang, m.Text), At: m.At,
		})
	}
	return nil
}
