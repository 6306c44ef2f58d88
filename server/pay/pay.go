// Package pay holds veil's payment providers. A provider starts a payment
// (a URL the buyer follows, or a form to submit) and, for gateways,
// verifies their callbacks; the shop applies a verified payment
// idempotently (shop.ApplyPayment).
//
// Providers:
//
//   - Demo: a button on a page of ours; no money moves (veil demo).
//   - Epay: the 易支付 protocol (signed submit URL, MD5-signed notify).
//   - Manual: instructions the merchant wrote (bank transfer, crypto
//     address); staff confirm receipt through a TOTP approval.
package pay

import (
	"context"
	"errors"
	"net/url"

	"veil/server/shop"
)

// ErrCurrency: the provider cannot take payments in the order's currency
// (409 currency_unsupported).
var ErrCurrency = errors.New("pay: currency not supported by the provider")

// CurrencyChecker is a provider that takes some currencies only.
type CurrencyChecker interface {
	Accepts(currency string) bool
}

// Start is how a buyer pays an order: follow URL with a GET, or, when
// Method is "POST", submit Fields to URL as a form.
type Start struct {
	Provider string            `json:"provider"`
	URL      string            `json:"url"`
	Method   string            `json:"method,omitempty"` // "" means GET
	Fields   map[string]string `json:"fields,omitempty"` // form fields for POST
}

// Provider starts payments for orders.
type Provider interface {
	// Name is the provider's id as it appears in the API ("demo", "epay",
	// "manual") and in payment records.
	Name() string
	// Start returns where the buyer goes to pay o.
	Start(o shop.Order, p shop.Product) (Start, error)
}

// Verifier is a provider whose gateway calls back: Verify checks a
// callback's parameters and returns the payment they prove. Any error
// means the callback proves nothing and must change nothing.
type Verifier interface {
	Provider
	Verify(params url.Values) (Notification, error)
}

// Querier is a provider that can ask its gateway for the state of an
// order's payment (reconciliation after missed callbacks). Optional: no
// provider of this build implements it yet.
type Querier interface {
	Provider
	Query(ctx context.Context, ref string) (Notification, error)
}

// Notification is a verified payment report from a gateway.
type Notification struct {
	Ref         string // our order reference (out_trade_no)
	TradeNo     string // the gateway's trade number
	AmountMinor int64  // what the gateway says was paid, in minor units
	Currency    string // "CNY" for epay
}

// Payment is the shop's record of the notification: provider, trade
// number and amount — never the payer.
func (n Notification) Payment(provider string) shop.Payment {
	return shop.Payment{Provider: provider, TradeNo: n.TradeNo, AmountMinor: n.AmountMinor}
}

// ErrRefused is wrapped by every verification failure.
var ErrRefused = errors.New("pay: callback refused")

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
