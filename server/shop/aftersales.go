package shop

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"veil/crypto"
	"veil/server/notify"
	"veil/server/store"
)

// After-sales: tickets, remedies and batch recalls. The words of a ticket
// (its detail, answers) live in the order's sealed support thread (package
// msg); a ticket record holds only its structure.

// Reason is why a buyer opens a ticket.
type Reason string

const (
	ReasonKeyInvalid     Reason = "key_invalid"
	ReasonKeyAlreadyUsed Reason = "key_already_used"
	ReasonWrongRegion    Reason = "wrong_region"
	ReasonNotReceived    Reason = "not_received"
	ReasonOther          Reason = "other"
)

// Reasons lists every reason, for forms.
func Reasons() []Reason {
	return []Reason{ReasonKeyInvalid, ReasonKeyAlreadyUsed, ReasonWrongRegion, ReasonNotReceived, ReasonOther}
}

// TicketStatus is where a ticket stands, as the buyer follows it.
type TicketStatus string

const (
	TicketOpen     TicketStatus = "open"
	TicketAnswered TicketStatus = "answered"
	TicketProposed TicketStatus = "proposed"
	TicketResolved TicketStatus = "resolved"
	TicketRejected TicketStatus = "rejected"
)

// Ticket is a buyer's problem report on an order.
type Ticket struct {
	ID     string       `json:"id"`
	Ref    string       `json:"ref"`
	ItemID string       `json:"item_id,omitempty"`
	Reason Reason       `json:"reason"`
	Status TicketStatus `json:"status"`
	// Remedy and AmountMinor are what was proposed (and, once resolved,
	// given); Approval is the approval that carries it.
	Remedy      Remedy    `json:"remedy,omitempty"`
	AmountMinor int64     `json:"amount_minor,omitempty"`
	Approval    string    `json:"approval,omitempty"`
	Owner       string    `json:"owner,omitempty"` // the staff member handling it
	Auto        bool      `json:"auto,omitempty"`  // remedy approved by policy
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	// Resale (issue 14): the ticket forwarded to the upstream of a sourced
	// order (forward.go).
	Upstream *ForwardedTicket `json:"upstream,omitempty"`
}

// After-sales errors.
var (
	ErrTicketNotFound = errors.New("shop: ticket not found")                 // 404 ticket_not_found
	ErrWindowClosed   = errors.New("shop: after-sales window closed")        // 409 window_closed
	ErrNotOwner       = errors.New("shop: ticket handled by someone else")   // 409 not_owner
	ErrRemedyRefused  = errors.New("shop: remedy not offered by the policy") // 409 remedy_not_allowed
	ErrTicketClosed   = errors.New("shop: ticket closed")                    // 409 ticket_closed
	ErrTooManyTickets = errors.New("shop: too many open tickets")            // 429 too_many_tickets
	ErrCoolingOffOver = errors.New("shop: the cooling-off offer has ended")  // 409 cooling_off_over
)

const (
	pTicket      = "ticket/"    // ticket/<id> -> Ticket
	pOrderTicket = "ordticket/" // ordticket/<ref>/<id> -> ""
	// MaxOpenTickets per order keeps one buyer from flooding the queue.
	MaxOpenTickets = 3
	// MaxDetail is the largest ticket detail or answer, in bytes.
	MaxDetail = 4 << 10
)

func (t *Ticket) closed() bool { return t.Status == TicketResolved || t.Status == TicketRejected }

// Lookup finds the order of a token without opening its keys (so it does not
// count as revealing them). crypto.ErrTokenMalformed, ErrOrderNotFound.
func (s *Shop) Lookup(token string) (View, error) {
	t, err := crypto.ParseToken(token)
	if err != nil {
		return View{}, err
	}
	return s.LookupToken(t)
}

// LookupToken is Lookup for a token parsed already (the HTTP layer parses
// it once where it arrives). ErrOrderNotFound.
func (s *Shop) LookupToken(t crypto.Token) (View, error) {
	var v View
	err := s.db.View(func(tx *store.Txn) error {
		var err error
		if v.Order, err = getOrder(tx, t.Ref(), lookupHex(t)); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return ErrOrderNotFound
			}
			return err
		}
		// Vouchers are shown here too (not re-sealed: this only reads).
		_, err = s.openVouchers(tx, newOpener(t, &v.Order), &v)
		return err
	})
	if err != nil {
		return View{}, err
	}
	p, ok := s.catalog.get(v.Order.ProductID)
	if !ok {
		return View{}, ErrProductNotFound
	}
	v.Product = p
	v.RewardCode = rewardCode(t, v.Order)
	return s.withStockView(v)
}

// OpenTicket files a ticket on the order of a token. Problems with keys
// must come inside the after-sales window; not_received is always allowed
// for a paid order.
func (s *Shop) OpenTicket(token string, reason Reason, itemID string) (Ticket, error) {
	if !slices.Contains(Reasons(), reason) {
		return Ticket{}, inputErr("reason: one of key_invalid, key_already_used, wrong_region, not_received, other")
	}
	t, err := crypto.ParseToken(token)
	if err != nil {
		return Ticket{}, err
	}
	return s.OpenTicketToken(t, reason, itemID)
}

// OpenTicketToken is OpenTicket for a token parsed already.
func (s *Shop) OpenTicketToken(tok crypto.Token, reason Reason, itemID string) (Ticket, error) {
	if !slices.Contains(Reasons(), reason) {
		return Ticket{}, inputErr("reason: one of key_invalid, key_already_used, wrong_region, not_received, other")
	}
	v, err := s.LookupToken(tok)
	if err != nil {
		return Ticket{}, err
	}
	o := v.Order
	now := s.now().Truncate(timeUnit)
	switch {
	case o.Payment == nil:
		return Ticket{}, inputErr("the order is not paid")
	case reason != ReasonNotReceived && (o.DeliveredAt.IsZero() || now.After(o.WindowEnds)):
		return Ticket{}, ErrWindowClosed
	}
	if itemID != "" && !slices.Contains(o.Items, itemID) && o.Bad[itemID] == "" {
		return Ticket{}, inputErr("item_id: not an item of this order")
	}
	t := Ticket{
		ID: fmt.Sprintf("t%011x%s", now.UnixMilli(), crypto.RandomID("", 3)), Ref: o.Ref, ItemID: itemID,
		Reason: reason, Status: TicketOpen, CreatedAt: now, UpdatedAt: now,
	}
	var reconcile []string
	err = s.db.Update(func(tx *store.Txn) error {
		reconcile = nil
		open := 0
		err := s.ticketsOf(tx, o.Ref, func(x Ticket) {
			if !x.closed() {
				open++
			}
		})
		if err != nil {
			return err
		}
		if open >= MaxOpenTickets {
			return ErrTooManyTickets
		}
		if err := tx.Set(pOrderTicket+o.Ref+"/"+t.ID, nil); err != nil {
			return err
		}
		if err := s.cfg.Notify.Enqueue(tx, notify.Event{Kind: notify.TicketOpened, Ref: o.Ref, Ticket: t.ID, Reason: string(reason)}); err != nil {
			return err
		}
		if err := tx.SetJSON(pTicket+t.ID, t); err != nil {
			return err
		}
		var err2 error
		reconcile, err2 = s.reportBatchesTx(tx, o, t)
		return err2
	})
	if err != nil {
		return Ticket{}, err
	}
	for _, pid := range reconcile { // a freeze took keys out of stock
		if err := s.Reconcile(pid); err != nil {
			s.log.Error("shop: reconcile after freeze", "product", pid, "err", err)
		}
	}
	s.log.Info("shop: ticket opened", "ref", o.Ref, "ticket", t.ID, "reason", string(reason))
	return t, nil
}

func (s *Shop) ticketsOf(tx *store.Txn, ref string, fn func(Ticket)) error {
	prefix := pOrderTicket + ref + "/"
	return tx.Iterate(prefix, "", true, func(k string, _ []byte) error {
		var t Ticket
		if err := tx.GetJSON(pTicket+strings.TrimPrefix(k, prefix), &t); err != nil {
			return err
		}
		fn(t)
		return nil
	})
}

// TicketsOf lists an order's tickets, oldest first.
func (s *Shop) TicketsOf(ref string) ([]Ticket, error) {
	var ts []Ticket
	err := s.db.View(func(tx *store.Txn) error { return s.ticketsOf(tx, ref, func(t Ticket) { ts = append(ts, t) }) })
	return ts, err
}

// Ticket returns one ticket.
func (s *Shop) Ticket(id string) (Ticket, error) {
	var t Ticket
	err := s.db.View(func(tx *store.Txn) error { return getTicket(tx, id, &t) })
	return t, err
}

func getTicket(tx *store.Txn, id string, t *Ticket) error {
	if id == "" || len(id) > 40 {
		return ErrTicketNotFound
	}
	err := tx.GetJSON(pTicket+id, t)
	if errors.Is(err, store.ErrNotFound) {
		return ErrTicketNotFound
	}
	return err
}

// TicketFilter narrows the staff queue.
type TicketFilter struct {
	Status TicketStatus
	Owner  string // "-" for unowned
	Reason Reason
}

// Tickets lists tickets newest first, limit at a time.
func (s *Shop) Tickets(f TicketFilter, cursor string, limit int) ([]Ticket, string, error) {
	limit = min(max(limit, 1), 200)
	var all []Ticket
	err := s.db.View(func(tx *store.Txn) error {
		return tx.Iterate(pTicket, "", false, func(_ string, v []byte) error {
			var t Ticket
			if err := jsonUnmarshal(v, &t); err != nil {
				return err
			}
			switch {
			case f.Status != "" && t.Status != f.Status,
				f.Reason != "" && t.Reason != f.Reason,
				f.Owner == "-" && t.Owner != "",
				f.Owner != "" && f.Owner != "-" && t.Owner != f.Owner:
				return nil
			}
			all = append(all, t)
			return nil
		})
	})
	if err != nil {
		return nil, "", err
	}
	slices.Reverse(all)
	i := 0
	if cursor != "" {
		i = slices.IndexFunc(all, func(t Ticket) bool { return t.ID < cursor })
		if i < 0 {
			return nil, "", nil
		}
	}
	page := all[i:min(i+limit, len(all))]
	next := ""
	if i+limit < len(all) {
		next = page[len(page)-1].ID
	}
	return page, next, nil
}

// updateTicket changes a ticket in its own transaction.
func (s *Shop) updateTicket(id string, fn func(*Ticket) error) (Ticket, error) {
	var t Ticket
	err := s.db.Update(func(tx *store.Txn) error {
		if err := getTicket(tx, id, &t); err != nil {
			return err
		}
		if err := fn(&t); err != nil {
			return err
		}
		t.UpdatedAt = s.now().Truncate(timeUnit)
		return tx.SetJSON(pTicket+t.ID, t)
	})
	return t, err
}

// AnswerTicket records that staff answered (the words go to the thread).
// The first staff member to answer owns the ticket until they hand it over.
func (s *Shop) AnswerTicket(id, staffName string) (Ticket, error) {
	return s.updateTicket(id, func(t *Ticket) error {
		if t.closed() {
			return ErrTicketClosed
		}
		if t.Owner != "" && t.Owner != staffName {
			return ErrNotOwner
		}
		t.Owner = staffName
		if t.Status == TicketOpen {
			t.Status = TicketAnswered
		}
		return nil
	})
}

// HandOver passes a ticket to another staff member; only its owner (or
// anyone, while it has none) may.
func (s *Shop) HandOver(id, from, to string) (Ticket, error) {
	return s.updateTicket(id, func(t *Ticket) error {
		if t.Owner != "" && t.Owner != from {
			return ErrNotOwner
		}
		t.Owner = to
		return nil
	})
}

// RejectTicket closes a ticket without remedy.
func (s *Shop) RejectTicket(id, staffName string) (Ticket, error) {
	return s.updateTicket(id, func(t *Ticket) error {
		if t.closed() {
			return ErrTicketClosed
		}
		if t.Owner != "" && t.Owner != staffName {
			return ErrNotOwner
		}
		t.Owner, t.Status = staffName, TicketRejected
		return nil
	})
}

// CheckRemedy says whether the product's policy offers remedy for the
// ticket's order now, with amount for a partial refund, and whether the
// order's tier lets policy approve it without a person.
func (s *Shop) CheckRemedy(ticketID string, remedy Remedy, amountMinor int64) (Ticket, Order, bool, error) {
	t, err := s.Ticket(ticketID)
	if err != nil {
		return t, Order{}, false, err
	}
	if t.closed() {
		return t, Order{}, false, ErrTicketClosed
	}
	o, err := s.OrderByRef(t.Ref)
	if err != nil {
		return t, o, false, err
	}
	prod, ok := s.catalog.get(o.ProductID)
	if !ok {
		return t, o, false, ErrProductNotFound
	}
	if !slices.Contains(prod.Policy.Remedies, remedy) {
		return t, o, false, ErrRemedyRefused
	}
	if t.Reason != ReasonNotReceived && (o.DeliveredAt.IsZero() || s.now().After(o.WindowEnds)) {
		return t, o, false, ErrWindowClosed
	}
	left := o.AmountMinor - o.Refunded()
	switch remedy {
	case RemedyPartialRefund:
		if amountMinor <= 0 || amountMinor >= left {
			return t, o, false, inputErr("amount_minor: between 1 and %d", left-1)
		}
	case RemedyRefund:
		if left <= 0 {
			return t, o, false, ErrNotRefundable
		}
	case RemedyReplace:
		if o.DeliveredAt.IsZero() {
			return t, o, false, inputErr("nothing delivered to replace")
		}
	}
	auto := prod.Policy.AutoApproveTier > 0 && o.Tier >= prod.Policy.AutoApproveTier
	return t, o, auto, nil
}

// MarkProposedTx records on the ticket the remedy proposed through an
// approval, inside the approval's transaction.
func (s *Shop) MarkProposedTx(tx *store.Txn, ticketID string, remedy Remedy, amountMinor int64, approvalID string, auto bool) error {
	var t Ticket
	if err := getTicket(tx, ticketID, &t); err != nil {
		return err
	}
	if t.closed() {
		return ErrTicketClosed
	}
	t.Status, t.Remedy, t.AmountMinor, t.Approval, t.Auto = TicketProposed, remedy, amountMinor, approvalID, auto
	t.UpdatedAt = s.now().Truncate(timeUnit)
	return tx.SetJSON(pTicket+t.ID, t)
}

// ResolveTicketTx closes a ticket as resolved (its remedy was given) or
// rejected, inside the caller's transaction. An empty id does nothing.
func (s *Shop) ResolveTicketTx(tx *store.Txn, ticketID string, status TicketStatus) error {
	if ticketID == "" {
		return nil
	}
	var t Ticket
	if err := getTicket(tx, ticketID, &t); err != nil {
		return err
	}
	t.Status = status
	t.UpdatedAt = s.now().Truncate(timeUnit)
	return tx.SetJSON(pTicket+t.ID, t)
}

// GiveRemedyTx resolves a ticket with the remedy actually given (a
// replacement or a refund of amountMinor), whichever way it was decided:
// from the ticket, or directly on its order with the ticket named. The
// ticket then says what the buyer got, which the case library publishes.
func (s *Shop) GiveRemedyTx(tx *store.Txn, ticketID string, remedy Remedy, amountMinor int64) error {
	if ticketID == "" {
		return nil
	}
	var t Ticket
	if err := getTicket(tx, ticketID, &t); err != nil {
		return err
	}
	t.Status, t.Remedy = TicketResolved, remedy
	t.AmountMinor = 0
	if remedy != RemedyReplace {
		t.AmountMinor = amountMinor
	}
	t.UpdatedAt = s.now().Truncate(timeUnit)
	return tx.SetJSON(pTicket+t.ID, t)
}

// takeFromStock picks up to n available keys of prod inside tx, skipping
// those of excluded batches, and marks them reserved for ref. It reads the
// store's index, not the pool: it runs inside approvals; Reconcile after.
func takeFromStock(tx *store.Txn, prod Product, n int, ref string, exclude map[string]bool) ([]string, error) {
	prefix := pAvail + prod.ID + "/"
	var kids []string
	err := tx.Iterate(prefix, "", true, func(k string, _ []byte) error {
		kid := strings.TrimPrefix(k, prefix)
		if b, _, ok := strings.Cut(kid, "-"); ok && exclude[b] {
			return nil
		}
		kids = append(kids, kid)
		if len(kids) == n {
			return store.ErrStop
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, kid := range kids {
		var rec keyRecord
		if err := getKeyRec(tx, kid, &rec); err != nil {
			return nil, err
		}
		rec.State, rec.Order = KeyReserved, ref
		if err := putKeyRec(tx, kid, rec); err != nil {
			return nil, err
		}
		if err := tx.Delete(prefix + kid); err != nil {
			return nil, err
		}
	}
	return kids, nil
}

// replaceTx gives the order fresh keys for bad ones: the old keys get
// state (reported_bad or recalled) and the new ones are sealed to the order
// as a new delivery. It returns how many could be replaced (fewer when stock
// runs out, oldest bad key first).
func (s *Shop) replaceTx(tx *store.Txn, o *Order, prod Product, bad []string, state KeyState, exclude map[string]bool) (int, error) {
	if prod.Kind != Unique {
		return 0, inputErr("a shared product's key cannot be replaced; refund instead")
	}
	fresh, err := takeFromStock(tx, prod, len(bad), o.Ref, exclude)
	if err != nil {
		return 0, err
	}
	if err := markKeys(tx, o, bad, state); err != nil {
		return 0, err
	}
	if len(fresh) == 0 {
		return 0, nil
	}
	sealed, recs, err := s.sealKeys(tx, o, fresh, prod, true)
	if err != nil {
		return 0, err
	}
	if err := markDelivered(tx, prod, recs); err != nil {
		return 0, err
	}
	for i, kid := range bad[:len(fresh)] {
		j := slices.Index(o.Items, kid)
		if j >= 0 {
			o.Items[j] = fresh[i]
		}
	}
	o.Payloads = append(o.Payloads, Payload{Sealed: sealed})
	return len(fresh), nil
}

// markKeys gives the order's delivered keys kids the state (reported_bad
// or recalled), in the store and on the order.
func markKeys(tx *store.Txn, o *Order, kids []string, state KeyState) error {
	for _, kid := range kids {
		var rec keyRecord
		if err := getKeyRec(tx, kid, &rec); err != nil {
			return err
		}
		rec.State = state
		if err := putKeyRec(tx, kid, rec); err != nil {
			return err
		}
		if o.Bad == nil {
			o.Bad = map[string]KeyState{}
		}
		o.Bad[kid] = state
	}
	return nil
}

func markRecalled(tx *store.Txn, o *Order, kids []string) error {
	return markKeys(tx, o, kids, KeyRecalled)
}

// ReplaceTx replaces one delivered item (the ticket's, or the first when
// itemID is empty) with a fresh key from stock, inside an approval's
// transaction, and resolves the ticket. ErrOutOfStock when none is left.
func (s *Shop) ReplaceTx(tx *store.Txn, ref, itemID, ticketID string) (Order, error) {
	o, lk, err := getOrderByRef(tx, ref)
	if err != nil {
		return o, err
	}
	prod, ok := s.catalog.get(o.ProductID)
	if !ok {
		return o, ErrProductNotFound
	}
	switch o.Status {
	case StatusDelivered, StatusSettled, StatusReplaced, StatusPartiallyRefunded:
	default:
		return o, inputErr("only a delivered order can get a replacement")
	}
	if itemID == "" && len(o.Items) > 0 {
		itemID = o.Items[0]
	}
	if !slices.Contains(o.Items, itemID) {
		return o, inputErr("item_id: not a current item of this order")
	}
	if o.Upstream != nil {
		return o, inputErr("the key was bought upstream: forward the ticket to the upstream instead")
	}
	n, err := s.replaceTx(tx, &o, prod, []string{itemID}, KeyReportedBad, nil)
	if err != nil {
		return o, err
	}
	if n == 0 {
		return o, ErrOutOfStock
	}
	now := s.now().Truncate(timeUnit)
	o.Status = StatusReplaced
	o.Notices = append(o.Notices, Notice{Code: "replaced", At: now})
	if err := s.GiveRemedyTx(tx, ticketID, RemedyReplace, 0); err != nil {
		return o, err
	}
	return o, putOrder(tx, lk, o)
}

// RecallResult counts what a recall did.
type RecallResult struct {
	Recalled, Replaced, RefundDue, Withdrawn int
}

// RecallTx recalls a supplier batch inside an approval's transaction: its
// unsold keys leave stock, every delivered key of it is marked recalled, and
// each affected order gets replacements from other batches — or becomes
// refund_due for what cannot be replaced. Buyers see a notice.
func (s *Shop) RecallTx(tx *store.Txn, batchID string) (RecallResult, error) {
	var res RecallResult
	var b Batch
	if err := tx.GetJSON(pBatch+batchID, &b); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return res, inputErr("no such batch")
		}
		return res, err
	}
	prod, ok := s.catalog.get(b.ProductID)
	if !ok {
		return res, ErrProductNotFound
	}
	n, err := s.withdrawTx(tx, prod.ID, batchID+"-", nil)
	if err != nil {
		return res, err
	}
	res.Withdrawn = n
	if frozen, err := frozenBatch(tx, batchID); err != nil {
		return res, err
	} else if frozen { // its frozen keys are withdrawn too, and the freeze ends
		n, err := s.endFreezeTx(tx, batchID, "recalled")
		if err != nil {
			return res, err
		}
		res.Withdrawn += n
	}
	byOrder := map[string][]string{}
	var refs []string
	err = tx.Iterate(pKey+batchID+"-", "", false, func(_ string, v []byte) error {
		var rec keyRecord
		if err := decodeKeyRec(v, &rec); err != nil {
			return err
		}
		if rec.State == KeyDelivered && rec.Order != "" {
			if _, seen := byOrder[rec.Order]; !seen {
				refs = append(refs, rec.Order)
			}
			byOrder[rec.Order] = append(byOrder[rec.Order], rec.ID)
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	now := s.now().Truncate(timeUnit)
	exclude := map[string]bool{batchID: true}
	for _, ref := range refs {
		if IsResaleRef(ref) { // sold to a reseller (resale_tickets.go)
			got, err := s.recallResaleTx(tx, ref, prod, byOrder[ref], exclude)
			if err != nil {
				return res, err
			}
			res.Recalled += len(byOrder[ref])
			res.Replaced += got
			continue
		}
		o, lk, err := getOrderByRef(tx, ref)
		if err != nil {
			return res, err
		}
		bad := byOrder[ref]
		res.Recalled += len(bad)
		if o.Payment != nil && o.Refunded() >= o.AmountMinor {
			// Refunded in full already (its keys perhaps withheld): the
			// keys are marked recalled, but the buyer is owed nothing more
			// — no fresh key, no second refund.
			if err := markRecalled(tx, &o, bad); err != nil {
				return res, err
			}
			if err := putOrder(tx, lk, o); err != nil {
				return res, err
			}
			continue
		}
		got, err := s.replaceTx(tx, &o, prod, bad, KeyRecalled, exclude)
		if err != nil {
			return res, err
		}
		res.Replaced += got
		if got < len(bad) {
			res.RefundDue++
			o.Status = StatusRefundDue
			o.Notices = append(o.Notices, Notice{Code: "recalled_refund_due", At: now})
			if err := s.refundDue(tx, &o, true); err != nil {
				return res, err
			}
		} else {
			o.Status = StatusReplaced
			o.Notices = append(o.Notices, Notice{Code: "recalled_replaced", At: now})
		}
		if err := putOrder(tx, lk, o); err != nil {
			return res, err
		}
	}
	return res, nil
}

// refundDue tells the configured hook (the approvals queue) that an order
// is owed money back.
// shopFault says the shop caused it (it could not deliver, or recalled the
// keys), so the owner's compensation rule may propose a voucher.
func (s *Shop) refundDue(tx *store.Txn, o *Order, shopFault bool) error {
	if shopFault {
		if err := s.proposeCompensation(tx, o, CauseRefundDue); err != nil {
			return err
		}
	}
	if s.cfg.OnRefundDue == nil {
		return nil
	}
	return s.cfg.OnRefundDue(tx, *o)
}

// CoolingOffOK says whether the buyer may still take a refund without
// reason: the policy offers it, the keys were delivered within its minutes
// and never shown.
func (s *Shop) CoolingOffOK(o Order, prod Product) bool {
	m := prod.Policy.CoolingOffMinutes
	return m > 0 && !o.DeliveredAt.IsZero() && !o.Revealed && o.Status == StatusDelivered &&
		!s.now().After(o.DeliveredAt.Add(time.Duration(m)*time.Minute))
}

// CoolingOffRefundTx refunds an order in full under the cooling-off offer,
// inside the caller's transaction: the offer is checked on the order as this
// transaction reads it, so a retrieval that reveals the keys at the same
// moment makes one of the two transactions retry and see the other.
func (s *Shop) CoolingOffRefundTx(tx *store.Txn, ref string) (Order, error) {
	o, _, err := getOrderByRef(tx, ref)
	if err != nil {
		return o, err
	}
	prod, ok := s.catalog.get(o.ProductID)
	if !ok {
		return o, ErrProductNotFound
	}
	if !s.CoolingOffOK(o, prod) {
		return o, ErrCoolingOffOver
	}
	return s.RefundTx(tx, ref, 0)
}

// OrderByRefTx reads an order by its ref inside tx.
func (s *Shop) OrderByRefTx(tx *store.Txn, ref string) (Order, error) {
	o, _, err := getOrderByRef(tx, ref)
	return o, err
}
