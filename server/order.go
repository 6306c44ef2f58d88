package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"veil/crypto"
	"veil/pages"
	"veil/server/pay"
	"veil/server/shop"
)

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
}

type noticeJSON struct {
	Code string `json:"code"`
	At   string `json:"at"`
}

type afterSalesJSON struct {
	WindowEnds *string           `json:"window_ends"` // null until delivered
	Tickets    []json.RawMessage `json:"tickets"`
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
}

// apiOrder is GET /api/v1/order with the token as a Bearer credential.
func (s *Server) apiOrder(w http.ResponseWriter, r *http.Request) {
	token, ok := bearer(r)
	if !ok {
		s.writeError(w, r, errUnauthenticated)
		return
	}
	v, err := s.shop.Retrieve(token)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	o := v.Order
	out := orderJSON{
		Ref: o.Ref, Status: string(o.Status), Product: o.ProductID, Quantity: o.Quantity,
		AmountMinor: o.AmountMinor, Currency: o.Currency, Tier: o.Tier,
		Items:      []itemJSON{},
		AfterSales: afterSalesJSON{Tickets: []json.RawMessage{}},
		Notices:    []noticeJSON{},
	}
	if o.Status != shop.StatusPending {
		for _, it := range v.Items {
			out.Items = append(out.Items, itemJSON{ID: it.ID, Key: it.Key})
		}
	}
	if !o.WindowEnds.IsZero() {
		we := rfc3339(o.WindowEnds)
		out.AfterSales.WindowEnds = &we
	}
	for _, n := range o.Notices {
		out.Notices = append(out.Notices, noticeJSON{Code: n.Code, At: rfc3339(n.At)})
	}
	if o.Status == shop.StatusPending {
		start, err := s.payments.Start(o, v.Product)
		if err != nil {
			s.writeError(w, r, fmt.Errorf("server: start payment for %s: %w", o.Ref, err))
			return
		}
		out.ExpiresAt = rfc3339(o.ExpiresAt)
		out.Payment = &start
	}
	noStore(w)
	writeJSON(w, http.StatusOK, out)
}

// lookupPage is GET /order: the token form.
func (s *Server) lookupPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, &pages.Lookup{Base: s.base(r, s.lang(r))})
}

// orderPage is POST /order: the order of the token in the form.
func (s *Server) orderPage(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	lang := s.lang(r)
	token := strings.TrimSpace(r.PostForm.Get("token"))
	if token == "" {
		s.render(w, r, http.StatusBadRequest, &pages.Lookup{
			Base: s.base(r, lang), Error: s.pages.T(lang, "lookup.err_empty"),
		})
		return
	}
	v, err := s.shop.Retrieve(token)
	if err != nil {
		s.lookupFailed(w, r, lang, err)
		return
	}
	s.renderOrder(w, r, lang, token, v)
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
		s.writeError(w, r, err)
		return
	}
	s.render(w, r, classify(err).status, &pages.Lookup{Base: s.base(r, lang), Error: s.pages.T(lang, key)})
}

// renderOrder shows an order to its token holder.
func (s *Server) renderOrder(w http.ResponseWriter, r *http.Request, lang, token string, v shop.View) {
	o := v.Order
	page := &pages.OrderPage{
		Base:        s.tokenBase(lang, "/order", token),
		Ref:         o.Ref,
		Status:      string(o.Status),
		StatusText:  s.pages.T(lang, "status."+string(o.Status)),
		StatusHint:  s.pages.T(lang, "status_hint."+string(o.Status)),
		ProductName: v.Product.Name.In(lang),
		Quantity:    o.Quantity,
		Amount:      pages.Money(o.AmountMinor, o.Currency),
		Tier:        o.Tier,
		Pending:     o.Status == shop.StatusPending,
		ExpiresAt:   o.ExpiresAt,
		WindowEnds:  o.WindowEnds,
	}
	if !s.pages.Has("status." + string(o.Status)) {
		page.StatusText, page.StatusHint = string(o.Status), ""
	}
	if v.Product.Slug != "" {
		page.ProductPath = "/p/" + url.PathEscape(v.Product.Slug)
	}
	if !page.Pending {
		for _, it := range v.Items {
			page.Items = append(page.Items, pages.Item{ID: it.ID, Key: it.Key})
		}
	}
	page.Delivered = len(page.Items) > 0
	for _, n := range o.Notices {
		key := "notice." + n.Code
		if !s.pages.Has(key) {
			key = "notice.other"
		}
		page.Notices = append(page.Notices, pages.Notice{
			Text: s.pages.T(lang, key), At: n.At, Bad: n.Code == "refund_due" || n.Code == "recalled",
		})
	}
	if page.Pending {
		start, err := s.payments.Start(o, v.Product)
		if err != nil {
			s.writeError(w, r, fmt.Errorf("server: start payment for %s: %w", o.Ref, err))
			return
		}
		page.PayURL = start.URL
	}
	noStore(w)
	s.render(w, r, http.StatusOK, page)
}
