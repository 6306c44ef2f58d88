// Package server is veil's HTTP layer for buyers: the JSON API of API.md,
// the HTML pages (which work with JavaScript off), and the middleware that
// every answer passes through: security headers, body limits, per-address
// rate limits and a request log that never names a client.
package server

import (
	"cmp"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"veil/msg"
	"veil/pages"
	"veil/server/pay"
	"veil/server/pow"
	"veil/server/shop"
	"veil/server/staff"
	"veil/server/store"
	"veil/static"
)

// Config holds a Server's dependencies and settings.
type Config struct {
	Shop *shop.Shop
	// Staff runs accounts, TOTP, approvals and the audit log (the console).
	// Nil serves the buyer side only.
	Staff *staff.Service
	// Payments starts payments; nil means pay.Demo{} when DemoPayments is
	// set, and is an error otherwise.
	Payments pay.Provider
	// Providers, when set, are the payment providers the buyer chooses
	// from (pay_with), the first the default; Payments is then ignored.
	// Wrap an epusdt gateway in EpusdtRail.
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
	// HoardGuard turns on the address-free hoarding guard (hoard.go): an
	// order past half a product's stock held unpaid needs proof of work
	// (428 pow_required). veil serve and demo always turn it on.
	HoardGuard bool
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

// Server serves buyers. Build it with New; it is safe for concurrent use.
type Server struct {
	shop     *shop.Shop
	staff    *staff.Service
	payments rails // the payment providers (payments.go)
	demo     bool
	log      *slog.Logger
	pages    *pages.Templates
	limiter  *limiter
	tls      bool
	proxy    bool
	now      func() time.Time
	// moneroPoll is Config.MoneroPoll.
	moneroPoll time.Duration
	css, js    string
	handler    http.Handler
	threads    *msg.Threads
	hub        *msg.Hub
	db         *store.DB // nil unless Config.Store
	// holderKey keys the HMAC that turns a client address into the opaque
	// holder of shop.OrderRequest; random per process, never stored.
	holderKey [32]byte
	// nonces are the one-time checkout nonces used (checkout_once.go).
	nonces *checkoutNonces
	// scripts are the hashed URLs of the page scripts (chat.js, wallet.js).
	chatJS, walletJS string
	// rotateEpayKey swaps the 易支付 merchant key (admin_rotation.go); nil
	// unless the payment provider can.
	rotateEpayKey func(key string) error
	// tor: every client shares one address (Config.Tor); guard is the
	// hoarding guard's proof of work, nil unless Config.HoardGuard.
	tor    bool
	guard  *pow.Guard
	delays delayTickets // delay tickets out (hoard.go)
}

// maxBody caps every buyer request body, JSON or form: the largest is an
// order with its trust proofs, well under this.
const maxBody = 16 << 10

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
	rs, err := newRails(cfg.Providers)
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
	s := &Server{
		shop:       cfg.Shop,
		staff:      cfg.Staff,
		payments:   rs,
		demo:       cfg.DemoPayments,
		log:        cfg.Logger,
		pages:      tpl,
		tls:        cfg.BehindTLS,
		proxy:      cfg.TrustProxy,
		now:        cfg.Now,
		moneroPoll: cmp.Or(cfg.MoneroPoll, MoneroPoll),
		css:        static.Path("veil.css"),
		js:         static.Path("veil.js"),
		threads:    cfg.Threads,
		hub:        cfg.Hub,
		db:         cfg.Store,
		chatJS:     static.Path("chat.js"),
		walletJS:   static.Path("wallet.js"),
		nonces:     newCheckoutNonces(),
	}
	_, _ = rand.Read(s.holderKey[:]) // never fails as of Go 1.24
	if s.css == "" || s.js == "" || s.chatJS == "" || s.walletJS == "" {
		return nil, errors.New("server: static assets missing")
	}
	if cfg.RateLimit > 0 {
		s.limiter = newLimiter(cfg.RateLimit, time.Now)
		if cfg.Tor {
			s.limiter = newLimiter(torBudget*cfg.RateLimit, time.Now)
		}
	}
	s.tor = cfg.Tor
	if cfg.HoardGuard {
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		s.guard = pow.NewWith(key, cfg.Now, pow.DefaultMaxSeen)
	}
	if kr, ok := rs.get("epay").(interface{ RotateKey(string) error }); ok {
		s.rotateEpayKey = kr.RotateKey
	}
	if s.staff != nil {
		s.registerExecutors()
	}
	s.handler = s.securityHeaders(s.routes())
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
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
}

// routerNotFound and routerMethodNotAllowed answer the router's misses in
// the same shapes as every other error.
func (s *Server) routerNotFound(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, errNotFound)
}

func (s *Server) routerMethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, r, errMethodNotAllowed)
}

func (s *Server) routerPanic(w http.ResponseWriter, r *http.Request, v any) {
	s.log.Error("panic in handler", "method", r.Method, "route", routeOf(r), "panic", fmt.Sprint(v))
	s.writeError(w, r, errors.New("panic"))
}
