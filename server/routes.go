package server

import (
	"net/http"

	"github.com/julienschmidt/httprouter"

	"veil/static"
)

// routes declares every route of the buyer side. Each buyer route is logged
// by its pattern, rate limited per client address and body limited.
func (s *Server) routes() http.Handler {
	r := httprouter.New()
	r.NotFound = s.buyer("(not found)", s.routerNotFound)
	r.MethodNotAllowed = s.buyer("(method not allowed)", s.routerMethodNotAllowed)
	r.PanicHandler = s.routerPanic

	route := func(method, pattern string, h http.HandlerFunc) {
		r.Handler(method, pattern, s.buyer(pattern, h))
	}

	// JSON API (API.md).
	route(http.MethodGet, "/api/v1/products", s.apiProducts)
	route(http.MethodPost, "/api/v1/orders", s.apiCreateOrder)
	route(http.MethodGet, "/api/v1/order", s.apiOrder)

	// Pages, all usable with JavaScript off. The token only ever travels in
	// a POST body or the Authorization header.
	route(http.MethodGet, "/", s.catalogPage)
	route(http.MethodGet, "/p/:slug", s.productPage)
	route(http.MethodPost, "/checkout", s.checkoutPage)
	route(http.MethodPost, "/order/saved", s.tokenPageAgain)
	route(http.MethodPost, "/order/token.txt", s.tokenText)
	route(http.MethodGet, "/order", s.lookupPage)
	route(http.MethodPost, "/order", s.orderPage)

	if s.demo {
		route(http.MethodPost, "/api/v1/pay/demo", s.apiPayDemo)
		route(http.MethodGet, "/pay/demo", s.payDemoPage)
		route(http.MethodPost, "/pay/demo", s.payDemoSubmit)
	}

	// Static assets: content-hashed, cached for a year, not rate limited
	// (a page load fetches two of them).
	r.Handler(http.MethodGet, static.Prefix+"*file", s.logged(static.Prefix+"*file", static.Handler()))
	return r
}

// buyer wraps a buyer handler in the request log, the rate limiter and the
// body limit, outermost first.
func (s *Server) buyer(pattern string, h http.HandlerFunc) http.Handler {
	return s.logged(pattern, s.rateLimited(s.bodyLimited(h)))
}
