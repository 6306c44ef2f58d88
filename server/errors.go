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
	"veil/pages"
	"veil/server/shop"
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
		return problem{status: http.StatusForbidden, code: "tier_limit", message: "quantity over the limit of your trust tier"}
	case errors.Is(err, shop.ErrNotPayable):
		return problem{status: http.StatusConflict, code: "not_payable", message: "this order cannot be paid"}
	case errors.Is(err, shop.ErrLocked):
		return problem{status: http.StatusServiceUnavailable, code: "vault_locked", message: "the shop is locked, try again later"}
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
	if p.status == http.StatusUnauthorized {
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
	page.BackURL, page.BackLabel = page.URL("/"), s.pages.T(lang, "error.home")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/checkout" && r.PostForm.Get("product") != "" &&
		p.code != "product_not_found":
		page.BackURL = page.URL("/p/" + url.PathEscape(r.PostForm.Get("product")))
		page.BackLabel = s.pages.T(lang, "error.back_product")
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
