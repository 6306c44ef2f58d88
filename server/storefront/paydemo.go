package storefront

import (
	"net/http"
	"strings"

	"veil/pages"
	"veil/server/pay"
	"veil/server/shop"
	"veil/server/web"
)

// apiPayDemo is POST /api/v1/pay/demo {"ref"}: the demo provider's "the
// buyer paid". Routed only with DemoPayments.
func (s *Server) apiPayDemo(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Ref string `json:"ref"`
	}
	if err := web.DecodeJSON(r, &req); err != nil {
		s.WriteError(w, r, err)
		return
	}
	o, err := s.payDemo(req.Ref)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, struct {
		Ref    string `json:"ref"`
		Status string `json:"status"`
	}{o.Ref, string(o.Status)})
}

// payDemo pays the order with ref in full.
func (s *Server) payDemo(ref string) (shop.Order, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return shop.Order{}, &shop.InputError{Message: "ref is required"}
	}
	o, err := s.Shop.OrderByRef(ref)
	if err != nil {
		return shop.Order{}, err
	}
	o, err = s.Shop.Pay(o.Ref, pay.DemoPayment(o))
	if err != nil {
		return shop.Order{}, err
	}
	s.Log.Info("demo payment", "ref", o.Ref, "status", string(o.Status))
	return o, nil
}

// payable says whether a payment may still be applied: a late payment of an
// expired order re-reserves or turns into a refund, as the shop decides.
func payable(st shop.Status) bool {
	return st == shop.StatusPending || st == shop.StatusExpired
}

// paid says whether the buyer's money has arrived.
func paid(st shop.Status) bool {
	switch st {
	case shop.StatusPaid, shop.StatusDelivered, shop.StatusSettled, shop.StatusReplaced, shop.StatusPartiallyRefunded:
		return true
	}
	return false
}

// payDemoPage is GET /pay/demo?ref=R-…: the order's amount and a button.
func (s *Server) payDemoPage(w http.ResponseWriter, r *http.Request) {
	ref := strings.TrimSpace(r.URL.Query().Get("ref"))
	if ref == "" {
		s.WriteError(w, r, &shop.InputError{Message: "ref is required"})
		return
	}
	o, err := s.Shop.OrderByRef(ref)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.renderPayDemo(w, r, o)
}

// payDemoSubmit is POST /pay/demo: the button.
func (s *Server) payDemoSubmit(w http.ResponseWriter, r *http.Request) {
	if err := web.ParseForm(r); err != nil {
		s.WriteError(w, r, err)
		return
	}
	o, err := s.payDemo(r.PostForm.Get("ref"))
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.renderPayDemo(w, r, o)
}

func (s *Server) renderPayDemo(w http.ResponseWriter, r *http.Request, o shop.Order) {
	lang := s.Lang(r)
	page := &pages.PayDemo{
		Base:      s.Base(r, lang),
		Ref:       o.Ref,
		Amount:    pages.Money(o.AmountMinor, o.Currency),
		Status:    s.Pages.T(lang, "status."+string(o.Status)),
		Payable:   payable(o.Status),
		Paid:      paid(o.Status),
		ExpiresAt: o.ExpiresAt,
	}
	if p, err := s.Shop.Product(o.ProductID); err == nil {
		page.ProductName = p.Name.In(lang)
	}
	s.Render(w, r, http.StatusOK, page)
}
