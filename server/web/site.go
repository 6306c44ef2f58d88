// Package web is what veil's two HTTP sides share: the storefront (buyers,
// server/storefront) and the merchant console (server/console).
//
//   - Site: the dependencies both sides serve from (the shop, staff, sealed
//     threads, chat hub, templates, log, clock) and the request settings
//     (TLS, proxy, Tor, the rate limiter). Each side's Server embeds *Site.
//   - Errors: Error/NewError for a refusal with its status and code,
//     Classify mapping any error to the answer a client sees (API.md's
//     codes), and Site.WriteError, every handler's other exit: JSON under
//     /api/, a page in the visitor's language elsewhere.
//   - JSON and forms: DecodeJSON (strict: unknown fields, trailing data),
//     WriteJSON, ParseForm.
//   - Middleware: SecurityHeaders (every answer), Logged (the request log,
//     which never names a client, a path or a header), RateLimited (per
//     client address, Limiter), BodyLimited (MaxBody) and LimitBody,
//     NoStore.
//   - Pages: Site.Lang (?lang=, Accept-Language), Site.Base and TokenBase
//     (page data with the language switch, LangSwitch), Site.Render,
//     SitePath.
//   - Shared answers: WriteProducts (the product list of both APIs) and
//     the support-thread helpers (ReadThread, ThreadText, CleanText).
package web

import (
	"log/slog"
	"net/http"
	"time"

	"veil/msg"
	"veil/pages"
	"veil/server/notify"
	"veil/server/shop"
	"veil/server/staff"
	"veil/server/store"
)

// Site holds what both sides serve from. server.New builds one; it is
// read-only afterwards, so safe for concurrent use.
type Site struct {
	Shop *shop.Shop
	// Staff runs accounts, approvals and the audit log; nil when the
	// server has no console.
	Staff *staff.Service
	// Threads holds the sealed support threads; nil: none (see
	// server.Config.Threads).
	Threads *msg.Threads
	// Hub runs the chat rooms; nil: chat is off.
	Hub *msg.Hub
	// DB is the store Shop and Staff use, for operations that must commit
	// together; nil when not given.
	DB    *store.DB
	Pages *pages.Templates
	Log   *slog.Logger
	// Now is the clock for page times and guards.
	Now func() time.Time
	// TLS: answers carry Strict-Transport-Security and the staff cookie is
	// Secure.
	TLS bool
	// Proxy takes the client address from X-Forwarded-For's last entry.
	Proxy bool
	// Tor: every client shares one address (see server.Config.Tor).
	Tor bool
	// Limiter is the per-address rate limiter; nil turns it off.
	Limiter *Limiter
	// CSS and JS are the hashed URLs of the site's stylesheet and script.
	CSS, JS string
	// Notify queues merchant notifications (issue 12); nil: none.
	Notify *notify.Notifier
}

// MaxBody caps every buyer request body, JSON or form: the largest is an
// order with its trust proofs, well under this.
const MaxBody = 16 << 10

// Buyer wraps a buyer handler in the request log, the rate limiter and the
// body limit, outermost first: how every storefront route is served.
func (s *Site) Buyer(pattern string, h http.HandlerFunc) http.Handler {
	return s.Logged(pattern, s.RateLimited(s.BodyLimited(h)))
}

// Route registers h for method and pattern, and for a GET route the same
// handler for HEAD (httprouter v1.3 does not; net/http drops a HEAD
// answer's body).
func Route(r Router, method, pattern string, h http.Handler) {
	r.Handler(method, pattern, h)
	if method == http.MethodGet {
		r.Handler(http.MethodHead, pattern, h)
	}
}

// Router is where routes are declared (an *httprouter.Router).
type Router interface {
	Handler(method, path string, h http.Handler)
}

// ProblemText is the translated message of a problem, for forms that show
// it inline.
func (s *Site) ProblemText(lang string, p Problem) string {
	if s.Pages.Has("err." + p.Code + ".message") {
		msg := s.Pages.T(lang, "err."+p.Code+".message")
		if p.Detail {
			msg += " (" + p.Message + ")"
		}
		return msg
	}
	return s.Pages.T(lang, "err.internal.message")
}
