package storefront

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
	"veil/server/web"
)

// errXMRRate: the merchant set no XMR rate for the product's currency, so
// a Monero order cannot be priced (409 xmr_rate_unset); checked before
// the order holds any stock.
var errXMRRate = web.NewError(http.StatusConflict, "xmr_rate_unset", "this shop has no XMR rate for this product's currency yet: pay another way")

// xmrRate is the merchant's rate for currency, or errXMRRate.
func (s *Server) xmrRate(currency string) (pay.XMRRate, error) {
	rates, err := s.Shop.XMRRates()
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
	prov := s.payments.Of(o)
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
	e, m := s.payments.Epusdt(), s.payments.Monero()
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
		if err = s.Shop.SetInvoice(o.Ref, inv); err == nil {
			o.Invoice = &inv
			return o, nil
		}
	}
	if aerr := s.Shop.Abandon(o.Ref); aerr != nil {
		s.Log.Error("order not abandoned after a gateway failure", "ref", o.Ref, "err", aerr)
	}
	s.Log.Warn("payment not created", "provider", o.PayWith, "ref", o.Ref, "reason", err.Error())
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
