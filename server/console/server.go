// Package console is veil's merchant side: the console's JSON API under
// /api/v1/admin and its pages under /admin (API.md "Merchant"), the
// approval executors that carry out what staff approve (refunds,
// replacements, recalls, exports, deletions, settings, payment
// confirmations, product changes, owed payments returned), the cooling-off
// refund by policy, backups and key rotation.
//
// Routes are declared in routes.go on a declarer: open (no session, rate
// limited: sign-in, enrolment), staff (a full session, CSRF on writes),
// reenrol (a recovery-code session too) and upload (a key import's body
// limit). Every console answer is no-store and behind Go's
// CrossOriginProtection. A console handler is an adminHandler: it gets the
// authenticated staff.Session.
package console

import (
	"veil/server/payments"
	"veil/server/staff"
	"veil/server/web"
)

// Config is what the console needs beside the shared Site (whose Staff
// must be set).
type Config struct {
	// Rails are the shop's payment providers: the dashboard lists them, the
	// 易支付 key rotates through them, Monero rates show when it is on.
	Rails payments.Rails
	// AfterDecision runs after staff decide an approval (the storefront's
	// held-payment reconciliation); nil: nothing.
	AfterDecision func(staff.Approval)
}

// Server serves the merchant console. Build it with New; it is safe for
// concurrent use once its routes are declared.
type Server struct {
	*web.Site
	payments payments.Rails
	// rotateEpayKey swaps the 易支付 merchant key (admin_rotation.go); nil
	// unless the payment provider can.
	rotateEpayKey func(key string) error
	// afterDecision is Config.AfterDecision.
	afterDecision func(staff.Approval)
}

// New builds the console on site and registers the approval executors
// with site.Staff.
func New(site *web.Site, cfg Config) *Server {
	s := &Server{Site: site, payments: cfg.Rails, afterDecision: cfg.AfterDecision}
	if kr, ok := cfg.Rails.Get("epay").(interface{ RotateKey(string) error }); ok {
		s.rotateEpayKey = kr.RotateKey
	}
	s.registerExecutors()
	return s
}
