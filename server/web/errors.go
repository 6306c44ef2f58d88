package web

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
	"veil/server/store"
)

// Error is an error the HTTP layer itself decides on (bad JSON, unknown
// route, a refusal of either side), already carrying its status and code.
type Error struct {
	Status  int
	Code    string
	Message string // English, for the JSON API
}

// NewError is an *Error: writeError answers it with status, code and,
// in JSON, message.
func NewError(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

func (e *Error) Error() string { return "server: " + e.Code + ": " + e.Message }

// The errors both sides answer with.
var (
	ErrNotFound         = NewError(http.StatusNotFound, "not_found", "no such route")
	ErrMethodNotAllowed = NewError(http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed")
	ErrUnauthenticated  = NewError(http.StatusUnauthorized, "unauthenticated", "an order token is required as Authorization: Bearer <token>")
	// ErrChatOff: no chat hub.
	ErrChatOff = NewError(http.StatusNotFound, "chat_unavailable", "live chat is not enabled on this shop")
	// ErrSupportOff: no sealed threads, or no support recipient yet.
	ErrSupportOff = NewError(http.StatusServiceUnavailable, "support_unavailable", "support messages are unavailable right now, try again later")
)

// BadRequest is 400 bad_request with a message naming what is wrong (never
// echoing the input).
func BadRequest(format string, a ...any) error {
	return NewError(http.StatusBadRequest, "bad_request", fmt.Sprintf(format, a...))
}

// rateLimitedError is a client over its request budget.
type rateLimitedError struct{ RetryAfter time.Duration }

func (e *rateLimitedError) Error() string { return "server: rate limited" }

// Problem is an error as a client sees it.
type Problem struct {
	Status     int
	Code       string
	Message    string // English, for the JSON API
	Detail     bool   // Message is specific (an input error), not the code's generic text
	RetryAfter int    // seconds, for 429
}

// Classify maps an error to its status, code and client message. Anything
// it does not know is a 500 with a message that reveals nothing.
func Classify(err error) Problem {
	var (
		input *shop.InputError
		he    *Error
		rl    *rateLimitedError
		mbe   *http.MaxBytesError
		se    *staff.Error
		// coupon: a coupon or voucher the order cannot use (commerce).
		coupon *shop.CouponError
	)
	switch {
	case errors.As(err, &mbe):
		return Problem{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
			Message: fmt.Sprintf("request body over %d bytes", mbe.Limit)}
	case errors.As(err, &rl):
		secs := int((rl.RetryAfter + time.Second - 1) / time.Second)
		return Problem{Status: http.StatusTooManyRequests, Code: "rate_limited",
			Message: "too many requests, retry later", RetryAfter: max(secs, 1)}
	case errors.As(err, &he):
		return Problem{Status: he.Status, Code: he.Code, Message: he.Message, Detail: he.Code == "bad_request"}
	case errors.As(err, &input):
		return Problem{Status: http.StatusBadRequest, Code: "bad_request", Message: input.Message, Detail: true}
	case errors.Is(err, crypto.ErrTokenMalformed):
		return Problem{Status: http.StatusBadRequest, Code: "token_malformed",
			Message: "the token has a typo: its check character does not match"}
	case errors.Is(err, shop.ErrProductNotFound):
		return Problem{Status: http.StatusNotFound, Code: "product_not_found", Message: "no such product"}
	case errors.Is(err, shop.ErrOrderNotFound):
		return Problem{Status: http.StatusNotFound, Code: "order_not_found", Message: "no order with this token or reference"}
	case errors.As(err, &coupon):
		st := http.StatusConflict
		if coupon.Code == shop.CouponUnknown {
			st = http.StatusBadRequest
		}
		return Problem{Status: st, Code: coupon.Code, Message: couponMessages[coupon.Code]}
	case errors.Is(err, shop.ErrNotCompensable):
		return Problem{Status: http.StatusConflict, Code: "not_compensable", Message: "this order cannot get a voucher: it was never paid, or has ten already"}
	case errors.Is(err, shop.ErrOutOfStock):
		return Problem{Status: http.StatusConflict, Code: "out_of_stock", Message: "not enough stock for this quantity"}
	case errors.Is(err, shop.ErrTierLimit):
		return Problem{Status: http.StatusForbidden, Code: "tier_limit", Message: "over a limit of your trust tier: quantity or amount per order, " +
			"or unpaid orders held at once; pay the orders you hold or wait for their reservations to expire, " +
			"and present tokens of earlier settled orders as proofs to raise your tier"}
	case errors.Is(err, shop.ErrTicketNotFound):
		return Problem{Status: http.StatusNotFound, Code: "ticket_not_found", Message: "no such ticket"}
	case errors.Is(err, shop.ErrWindowClosed):
		return Problem{Status: http.StatusConflict, Code: "window_closed", Message: "the after-sales window of this order is closed"}
	case errors.Is(err, shop.ErrTooManyTickets):
		return Problem{Status: http.StatusTooManyRequests, Code: "too_many_tickets",
			Message: fmt.Sprintf("at most %d open tickets per order; follow up in the open ones", shop.MaxOpenTickets)}
	case errors.Is(err, shop.ErrRemedyRefused):
		return Problem{Status: http.StatusConflict, Code: "remedy_not_allowed", Message: "the product's policy does not offer this remedy"}
	case errors.Is(err, shop.ErrCoolingOffOver):
		return Problem{Status: http.StatusConflict, Code: "cooling_off_over", Message: "the cooling-off period is over or the keys were shown"}
	case errors.Is(err, shop.ErrTicketClosed):
		return Problem{Status: http.StatusConflict, Code: "ticket_closed", Message: "the ticket is closed"}
	case errors.Is(err, shop.ErrNotOwner):
		return Problem{Status: http.StatusConflict, Code: "not_owner", Message: "another staff member handles this ticket; ask them to hand it over"}
	case errors.Is(err, shop.ErrNoProRata):
		return Problem{Status: http.StatusConflict, Code: "pro_rata_off", Message: "the product's policy offers no refund by use"}
	case errors.Is(err, shop.ErrNotFrozen):
		return Problem{Status: http.StatusConflict, Code: "not_frozen", Message: "the batch is not frozen"}
	case errors.Is(err, msg.ErrRoomOpen):
		return Problem{Status: http.StatusConflict, Code: "room_open", Message: "the order already has an open chat room; " +
			`end it with POST /api/v1/order/chat {"end":true}, then open a new one`}
	case errors.Is(err, msg.ErrTooManyRooms):
		return Problem{Status: http.StatusTooManyRequests, Code: "too_many_rooms", Message: "too many chat rooms for this order today; " +
			"send a message through the thread instead"}
	case errors.Is(err, msg.ErrHubClosed):
		return Problem{Status: http.StatusServiceUnavailable, Code: "chat_unavailable", Message: "chat is shutting down, try again later"}
	case errors.Is(err, pay.ErrGateway):
		return Problem{Status: http.StatusBadGateway, Code: "gateway_error", Message: "the payment gateway did not create the payment; no order was placed, try again or pay another way"}
	case errors.Is(err, pay.ErrCurrency):
		return Problem{Status: http.StatusConflict, Code: "currency_unsupported", Message: "this shop's payment provider cannot take this product's currency"}
	case errors.Is(err, shop.ErrNotPayable):
		return Problem{Status: http.StatusConflict, Code: "not_payable", Message: "this order cannot be paid"}
	case errors.Is(err, shop.ErrAmountMismatch):
		return Problem{Status: http.StatusConflict, Code: "amount_mismatch", Message: "the amount is not the order's"}
	case errors.Is(err, shop.ErrNotHeld):
		return Problem{Status: http.StatusConflict, Code: "not_held", Message: "the order holds no such payment"}
	case errors.Is(err, store.ErrUnavailable):
		// The store refused to write (disk nearly full, or a write failed):
		// nothing of the request was applied, and reads still work.
		return Problem{Status: http.StatusServiceUnavailable, Code: "storage_unavailable", Message: "the shop cannot save right now; nothing was changed, try again shortly",
			RetryAfter: 5}
	case errors.Is(err, shop.ErrLocked):
		return Problem{Status: http.StatusServiceUnavailable, Code: "vault_locked", Message: "the shop is locked, try again later"}
	case errors.Is(err, shop.ErrSlugTaken):
		return Problem{Status: http.StatusConflict, Code: "slug_taken", Message: "another product has this slug"}
	case errors.Is(err, shop.ErrWrongPassphrase):
		return Problem{Status: http.StatusUnauthorized, Code: "wrong_passphrase", Message: "wrong vault passphrase"}
	case errors.Is(err, shop.ErrNotRefundable):
		return Problem{Status: http.StatusConflict, Code: "not_refundable", Message: "nothing left to refund on this order"}
	case staffError(err, &se) && staffStatus(se.Code()) != 0:
		p := Problem{Status: staffStatus(se.Code()), Code: se.Code(), Message: strings.TrimPrefix(se.Error(), "staff: "),
			Detail: staffStatus(se.Code()) == http.StatusBadRequest}
		if p.Code == "locked_out" {
			p.RetryAfter = 15 * 60 // the lock lasts 15 minutes from the fifth failure
		}
		return p
	}
	return Problem{Status: http.StatusInternalServerError, Code: "internal", Message: "something went wrong"}
}

// errorBody is the JSON error shape of API.md.
type errorBody struct {
	Error ErrorDetail `json:"error"`
}

type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// WriteError is every handler's other exit: JSON for the API, a page in
// the buyer's language for people. Internal errors are logged (error texts
// carry refs at most, never tokens, keys or addresses) and shown as a
// plain "something went wrong".
func (s *Site) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	p := Classify(err)
	if p.Status >= 500 && p.Code == "internal" {
		s.Log.Error("request failed", "method", r.Method, "route", RouteOf(r), "err", err)
	}
	if p.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(p.RetryAfter))
	}
	if p.Status == http.StatusUnauthorized && !strings.HasPrefix(r.URL.Path, "/api/v1/admin/") {
		w.Header().Set("WWW-Authenticate", `Bearer realm="veil order"`)
	}
	if IsAPI(r) {
		WriteJSON(w, p.Status, errorBody{ErrorDetail{Code: p.Code, Message: p.Message}})
		return
	}
	s.renderError(w, r, p)
}

// IsAPI says whether r is a JSON API request (under /api/).
func IsAPI(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }

// renderError shows an error page. The way on goes back where the buyer came
// from when that is obvious.
func (s *Site) renderError(w http.ResponseWriter, r *http.Request, p Problem) {
	lang := s.Lang(r)
	page := &pages.ErrorPage{
		Base:    s.Base(r, lang),
		Status:  p.Status,
		Code:    p.Code,
		Title:   s.Pages.T(lang, "err."+p.Code+".title"),
		Message: s.Pages.T(lang, "err."+p.Code+".message"),
	}
	if !s.Pages.Has("err." + p.Code + ".title") {
		page.Title = s.Pages.T(lang, "err.internal.title")
		page.Message = s.Pages.T(lang, "err.internal.message")
	}
	if p.Detail {
		page.Message += " (" + p.Message + ")"
	}
	if p.Code == "tier_limit" {
		rules := s.Shop.TierRules()
		page.Message += " " + fmt.Sprintf(s.Pages.T(lang, "err.tier_limit.caps"), rules.MaxQuantity[0], rules.MaxUnpaid[0])
	}
	page.BackURL, page.BackLabel = page.URL("/"), s.Pages.T(lang, "error.home")
	switch {
	case p.Code == "already_shown":
		page.BackURL, page.BackLabel = page.URL("/order"), s.Pages.T(lang, "error.back_lookup")
	case r.Method == http.MethodPost && r.URL.Path == "/checkout" && r.PostForm.Get("product") != "" &&
		p.Code != "product_not_found":
		page.BackURL = page.URL("/p/" + url.PathEscape(r.PostForm.Get("product")))
		page.BackLabel = s.Pages.T(lang, "error.back_product")
	case strings.HasPrefix(r.URL.Path, "/admin"):
		page.BackURL, page.BackLabel = page.URL("/admin"), s.Pages.T(lang, "admin.back_console")
	case strings.HasPrefix(r.URL.Path, "/order"):
		page.BackURL, page.BackLabel = page.URL("/order"), s.Pages.T(lang, "error.back_lookup")
	}
	s.Render(w, r, p.Status, page)
}

// Render writes a page with status. A template failure is a bug; it is
// logged and answered with a bare 500 (the page itself failed).
func (s *Site) Render(w http.ResponseWriter, r *http.Request, status int, p pages.Page) {
	var buf strings.Builder
	if err := s.Pages.Render(&buf, p); err != nil {
		s.Log.Error("render failed", "route", RouteOf(r), "err", err)
		http.Error(w, "500 internal server error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(buf.String()))
}

// WriteJSON writes v as the answer.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"error":{"code":"internal","message":"something went wrong"}}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// staffStatus is the HTTP status of a staff error code (server/console); 0 for
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

// staffError finds the staff error in err's tree, preferring the cause
// over ErrExecFailed ("approval_failed: last_owner" answers last_owner).
func staffError(err error, target **staff.Error) bool {
	var found *staff.Error
	var walk func(error) bool
	walk = func(e error) bool {
		if se, ok := e.(*staff.Error); ok {
			if found == nil || found.Code() == "approval_failed" {
				found = se
			}
			if se.Code() != "approval_failed" {
				return true
			}
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			if next := u.Unwrap(); next != nil {
				return walk(next)
			}
		case interface{ Unwrap() []error }:
			for _, next := range u.Unwrap() {
				if walk(next) {
					return true
				}
			}
		}
		return false
	}
	walk(err)
	*target = found
	return found != nil
}

// couponMessages explain each coupon refusal (API.md "Error codes").
var couponMessages = map[string]string{
	shop.CouponUnknown:       "no coupon or voucher with this code",
	shop.CouponExpired:       "this coupon is no longer valid",
	shop.CouponNotStarted:    "this coupon is not valid yet",
	shop.CouponUsedUp:        "this coupon has been used up",
	shop.CouponBelowMinimum:  "the order is below this coupon's minimum amount",
	shop.CouponNotApplicable: "this coupon does not apply to this product or currency",
}
