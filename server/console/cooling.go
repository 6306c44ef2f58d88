package console

import (
	"veil/server/shop"
	"veil/server/staff"
	"veil/server/store"
)

// coolingOffReason marks a refund's params as the cooling-off offer, which
// the refund executor re-checks inside its transaction.
const coolingOffReason = "cooling_off"

// CoolingOffRefund refunds the order ref in full without reason (the
// product's cooling-off period, keys never shown). The buyer's handler has
// checked shop.CoolingOffOK on the order it looked up; this checks again on
// the order as stored now, then policy approves the refund at once
// (staff.AutoApproveTx, rule "cooling_off"): the approval, its audit entry
// and the refund commit together. Without a store handle it can only queue
// the refund for a person.
func (s *Server) CoolingOffRefund(ref string) error {
	o, err := s.Shop.OrderByRef(ref)
	if err != nil {
		return err
	}
	prod, err := s.Shop.Product(o.ProductID)
	if err != nil {
		return err
	}
	if !s.Shop.CoolingOffOK(o, prod) {
		return shop.ErrCoolingOffOver
	}
	p := refundParams{Ref: o.Ref, Product: o.ProductID, Currency: o.Currency, Reason: coolingOffReason}
	summary := "cooling-off refund of " + o.Ref
	if s.DB == nil {
		a, err := s.Staff.Propose("system", staff.KindRefund, o.Ref, summary, p)
		if err != nil {
			return err
		}
		s.Log.Warn("cooling-off refund queued: no store handle for policy approval", "ref", o.Ref, "approval", a.ID)
		return nil
	}
	var a staff.Approval
	err = s.DB.Update(func(tx *store.Txn) error {
		var err error
		a, err = s.Staff.AutoApproveTx(tx, "system", staff.KindRefund, o.Ref, summary, p, "cooling_off")
		return err
	})
	if err != nil {
		return err
	}
	s.Log.Info("cooling-off refund approved by policy", "ref", o.Ref, "approval", a.ID)
	s.afterApproval(a)
	return nil
}
