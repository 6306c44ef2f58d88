// Package storefront is veil's buyer side: the JSON API of API.md (products,
// orders, the order by token, tickets, chat), the HTML pages that work with
// JavaScript off (catalog, product, checkout, token, order, notices), the
// payment routes (易支付 and epusdt notifies, returns, the manual and demo
// pages) and the Monero watcher, the checkout nonce and the hoarding guard.
//
// Routes are declared in routes.go. A buyer handler is a plain
// http.HandlerFunc; Routes wraps each in web.Site.Buyer (request log, rate
// limit, body limit). A handler that needs the order token reads it once
// at the edge (bearer, or the form's token field), parses it with
// crypto.ParseToken and hands the crypto.Token inward.
package storefront

import (
	"crypto/rand"
	"errors"
	"time"

	"veil/server/payments"
	"veil/server/pow"
	"veil/server/web"
	"veil/static"
)

// Config is what the storefront needs beside the shared Site.
type Config struct {
	Rails payments.Rails
	// Demo enables POST /api/v1/pay/demo and the /pay/demo page.
	Demo bool
	// MoneroPoll is how often the Monero watcher asks the wallet (> 0).
	MoneroPoll time.Duration
	// HoardGuard turns on the hoarding guard (hoard.go).
	HoardGuard bool
	// CoolingOffRefund refunds the order ref in full within its
	// cooling-off period (the console's policy approval); nil: refused with
	// 503 refunds_unavailable (a shop without a console).
	CoolingOffRefund func(ref string) error
	// AskStaff is told the order ref of a chat question the automatic
	// answers could not answer (autoanswer.go); nil: the log line only.
	AskStaff func(ref string)
}

// Server serves buyers. Build it with New; it is safe for concurrent use.
type Server struct {
	*web.Site
	payments payments.Rails
	demo     bool
	// moneroPoll is Config.MoneroPoll.
	moneroPoll time.Duration
	// holderKey keys the HMAC that turns a client address into the opaque
	// holder of shop.OrderRequest; random per process, never stored.
	holderKey [32]byte
	// nonces are the one-time checkout nonces used (checkout_once.go).
	nonces *checkoutNonces
	// scripts are the hashed URLs of the page scripts (chat.js, wallet.js).
	chatJS, walletJS string
	// guard is the hoarding guard's proof of work, nil unless
	// Config.HoardGuard.
	guard  *pow.Guard
	delays delayTickets // delay tickets out (hoard.go)
	// coolingOffRefund is Config.CoolingOffRefund.
	coolingOffRefund func(ref string) error
	// unsure and askStaff: automatic answers that need a person
	// (autoanswer.go); askStaff is Config.AskStaff.
	unsure   unsureLog
	askStaff func(ref string)
}

// New builds the buyer side on site.
func New(site *web.Site, cfg Config) (*Server, error) {
	s := &Server{
		Site:             site,
		payments:         cfg.Rails,
		demo:             cfg.Demo,
		moneroPoll:       cfg.MoneroPoll,
		chatJS:           static.Path("chat.js"),
		walletJS:         static.Path("wallet.js"),
		nonces:           newCheckoutNonces(),
		coolingOffRefund: cfg.CoolingOffRefund,
		askStaff:         cfg.AskStaff,
	}
	if s.chatJS == "" || s.walletJS == "" {
		return nil, errors.New("server: static assets missing")
	}
	_, _ = rand.Read(s.holderKey[:]) // never fails as of Go 1.24
	if cfg.HoardGuard {
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		s.guard = pow.NewWith(key, site.Now, pow.DefaultMaxSeen)
	}
	return s, nil
}
