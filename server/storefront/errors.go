package storefront

import (
	"net/http"

	"veil/server/web"
)

// The buyer side's own refusals (web holds the shared ones).
var (
	errNotPaid = web.NewError(http.StatusConflict, "not_paid", "support opens once the order is paid")
	// errPowRequired is what a *powRequiredError answers (hoard.go).
	errPowRequired = web.NewError(http.StatusPreconditionRequired, "pow_required",
		"many orders of this product are waiting for payment: repeat the request with proof of work")
	// errRefundsOff: a cooling-off refund asked of a shop without a
	// console (no approvals to carry it).
	errRefundsOff = web.NewError(http.StatusServiceUnavailable, "refunds_unavailable", "refunds cannot be requested here right now; ask support")
)
