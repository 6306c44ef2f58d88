package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"veil/pages"
	"veil/server/shop"
	"veil/server/staff"
	"veil/server/store"
)

// paymentConfirmParams are the params of a payment_confirm approval. Mode
// "manual": staff received AmountMinor outside any gateway (the manual
// provider). Mode "held": a gateway payment (Provider, TradeNo) of
// another amount than the order's waits to be accepted.
type paymentConfirmParams struct {
	Mode        string `json:"mode"`
	AmountMinor int64  `json:"amount_minor"`
	Provider    string `json:"provider,omitempty"`
	TradeNo     string `json:"trade_no,omitempty"`
	// Product lets the console reconcile the product's stock pool after
	// the approval ran (a late confirmation takes keys in a transaction
	// the shop does not own).
	Product string `json:"product,omitempty"`
}

const (
	confirmManual = "manual"
	confirmHeld   = "held"
)

// registerPaymentExecutors plugs in payment_confirm: owners only (also the
// kind's floor), since it hands out keys against money staff say arrived.
func (s *Server) registerPaymentExecutors() {
	s.staff.RegisterExecutor(staff.KindPaymentConfirm, staff.RoleOwner, s.execPaymentConfirm)
}

// execPaymentConfirm runs inside the transaction that approves: the
// payment is applied and the keys delivered (or queued while the vault is
// locked) in the same commit as the approval. A manual payment's trade
// number is "approval-<id>", so one approval pays at most once.
func (s *Server) execPaymentConfirm(tx *store.Txn, a staff.Approval) (string, error) {
	var p paymentConfirmParams
	if err := json.Unmarshal(a.Params, &p); err != nil {
		return "", fmt.Errorf("%w: params: %w", staff.ErrExecFailed, err)
	}
	var (
		o   shop.Order
		err error
	)
	switch p.Mode {
	case confirmHeld:
		o, err = s.shop.ConfirmHeldTx(tx, a.Ref, p.Provider, p.TradeNo)
	case confirmManual:
		o, err = s.shop.ConfirmPaymentTx(tx, a.Ref, shop.Payment{
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
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	req.Ref = strings.TrimSpace(req.Ref)
	if req.Ref == "" || req.AmountMinor <= 0 {
		s.writeError(w, r, badRequest("ref and a positive amount_minor are required"))
		return
	}
	o, err := s.shop.OrderByRef(req.Ref)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	switch o.Status {
	case shop.StatusPending, shop.StatusExpired, shop.StatusPaymentHeld:
	default:
		s.writeError(w, r, shop.ErrNotPayable)
		return
	}
	if req.AmountMinor != o.AmountMinor {
		s.writeError(w, r, shop.ErrAmountMismatch)
		return
	}
	summary := fmt.Sprintf("Manual payment of %s received for order %s: approve to deliver",
		pages.Money(req.AmountMinor, o.Currency), o.Ref)
	a, err := s.proposeOp(sess, staff.KindPaymentConfirm, o.Ref, summary,
		paymentConfirmParams{Mode: confirmManual, AmountMinor: req.AmountMinor, Product: o.ProductID}, req.TOTP)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.writeOp(w, a)
}

// payManualPage is GET /pay/manual?ref=R-…: the merchant's payment
// instructions with the order's ref and amount. The ref grants nothing:
// the page shows state, never keys.
func (s *Server) payManualPage(w http.ResponseWriter, r *http.Request) {
	m := s.payments.manual()
	if m == nil {
		s.writeError(w, r, errNotFound)
		return
	}
	o, err := s.shop.OrderByRef(strings.TrimSpace(r.URL.Query().Get("ref")))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	lang := s.lang(r)
	page := s.orderStatusPage(r, lang, o)
	if o.Status == shop.StatusPending || o.Status == shop.StatusExpired {
		// The instructions come first, then how to mark the payment.
		var lines []pages.Notice
		for _, l := range m.Instructions() {
			lines = append(lines, pages.Notice{Text: l})
		}
		lines = append(lines, pages.Notice{Text: fmt.Sprintf(s.pages.T(lang, "manual.write_ref"), page.Amount, o.Ref)})
		page.Notices = append(lines, page.Notices...)
		page.StatusHint = s.pages.T(lang, "manual.hint")
	}
	s.render(w, r, http.StatusOK, page)
}

// ReconcileHeld settles held payments whose approval was rejected (or
// failed): each becomes owed back and its order refund_due, the reserved
// stock returning. The approvals queue runs no executor on a rejection,
// so this is how a rejection takes effect: RunPayments calls it
// periodically and AfterDecision at once. It returns how many it settled.
func (s *Server) ReconcileHeld() (int, error) {
	if s.staff == nil {
		return 0, nil
	}
	held, err := s.shop.HeldPayments()
	if err != nil {
		return 0, err
	}
	var errs []error
	n := 0
	for _, rec := range held {
		if rec.ApprovalID == "" {
			continue
		}
		a, err := s.staff.Get(rec.ApprovalID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if a.Status != staff.StatusRejected && a.Status != staff.StatusFailed {
			continue
		}
		if _, err := s.shop.RefuseHeld(rec.Ref, rec.ApprovalID); err != nil {
			if !errors.Is(err, shop.ErrNotHeld) {
				errs = append(errs, err)
			}
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// AfterDecision applies the side of a decision that runs no executor: the
// console calls it after staff.Decide so a rejected held payment is owed
// back at once rather than at the next RunPayments tick.
func (s *Server) AfterDecision(a staff.Approval) {
	if a.Kind != staff.KindPaymentConfirm || (a.Status != staff.StatusRejected && a.Status != staff.StatusFailed) {
		return
	}
	if _, err := s.ReconcileHeld(); err != nil {
		s.log.Error("reconcile held payments", "err", err)
	}
}

// RunPayments runs ReconcileHeld every minute, and the Monero watcher
// (RunMonero) when the rail is on, until ctx ends.
func (s *Server) RunPayments(ctx context.Context) {
	done := make(chan struct{})
	go func() { s.RunMonero(ctx); close(done) }()
	defer func() { <-done }()
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		if _, err := s.ReconcileHeld(); err != nil {
			s.log.Error("reconcile held payments", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
