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
		if method == http.MethodGet {
			// httprouter v1.3 does not answer HEAD for GET routes; net/http
			// drops the body of a HEAD answer itself.
			r.Handler(http.MethodHead, pattern, s.buyer(pattern, h))
		}
	}

	// JSON API (API.md).
	route(http.MethodGet, "/api/v1/products", s.apiProducts)
	route(http.MethodPost, "/api/v1/orders", s.apiCreateOrder)
	route(http.MethodGet, "/api/v1/order", s.apiOrder)
	route(http.MethodPost, "/api/v1/order/tickets", s.apiOpenTicket)
	route(http.MethodGet, "/api/v1/order/tickets", s.apiTickets)
	route(http.MethodPost, "/api/v1/order/chat", s.apiChat)

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

	// The chat's WebSocket (chat.go, msg.Hub): the upgrade is rate limited
	// per address like a page, but not body limited (a MaxBytesReader would
	// sit in the way of the hijacked connection); the hub bounds frames.
	r.Handler(http.MethodGet, wsPath, s.logged(wsPath, s.rateLimited(s.chatWS)))

	if s.demo {
		route(http.MethodPost, "/api/v1/pay/demo", s.apiPayDemo)
		route(http.MethodGet, "/pay/demo", s.payDemoPage)
		route(http.MethodPost, "/pay/demo", s.payDemoSubmit)
	}

	// Payments (epay.go, manual.go). The gateway's notify is body limited
	// but not rate limited per address: a gateway notifies from a few
	// addresses, and a refused notify costs one MD5 before any store read.
	if s.payments.epay() != nil {
		notify := s.logged("/pay/epay/notify", s.bodyLimited(s.epayNotify))
		r.Handler(http.MethodGet, "/pay/epay/notify", notify)
		r.Handler(http.MethodPost, "/pay/epay/notify", notify)
		route(http.MethodGet, "/pay/epay/return", s.epayReturn)
	}
	if s.payments.manual() != nil {
		route(http.MethodGet, "/pay/manual", s.payManualPage)
	}
	if s.payments.epusdt() != nil {
		// A JSON body, limited like the epay notify (epusdt.go).
		r.Handler(http.MethodPost, "/pay/epusdt/notify", s.logged("/pay/epusdt/notify", s.bodyLimited(s.epusdtNotify)))
	}

	// Merchant console (admin*.go; API.md "Merchant"). Every route is
	// no-store and behind CrossOriginProtection; all but sign-in and
	// enrolment need a staff session, and writes its CSRF token.
	if s.staff != nil {
		c := s.console(r)
		c.open(http.MethodPost, "/api/v1/admin/session", s.apiAdminLogin)
		c.reenrol(http.MethodDelete, "/api/v1/admin/session", s.apiAdminLogout)
		c.reenrol(http.MethodGet, "/api/v1/admin/reenrol", s.apiReenrol)
		c.reenrol(http.MethodPost, "/api/v1/admin/reenrol", s.apiReenrolFinish)
		c.staff(http.MethodGet, "/api/v1/admin/approvals", s.apiApprovals)
		c.staff(http.MethodGet, "/api/v1/admin/approvals/:id", s.apiApproval)
		c.staff(http.MethodPost, "/api/v1/admin/approvals/:id", s.apiDecide)
		c.staff(http.MethodPost, "/api/v1/admin/refunds", opJSON(s, s.proposeRefund))
		c.staff(http.MethodPost, "/api/v1/admin/replacements", opJSON(s, s.proposeReplacement))
		c.staff(http.MethodPost, "/api/v1/admin/recalls", opJSON(s, s.proposeRecall))
		c.staff(http.MethodPost, "/api/v1/admin/payments/confirm", s.adminConfirmPayment)
		c.staff(http.MethodPost, "/api/v1/admin/exports", opJSON(s, s.proposeExport))
		c.staff(http.MethodGet, "/api/v1/admin/exports/:id", s.apiExportDownload)
		c.staff(http.MethodPost, "/api/v1/admin/inventory/delete", opJSON(s, s.proposeDelete))
		c.staff(http.MethodGet, "/api/v1/admin/staff", s.apiStaffList)
		c.staff(http.MethodPost, "/api/v1/admin/staff", s.apiStaff)
		c.staff(http.MethodGet, "/api/v1/admin/settings", s.apiSettings)
		c.staff(http.MethodPost, "/api/v1/admin/settings", opJSON(s, s.proposeSettings))
		c.staff(http.MethodPost, "/api/v1/admin/notices", s.apiPublishNotice)
		c.staff(http.MethodPost, "/api/v1/admin/backup", s.apiBackup)
		c.staff(http.MethodGet, "/api/v1/admin/products", s.apiAdminProducts)
		c.staff(http.MethodPost, "/api/v1/admin/products", s.apiCreateProduct)
		c.staff(http.MethodPut, "/api/v1/admin/products/:id", s.apiUpdateProduct)
		c.upload(http.MethodPost, "/api/v1/admin/products/:id/keys", s.apiImportKeys)
		c.staff(http.MethodGet, "/api/v1/admin/products/:id/keys", s.apiKeys)
		c.staff(http.MethodGet, "/api/v1/admin/products/:id/stock", s.apiStock)
		c.staff(http.MethodGet, "/api/v1/admin/orders", s.apiOrders)
		c.staff(http.MethodGet, "/api/v1/admin/owed", s.apiOwed)
		c.staff(http.MethodPost, "/api/v1/admin/owed/returned", opJSON(s, s.proposeReturned))
		c.staff(http.MethodGet, "/api/v1/admin/audit", s.apiAudit)
		c.staff(http.MethodGet, "/api/v1/admin/audit/verify", s.apiAuditVerify)
		c.staff(http.MethodGet, "/api/v1/admin/vault", s.apiVault)
		c.staff(http.MethodPost, "/api/v1/admin/vault/unlock", s.apiVaultUnlock)
		c.staff(http.MethodPost, "/api/v1/admin/vault/lock", s.apiVaultLock)
		// Key rotation (admin_rotation.go).
		c.staff(http.MethodPost, "/api/v1/admin/vault/passphrase", s.apiChangePassphrase)
		c.staff(http.MethodGet, "/api/v1/admin/rotation", s.apiRotation)
		c.staff(http.MethodPost, "/api/v1/admin/rotation", s.apiStartRotation)
		c.staff(http.MethodPost, "/api/v1/admin/epay/key", s.apiRotateEpay)
		// After-sales (admin_tickets.go, admin_remedies.go, admin_rooms.go,
		// admin_trust.go).
		c.staff(http.MethodGet, "/api/v1/admin/tickets", s.apiAdminTickets)
		c.staff(http.MethodGet, "/api/v1/admin/tickets/:id", s.apiAdminTicket)
		c.staff(http.MethodPost, "/api/v1/admin/tickets/:id/answer", s.apiTicketAnswer)
		c.staff(http.MethodPost, "/api/v1/admin/tickets/:id/handover", s.apiTicketHandover)
		c.staff(http.MethodPost, "/api/v1/admin/tickets/:id/reject", s.apiTicketReject)
		c.staff(http.MethodPost, "/api/v1/admin/tickets/:id/propose", s.apiTicketPropose)
		c.staff(http.MethodPost, "/api/v1/admin/orders/:ref/abuse", s.apiAbuse)
		c.staff(http.MethodGet, "/api/v1/admin/rooms", s.apiRooms)
		c.staff(http.MethodPost, "/api/v1/admin/rooms/:id/join", s.apiRoomJoin)
		c.staff(http.MethodGet, "/api/v1/admin/tiers", s.apiTiers)
		c.staff(http.MethodGet, "/api/v1/admin/fast-track", s.apiFastTrack)
		c.staff(http.MethodGet, "/api/v1/admin/patterns", s.apiPatterns)

		c.open(http.MethodGet, "/admin/login", s.loginPage)
		c.open(http.MethodPost, "/admin/login", s.loginSubmit)
		c.open(http.MethodGet, "/admin/enrol", s.enrolPage)
		c.open(http.MethodPost, "/admin/enrol", s.enrolShow)
		c.open(http.MethodPost, "/admin/enrol/finish", s.enrolFinish)
		c.reenrol(http.MethodPost, "/admin/logout", s.logoutSubmit)
		c.reenrol(http.MethodGet, "/admin/reenrol", s.reenrolPage)
		c.reenrol(http.MethodPost, "/admin/reenrol", s.reenrolSubmit)
		c.staff(http.MethodGet, "/admin", s.dashboardPage)
		c.staff(http.MethodGet, "/admin/approvals", s.approvalsPage)
		c.staff(http.MethodPost, "/admin/approvals/:id", s.decideSubmit)
		c.staff(http.MethodGet, "/admin/orders", s.ordersPage)
		c.staff(http.MethodPost, "/admin/refunds", s.refundSubmit)
		c.staff(http.MethodGet, "/admin/owed", s.owedPage)
		c.staff(http.MethodPost, "/admin/owed/returned", s.owedSubmit)
		c.staff(http.MethodGet, "/admin/products", s.productsPage)
		c.staff(http.MethodGet, "/admin/new-product", s.newProductPage)
		c.staff(http.MethodPost, "/admin/new-product", s.productSubmit)
		c.staff(http.MethodGet, "/admin/products/:id/edit", s.editProductPage)
		c.staff(http.MethodPost, "/admin/products/:id/edit", s.productSubmit)
		c.staff(http.MethodGet, "/admin/products/:id/import", s.importPage)
		c.upload(http.MethodPost, "/admin/products/:id/import", s.importSubmit)
		c.staff(http.MethodGet, "/admin/products/:id/stock", s.stockPage)
		c.staff(http.MethodPost, "/admin/exports", s.exportSubmit)
		c.staff(http.MethodPost, "/admin/inventory/delete", s.deleteSubmit)
		c.staff(http.MethodGet, "/admin/audit", s.auditPage)
		c.staff(http.MethodGet, "/admin/vault", s.vaultPage)
		c.staff(http.MethodPost, "/admin/vault/unlock", s.vaultUnlockSubmit)
		c.staff(http.MethodPost, "/admin/vault/lock", s.vaultLockSubmit)
		c.staff(http.MethodGet, "/admin/keys", s.keysPage)
		c.staff(http.MethodPost, "/admin/keys/rotate", s.keysRotateSubmit)
		c.staff(http.MethodPost, "/admin/keys/passphrase", s.keysPassphraseSubmit)
		c.staff(http.MethodPost, "/admin/keys/epay", s.keysEpaySubmit)
		c.staff(http.MethodGet, "/admin/staff", s.staffPage)
		c.staff(http.MethodPost, "/admin/staff", s.staffSubmit)
		c.staff(http.MethodPost, "/admin/settings", s.settingsSubmit)
		c.staff(http.MethodGet, "/admin/tickets", s.ticketsPage)
		c.staff(http.MethodGet, "/admin/tickets/:id", s.ticketPage)
		c.staff(http.MethodPost, "/admin/tickets/:id/:action", s.adminTicketSubmit)
		c.staff(http.MethodPost, "/admin/orders/:ref/abuse", s.abuseSubmit)
		c.staff(http.MethodPost, "/admin/recalls", s.recallSubmit)
		c.staff(http.MethodGet, "/admin/rooms", s.roomsPage)
		c.staff(http.MethodPost, "/admin/rooms/:id/join", s.roomJoinSubmit)
		c.staff(http.MethodGet, "/admin/tiers", s.tiersPage)
		c.staff(http.MethodPost, "/admin/tiers", s.tiersSubmit)
		c.staff(http.MethodPost, "/admin/fast-track", s.fastTrackSubmit)
		c.staff(http.MethodGet, "/admin/patterns", s.patternsPage)
	}

	// Static assets: content-hashed, cached for a year, not rate limited
	// (a page load fetches two of them).
	assets := s.logged(static.Prefix+"*file", static.Handler())
	r.Handler(http.MethodGet, static.Prefix+"*file", assets)
	r.Handler(http.MethodHead, static.Prefix+"*file", assets)
	return r
}

// buyer wraps a buyer handler in the request log, the rate limiter and the
// body limit, outermost first.
func (s *Server) buyer(pattern string, h http.HandlerFunc) http.Handler {
	return s.logged(pattern, s.rateLimited(s.bodyLimited(h)))
}
