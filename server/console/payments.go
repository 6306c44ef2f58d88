package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"veil/pages"
	"veil/server/payments"
	"veil/server/shop"
	"veil/server/staff"
	"veil/server/store"
	"veil/server/web"
)

// registerPaymentExecutors plugs in payment_confirm: owners only (also the
// kind's floor), since it hands out keys against money staff say arrived.
func (s *Server) registerPaymentExecutors() {
	s.Staff.RegisterExecutor(staff.KindPaymentConfirm, staff.RoleOwner, s.execPaymentConfirm)
}

// execPaymentConfirm runs inside the transaction that approves: the
// payment is applied and the keys delivered (or queued while the vault is
// locked) in the same commit as the approval. A manual payment's trade
// number is "approval-<id>", so one approval pays at most once.
func (s *Server) execPaymentConfirm(tx *store.Txn, a staff.Approval) (string, error) {
	var p payments.ConfirmParams
	if err := json.Unmarshal(a.Params, &p); err != nil {
		return "", fmt.Errorf("%w: params: %w", staff.ErrExecFailed, err)
	}
	var (
		o   shop.Order
		err error
	)
	switch p.Mode {
	case payments.ConfirmHeld:
		o, err = s.Shop.ConfirmHeldTx(tx, a.Ref, p.Provider, p.TradeNo)
	case payments.ConfirmManual:
		o, err = s.Shop.ConfirmPaymentTx(tx, a.Ref, shop.Payment{
			Provider: "manual", TradeNo: "approval-" + a.ID, AmountMinor: p.AmountMinor,
		})
	default:
		return "", fmt.Errorf("%w: unknown mode %q", staff.ErrExecFailed, p.Mode)
	}
	if err != nil {
		var input *shop.InputError
		if errors.Is(err, shop.ErrNotHeld) || errors.Is(err, shop.ErrNotPayable) || errors.Is(err, shop.ErrAmountMismatch) ||
			errors.Is(err, shop.ErrOrderNotFound) || errors.Is(err, shop.ErrProductNotFound) || errors.As(err, &input) {
			return "", fmt.Errorf("%w: %w", staff.ErrExecFailed, err)
		}
		return "", err
	}
	return "order " + string(o.Status), nil
}

// adminConfirmPayment is POST /api/v1/admin/payments/confirm
// {"ref","amount_minor","totp"?}: staff say the money of a manual payment
// arrived. Without a TOTP code (or for a role that may not approve it
// alone) it queues a payment_confirm approval: 202 {"approval_id"}. With a
// valid code from an owner it executes at once: 200 {"approval_id",
// "status":"approved","result"}, the order delivered.
// The amount must be the order's (409 amount_mismatch) and the order
// waiting for payment, expired or holding a payment (409 not_payable).
func (s *Server) adminConfirmPayment(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	var req struct {
		Ref         string `json:"ref"`
		AmountMinor int64  `json:"amount_minor"`
		TOTP        string `json:"totp"`
	}
	if err := web.DecodeJSON(r, &req); err != nil {
		s.WriteError(w, r, err)
		return
	}
	req.Ref = strings.TrimSpace(req.Ref)
	if req.Ref == "" || req.AmountMinor <= 0 {
		s.WriteError(w, r, web.BadRequest("ref and a positive amount_minor are required"))
		return
	}
	o, err := s.Shop.OrderByRef(req.Ref)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	switch o.Status {
	case shop.StatusPending, shop.StatusExpired, shop.StatusPaymentHeld:
	default:
		s.WriteError(w, r, shop.ErrNotPayable)
		return
	}
	if req.AmountMinor != o.AmountMinor {
		s.WriteError(w, r, shop.ErrAmountMismatch)
		return
	}
	summary := fmt.Sprintf("Manual payment of %s received for order %s: approve to deliver",
		pages.Money(req.AmountMinor, o.Currency), o.Ref)
	a, err := s.proposeOp(sess, staff.KindPaymentConfirm, o.Ref, summary,
		payments.ConfirmParams{Mode: payments.ConfirmManual, AmountMinor: req.AmountMinor, Product: o.ProductID}, req.TOTP)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.writeOp(w, a)
}
