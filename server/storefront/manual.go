package storefront

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"veil/pages"
	"veil/server/shop"
	"veil/server/staff"
	"veil/server/web"
)

// payManualPage is GET /pay/manual?ref=R-…: the merchant's payment
// instructions with the order's ref and amount. The ref grants nothing:
// the page shows state, never keys.
func (s *Server) payManualPage(w http.ResponseWriter, r *http.Request) {
	m := s.payments.Manual()
	if m == nil {
		s.WriteError(w, r, web.ErrNotFound)
		return
	}
	o, err := s.Shop.OrderByRef(strings.TrimSpace(r.URL.Query().Get("ref")))
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	lang := s.Lang(r)
	page := s.orderStatusPage(r, lang, o)
	if o.Status == shop.StatusPending || o.Status == shop.StatusExpired {
		// The instructions come first, then how to mark the payment.
		var lines []pages.Notice
		for _, l := range m.Instructions() {
			lines = append(lines, pages.Notice{Text: l})
		}
		lines = append(lines, pages.Notice{Text: fmt.Sprintf(s.Pages.T(lang, "manual.write_ref"), page.Amount, o.Ref)})
		page.Notices = append(lines, page.Notices...)
		page.StatusHint = s.Pages.T(lang, "manual.hint")
	}
	s.Render(w, r, http.StatusOK, page)
}

// ReconcileHeld settles held payments whose approval was rejected (or
// failed): each becomes owed back and its order refund_due, the reserved
// stock returning. The approvals queue runs no executor on a rejection,
// so this is how a rejection takes effect: RunPayments calls it
// periodically and AfterDecision at once. It returns how many it settled.
func (s *Server) ReconcileHeld() (int, error) {
	if s.Staff == nil {
		return 0, nil
	}
	held, err := s.Shop.HeldPayments()
	if err != nil {
		return 0, err
	}
	var errs []error
	n := 0
	for _, rec := range held {
		if rec.ApprovalID == "" {
			continue
		}
		a, err := s.Staff.Get(rec.ApprovalID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if a.Status != staff.StatusRejected && a.Status != staff.StatusFailed {
			continue
		}
		if _, err := s.Shop.RefuseHeld(rec.Ref, rec.ApprovalID); err != nil {
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
		s.Log.Error("reconcile held payments", "err", err)
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
			s.Log.Error("reconcile held payments", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
