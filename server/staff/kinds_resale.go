package staff

// Approval kinds of the resale network (issue 14).
const (
	// KindResellerCreate opens a reseller account.
	KindResellerCreate Kind = "reseller_create"
	// KindResellerTopUp credits a balance with money the reseller paid.
	KindResellerTopUp Kind = "reseller_topup"
	// KindResellerAdjust corrects a balance, either way.
	KindResellerAdjust Kind = "reseller_adjust"
	// KindResellerBalanceRefund pays (part of) a balance back to the
	// reseller: money leaving the shop.
	KindResellerBalanceRefund Kind = "reseller_balance_refund"
	// KindResellerRefund refunds a resale item to the balance (a ticket's
	// remedy).
	KindResellerRefund Kind = "reseller_refund"
	// KindResellerReplacement gives a resale item a fresh key (a ticket's
	// remedy).
	KindResellerReplacement Kind = "reseller_replacement"
)

func init() {
	// Everything that credits a balance or pays one out shares the money
	// two-person switch: a credited balance buys stock as cash would, so a
	// top-up or an upward adjustment without money received gives goods
	// away exactly as a refund gives money away. Replacements are like the
	// buyer's (support may decide them).
	RegisterKind(KindResellerCreate, RoleOwner, false)
	RegisterKind(KindResellerTopUp, RoleOwner, true)
	RegisterKind(KindResellerAdjust, RoleOwner, true)
	RegisterKind(KindResellerBalanceRefund, RoleOwner, true)
	RegisterKind(KindResellerRefund, RoleOwner, true)
	RegisterKind(KindResellerReplacement, RoleSupport, false)
}
