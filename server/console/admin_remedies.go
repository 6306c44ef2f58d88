package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"veil/pages"
	"veil/server/shop"
	"veil/server/staff"
	"veil/server/store"
	"veil/server/web"
)

// Remedies and recalls: the approval kinds of after-sales, their executors,
// and the ways to propose them — from a ticket (the product's policy
// decides what may be offered, and a trusted tier lets policy approve it),
// or directly (POST /api/v1/admin/replacements and /recalls).

// replacementParams are a replacement approval's params.
type replacementParams struct {
	Ref     string `json:"ref"`
	ItemID  string `json:"item_id,omitempty"` // "" = the ticket's item, or the first
	Ticket  string `json:"ticket,omitempty"`  // resolved with the replacement
	Product string `json:"product"`
}

// recallParams are a batch recall approval's params.
type recallParams struct {
	Batch   string `json:"batch"`
	Product string `json:"product"`
}

// registerAfterSalesExecutors plugs in replacements and recalls; refunds
// (with or without a ticket) are the console's (admin_ops.go). Support
// staff may decide both kinds (the staff package's floor).
func (s *Server) registerAfterSalesExecutors() {
	s.Staff.RegisterExecutor(staff.KindReplacement, staff.RoleSupport, func(tx *store.Txn, a staff.Approval) (string, error) {
		var p replacementParams
		if err := json.Unmarshal(a.Params, &p); err != nil {
			return "", fmt.Errorf("%w: params: %v", staff.ErrExecFailed, err)
		}
		o, err := s.Shop.ReplaceTx(tx, p.Ref, p.ItemID, p.Ticket)
		if err != nil {
			return "", permanent(err)
		}
		res := fmt.Sprintf("%s is %s: a fresh key was delivered", o.Ref, o.Status)
		if p.Ticket != "" {
			res += "; ticket " + p.Ticket + " resolved"
		}
		return res, nil
	})
	s.Staff.RegisterExecutor(staff.KindRecall, staff.RoleSupport, func(tx *store.Txn, a staff.Approval) (string, error) {
		var p recallParams
		if err := json.Unmarshal(a.Params, &p); err != nil {
			return "", fmt.Errorf("%w: params: %v", staff.ErrExecFailed, err)
		}
		res, err := s.Shop.RecallTx(tx, p.Batch)
		if err != nil {
			return "", permanent(err)
		}
		return fmt.Sprintf("batch %s: %d delivered keys recalled, %d replaced, %d orders refund_due, %d unsold keys withdrawn",
			p.Batch, res.Recalled, res.Replaced, res.RefundDue, res.Withdrawn), nil
	})
}

// remedyOp is the approval a ticket's remedy becomes.
func remedyOp(t shop.Ticket, o shop.Order, remedy shop.Remedy, amountMinor int64) (staff.Kind, any, string) {
	switch remedy {
	case shop.RemedyReplace:
		return staff.KindReplacement, replacementParams{Ref: o.Ref, ItemID: t.ItemID, Ticket: t.ID, Product: o.ProductID},
			fmt.Sprintf("replace a key of %s (ticket %s, %s)", o.Ref, t.ID, strings.ReplaceAll(string(t.Reason), "_", " "))
	case shop.RemedyPartialRefund:
		return staff.KindPartialRefund, refundParams{Ref: o.Ref, Product: o.ProductID, AmountMinor: amountMinor, Currency: o.Currency,
				Reason: "ticket " + t.ID + ": " + string(t.Reason), Ticket: t.ID},
			fmt.Sprintf("refund %s of %s (ticket %s, %s)", pages.Money(amountMinor, o.Currency), o.Ref, t.ID, strings.ReplaceAll(string(t.Reason), "_", " "))
	}
	return staff.KindRefund, refundParams{Ref: o.Ref, Product: o.ProductID, Currency: o.Currency,
			Reason: "ticket " + t.ID + ": " + string(t.Reason), Ticket: t.ID},
		fmt.Sprintf("refund all that is left of %s (ticket %s, %s)", o.Ref, t.ID, strings.ReplaceAll(string(t.Reason), "_", " "))
}

// withoutTicket drops the ticket from a remedy's params, for a remedy that
// policy approves: the caller resolves the ticket itself, after recording
// the approval on it.
func withoutTicket(params any) any {
	switch p := params.(type) {
	case replacementParams:
		p.Ticket = ""
		return p
	case refundParams:
		p.Ticket = ""
		return p
	}
	return params
}

// proposeRemedy turns a ticket's remedy into an approval. The product's
// policy must offer it within the after-sales window (shop.CheckRemedy).
// For an order whose trust tier reaches the policy's threshold, and a
// remedy within the fast-track bounds the owner set (shop.FastTrackTx,
// checked and counted in the same transaction), policy approves and
// executes it at once (staff.AutoApproveTx, the rule in the audit log) and
// the ticket is resolved, all in one commit; otherwise the approval and the ticket's
// "proposed" state commit together and the remedy waits for a person with
// a TOTP code. Only the ticket's owner (or anyone, while it has none) may
// propose.
func (s *Server) proposeRemedy(sess staff.Session, ticketID string, remedy shop.Remedy, amountMinor int64) (staff.Approval, error) {
	switch remedy {
	case shop.RemedyReplace, shop.RemedyPartialRefund, shop.RemedyRefund:
	default:
		return staff.Approval{}, web.BadRequest("remedy: replace, partial_refund or refund")
	}
	if remedy != shop.RemedyPartialRefund {
		amountMinor = 0
	}
	t, o, auto, err := s.Shop.CheckRemedy(ticketID, remedy, amountMinor)
	if err != nil {
		return staff.Approval{}, err
	}
	if t.Owner != "" && t.Owner != sess.User {
		return staff.Approval{}, shop.ErrNotOwner
	}
	if s.DB == nil {
		return staff.Approval{}, web.ErrSupportOff
	}
	kind, params, summary := remedyOp(t, o, remedy, amountMinor)
	var a staff.Approval
	var rule string
	fast := false
	err = s.DB.Update(func(tx *store.Txn) error {
		fast, rule = false, ""
		if auto {
			// Fast track: the owner's bounds are checked, and the amount
			// counted, in the transaction that approves it.
			var err error
			if rule, fast, err = s.Shop.FastTrackTx(tx, o.Ref, remedy, amountMinor); err != nil {
				return err
			}
		}
		if fast {
			var err error
			a, err = s.Staff.AutoApproveTx(tx, staff.StaffActor(sess.User), kind, o.Ref, summary+" [policy "+rule+"]", withoutTicket(params), rule)
			if err != nil {
				return err
			}
			if err := s.Shop.MarkProposedTx(tx, t.ID, remedy, amountMinor, a.ID, true); err != nil {
				return err
			}
			return s.Shop.ResolveTicketTx(tx, t.ID, shop.TicketResolved)
		}
		var err error
		a, err = s.Staff.ProposeTx(tx, staff.StaffActor(sess.User), kind, o.Ref, summary, params)
		if err != nil {
			return err
		}
		return s.Shop.MarkProposedTx(tx, t.ID, remedy, amountMinor, a.ID, false)
	})
	if err != nil {
		return staff.Approval{}, err
	}
	if fast {
		s.Log.Info("remedy approved by policy", "ticket", t.ID, "ref", o.Ref, "approval", a.ID, "kind", string(kind), "rule", rule)
		s.afterApproval(a)
		return a, nil
	}
	if auto {
		s.Log.Info("remedy outside the fast-track bounds, proposed", "ticket", t.ID, "ref", o.Ref, "approval", a.ID, "bound", rule)
	}
	s.Log.Info("remedy proposed", "ticket", t.ID, "ref", o.Ref, "approval", a.ID, "kind", string(kind), "staff", sess.User)
	return a, nil
}

// afterRemedyDecision puts a ticket whose proposed remedy was rejected back
// to "answered", so that its owner can answer again and propose another
// remedy (or reject the ticket). A failed remedy leaves the ticket
// "proposed"; its page says the approval failed.
func (s *Server) afterRemedyDecision(a staff.Approval) {
	if a.Status != staff.StatusRejected || s.DB == nil {
		return
	}
	var p struct {
		Ticket string `json:"ticket"`
	}
	if json.Unmarshal(a.Params, &p) != nil || p.Ticket == "" {
		return
	}
	t, err := s.Shop.Ticket(p.Ticket)
	if err != nil || t.Status != shop.TicketProposed || t.Approval != a.ID {
		return
	}
	err = s.DB.Update(func(tx *store.Txn) error { return s.Shop.ResolveTicketTx(tx, t.ID, shop.TicketAnswered) })
	if err != nil {
		s.Log.Error("reopen ticket after rejected remedy", "ticket", t.ID, "approval", a.ID, "err", err)
	}
}

// replacementRequest is POST /api/v1/admin/replacements.
type replacementRequest struct {
	Ref    string `json:"ref"`
	ItemID string `json:"item_id"`
	Ticket string `json:"ticket"`
	TOTP   string `json:"totp"`
}

// proposeReplacement proposes (or, with a code, executes) a replacement
// key for an order. With a ticket and no code it is the ticket's remedy
// (proposeRemedy: policy checks, the ticket marked proposed, or approved by
// policy for a trusted tier).
func (s *Server) proposeReplacement(sess staff.Session, req replacementRequest) (staff.Approval, error) {
	ref, ticket, item := strings.TrimSpace(req.Ref), strings.TrimSpace(req.Ticket), strings.TrimSpace(req.ItemID)
	if len(item) > 64 {
		return staff.Approval{}, web.BadRequest("item_id: not an item of this order")
	}
	if ticket != "" {
		t, err := s.Shop.Ticket(ticket)
		if err != nil {
			return staff.Approval{}, err
		}
		if ref != "" && ref != t.Ref {
			return staff.Approval{}, web.BadRequest("ticket: not a ticket of this order")
		}
		if item != "" && t.ItemID != "" && item != t.ItemID {
			return staff.Approval{}, web.BadRequest("item_id: not the ticket's item")
		}
		if strings.TrimSpace(req.TOTP) == "" && item == "" {
			return s.proposeRemedy(sess, ticket, shop.RemedyReplace, 0)
		}
		if _, _, _, err := s.Shop.CheckRemedy(ticket, shop.RemedyReplace, 0); err != nil {
			return staff.Approval{}, err
		}
		ref = t.Ref
		if item == "" {
			item = t.ItemID
		}
	}
	if ref == "" {
		return staff.Approval{}, web.BadRequest("ref is required")
	}
	o, err := s.Shop.OrderByRef(ref)
	if err != nil {
		return staff.Approval{}, err
	}
	p := replacementParams{Ref: o.Ref, ItemID: item, Ticket: ticket, Product: o.ProductID}
	summary := "replace a key of " + o.Ref
	if ticket != "" {
		summary += " (ticket " + ticket + ")"
	}
	return s.proposeOp(sess, staff.KindReplacement, o.Ref, summary, p, req.TOTP)
}

// recallRequest is POST /api/v1/admin/recalls.
type recallRequest struct {
	Batch string `json:"batch"`
	TOTP  string `json:"totp"`
}

// batchProduct finds the product a batch belongs to.
func (s *Server) batchProduct(batch string) (shop.Product, error) {
	ps, err := s.Shop.Products()
	if err != nil {
		return shop.Product{}, err
	}
	for _, p := range ps {
		bs, err := s.Shop.Batches(p.ID)
		if err != nil {
			return shop.Product{}, err
		}
		for _, b := range bs {
			if b.ID == batch {
				return p, nil
			}
		}
	}
	return shop.Product{}, web.BadRequest("batch: no such batch")
}

// proposeRecall proposes (or, with a code, executes) the recall of a
// supplier batch: every delivered key of it is recalled and replaced from
// other batches, or its order becomes refund_due.
func (s *Server) proposeRecall(sess staff.Session, req recallRequest) (staff.Approval, error) {
	batch := strings.TrimSpace(req.Batch)
	if batch == "" {
		return staff.Approval{}, web.BadRequest("batch is required")
	}
	if len(batch) > 64 {
		return staff.Approval{}, web.BadRequest("batch: no such batch")
	}
	prod, err := s.batchProduct(batch)
	if err != nil {
		return staff.Approval{}, err
	}
	return s.proposeOp(sess, staff.KindRecall, batch, fmt.Sprintf("recall batch %s of %s", batch, prod.Slug),
		recallParams{Batch: batch, Product: prod.ID}, req.TOTP)
}

// recallSubmit is POST /admin/recalls (batch, totp): the stock page's
// "recall this batch" button.
func (s *Server) recallSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	a, err := s.proposeRecall(sess, recallRequest{Batch: r.PostForm.Get("batch"), TOTP: r.PostForm.Get("totp")})
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	var p recallParams
	_ = json.Unmarshal(a.Params, &p)
	s.opRedirect(w, r, a, "/admin/products/"+url.PathEscape(p.Product)+"/stock")
}
