package server

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"

	"veil/pages"
	"veil/server/pay"
	"veil/server/shop"
)

// rails is the set of payment providers a shop runs (--payments LIST): the
// first is the default, a buyer may pick any (pay_with). Each provider
// keeps its own routes; the shop applies a payment once whichever route it
// came through (shop.ApplyPayment is idempotent per provider and trade).
type rails struct {
	list []pay.Provider
}

func newRails(ps []pay.Provider) (rails, error) {
	var r rails
	for _, p := range ps {
		if p == nil {
			return rails{}, errors.New("server: nil payment provider")
		}
		if r.get(p.Name()) != nil {
			return rails{}, fmt.Errorf("server: payment provider %s listed twice", p.Name())
		}
		r.list = append(r.list, p)
	}
	if len(r.list) == 0 {
		return rails{}, errors.New("server: no payment provider")
	}
	return r, nil
}

// def is the default provider.
func (r rails) def() pay.Provider { return r.list[0] }

// get is the provider named name, or nil.
func (r rails) get(name string) pay.Provider {
	for _, p := range r.list {
		if p.Name() == name {
			return p
		}
	}
	return nil
}

// names lists the providers in order.
func (r rails) names() []string {
	out := make([]string, len(r.list))
	for i, p := range r.list {
		out[i] = p.Name()
	}
	return out
}

// of is the provider an order was placed with: the one it names, else
// the default (orders from before several providers).
func (r rails) of(o shop.Order) pay.Provider {
	if p := r.get(o.PayWith); p != nil {
		return p
	}
	return r.def()
}

// epay is the 易支付 provider when on.
func (r rails) epay() pay.Verifier {
	v, _ := r.get("epay").(pay.Verifier)
	return v
}

// manual is the manual provider when on.
func (r rails) manual() *pay.Manual {
	m, _ := r.get("manual").(*pay.Manual)
	return m
}

// epusdt is the epusdt gateway when on.
func (r rails) epusdt() *pay.Epusdt {
	if e, ok := r.get("epusdt").(EpusdtRail); ok {
		return e.Epusdt
	}
	return nil
}

// EpusdtRail makes a *pay.Epusdt one of Config.Providers. Its payment is
// created at the gateway when the order is placed (Server.createInvoice);
// Start shows the invoice the order keeps.
type EpusdtRail struct{ *pay.Epusdt }

// Start implements pay.Provider: the gateway's cashier URL kept on o.
func (e EpusdtRail) Start(o shop.Order, _ shop.Product) (pay.Start, error) {
	if o.Invoice == nil {
		return pay.Start{}, fmt.Errorf("%w: order %s has no epusdt trade", pay.ErrGateway, o.Ref)
	}
	return pay.Start{Provider: "epusdt", URL: o.Invoice.URL}, nil
}

// monero is the Monero rail when on.
func (r rails) monero() *pay.Monero {
	if m, ok := r.get("monero").(MoneroRail); ok {
		return m.Monero
	}
	return nil
}

// MoneroRail makes a *pay.Monero one of Config.Providers. Each order gets
// a fresh subaddress and its XMR amount when placed (Server.createInvoice);
// Start names the monero: URI the order keeps. The watcher
// (monero_watch.go) applies what the view-only wallet sees.
type MoneroRail struct{ *pay.Monero }

// Start implements pay.Provider: the order's monero: URI.
func (m MoneroRail) Start(o shop.Order, _ shop.Product) (pay.Start, error) {
	if o.Invoice == nil || o.Invoice.Unit != "XMR" {
		return pay.Start{}, fmt.Errorf("%w: order %s has no Monero subaddress", pay.ErrGateway, o.Ref)
	}
	return pay.Start{Provider: "monero", URL: o.Invoice.URL}, nil
}

// errXMRRate: the merchant set no XMR rate for the product's currency, so
// a Monero order cannot be priced (409 xmr_rate_unset); checked before
// the order holds any stock.
var errXMRRate = &httpError{http.StatusConflict, "xmr_rate_unset", "this shop has no XMR rate for this product's currency yet: pay another way"}

// xmrRate is the merchant's rate for currency, or errXMRRate.
func (s *Server) xmrRate(currency string) (pay.XMRRate, error) {
	rates, err := s.shop.XMRRates()
	if err != nil {
		return pay.XMRRate{}, err
	}
	r := rates[currency]
	if r <= 0 {
		return pay.XMRRate{}, errXMRRate
	}
	return pay.XMRRate{Currency: currency, MinorPerXMR: r}, nil
}

// startPayment is how the buyer pays o: its own provider's start.
func (s *Server) startPayment(o shop.Order, p shop.Product) (pay.Start, error) {
	prov := s.payments.of(o)
	start, err := prov.Start(o, p)
	if err != nil {
		return pay.Start{}, fmt.Errorf("server: start %s payment for %s: %w", prov.Name(), o.Ref, err)
	}
	return start, nil
}

// createInvoice asks a gateway that needs it (epusdt) to create the
// payment of a just-placed order and keeps the answer on the order. The
// order is placed first because the gateway signs its ref and final
// amount (after tier and discount); on any failure the order is abandoned
// at once, its stock and discount code given back, and the buyer gets 502
// gateway_error — no order is left holding stock for a payment nobody can
// make.
//
// A Monero order gets a fresh subaddress of the view-only wallet and its
// XMR amount, fixed now at the merchant's rate (rounded up).
func (s *Server) createInvoice(ctx context.Context, o shop.Order) (shop.Order, error) {
	e, m := s.payments.epusdt(), s.payments.monero()
	var create func(context.Context) (shop.Invoice, error)
	switch {
	case o.PayWith == "epusdt" && e != nil:
		create = func(ctx context.Context) (shop.Invoice, error) {
			t, err := e.Create(ctx, o)
			if err != nil {
				return shop.Invoice{}, err
			}
			return shop.Invoice{TradeID: t.TradeID, URL: t.URL, Amount: t.USDT, Unit: "USDT", Address: t.Address, ExpiresAt: t.Expires}, nil
		}
	case o.PayWith == "monero" && m != nil:
		create = func(ctx context.Context) (shop.Invoice, error) {
			rate, err := s.xmrRate(o.Currency)
			if err != nil {
				return shop.Invoice{}, err
			}
			inv, err := m.Create(ctx, o, rate)
			if err != nil {
				return shop.Invoice{}, err
			}
			return shop.Invoice{TradeID: moneroTrade(inv.Index), URL: inv.URI, Amount: inv.XMR, Unit: "XMR",
				Address: inv.Address, Index: inv.Index, Atomic: inv.Atomic}, nil
		}
	default:
		return o, nil
	}
	ctx, cancel := context.WithTimeout(ctx, pay.DefaultGatewayTimeout)
	defer cancel()
	inv, err := create(ctx)
	if err == nil {
		if err = s.shop.SetInvoice(o.Ref, inv); err == nil {
			o.Invoice = &inv
			return o, nil
		}
	}
	if aerr := s.shop.Abandon(o.Ref); aerr != nil {
		s.log.Error("order not abandoned after a gateway failure", "ref", o.Ref, "err", aerr)
	}
	s.log.Warn("payment not created", "provider", o.PayWith, "ref", o.Ref, "reason", err.Error())
	if errors.Is(err, errXMRRate) {
		return shop.Order{}, err
	}
	if !errors.Is(err, pay.ErrGateway) {
		err = fmt.Errorf("%w: %w", pay.ErrGateway, err)
	}
	return shop.Order{}, err
}

// invoicePage is o's gateway invoice for its pages, or nil.
func invoicePage(o shop.Order) *pages.Invoice {
	if o.Invoice == nil {
		return nil
	}
	inv := &pages.Invoice{Amount: o.Invoice.Amount + " " + o.Invoice.Unit, Address: o.Invoice.Address, ExpiresAt: o.Invoice.ExpiresAt}
	if o.Invoice.Unit == "XMR" && strings.HasPrefix(o.Invoice.URL, "monero:") {
		// The URI is built by pay.MoneroURI from a checked base58
		// address and a decimal amount: safe as a link.
		inv.URI = template.URL(o.Invoice.URL)
		if qr, err := pay.QRSVG(o.Invoice.URL); err == nil {
			inv.QR = template.HTML(qr)
		}
	}
	return inv
}

// payLink is the pay button's target on the order and token pages: none
// for Monero (the invoice shows the monero: link and its QR code).
func payLink(o shop.Order, start pay.Start) string {
	if o.Invoice != nil && o.Invoice.Unit == "XMR" {
		return ""
	}
	return start.URL
}

// moneroTrade is the trade number of an order's Monero payment: its
// subaddress index, unique per wallet, so a payment applies once. No
// "/": the console names an owed payment by provider/trade.
func moneroTrade(index uint32) string { return fmt.Sprintf("xmr-%d", index) }
