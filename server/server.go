// Package server is veil's HTTP layer: Config, New and the wiring of its two
// sides on one router (routes.go). What each side serves lives in its own
// package:
//
//   - server/storefront: buyers — the JSON API of API.md, the pages (which
//     work with JavaScript off), payment callbacks and the Monero watcher;
//   - server/console: the merchant console — its API under /api/v1/admin,
//     its pages under /admin, the approval executors;
//   - server/web: what both share — errors and their codes, JSON, the
//     middleware every answer passes through (security headers, body
//     limits, per-address rate limits, a request log that never names a
//     client), languages and page rendering;
//   - server/payments: the payment rails and the payment_confirm params.
package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"veil/msg"
	"veil/pages"
	"veil/server/console"
	"veil/server/notify"
	"veil/server/pay"
	"veil/server/payments"
	"veil/server/resale"
	"veil/server/shop"
	"veil/server/staff"
	"veil/server/store"
	"veil/server/storefront"
	"veil/server/web"
	"veil/static"
)

// Config holds a Server's dependencies and settings.
type Config struct {
	Shop *shop.Shop
	// Notify queues merchant notifications and the console sets them up
	// (issue 12); nil: none.
	Notify *notify.Notifier
	// Staff runs accounts, TOTP, approvals and the audit log (the console).
	// Nil serves the buyer side only.
	Staff *staff.Service
	// Payments starts payments; nil means pay.Demo{} when DemoPayments is
	// set, and is an error otherwise.
	Payments pay.Provider
	// Providers, when set, are the payment providers the buyer chooses
	// from (pay_with), the first the default; Payments is then ignored.
	// Wrap an epusdt gateway in EpusdtRail, a Monero wallet in MoneroRail.
	Providers []pay.Provider
	// DemoPayments enables POST /api/v1/pay/demo and the /pay/demo page.
	DemoPayments bool
	Logger       *slog.Logger
	// RateLimit is the number of requests per minute per client address on
	// buyer routes; 0 turns the limiter off, and with it the cap on unpaid
	// orders one client address may hold (trust tiers). The caller picks
	// the default.
	RateLimit int
	// Tor: every client shares one address (an onion service). The
	// per-address rate limit becomes one global budget of 60 × RateLimit
	// requests a minute, and the per-address cap on unpaid orders is off;
	// nothing keys on the client address.
	Tor bool
	// HoardGuard turns on the address-free hoarding guard (storefront): an
	// order past half a product's stock held unpaid needs proof of work
	// (428 pow_required). veil serve and demo always turn it on.
	HoardGuard bool
	// AskStaff is told the order ref of a chat question the automatic
	// answers could not answer (storefront/autoanswer.go); nil: logged only.
	AskStaff func(ref string)
	// BehindTLS adds Strict-Transport-Security.
	BehindTLS bool
	// TrustProxy takes the client address from X-Forwarded-For (its last
	// entry, the one our proxy appended); otherwise RemoteAddr alone counts.
	TrustProxy bool
	// Now is the clock for page times; nil means time.Now.
	Now func() time.Time
	// MoneroPoll is how often the Monero watcher asks the wallet; 0 means
	// MoneroPoll.
	MoneroPoll time.Duration
	// Threads holds the sealed support threads (ticket details, messages
	// sent with plain forms, chat history). Nil: tickets open without a
	// detail and the thread routes answer 503 support_unavailable.
	Threads *msg.Threads
	// Hub runs the one-time chat rooms, mounted at GET /chat/ws. Nil: the
	// chat routes answer 404 chat_unavailable.
	Hub *msg.Hub
	// Store is the store Shop and Staff use. The console's after-sales
	// operations that must commit together — a ticket's remedy and its
	// approval, a policy-approved remedy or cooling-off refund and its
	// effect — run in its transactions. Nil: remedies are refused with 503
	// support_unavailable and cooling-off refunds wait in the approvals
	// queue for a person.
	Store *store.DB
}

// Server serves the shop: the storefront, and the console when
// Config.Staff is set. Build it with New; it is safe for concurrent use.
type Server struct {
	site    *web.Site
	store   *storefront.Server
	console *console.Server // nil without Config.Staff
	resale  http.Handler    // the reseller API (package resale); nil without Config.Staff
	handler http.Handler
}

// EpusdtRail makes a *pay.Epusdt one of Config.Providers (see
// payments.EpusdtRail).
type EpusdtRail = payments.EpusdtRail

// MoneroRail makes a *pay.Monero one of Config.Providers (see
// payments.MoneroRail).
type MoneroRail = payments.MoneroRail

// MoneroPoll is how often the Monero watcher asks the wallet
// (Config.MoneroPoll overrides it).
const MoneroPoll = storefront.MoneroPoll

// torBudget: with Config.Tor the rate limiter is one budget for all
// clients, this many times the per-address limit (120 → 7,200 requests a
// minute, 120 a second).
const torBudget = 60

// New checks cfg, parses every page template and builds the routes.
func New(cfg Config) (*Server, error) {
	if cfg.Shop == nil {
		return nil, errors.New("server: no shop")
	}
	if len(cfg.Providers) == 0 {
		if cfg.Payments == nil {
			if !cfg.DemoPayments {
				return nil, errors.New("server: no payment provider")
			}
			cfg.Payments = pay.Demo{}
		}
		cfg.Providers = []pay.Provider{cfg.Payments}
	}
	rails, err := payments.NewRails(cfg.Providers)
	if err != nil {
		return nil, err
	}
	if cfg.RateLimit < 0 {
		return nil, fmt.Errorf("server: negative rate limit %d", cfg.RateLimit)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	tpl, err := pages.New()
	if err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	site := &web.Site{
		Shop:    cfg.Shop,
		Staff:   cfg.Staff,
		Threads: cfg.Threads,
		Hub:     cfg.Hub,
		DB:      cfg.Store,
		Pages:   tpl,
		Log:     cfg.Logger,
		Now:     cfg.Now,
		TLS:     cfg.BehindTLS,
		Proxy:   cfg.TrustProxy,
		Tor:     cfg.Tor,
		CSS:     static.Path("veil.css"),
		JS:      static.Path("veil.js"),
		Notify:  cfg.Notify,
	}
	if site.CSS == "" || site.JS == "" {
		return nil, errors.New("server: static assets missing")
	}
	if cfg.RateLimit > 0 {
		site.Limiter = web.NewLimiter(cfg.RateLimit, time.Now)
		if cfg.Tor {
			site.Limiter = web.NewLimiter(torBudget*cfg.RateLimit, time.Now)
		}
	}
	s := &Server{site: site}
	scfg := storefront.Config{
		Rails: rails, Demo: cfg.DemoPayments, MoneroPoll: cmp.Or(cfg.MoneroPoll, MoneroPoll), HoardGuard: cfg.HoardGuard,
		AskStaff: cfg.AskStaff,
	}
	if cfg.Staff != nil {
		// The two sides reach each other through two hooks only: a buyer's
		// cooling-off refund is a console approval, and a decided approval
		// may settle a held payment.
		scfg.CoolingOffRefund = func(ref string) error { return s.console.CoolingOffRefund(ref) }
	}
	if s.store, err = storefront.New(site, scfg); err != nil {
		return nil, err
	}
	if cfg.Staff != nil {
		s.console = console.New(site, console.Config{Rails: rails, AfterDecision: s.store.AfterDecision})
		resale.RegisterExecutors(cfg.Staff, cfg.Shop)
		s.resale = resale.New(resale.Config{Shop: cfg.Shop, Staff: cfg.Staff, Logger: cfg.Logger})
	}
	s.handler = site.SecurityHeaders(s.routes())
	return s, nil
}

// Handler returns the HTTP handler for every route.
func (s *Server) Handler() http.Handler { return s.handler }

// HTTPServer returns an http.Server for addr with timeouts suited to a
// public shop; the caller runs and shuts it down.
func (s *Server) HTTPServer(addr string) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.site.Log.Handler(), slog.LevelWarn),
	}
}

// AutoAnswer answers a chat message from the canned rules when one
// matches (msg.HubConfig.AutoAnswer).
func (s *Server) AutoAnswer(ref, text string) (string, bool) { return s.store.AutoAnswer(ref, text) }

// ReconcileHeld settles held payments whose approval was rejected (or
// failed): each becomes owed back and its order refund_due. It returns how
// many it settled.
func (s *Server) ReconcileHeld() (int, error) { return s.store.ReconcileHeld() }

// AfterDecision applies the side of a decision that runs no executor: a
// rejected held payment is owed back at once.
func (s *Server) AfterDecision(a staff.Approval) { s.store.AfterDecision(a) }

// RunPayments runs ReconcileHeld every minute, and the Monero watcher
// (RunMonero) when the rail is on, until ctx ends.
func (s *Server) RunPayments(ctx context.Context) { s.store.RunPayments(ctx) }

// WatchMonero polls the view-only wallet once and applies what it counted
// (see storefront.Server.WatchMonero).
func (s *Server) WatchMonero(ctx context.Context) error { return s.store.WatchMonero(ctx) }

// RunMonero runs WatchMonero every poll until ctx ends.
func (s *Server) RunMonero(ctx context.Context) { s.store.RunMonero(ctx) }
