package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"veil/crypto"
	"veil/msg"
	"veil/pages"
	"veil/server/pay"
	"veil/server/shop"
	"veil/server/staff"
)

// httpError is an error the HTTP layer itself decides on (bad JSON, unknown
// route), already carrying its status and code.
type httpError struct {
	status  int
	code    string
	message string
}

func (e *httpError) Error() string { return "server: " + e.code + ": " + e.message }

var (
	errNotFound         = &httpError{http.StatusNotFound, "not_found", "no such route"}
	errMethodNotAllowed = &httpError{http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed"}
	errUnauthenticated  = &httpError{http.StatusUnauthorized, "unauthenticated", "an order token is required as Authorization: Bearer <token>"}
	// After-sales (aftersales.go, chat.go).
	errChatOff    = &httpError{http.StatusNotFound, "chat_unavailable", "live chat is not enabled on this shop"}
	errSupportOff = &httpError{http.StatusServiceUnavailable, "support_unavailable", "support messages are unavailable right now, try again later"}
	errNotPaid    = &httpError{http.StatusConflict, "not_paid", "support opens once the order is paid"}
)

func badRequest(format string, a ...any) error {
	return &httpError{http.StatusBadRequest, "bad_request", fmt.Sprintf(format, a...)}
}

// rateLimitedError is a client over its request budget.
type rateLimitedError struct{ retryAfter time.Duration }

func (e *rateLimitedError) Error() string { return "server: rate limited" }

// problem is an error as a client sees it.
type problem struct {
	status     int
	code       string
	message    string // English, for the JSON API
	detail     bool   // message is specific (an input error), not the code's generic text
	retryAfter int    // seconds, for 429
}

// classify maps an error to its status, code and client message. Anything
// it does not know is a 500 with a message that reveals nothing.
func classify(err error) problem {
	var (
		input *shop.InputError
		he    *httpError
		rl    *rateLimitedError
		mbe   *http.MaxBytesError
		se    *staff.Error
	)
	switch {
	case errors.As(err, &mbe):
		return problem{status: http.StatusRequestEntityTooLarge, code: "body_too_large",
			message: fmt.Sprintf("request body over %d bytes", mbe.Limit)}
	case errors.As(err, &rl):
		secs := int((rl.retryAfter + time.Second - 1) / time.Second)
		return problem{status: http.StatusTooManyRequests, code: "rate_limited",
			message: "too many requests, retry later", retryAfter: max(secs, 1)}
	case errors.As(err, &he):
		return problem{status: he.status, code: he.code, message: he.message, detail: he.code == "bad_request"}
	case errors.As(err, &input):
		return problem{status: http.StatusBadRequest, code: "bad_request", message: input.Message, detail: true}
	case errors.Is(err, crypto.ErrTokenMalformed):
		return problem{status: http.StatusBadRequest, code: "token_malformed",
			message: "the token has a typo: its check character does not match"}
	case errors.Is(err, shop.ErrProductNotFound):
		return problem{status: http.StatusNotFound, code: "product_not_found", message: "no such product"}
	case errors.Is(err, shop.ErrOrderNotFound):
		return problem{status: http.StatusNotFound, code: "order_not_found", message: "no order with this token or reference"}
	case errors.Is(err, shop.ErrOutOfStock):
		return problem{status: http.StatusConflict, code: "out_of_stock", message: "not enough stock for this quantity"}
	case errors.Is(err, shop.ErrTierLimit):
		return problem{status: http.StatusForbidden, code: "tier_limit", message: "over a limit of your trust tier: quantity or amount per order, " +
			"or unpaid orders held at once; pay the orders you hold or wait for their reservations to expire, " +
			"and present tokens of earlier settled orders as proofs to raise your tier"}
	case errors.Is(err, shop.ErrTicketNotFound):
		return problem{status: http.StatusNotFound, code: "ticket_not_found", message: "no such ticket"}
	case errors.Is(err, shop.ErrWindowClosed):
		return problem{status: http.StatusConflict, code: "window_closed", message: "the after-sales window of this order is closed"}
	case errors.Is(err, shop.ErrTooManyTickets):
		return problem{status: http.StatusTooManyRequests, code: "too_many_tickets",
			message: fmt.Sprintf("at most %d open tickets per order; follow up in the open ones", shop.MaxOpenTickets)}
	case errors.Is(err, shop.ErrRemedyRefused):
		return problem{status: http.StatusConflict, code: "remedy_not_allowed", message: "the product's policy does not offer this remedy"}
	case errors.Is(err, shop.ErrCoolingOffOver):
		return problem{status: http.StatusConflict, code: "cooling_off_over", message: "the cooling-off period is over or the keys were shown"}
	case errors.Is(err, shop.ErrTicketClosed):
		return problem{status: http.StatusConflict, code: "ticket_closed", message: "the ticket is closed"}
	case errors.Is(err, shop.ErrNotOwner):
		return problem{status: http.StatusConflict, code: "not_owner", message: "another staff member handles this ticket; ask them to hand it over"}
	case errors.Is(err, msg.ErrRoomOpen):
		return problem{status: http.StatusConflict, code: "room_open", message: "the order already has an open chat room; " +
			`end it with POST /api/v1/order/chat {"end":true}, then open a new one`}
	case errors.Is(err, msg.ErrTooManyRooms):
		return problem{status: http.StatusTooManyRequests, code: "too_many_rooms", message: "too many chat rooms for this order today; " +
			"send a message through the thread instead"}
	case errors.Is(err, msg.ErrHubClosed):
		return problem{status: http.StatusServiceUnavailable, code: "chat_unavailable", message: "chat is shutting down, try again later"}
	case errors.As(err, new(*powRequiredError)):
		return problem{status: http.StatusPreconditionRequired, code: "pow_required", message: "many orders of this product are waiting for payment: repeat the request with proof of work"}
	case errors.Is(err, pay.ErrGateway):
		return problem{status: http.StatusBadGateway, code: "gateway_error", message: "the payment gateway did not create the payment; no order was placed, try again or pay another way"}
	case errors.Is(err, pay.ErrCurrency):
		return problem{status: http.StatusConflict, code: "currency_unsupported", message: "this shop's payment provider cannot take this product's currency"}
	case errors.Is(err, shop.ErrNotPayable):
		return problem{status: http.StatusConflict, code: "not_payable", message: "this order cannot be paid"}
	case errors.Is(err, shop.ErrAmountMismatch):
		return problem{status: http.StatusConflict, code: "amount_mismatch", message: "the amount is not the order's"}
	case errors.Is(err, shop.ErrNotHeld):
		return problem{status: http.StatusConflict, code: "not_held", message: "the order holds no such payment"}
	case errors.Is(err, shop.ErrLocked):
		return problem{status: http.StatusServiceUnavailable, code: "vault_locked", message: "the shop is locked, try again later"}
	case errors.Is(err, shop.ErrSlugTaken):
		return problem{status: http.StatusConflict, code: "slug_taken", message: "another product has this slug"}
	case errors.Is(err, shop.ErrWrongPassphrase):
		return problem{status: http.StatusUnauthorized, code: "wrong_passphrase", message: "wrong vault passphrase"}
	case errors.Is(err, shop.ErrNotRefundable):
		return problem{status: http.StatusConflict, code: "not_refundable", message: "nothing left to refund on this order"}
	case staffError(err, &se) && staffStatus(se.Code()) != 0:
		p := problem{status: staffStatus(se.Code()), code: se.Code(), message: strings.TrimPrefix(se.Error(), "staff: "),
			detail: staffStatus(se.Code()) == http.StatusBadRequest}
		if p.code == "locked_out" {
			p.retryAfter = 15 * 60 // the lock lasts 15 minutes from the fifth failure
		}
		return p
	}
	return problem{status: http.StatusInternalServerError, code: "internal", message: "something went wrong"}
}

// errorBody is the JSON error shape of API.md.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// writeError is every handler's other exit: JSON for the API, a page in
// the buyer's language for people. Internal errors are logged (error texts
// carry refs at most, never tokens, keys or addresses) and shown as a
// plain "something went wrong".
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	p := classify(err)
	if p.status >= 500 && p.code == "internal" {
		s.log.Error("request failed", "method", r.Method, "route", routeOf(r), "err", err)
	}
	if p.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(p.retryAfter))
	}
	if p.status == http.StatusUnauthorized && !strings.HasPrefix(r.URL.Path, "/api/v1/admin/") {
		w.Header().Set("WWW-Authenticate", `Bearer realm="veil order"`)
	}
	if isAPI(r) {
		writeJSON(w, p.status, errorBody{errorDetail{Code: p.code, Message: p.message}})
		return
	}
	s.renderError(w, r, p)
}

func isAPI(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }

// renderError shows an error page. The way on goes back where the buyer came
// from when that is obvious.
func (s *Server) renderError(w http.ResponseWriter, r *http.Request, p problem) {
	lang := s.lang(r)
	page := &pages.ErrorPage{
		Base:    s.base(r, lang),
		Status:  p.status,
		Code:    p.code,
		Title:   s.pages.T(lang, "err."+p.code+".title"),
		Message: s.pages.T(lang, "err."+p.code+".message"),
	}
	if !s.pages.Has("err." + p.code + ".title") {
		page.Title = s.pages.T(lang, "err.internal.title")
		page.Message = s.pages.T(lang, "err.internal.message")
	}
	if p.detail {
		page.Message += " (" + p.message + ")"
	}
	if p.code == "tier_limit" {
		rules := s.shop.TierRules()
		page.Message += " " + fmt.Sprintf(s.pages.T(lang, "err.tier_limit.caps"), rules.MaxQuantity[0], rules.MaxUnpaid[0])
	}
	page.BackURL, page.BackLabel = page.URL("/"), s.pages.T(lang, "error.home")
	switch {
	case p.code == "already_shown":
		page.BackURL, page.BackLabel = page.URL("/order"), s.pages.T(lang, "error.back_lookup")
	case r.Method == http.MethodPost && r.URL.Path == "/checkout" && r.PostForm.Get("product") != "" &&
		p.code != "product_not_found":
		page.BackURL = page.URL("/p/" + url.PathEscape(r.PostForm.Get("product")))
		page.BackLabel = s.pages.T(lang, "error.back_product")
	case strings.HasPrefix(r.URL.Path, "/admin"):
		page.BackURL, page.BackLabel = page.URL("/admin"), s.pages.T(lang, "admin.back_console")
	case strings.HasPrefix(r.URL.Path, "/order"):
		page.BackURL, page.BackLabel = page.URL("/order"), s.pages.T(lang, "error.back_lookup")
	}
	s.render(w, r, p.status, page)
}

// render writes a page with status. A template failure is a bug; it is
// logged and answered with a bare 500 (the page itself failed).
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, p pages.Page) {
	var buf strings.Builder
	if err := s.pages.Render(&buf, p); err != nil {
		s.log.Error("render failed", "route", routeOf(r), "err", err)
		http.Error(w, "500 internal server error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(buf.String()))
}

// writeJSON writes v as the answer.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":{"code":"internal","message":"something went wrong"}}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// staffStatus is the HTTP status of a staff error code (admin_*.go); 0 for
// "internal" and unknown codes, which stay 500.
func staffStatus(code string) int {
	switch code {
	case "locked_out":
		return http.StatusTooManyRequests
	case "totp_required", "totp_invalid", "totp_replayed", "bad_credentials", "unauthenticated", "recovery_invalid":
		return http.StatusUnauthorized
	case "forbidden", "two_person", "csrf", "enrolment_required", "reenrol_required":
		return http.StatusForbidden
	case "already_decided", "already_enrolled", "user_exists", "last_owner", "already_initialised", "approval_failed":
		return http.StatusConflict
	case "not_found":
		return http.StatusNotFound
	case "bad_request", "bad_name", "bad_password", "bad_role", "unknown_kind":
		return http.StatusBadRequest
	}
	return 0
}
