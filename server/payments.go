package server

import (
	"context"
	"errors"
	"fmt"

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
func (s *Server) createInvoice(ctx context.Context, o shop.Order) (shop.Order, error) {
	e := s.payments.epusdt()
	if o.PayWith != "epusdt" || e == nil {
		return o, nil
	}
	ctx, cancel := context.WithTimeout(ctx, pay.DefaultGatewayTimeout)
	defer cancel()
	t, err := e.Create(ctx, o)
	if err == nil {
		inv := shop.Invoice{TradeID: t.TradeID, URL: t.URL, Amount: t.USDT, Unit: "USDT", Address: t.Address, ExpiresAt: t.Expires}
		if err = s.shop.SetInvoice(o.Ref, inv); err == nil {
			o.Invoice = &inv
			return o, nil
		}
	}
	if aerr := s.shop.Abandon(o.Ref); aerr != nil {
		s.log.Error("order not abandoned after a gateway failure", "ref", o.Ref, "err", aerr)
	}
	s.log.Warn("epusdt trade not created", "ref", o.Ref, "reason", err.Error())
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
	return &pages.Invoice{Amount: o.Invoice.Amount + " " + o.Invoice.Unit, Address: o.Invoice.Address, ExpiresAt: o.Invoice.ExpiresAt}
}
