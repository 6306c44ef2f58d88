// Package payments holds the payment rails a shop runs (the providers a
// buyer may pick) and the params of the payment_confirm approval, which
// both sides use: the storefront proposes one when a gateway pays another
// amount (held), the console when staff confirm a manual payment, and
// the console's executor applies it. The HTTP of payments (notify and
// return routes, the manual and demo pages, the Monero watcher) lives in
// server/storefront.
package payments

import (
	"errors"
	"fmt"
	"veil/server/pay"
	"veil/server/shop"
)

// Rails is the set of payment providers a shop runs (--payments LIST): the
// first is the default, a buyer may pick any (pay_with). Each provider
// keeps its own routes; the shop applies a payment once whichever route it
// came through (shop.ApplyPayment is idempotent per provider and trade).
type Rails struct {
	list []pay.Provider
}

// NewRails checks ps: at least one, none nil, no name twice.
func NewRails(ps []pay.Provider) (Rails, error) {
	var r Rails
	for _, p := range ps {
		if p == nil {
			return Rails{}, errors.New("server: nil payment provider")
		}
		if r.Get(p.Name()) != nil {
			return Rails{}, fmt.Errorf("server: payment provider %s listed twice", p.Name())
		}
		r.list = append(r.list, p)
	}
	if len(r.list) == 0 {
		return Rails{}, errors.New("server: no payment provider")
	}
	return r, nil
}

// Default is the default provider.
func (r Rails) Default() pay.Provider { return r.list[0] }

// Get is the provider named name, or nil.
func (r Rails) Get(name string) pay.Provider {
	for _, p := range r.list {
		if p.Name() == name {
			return p
		}
	}
	return nil
}

// Names lists the providers in order.
func (r Rails) Names() []string {
	out := make([]string, len(r.list))
	for i, p := range r.list {
		out[i] = p.Name()
	}
	return out
}

// Of is the provider an order was placed with: the one it names, else
// the default (orders from before several providers).
func (r Rails) Of(o shop.Order) pay.Provider {
	if p := r.Get(o.PayWith); p != nil {
		return p
	}
	return r.Default()
}

// Epay is the 易支付 provider when on.
func (r Rails) Epay() pay.Verifier {
	v, _ := r.Get("epay").(pay.Verifier)
	return v
}

// Manual is the manual provider when on.
func (r Rails) Manual() *pay.Manual {
	m, _ := r.Get("manual").(*pay.Manual)
	return m
}

// Epusdt is the epusdt gateway when on.
func (r Rails) Epusdt() *pay.Epusdt {
	if e, ok := r.Get("epusdt").(EpusdtRail); ok {
		return e.Epusdt
	}
	return nil
}

// EpusdtRail makes a *pay.Epusdt one of Config.Providers. Its payment is
// created at the gateway when the order is placed (storefront's createInvoice);
// Start shows the invoice the order keeps.
type EpusdtRail struct{ *pay.Epusdt }

// Start implements pay.Provider: the gateway's cashier URL kept on o.
func (e EpusdtRail) Start(o shop.Order, _ shop.Product) (pay.Start, error) {
	if o.Invoice == nil {
		return pay.Start{}, fmt.Errorf("%w: order %s has no epusdt trade", pay.ErrGateway, o.Ref)
	}
	return pay.Start{Provider: "epusdt", URL: o.Invoice.URL}, nil
}

// Monero is the Monero rail when on.
func (r Rails) Monero() *pay.Monero {
	if m, ok := r.Get("monero").(MoneroRail); ok {
		return m.Monero
	}
	return nil
}

// MoneroRail makes a *pay.Monero one of Config.Providers. Each order gets
// a fresh subaddress and its XMR amount when placed (storefront's createInvoice);
// Start names the monero: URI the order keeps. The watcher
// (server/storefront) applies what the view-only wallet sees.
type MoneroRail struct{ *pay.Monero }

// Start implements pay.Provider: the order's monero: URI.
func (m MoneroRail) Start(o shop.Order, _ shop.Product) (pay.Start, error) {
	if o.Invoice == nil || o.Invoice.Unit != "XMR" {
		return pay.Start{}, fmt.Errorf("%w: order %s has no Monero subaddress", pay.ErrGateway, o.Ref)
	}
	return pay.Start{Provider: "monero", URL: o.Invoice.URL}, nil
}

// ConfirmParams are the params of a payment_confirm approval. Mode
// "manual": staff received AmountMinor outside any gateway (the manual
// provider). Mode "held": a gateway payment (Provider, TradeNo) of
// another amount than the order's waits to be accepted.
type ConfirmParams struct {
	Mode        string `json:"mode"`
	AmountMinor int64  `json:"amount_minor"`
	Provider    string `json:"provider,omitempty"`
	TradeNo     string `json:"trade_no,omitempty"`
	// Product lets the console reconcile the product's stock pool after
	// the approval ran (a late confirmation takes keys in a transaction
	// the shop does not own).
	Product string `json:"product,omitempty"`
}

// The modes of ConfirmParams.
const (
	ConfirmManual = "manual"
	ConfirmHeld   = "held"
)
