package staff

// Approval kinds of the merchant's commerce tools (issues 12 and 13 §1).
const (
	// KindCompensationVoucher issues a shop-credit voucher of an amount to
	// an order, proposed by staff or by the owner's compensation rule.
	// Credit is not money leaving the shop, so it is not money-out; owners
	// decide it like every other gift.
	KindCompensationVoucher Kind = "compensation_voucher"
	// KindOrdersExport exports the metadata of the orders a search selects
	// as CSV (no token, no key): a list of the shop's sales leaves it.
	KindOrdersExport Kind = "orders_export"
)

func init() {
	RegisterKind(KindCompensationVoucher, RoleOwner, false)
	RegisterKind(KindOrdersExport, RoleOwner, false)
}
