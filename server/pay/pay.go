// Package pay holds veil's payment providers. A provider starts a payment
// (a URL the buyer follows) and, for gateways, verifies their callbacks; the
// shop applies a verified payment idempotently.
package pay

import (
	"net/url"

	"veil/server/shop"
)

// Start is how a buyer pays an order.
type Start struct {
	Provider string `json:"provider"`
	URL      string `json:"url"`
}

// Provider starts payments for orders.
type Provider interface {
	// Name is the provider's id as it appears in the API ("demo", "epay").
	Name() string
	// Start returns where the buyer goes to pay o.
	Start(o shop.Order, p shop.Product) (Start, error)
}

// Demo is the demo provider: the buyer presses a button on a page of ours and
// the order counts as paid. Only `veil demo` (or --payments demo) enables it.
type Demo struct{}

var _ Provider = Demo{}

// Name implements Provider.
func (Demo) Name() string { return "demo" }

// Start implements Provider: the URL is veil's own demo payment page.
func (Demo) Start(o shop.Order, _ shop.Product) (Start, error) {
	return Start{Provider: "demo", URL: "/pay/demo?ref=" + url.QueryEscape(o.Ref)}, nil
}

// DemoPayment is the payment record the demo provider produces.
func DemoPayment(o shop.Order) shop.Payment {
	return shop.Payment{Provider: "demo", AmountMinor: o.AmountMinor}
}
