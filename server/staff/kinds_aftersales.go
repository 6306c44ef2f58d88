package staff

// Approval kinds of issue 13's after-sales (compensation keys, batch
// freezes). Money-out kinds are not among them: a pro-rata refund by use is
// proposed as a refund or partial_refund, which already share the money
// switch.
const (
	// KindCompensationKey gives an order an extra key of any product
	// (given, not sold).
	KindCompensationKey Kind = "compensation_key"
	// KindBatchUnfreeze puts a frozen supplier batch's keys back on sale.
	// (Recalling a frozen batch is a recall.)
	KindBatchUnfreeze Kind = "batch_unfreeze"
	// KindFreezeRule sets when a batch freezes automatically (reports,
	// share of delivered keys, window) or turns freezing off.
	KindFreezeRule Kind = "freeze_rule"
)

func init() {
	// A key given away is stock leaving the shop: owners decide it, like
	// exports. Unfreezing sells keys buyers reported bad: owners too.
	RegisterKind(KindCompensationKey, RoleOwner, false)
	RegisterKind(KindBatchUnfreeze, RoleOwner, false)
	RegisterKind(KindFreezeRule, RoleOwner, false)
}
