package server

import (
	"net/http"

	"veil/server/staff"
	"veil/server/store"
)

// coolingOffReason marks a refund's params as the cooling-off offer, which
// the refund executor re-checks inside its transaction.
const coolingOffReason = "cooling_off"

// errRefundsOff: a cooling-off refund asked of a shop without a console
// (no approvals to carry it).
var errRefundsOff = &httpError{http.StatusServiceUnavailable, "refunds_unavailable", "refunds cannot be requested here right now; ask support"}

// coolingOffRefund refunds the order ref in full without reason (the
// product's cooling-off period, keys never shown). The buyer's handler has
// checked shop.CoolingOffOK on the order it looked up; this checks again on
// the order as stored now, then policy approves the refund at once
// (staff.AutoApproveTx, rule "cooling_off"): the approval, its audit entry
// and the refund commit together. Without a store handle it can only queue
// the refund for a person.
func (s *Server) coolingOffRefund(ref string) error {
	if s.staff == nil {
		return errRefundsOff
	}
	o, err := s.shop.OrderByRef(ref)
	if err != nil {
		return err
	}
	prod, err := s.shop.Product(o.ProductID)
	if err != nil {
		return err
	}
	if !s.shop.CoolingOffOK(o, prod) {
		return errCoolingOffOver
	}
	p := refundParams{Ref: o.Ref, Product: o.ProductID, Currency: o.Currency, Reason: coolingOffReason}
	summary := "cooling-off refund of " + o.Ref
	if s.db == nil {
		a, err := s.staff.Propose("system", staff.KindRefund, o.Ref, summary, p)
		if err != nil {
			return err
		}
		s.log.Warn("cooling-off refund queued: no store handle for policy approval", "ref", o.Ref, "approval", a.ID)
		return nil
	}
	var a staff.Approval
	err = s.db.Update(func(tx *store.Txn) error {
		var err error
		a, err = s.staff.AutoApproveTx(tx, "system", staff.KindRefund, o.Ref, summary, p, "cooling_off")
		return err
	})
	if err != nil {
		return err
	}
	s.log.Info("cooling-off refund approved by policy", "ref", o.Ref, "approval", a.ID)
	s.afterApproval(a)
	return nil
}
