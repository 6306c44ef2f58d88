package shop

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"filippo.io/age"

	"veil/crypto"
	"veil/server/store"
)

// ResaleTicket is a reseller's problem report on an item of a resale
// order. Its words are age files sealed to the reseller's recipient and the
// merchant's support recipient: both sides read them, the disk does not.
type ResaleTicket struct {
	ID       string       `json:"id"`
	Order    string       `json:"order"`
	Reseller string       `json:"reseller"`
	ItemID   string       `json:"item_id"`
	Reason   Reason       `json:"reason"`
	Status   TicketStatus `json:"status"`
	// Remedy and AmountMinor are what was given once resolved; Approval
	// the approval that carries a proposed remedy.
	Remedy      Remedy          `json:"remedy,omitempty"`
	AmountMinor int64           `json:"amount_minor,omitempty"`
	Approval    string          `json:"approval,omitempty"`
	Thread      []ResaleMessage `json:"thread"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
}

// ResaleMessage is one sealed message of a resale ticket.
type ResaleMessage struct {
	From   string    `json:"from"` // reseller or staff
	At     time.Time `json:"at"`
	Sealed []byte    `json:"sealed"`          // to the reseller's recipient
	Staff  []byte    `json:"staff,omitempty"` // to the support recipient
}

// ResaleTicketRequest is a reseller's ticket.
type ResaleTicketRequest struct {
	Reseller, Order, ItemID string
	Reason                  Reason
	Detail                  string
	IdemKey                 string
	BodyHash                [32]byte
	// Render makes the answer's body, stored for repeats (see
	// ResaleRequest.Render).
	Render func(ResaleTicket) ([]byte, error)
}

// sealThread seals a ticket message twice: to the reseller's recipient and
// to the support recipient. Two files rather than one with two stanzas
// because a hybrid (post-quantum) recipient and a classic one cannot share
// an age file, and the reseller picks its own kind.
func (s *Shop) sealThread(text, resellerRcpt string, from string, at time.Time) (ResaleMessage, error) {
	r, err := crypto.ParseRecipient(resellerRcpt)
	if err != nil {
		return ResaleMessage{}, fmt.Errorf("reseller recipient: %w", err)
	}
	pub := s.Public()
	if pub.Support == "" {
		return ResaleMessage{}, ErrLocked
	}
	sup, err := crypto.ParseRecipient(pub.Support)
	if err != nil {
		return ResaleMessage{}, fmt.Errorf("support recipient: %w", err)
	}
	m := ResaleMessage{From: from, At: at}
	if m.Sealed, err = crypto.Seal([]byte(text), r); err != nil {
		return m, err
	}
	m.Staff, err = crypto.Seal([]byte(text), sup)
	return m, err
}

// ResaleTicketOpened is the answer of OpenResaleTicket.
type ResaleTicketOpened struct {
	Ticket ResaleTicket
	Repeat bool   // the Idempotency-Key answered before: nothing changed
	Answer []byte // what Render made for the first request
}

// OpenResaleTicket files a ticket on an item of a resale order within the
// product's after-sales window. A repeat of the Idempotency-Key returns the
// first ticket. ErrResaleOrderNotFound, ErrWindowClosed, ErrTooManyTickets,
// ErrIdempotencyConflict, *InputError.
func (s *Shop) OpenResaleTicket(req ResaleTicketRequest) (ResaleTicketOpened, error) {
	if !slices.Contains(Reasons(), req.Reason) {
		return ResaleTicketOpened{}, inputErr("reason: one of key_invalid, key_already_used, wrong_region, not_received, other")
	}
	if req.IdemKey == "" || len(req.IdemKey) > 128 {
		return ResaleTicketOpened{}, inputErr("Idempotency-Key: 1 to 128 characters")
	}
	if len(req.Detail) > MaxDetail || !utf8.ValidString(req.Detail) {
		return ResaleTicketOpened{}, inputErr("detail: at most %d bytes of UTF-8", MaxDetail)
	}
	var out ResaleTicketOpened
	err := s.db.Update(func(tx *store.Txn) error {
		out = ResaleTicketOpened{}
		if rec, ok, err := checkIdem(tx, req.Reseller, req.IdemKey, "ticket", req.BodyHash); err != nil || ok {
			if ok {
				out.Repeat, out.Answer = true, rec.Answer
				return tx.GetJSON(pRsTkt+rec.ID, &out.Ticket)
			}
			return err
		}
		r, err := getReseller(tx, req.Reseller)
		if err != nil {
			return err
		}
		o, err := getResaleOrder(tx, r.ID, req.Order)
		if err != nil {
			return err
		}
		prod, ok := s.catalog.get(o.ProductID)
		if !ok {
			return ErrProductNotFound
		}
		now := s.now().Truncate(timeUnit)
		if now.After(o.CreatedAt.Add(time.Duration(prod.Policy.WindowHours) * time.Hour)) {
			return ErrWindowClosed
		}
		if !slices.Contains(o.Items, req.ItemID) {
			return inputErr("item_id: not an item of this order")
		}
		open := 0
		err = tx.Iterate(pRsTktBy+o.ID+"/", "", true, func(k string, _ []byte) error {
			var x ResaleTicket
			if err := tx.GetJSON(pRsTkt+k[strings.LastIndexByte(k, '/')+1:], &x); err != nil {
				return err
			}
			if x.Status != TicketResolved && x.Status != TicketRejected {
				open++
			}
			return nil
		})
		if err != nil {
			return err
		}
		if open >= MaxOpenTickets {
			return ErrTooManyTickets
		}
		t := ResaleTicket{
			ID: fmt.Sprintf("rt%011x%s", now.UnixMilli(), crypto.RandomID("", 3)), Order: o.ID, Reseller: r.ID,
			ItemID: req.ItemID, Reason: req.Reason, Status: TicketOpen, CreatedAt: now, UpdatedAt: now,
		}
		if req.Detail != "" {
			m, err := s.sealThread(req.Detail, r.Recipient, "reseller", now)
			if err != nil {
				return err
			}
			t.Thread = []ResaleMessage{m}
		}
		if err := tx.Set(pRsTktBy+o.ID+"/"+t.ID, nil); err != nil {
			return err
		}
		out.Ticket = t
		if req.Render != nil {
			if out.Answer, err = req.Render(t); err != nil {
				return err
			}
		}
		if err := putIdem(tx, r.ID, req.IdemKey, "ticket", t.ID, req.BodyHash, out.Answer); err != nil {
			return err
		}
		return tx.SetJSON(pRsTkt+t.ID, t)
	})
	if err != nil {
		return ResaleTicketOpened{}, err
	}
	if !out.Repeat {
		s.log.Info("shop: resale ticket opened", "order", out.Ticket.Order, "ticket", out.Ticket.ID, "reason", string(out.Ticket.Reason))
	}
	return out, nil
}

func getResaleTicket(tx *store.Txn, reseller, id string) (ResaleTicket, error) {
	var t ResaleTicket
	if id == "" || len(id) > 40 || strings.Contains(id, "/") {
		return t, ErrTicketNotFound
	}
	err := tx.GetJSON(pRsTkt+id, &t)
	if errors.Is(err, store.ErrNotFound) || (err == nil && reseller != "" && t.Reseller != reseller) {
		return ResaleTicket{}, ErrTicketNotFound
	}
	return t, err
}

// ResaleTicket returns a ticket; reseller "" is staff (any account's).
func (s *Shop) ResaleTicket(reseller, id string) (ResaleTicket, error) {
	var t ResaleTicket
	err := s.db.View(func(tx *store.Txn) error {
		var err error
		t, err = getResaleTicket(tx, reseller, id)
		return err
	})
	return t, err
}

// ResaleTickets lists the tickets of every account (staff's queue), oldest
// first, at most 500.
func (s *Shop) ResaleTickets() ([]ResaleTicket, error) {
	var out []ResaleTicket
	err := s.db.View(func(tx *store.Txn) error {
		return tx.Iterate(pRsTkt, "", false, func(_ string, v []byte) error {
			var t ResaleTicket
			if err := jsonUnmarshal(v, &t); err != nil {
				return err
			}
			out = append(out, t)
			if len(out) == 500 {
				return store.ErrStop
			}
			return nil
		})
	})
	return out, err
}

// AnswerResaleTicket adds staff's words to a ticket (sealed like the
// reseller's) and marks it answered.
func (s *Shop) AnswerResaleTicket(id, text string) (ResaleTicket, error) {
	if text == "" || len(text) > MaxDetail || !utf8.ValidString(text) {
		return ResaleTicket{}, inputErr("text: 1 to %d bytes of UTF-8", MaxDetail)
	}
	var t ResaleTicket
	err := s.db.Update(func(tx *store.Txn) error {
		var err error
		if t, err = getResaleTicket(tx, "", id); err != nil {
			return err
		}
		if t.Status == TicketResolved || t.Status == TicketRejected {
			return ErrTicketClosed
		}
		r, err := getReseller(tx, t.Reseller)
		if err != nil {
			return err
		}
		now := s.now().Truncate(timeUnit)
		m, err := s.sealThread(text, r.Recipient, "staff", now)
		if err != nil {
			return err
		}
		t.Thread = append(t.Thread, m)
		if t.Status == TicketOpen {
			t.Status = TicketAnswered
		}
		t.UpdatedAt = now
		return tx.SetJSON(pRsTkt+t.ID, t)
	})
	return t, err
}

// SetResaleTicketApprovalTx records that a remedy was proposed for a ticket
// (in the transaction that queues its approval).
func (s *Shop) SetResaleTicketApprovalTx(tx *store.Txn, id, approvalID string) error {
	t, err := getResaleTicket(tx, "", id)
	if err != nil {
		return err
	}
	if t.Status == TicketResolved || t.Status == TicketRejected {
		return ErrTicketClosed
	}
	t.Status, t.Approval, t.UpdatedAt = TicketProposed, approvalID, s.now().Truncate(timeUnit)
	return tx.SetJSON(pRsTkt+t.ID, t)
}

// ResaleReplaceTx gives the ticket's item a fresh key from stock, sealed to
// the reseller as a new delivery of its order, and resolves the ticket —
// the reseller_replacement approval's executor. The bad key is marked
// reported_bad. ErrOutOfStock when no key is left (nothing changes).
func (s *Shop) ResaleReplaceTx(tx *store.Txn, ticketID string) (ResaleTicket, error) {
	t, err := getResaleTicket(tx, "", ticketID)
	if err != nil {
		return t, err
	}
	if t.Status == TicketResolved || t.Status == TicketRejected {
		return t, ErrTicketClosed
	}
	o, err := getResaleOrder(tx, "", t.Order)
	if err != nil {
		return t, err
	}
	r, err := getReseller(tx, o.Reseller)
	if err != nil {
		return t, err
	}
	prod, ok := s.catalog.get(o.ProductID)
	if !ok {
		return t, ErrProductNotFound
	}
	shadow := Order{Ref: o.ID, Recipient: r.Recipient, Items: o.Items, Bad: o.Bad, Payloads: o.Payloads}
	got, err := s.replaceTx(tx, &shadow, prod, []string{t.ItemID}, KeyReportedBad, nil)
	if err != nil {
		return t, err
	}
	if got == 0 {
		return t, ErrOutOfStock
	}
	now := s.now().Truncate(timeUnit)
	o.Items, o.Bad, o.Payloads = shadow.Items, shadow.Bad, shadow.Payloads
	o.Status = StatusReplaced
	o.Notices = append(o.Notices, Notice{Code: "replaced", At: now})
	if err := tx.SetJSON(pRsOrd+o.ID, o); err != nil {
		return t, err
	}
	t.Status, t.Remedy, t.UpdatedAt = TicketResolved, RemedyReplace, now
	return t, tx.SetJSON(pRsTkt+t.ID, t)
}

// ResaleRefundTx refunds the ticket's item (its unit price, or amount when
// set, at most what of the order is not refunded yet) to the reseller's
// balance with a ledger entry, and resolves the ticket — the
// reseller_refund approval's executor.
func (s *Shop) ResaleRefundTx(tx *store.Txn, ticketID string, amount int64, approvalID string) (ResaleTicket, error) {
	t, err := getResaleTicket(tx, "", ticketID)
	if err != nil {
		return t, err
	}
	if t.Status == TicketResolved || t.Status == TicketRejected {
		return t, ErrTicketClosed
	}
	o, err := getResaleOrder(tx, "", t.Order)
	if err != nil {
		return t, err
	}
	if amount <= 0 {
		amount = o.UnitMinor
	}
	if amount > o.AmountMinor-o.RefundedMinor {
		return t, ErrNotRefundable
	}
	r, err := getReseller(tx, o.Reseller)
	if err != nil {
		return t, err
	}
	if _, err := s.postLedger(tx, &r, LedgerRefund, amount, o.ID, approvalID); err != nil {
		return t, err
	}
	now := s.now().Truncate(timeUnit)
	o.RefundedMinor += amount
	if o.RefundedMinor >= o.AmountMinor {
		o.Status = StatusRefunded
	} else {
		o.Status = StatusPartiallyRefunded
	}
	if o.Bad == nil {
		o.Bad = map[string]KeyState{}
	}
	o.Bad[t.ItemID] = KeyReportedBad
	o.Notices = append(o.Notices, Notice{Code: "refunded_to_balance", At: now})
	if err := tx.SetJSON(pRsOrd+o.ID, o); err != nil {
		return t, err
	}
	t.Status, t.Remedy, t.AmountMinor, t.UpdatedAt = TicketResolved, RemedyRefund, amount, now
	if amount < o.UnitMinor*int64(o.Quantity) && amount != o.AmountMinor {
		t.Remedy = RemedyPartialRefund
	}
	return t, tx.SetJSON(pRsTkt+t.ID, t)
}

// RejectResaleTicket closes a ticket without a remedy.
func (s *Shop) RejectResaleTicket(id string) (ResaleTicket, error) {
	var t ResaleTicket
	err := s.db.Update(func(tx *store.Txn) error {
		var err error
		if t, err = getResaleTicket(tx, "", id); err != nil {
			return err
		}
		if t.Status == TicketResolved || t.Status == TicketRejected {
			return ErrTicketClosed
		}
		t.Status, t.UpdatedAt = TicketRejected, s.now().Truncate(timeUnit)
		return tx.SetJSON(pRsTkt+t.ID, t)
	})
	return t, err
}

// recallResaleTx is RecallTx's part for keys sold to a reseller: the keys
// are marked recalled and replaced from other batches as a new delivery;
// what cannot be replaced is noted on the order (recalled_refund_due) for
// staff to refund to the balance (reseller_refund).
func (s *Shop) recallResaleTx(tx *store.Txn, id string, prod Product, bad []string, exclude map[string]bool) (int, error) {
	o, err := getResaleOrder(tx, "", id)
	if err != nil {
		return 0, err
	}
	r, err := getReseller(tx, o.Reseller)
	if err != nil {
		return 0, err
	}
	shadow := Order{Ref: o.ID, Recipient: r.Recipient, Items: o.Items, Bad: o.Bad, Payloads: o.Payloads}
	got := 0
	if prod.Kind == Unique {
		if got, err = s.replaceTx(tx, &shadow, prod, bad, KeyRecalled, exclude); err != nil {
			return 0, err
		}
	} else if err := markKeys(tx, &shadow, bad, KeyRecalled); err != nil {
		return 0, err
	}
	now := s.now().Truncate(timeUnit)
	o.Items, o.Bad, o.Payloads = shadow.Items, shadow.Bad, shadow.Payloads
	code := "recalled_replaced"
	if got < len(bad) {
		code = "recalled_refund_due"
	}
	o.Status = StatusReplaced
	o.Notices = append(o.Notices, Notice{Code: code, At: now})
	return got, tx.SetJSON(pRsOrd+o.ID, o)
}

// OpenResaleThread opens a ticket message: staff with the support
// identity (staff set), a reseller with its own.
func OpenResaleThread(m ResaleMessage, id age.Identity, staff bool) (string, error) {
	c := m.Sealed
	if staff {
		c = m.Staff
	}
	b, err := crypto.Open(c, id)
	if err != nil {
		return "", err
	}
	return string(b), nil
}
