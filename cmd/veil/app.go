package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"veil/crypto"
	"veil/msg"
	"veil/server"
	"veil/server/notify"
	"veil/server/pay"
	"veil/server/resale"
	"veil/server/shop"
	"veil/server/staff"
	"veil/server/store"
)

// app is an open data directory with its services.
type app struct {
	db      *store.DB
	shop    *shop.Shop
	staff   *staff.Service
	threads *msg.Threads
	notify  *notify.Notifier
	log     *slog.Logger
	dir     string // the data directory, where Close writes the backup seal
	closing sync.Once
}

func openApp(dir string, log *slog.Logger) (*app, error) {
	return openAppWith(dir, log, shop.Config{Logger: log})
}

// openAppWith is openApp with the shop's settings (tests lower the vault's
// work factor).
func openAppWith(dir string, log *slog.Logger, cfg shop.Config) (*app, error) {
	return openAppStore(dir, log, cfg, store.Options{})
}

// openAppStore is openAppWith with the store's options (serve's
// --min-free-mb); the logger is always log.
func openAppStore(dir string, log *slog.Logger, cfg shop.Config, so store.Options) (*app, error) {
	if dir == "" {
		return nil, usagef("--data is required")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	so.Logger = log
	db, err := store.Open(dir, so)
	if err != nil {
		return nil, err
	}
	var sh *shop.Shop // the notifier opens its secrets with the shop's vault
	nt, err := newNotifier(db, log, func() (*crypto.Identity, error) { return sh.NotifyIdentity() })
	if err != nil {
		db.Close()
		return nil, err
	}
	st := staff.New(db, staff.Options{OnPending: func(tx *store.Txn, a staff.Approval) error {
		return nt.Enqueue(tx, notify.ApprovalEvent(a.ID, string(a.Kind), a.Ref))
	}})
	st.RegisterExecutor(staff.KindNotifySettings, staff.RoleOwner, func(tx *store.Txn, a staff.Approval) (string, error) {
		res, err := nt.ApplyTx(tx, a.Params)
		if errors.Is(err, notify.ErrSecretGone) {
			err = fmt.Errorf("%w: %v", staff.ErrExecFailed, err)
		}
		return res, err
	})
	threads := msg.NewThreads(db, nil)
	// An order owed money back becomes an approval in the same commit, so
	// no refund_due order can be missed by the console.
	cfg.OnRefundDue = func(tx *store.Txn, o shop.Order) error {
		_, err := st.ProposeTx(tx, "system", staff.KindRefund, o.Ref, "refund due: "+o.Ref,
			map[string]any{"ref": o.Ref, "product": o.ProductID, "amount_minor": 0, "currency": o.Currency, "reason": "refund_due"})
		if errors.Is(err, staff.ErrUnknownKind) {
			return nil // no console in this process (a CLI command): the order page still shows it
		}
		return err
	}
	// The owner's compensation rule proposes a voucher in the same commit
	// as the late delivery or the refund_due it answers (still an approval).
	cfg.OnCompensate = func(tx *store.Txn, c shop.VoucherProposal) error {
		_, err := st.ProposeTx(tx, "system", staff.KindCompensationVoucher, c.Ref,
			fmt.Sprintf("compensation voucher %d %s (%d%%, %s): %s", c.AmountMinor, c.Currency, c.Percent, c.Cause, c.Ref), c)
		if errors.Is(err, staff.ErrUnknownKind) {
			return nil // no console in this process (a CLI command)
		}
		return err
	}
	cfg.OnPurge = threads.Delete
	cfg.Threads = threads
	cfg.OnRotationDone = func(r shop.Rotation) {
		if err := st.Record("system", "rotation.done", r.Which, fmt.Sprintf("resealed=%d; the old identity is destroyed", r.Done)); err != nil {
			log.Error("audit append failed", "action", "rotation.done", "err", err)
		}
	}
	// VEIL_TEST_UPSTREAM_PAUSE (tests only): a file path; a sourced
	// order's purchase, once the upstream answered and before the local
	// commit, writes it and waits there for good, so a test can kill -9
	// the process at exactly that point.
	// VEIL_FORWARD_POLL (a duration, tests): how often forwarded tickets
	// are read upstream.
	if d, err := time.ParseDuration(os.Getenv("VEIL_FORWARD_POLL")); err == nil && d >= 100*time.Millisecond {
		cfg.ForwardPoll = d
	}
	if p := os.Getenv("VEIL_TEST_UPSTREAM_PAUSE"); p != "" {
		cfg.AfterUpstreamPurchase = func(string) {
			_ = os.WriteFile(p, nil, 0o600)
			select {}
		}
	}
	cfg.Notify = nt
	sh, err = shop.New(db, cfg)
	if err != nil {
		db.Close()
		return nil, err
	}
	// Resale (issue 14): the reseller approvals, and buying upstream for
	// sourced products.
	resale.RegisterExecutors(st, sh)
	sh.SetSourcer(resale.Sourcer{})
	return &app{db: db, shop: sh, staff: st, threads: threads, notify: nt, log: log, dir: dir}, nil
}

// Close is every command's clean close: with the vault unlocked it first
// seals the store as it stands, so that `veil backup` can copy it without
// the passphrase (seal.go), then closes the store.
func (a *app) Close() error {
	a.closing.Do(a.seal)
	return a.db.Close()
}

func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// serveConfig is what serve (and demo) need to run the HTTP server.
type serveConfig struct {
	addr     string
	payments pay.Provider
	// providers, when set, are serve's --payments list (payments unused).
	providers []pay.Provider
	demo      bool
	rateLimit int
	behindTLS bool
	// trustProxy takes the client address from X-Forwarded-For (the entry
	// our proxy appended) for the rate limiter and the unpaid-order cap.
	trustProxy bool
	// publicURL, when set, is the only origin the chat's WebSocket accepts
	// (scheme and host; the Host header is not trusted).
	publicURL string
	// tor: every client shares one address (serve --tor): a global request
	// budget, no per-address cap, bounded connections and tighter timeouts.
	tor bool
	// moneroPoll: how often the Monero watcher polls (0: the default).
	moneroPoll time.Duration
	// ready, if set, is called with the bound address once listening.
	ready func(addr string)
}

// serveHTTP runs the shop until SIGINT/SIGTERM (or ctx), then shuts down
// with a deadline.
func (a *app) serveHTTP(ctx context.Context, c serveConfig) error {
	// The hub answers common questions automatically through the server,
	// which needs the hub: the closure breaks the cycle.
	var srv *server.Server
	var origin func(*http.Request) bool // nil: msg.SameHost
	if c.publicURL != "" {
		var err error
		if origin, err = msg.PublicOrigin(c.publicURL); err != nil {
			return usagef("--public-url must be an absolute http(s) URL such as https://shop.example")
		}
	}
	hub := msg.NewHub(msg.HubConfig{Threads: a.threads, Logger: a.log, Origin: origin,
		AutoAnswer: func(ref, text string) (string, bool) { return srv.AutoAnswer(ref, text) },
		OnOpen: func(ref string) {
			if err := a.notify.Emit(notify.Event{Kind: notify.ChatOpened, Ref: ref}); err != nil {
				a.log.Error("notify: chat_opened", "ref", ref, "err", err)
			}
		}})
	defer hub.Close()
	srv, err := server.New(server.Config{
		Shop: a.shop, Staff: a.staff, Payments: c.payments, Providers: c.providers, DemoPayments: c.demo, MoneroPoll: c.moneroPoll,
		Logger: a.log, RateLimit: c.rateLimit, BehindTLS: c.behindTLS, TrustProxy: c.trustProxy,
		Threads: a.threads, Hub: hub, Store: a.db, Notify: a.notify,
		Tor: c.tor, HoardGuard: true,
		AskStaff: func(ref string) {
			if err := a.notify.Emit(notify.Event{Kind: notify.ChatQuestion, Ref: ref}); err != nil {
				a.log.Error("notify: chat_question", "ref", ref, "err", err)
			}
		},
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	if c.tor {
		ln = newLimitListener(ln, torMaxConns)
		hs.ReadTimeout, hs.IdleTimeout, hs.MaxHeaderBytes = torReadTimeout, torIdleTimeout, torMaxHeaderLen
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	jobs, cancelJobs := context.WithCancel(context.Background())
	jobsDone := make(chan struct{})
	go func() { a.shop.Run(jobs); close(jobsDone) }()
	notifyDone := make(chan struct{})
	go func() { a.notify.Run(jobs); close(notifyDone) }()
	defer func() { <-notifyDone }()
	// Every job ends before serveHTTP returns, so the seal Close takes
	// covers their last writes.
	paymentsDone := make(chan struct{})
	go func() { srv.RunPayments(jobs); close(paymentsDone) }()
	defer func() { <-paymentsDone }()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	a.log.Info("veil: listening", "addr", ln.Addr().String(), "locked", a.shop.Locked())
	if c.ready != nil {
		c.ready(ln.Addr().String())
	}
	select {
	case err = <-errc:
	case <-ctx.Done():
		a.log.Info("veil: shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		err = hs.Shutdown(sctx)
		cancel()
		hub.Close() // Shutdown does not track hijacked WebSockets
	}
	cancelJobs()
	<-jobsDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// newNotifier builds the merchant notifications. VEIL_TELEGRAM_API (an
// http(s) base URL) replaces https://api.telegram.org: tests point it at a
// fake Bot API.
func newNotifier(db *store.DB, log *slog.Logger, id func() (*crypto.Identity, error)) (*notify.Notifier, error) {
	api := os.Getenv("VEIL_TELEGRAM_API")
	if api != "" {
		if u, err := url.Parse(api); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, usagef("VEIL_TELEGRAM_API must be an absolute http(s) URL")
		}
	}
	return notify.New(db, notify.Options{Identity: id, TelegramAPI: api, Logger: log}), nil
}
