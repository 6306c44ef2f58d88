package storefront

import (
	"net/http"

	"veil/server/web"
)

// Routes declares every buyer route on r. Each is logged by its pattern,
// rate limited per client address and body limited (web.Site.Buyer), and
// a GET route answers HEAD too.
func (s *Server) Routes(r web.Router) {
	route := func(method, pattern string, h http.HandlerFunc) {
		web.Route(r, method, pattern, s.Buyer(pattern, h))
	}

	// JSON API (API.md).
	route(http.MethodGet, "/api/v1/products", s.apiProducts)
	route(http.MethodPost, "/api/v1/orders", s.apiCreateOrder)
	route(http.MethodGet, "/api/v1/order", s.apiOrder)
	route(http.MethodPost, "/api/v1/order/tickets", s.apiOpenTicket)
	route(http.MethodGet, "/api/v1/order/tickets", s.apiTickets)
	route(http.MethodPost, "/api/v1/order/chat", s.apiChat)
	// Receipts and the case library (evidence.go).
	route(http.MethodGet, "/api/v1/order/receipt", s.apiReceipt)
	route(http.MethodGet, "/api/v1/cases", s.apiCases)

	// Pages, all usable with JavaScript off. The token only ever travels in
	// a POST body or the Authorization header.
	route(http.MethodGet, "/", s.catalogPage)
	route(http.MethodGet, "/p/:slug", s.productPage)
	route(http.MethodPost, "/checkout", s.checkoutPage)
	route(http.MethodPost, "/order/saved", s.tokenPageAgain)
	route(http.MethodPost, "/order/token.txt", s.tokenText)
	route(http.MethodGet, "/order", s.lookupPage)
	route(http.MethodPost, "/order", s.orderPage)
	route(http.MethodPost, "/order/tickets", s.ticketSubmit)
	route(http.MethodPost, "/order/thread", s.threadSubmit)
	route(http.MethodPost, "/order/cooling-off", s.coolingOffSubmit)
	route(http.MethodGet, "/notices", s.noticesPage)
	// The merchant's terms page and the stored images (brand.go).
	s.brandRoutes(r)
	route(http.MethodPost, "/order/receipt", s.receiptDownload)
	route(http.MethodGet, "/cases", s.casesPage)

	// The chat's WebSocket (chat.go, msg.Hub): the upgrade is rate limited
	// per address like a page, but not body limited (a MaxBytesReader would
	// sit in the way of the hijacked connection); the hub bounds frames.
	r.Handler(http.MethodGet, web.WSPath, s.Logged(web.WSPath, s.RateLimited(s.chatWS)))

	if s.demo {
		route(http.MethodPost, "/api/v1/pay/demo", s.apiPayDemo)
		route(http.MethodGet, "/pay/demo", s.payDemoPage)
		route(http.MethodPost, "/pay/demo", s.payDemoSubmit)
	}

	// Payments (epay.go, epusdt.go, manual.go). A gateway's notify is body
	// limited but not rate limited per address: a gateway notifies from a
	// few addresses, and a refused notify costs one MD5 before any store
	// read.
	if s.payments.Epay() != nil {
		notify := s.Logged("/pay/epay/notify", s.BodyLimited(s.epayNotify))
		r.Handler(http.MethodGet, "/pay/epay/notify", notify)
		r.Handler(http.MethodPost, "/pay/epay/notify", notify)
		route(http.MethodGet, "/pay/epay/return", s.epayReturn)
	}
	if s.payments.Manual() != nil {
		route(http.MethodGet, "/pay/manual", s.payManualPage)
	}
	if s.payments.Epusdt() != nil {
		r.Handler(http.MethodPost, "/pay/epusdt/notify", s.Logged("/pay/epusdt/notify", s.BodyLimited(s.epusdtNotify)))
	}
}
