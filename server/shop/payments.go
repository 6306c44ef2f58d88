package shop

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"veil/server/notify"
	"veil/server/store"
)

// StatusPaymentHeld is an order whose payment arrived with an amount that
// is not the order's. The order keeps its reserved stock while staff
// decide through an approval: accepting delivers (ConfirmHeldTx),
// rejecting leaves the payment owed back and the order refund_due
// (RefuseHeld).
const StatusPaymentHeld Status = "payment_held"

// PaymentState is what became of one payment.
type PaymentState string

// Payment states.
const (
	PaymentApplied  PaymentState = "applied"  // paid its order
	PaymentHeld     PaymentState = "held"     // amount differs: waits for staff
	PaymentOwed     PaymentState = "owed"     // to be given back to the buyer
	PaymentReturned PaymentState = "returned" // was owed, and given back
)

// PaymentRecord is one payment as the shop keeps it: provider, trade
// number, amount and the hour band it arrived in (Payment) — no payer
// identity of any kind.
type PaymentRecord struct {
	Ref     string       `json:"ref"`
	Payment Payment      `json:"payment"`
	State   PaymentState `json:"state"`
	// Reason says why a payment is held or owed: amount_mismatch,
	// discount_spent (a late payment of an expired order whose discount
	// code another order spent meanwhile),
	// after_refund (the order was refunded or refund_due already), extra
	// (the order was paid already), superseded (a held payment replaced by
	// an exact one), rejected (staff refused a held payment), no_stock (a
	// late payment found no stock left); accepted for a held payment that
	// staff accepted.
	Reason string `json:"reason,omitempty"`
	// ApprovalID is the staff approval deciding a held payment.
	ApprovalID string `json:"approval_id,omitempty"`
}

// Outcome says what ApplyPayment did.
type Outcome string

// Outcomes. Every one but an error means the payment is durably recorded.
const (
	OutcomeApplied Outcome = "applied" // paid the order: delivered, or queued for delivery
	OutcomeRepeat  Outcome = "repeat"  // recorded before; nothing changed
	OutcomeHeld    Outcome = "held"    // amount differs: held for staff
	OutcomeOwed    Outcome = "owed"    // recorded as owed back (refund_due, or an extra payment)
)

// PayResult is the answer of ApplyPayment.
type PayResult struct {
	Order   Order
	Outcome Outcome
	Record  PaymentRecord
}

// HeldFunc proposes staff review of a held payment inside the transaction
// that records it, so the hold and its approval commit together. It
// returns the approval's id. It may run more than once (conflict retry).
type HeldFunc func(tx *store.Txn, rec PaymentRecord) (approvalID string, err error)

// ErrNotHeld: the order has no held payment matching the request (it was
// decided already, or superseded).
var ErrNotHeld = errors.New("shop: no such held payment")

// Store keys of payments (beside trade/<provider>/<trade no> -> ref, the
// idempotency key of every recorded payment).
const (
	pPayRec = "pay/rec/"  // pay/rec/<ref>/<provider>/<trade no> -> PaymentRecord
	pOwed   = "pay/owed/" // pay/owed/<ref>/<provider>/<trade no> -> "" while owed back
	pHeld   = "pay/held/" // pay/held/<ref> -> PaymentRecord while payment_held
)

// Notice codes of payments, shown on the order page.
const (
	noticePaymentHeld      = "payment_held"       // waiting for the seller's review
	noticePaymentAccepted  = "payment_accepted"   // the seller accepted a held payment
	noticePaymentRefundDue = "payment_refund_due" // a payment could not be applied: owed back
	noticeExtraPayment     = "extra_payment"      // a second payment on a paid order: owed back
)

// impliedRecord is the record of the payment that paid o (acceptTx does
// not store it apart: it is o.Payment, applied, with no reason); false if
// o was not paid. A record stored under the same key (written before, or
// by another path: a held payment accepted, a late one with no stock)
// takes precedence.
func impliedRecord(o Order) (PaymentRecord, bool) {
	if o.Payment == nil {
		return PaymentRecord{}, false
	}
	return PaymentRecord{Ref: o.Ref, Payment: *o.Payment, State: PaymentApplied}, true
}

func payRecKey(ref string, p Payment) string {
	tn := p.TradeNo
	if tn == "" {
		tn = "-"
	}
	return ref + "/" + p.Provider + "/" + tn
}

// Pay applies a verified payment to the order with this ref; see
// ApplyPayment. Held payments get no approval this way.
func (s *Shop) Pay(ref string, p Payment) (Order, error) {
	r, err := s.ApplyPayment(ref, p, nil)
	return r.Order, err
}

// ApplyPayment records a verified payment for the order with this ref and
// acts on it, all in one durable transaction:
//
//   - pending_payment, exact amount: paid and delivered at once when the
//     vault is open (else queued);
//   - expired, exact amount (a late payment): stock is reserved again and
//     delivered, or, with none left, the order becomes refund_due;
//   - pending or expired, another amount: the payment is held, the order
//     becomes payment_held keeping (or re-taking) its stock, and onHeld
//     proposes the staff approval (with no stock left: refund_due);
//   - payment_held, exact amount: this payment is applied and the held one
//     becomes owed back; another amount: owed back;
//   - paid, delivered, settled, replaced, partially_refunded: an extra
//     payment, owed back; never a second delivery;
//   - refunded or refund_due: owed back, and the order is refund_due.
//
// It is idempotent by trade/<provider>/<trade no>: the same payment
// applied again changes nothing (OutcomeRepeat), and a trade number
// already recorded for another order is refused (ErrNotPayable). A
// payment without a trade number (demo) cannot be told from a second one,
// so it is only accepted on a payable order at the exact amount
// (ErrAmountMismatch, ErrNotPayable), and a repeat on a paid order is a
// no-op.
func (s *Shop) ApplyPayment(ref string, p Payment, onHeld HeldFunc) (PayResult, error) {
	if !refRE(ref) {
		return PayResult{}, ErrOrderNotFound
	}
	if p.Provider == "" || strings.Contains(p.Provider, "/") || p.AmountMinor <= 0 {
		return PayResult{}, inputErr("payment: a provider and a positive amount are required")
	}
	now := s.now().Truncate(timeUnit)
	p.Band = now.Truncate(time.Hour).Format(time.RFC3339)

	// The keys are sealed before the transaction, off the committer
	// (preseal.go); the transaction takes the result if nothing moved.
	s.preseal(ref)
	defer s.dropPresealed(ref)
	var h *hold // stock held for a late payment, if it needs any
	var res PayResult
	err := s.db.Update(func(tx *store.Txn) error {
		o, lk, err := getOrderByRef(tx, ref)
		if err != nil {
			return err
		}
		prod, ok := s.catalog.get(o.ProductID)
		if !ok {
			return ErrProductNotFound
		}
		if o.Status == StatusExpired && h == nil {
			// A late payment needs stock again. If none is left, h stays
			// nil and the order becomes refund_due.
			h, _ = s.hold(prod, o.Quantity)
		}
		res, err = s.applyTx(tx, o, lk, prod, p, h, onHeld, false, now)
		return err
	})
	s.finish(h, err == nil)
	if err != nil {
		return PayResult{}, fmt.Errorf("shop: pay %s: %w", ref, err)
	}
	if res.Order.Status != StatusPending {
		s.orderEnded(ref) // paid (or held for staff): no longer an unpaid hold
	}
	if res.Order.Status == StatusPaid {
		s.wake() // queued: a sourced product's purchase, or a locked vault
	}
	if res.Outcome != OutcomeRepeat {
		s.log.Info("shop: payment recorded", "ref", ref, "provider", p.Provider,
			"outcome", string(res.Outcome), "status", string(res.Order.Status))
	}
	return res, nil
}

// ConfirmPaymentTx applies a payment that staff confirmed (manual
// provider) inside the caller's transaction — an approval's executor. It
// is strict: the amount must be the order's (ErrAmountMismatch) and the
// order pending_payment, expired or payment_held (ErrNotPayable);
// nothing is recorded as owed. The same trade number again is a no-op.
//
// A late confirmation (expired order) of a unique product takes keys from
// the in-memory stock pool without giving them back if the caller's
// transaction then aborts: they stay available in the store and only the
// pool's count is short until Reconcile — never sold twice.
func (s *Shop) ConfirmPaymentTx(tx *store.Txn, ref string, p Payment) (Order, error) {
	if p.Provider == "" || strings.Contains(p.Provider, "/") || p.TradeNo == "" || p.AmountMinor <= 0 {
		return Order{}, inputErr("payment: provider, trade number and a positive amount are required")
	}
	o, lk, err := getOrderByRef(tx, ref)
	if err != nil {
		return Order{}, err
	}
	prod, ok := s.catalog.get(o.ProductID)
	if !ok {
		return Order{}, ErrProductNotFound
	}
	now := s.now().Truncate(timeUnit)
	p.Band = now.Truncate(time.Hour).Format(time.RFC3339)
	var h *hold
	if o.Status == StatusExpired && p.AmountMinor == o.AmountMinor {
		h, _ = s.hold(prod, o.Quantity)
	}
	res, err := s.applyTx(tx, o, lk, prod, p, h, nil, true, now)
	if h != nil && (err != nil || !h.used) {
		s.finish(h, false) // nothing in tx refers to these keys
	}
	if err != nil {
		return Order{}, fmt.Errorf("shop: confirm payment of %s: %w", ref, err)
	}
	// Before the caller's commit: should it abort, the client's cap is
	// one order looser until the order expires — never tighter.
	s.orderEnded(ref)
	return res.Order, nil
}

// applyTx is the payment state machine (see ApplyPayment). strict refuses
// instead of recording held or owed payments.
func (s *Shop) applyTx(tx *store.Txn, o Order, lk string, prod Product, p Payment, h *hold,
	onHeld HeldFunc, strict bool, now time.Time) (PayResult, error) {
	res := PayResult{Order: o, Record: PaymentRecord{Ref: o.Ref, Payment: p}}
	tradeKey := ""
	if p.TradeNo != "" {
		tradeKey = pTrade + p.Provider + "/" + p.TradeNo
		prev, err := tx.Get(tradeKey)
		switch {
		case err == nil && string(prev) == o.Ref:
			res.Outcome = OutcomeRepeat
			err := tx.GetJSON(pPayRec+payRecKey(o.Ref, p), &res.Record)
			if errors.Is(err, store.ErrNotFound) {
				if r, ok := impliedRecord(o); ok && payRecKey(o.Ref, r.Payment) == payRecKey(o.Ref, p) {
					res.Record = r
				}
				err = nil
			}
			return res, err
		case err == nil:
			return res, ErrNotPayable // one trade cannot pay two orders
		case !errors.Is(err, store.ErrNotFound):
			return res, err
		}
	} else if o.Payment != nil && o.Payment.Provider == p.Provider && o.Payment.TradeNo == "" && o.Payment.AmountMinor == p.AmountMinor {
		res.Outcome = OutcomeRepeat
		return res, nil
	}
	noTrade := strict || p.TradeNo == ""
	exact := p.AmountMinor == o.AmountMinor
	switch o.Status {
	case StatusPending, StatusExpired, StatusPaymentHeld:
		reason := "amount_mismatch"
		if o.Status == StatusExpired {
			// Expiry gave the order's discount code back; paying now takes
			// it again, or, spent elsewhere meanwhile, the discounted
			// amount is not what is due: staff decide.
			ok, err := reclaimDiscount(tx, &o)
			if err != nil {
				return res, err
			}
			if !ok {
				if noTrade {
					return res, ErrNotPayable
				}
				exact, reason = false, "discount_spent"
			}
		}
		if exact {
			return s.acceptTx(tx, &o, lk, prod, p, h, tradeKey, now)
		}
		if noTrade {
			return res, ErrAmountMismatch
		}
		if o.Status == StatusPaymentHeld {
			return s.owedTx(tx, &o, lk, p, tradeKey, "extra", noticeExtraPayment, false, now)
		}
		return s.holdTx(tx, &o, lk, p, h, tradeKey, reason, onHeld, now)
	case StatusPaid, StatusDelivered, StatusSettled, StatusReplaced, StatusPartiallyRefunded:
		if noTrade {
			return res, ErrNotPayable
		}
		return s.owedTx(tx, &o, lk, p, tradeKey, "extra", noticeExtraPayment, false, now)
	case StatusRefunded, StatusRefundDue:
		if noTrade {
			return res, ErrNotPayable
		}
		return s.owedTx(tx, &o, lk, p, tradeKey, "after_refund", noticePaymentRefundDue, true, now)
	}
	return res, ErrNotPayable
}

// record writes a payment's record, its idempotency key and, while owed,
// its entry in the owed index.
func record(tx *store.Txn, tradeKey string, rec PaymentRecord) error {
	if tradeKey != "" {
		if err := tx.Set(tradeKey, []byte(rec.Ref)); err != nil {
			return err
		}
	}
	k := payRecKey(rec.Ref, rec.Payment)
	if rec.State == PaymentOwed {
		if err := tx.Set(pOwed+k, nil); err != nil {
			return err
		}
	} else if owed, err := tx.Has(pOwed + k); err != nil {
		return err
	} else if owed { // no blind delete: most payments were never owed
		if err := tx.Delete(pOwed + k); err != nil {
			return err
		}
	}
	return tx.SetJSON(pPayRec+k, rec)
}

// acceptTx applies an exact payment to a payable order.
func (s *Shop) acceptTx(tx *store.Txn, o *Order, lk string, prod Product, p Payment, h *hold,
	tradeKey string, now time.Time) (PayResult, error) {
	rec := PaymentRecord{Ref: o.Ref, Payment: p, State: PaymentApplied}
	switch o.Status {
	case StatusPending:
		// An order placed before schedule.go leaves the expiry index.
		if err := dropIfPresent(tx, pExpiry+unixKey(o.ExpiresAt)+"/"+o.Ref); err != nil {
			return PayResult{}, err
		}
	case StatusPaymentHeld:
		// An exact payment after a held one: this one pays the order, the
		// held one is owed back. Its approval then fails (ErrNotHeld).
		var held PaymentRecord
		if err := tx.GetJSON(pHeld+o.Ref, &held); err != nil {
			return PayResult{}, fmt.Errorf("held payment of %s: %w", o.Ref, err)
		}
		held.State, held.Reason = PaymentOwed, "superseded"
		if err := record(tx, "", held); err != nil {
			return PayResult{}, err
		}
		if err := tx.Delete(pHeld + o.Ref); err != nil {
			return PayResult{}, err
		}
		o.Notices = append(o.Notices, Notice{Code: noticePaymentRefundDue, At: now})
	}
	pp := p
	o.Payment = &pp
	o.PaidAt = now
	o.DeliverBy = now.Add(s.cfg.DeliveryDeadline)
	if o.Status == StatusExpired {
		var items []string
		err := ErrOutOfStock
		if h != nil {
			items, err = h.apply(tx, o.Ref)
		}
		if errors.Is(err, ErrOutOfStock) {
			// The payment is the order's, and the order's refund (RefundTx,
			// proposed through the refund_due hook) gives it back.
			o.Status = StatusRefundDue
			o.Notices = append(o.Notices, Notice{Code: "late_payment_no_stock", At: now})
			rec.Reason = "no_stock"
			if err := giveBackDiscount(tx, o); err != nil { // nothing bought with it
				return PayResult{}, err
			}
			if err := s.refundDue(tx, o, false); err != nil { // paid after the order expired: not the shop's fault
				return PayResult{}, err
			}
			if err := record(tx, tradeKey, rec); err != nil {
				return PayResult{}, err
			}
			return PayResult{Order: *o, Outcome: OutcomeOwed, Record: rec}, putOrder(tx, lk, *o)
		}
		if err != nil {
			return PayResult{}, err
		}
		o.Items = items
		o.Notices = append(o.Notices, Notice{Code: "late_payment_reserved", At: now})
	}
	o.Status = StatusPaid
	if err := s.deliverOrQueue(tx, o, prod); err != nil {
		return PayResult{}, err
	}
	// The record of the payment that paid the order is the order's own
	// Payment (impliedRecord): only its idempotency key is written.
	if tradeKey != "" {
		if err := tx.Set(tradeKey, []byte(o.Ref)); err != nil {
			return PayResult{}, err
		}
	}
	return PayResult{Order: *o, Outcome: OutcomeApplied, Record: rec}, putOrder(tx, lk, *o)
}

// deliverOrQueue delivers a paid order inside tx, or queues it for the
// delivery worker when that cannot happen now (vault locked, a fault).
func (s *Shop) deliverOrQueue(tx *store.Txn, o *Order, prod Product) error {
	err := s.deliver(tx, o, prod)
	if nerr := s.notifyPaid(tx, o, prod, err); nerr != nil {
		return nerr
	}
	if err != nil {
		if !errors.Is(err, ErrLocked) && !errors.Is(err, errSourced) {
			s.log.Error("shop: delivery failed, queued for retry", "ref", o.Ref, "err", err)
		}
		return tx.Set(pDeliver+o.Ref, nil)
	}
	return nil
}

// holdTx holds a payment of another amount for staff. A pending order
// keeps its reserved stock (and leaves the expiry queue); an expired one
// takes stock again, or with none left is refund_due at once.
func (s *Shop) holdTx(tx *store.Txn, o *Order, lk string, p Payment, h *hold, tradeKey, reason string,
	onHeld HeldFunc, now time.Time) (PayResult, error) {
	rec := PaymentRecord{Ref: o.Ref, Payment: p, State: PaymentHeld, Reason: reason}
	switch o.Status {
	case StatusPending:
		// An order placed before schedule.go leaves the expiry index.
		if err := dropIfPresent(tx, pExpiry+unixKey(o.ExpiresAt)+"/"+o.Ref); err != nil {
			return PayResult{}, err
		}
	case StatusExpired:
		var items []string
		err := ErrOutOfStock
		if h != nil {
			items, err = h.apply(tx, o.Ref)
		}
		if errors.Is(err, ErrOutOfStock) {
			return s.owedTx(tx, o, lk, p, tradeKey, reason, noticePaymentRefundDue, true, now)
		}
		if err != nil {
			return PayResult{}, err
		}
		o.Items = items
	}
	o.Status = StatusPaymentHeld
	o.Notices = append(o.Notices, Notice{Code: noticePaymentHeld, At: now})
	if err := s.cfg.Notify.Enqueue(tx, heldEvent(s.orderEvent(notify.PaymentHeld, o), p, reason)); err != nil {
		return PayResult{}, err
	}
	if onHeld != nil {
		id, err := onHeld(tx, rec)
		if err != nil {
			return PayResult{}, fmt.Errorf("propose review of held payment: %w", err)
		}
		rec.ApprovalID = id
	}
	if err := tx.SetJSON(pHeld+o.Ref, rec); err != nil {
		return PayResult{}, err
	}
	if err := record(tx, tradeKey, rec); err != nil {
		return PayResult{}, err
	}
	return PayResult{Order: *o, Outcome: OutcomeHeld, Record: rec}, putOrder(tx, lk, *o)
}

// owedTx records a payment that is owed back, with a notice; refundDue
// also turns the order refund_due.
func (s *Shop) owedTx(tx *store.Txn, o *Order, lk string, p Payment, tradeKey, reason, notice string,
	refundDue bool, now time.Time) (PayResult, error) {
	rec := PaymentRecord{Ref: o.Ref, Payment: p, State: PaymentOwed, Reason: reason}
	if refundDue {
		o.Status = StatusRefundDue
	}
	o.Notices = append(o.Notices, Notice{Code: notice, At: now})
	if err := record(tx, tradeKey, rec); err != nil {
		return PayResult{}, err
	}
	return PayResult{Order: *o, Outcome: OutcomeOwed, Record: rec}, putOrder(tx, lk, *o)
}

// ConfirmHeldTx accepts the held payment (provider, trade number) of the
// order ref inside the caller's transaction — the executor of its
// approval: the order is paid and delivered (or queued). ErrNotHeld if
// that payment is no longer held.
func (s *Shop) ConfirmHeldTx(tx *store.Txn, ref, provider, tradeNo string) (Order, error) {
	o, lk, err := getOrderByRef(tx, ref)
	if err != nil {
		return Order{}, err
	}
	var rec PaymentRecord
	if err := tx.GetJSON(pHeld+ref, &rec); errors.Is(err, store.ErrNotFound) {
		return Order{}, ErrNotHeld
	} else if err != nil {
		return Order{}, err
	}
	if o.Status != StatusPaymentHeld || rec.Payment.Provider != provider || rec.Payment.TradeNo != tradeNo {
		return Order{}, ErrNotHeld
	}
	prod, ok := s.catalog.get(o.ProductID)
	if !ok {
		return Order{}, ErrProductNotFound
	}
	now := s.now().Truncate(timeUnit)
	if err := tx.Delete(pHeld + ref); err != nil {
		return Order{}, err
	}
	p := rec.Payment
	o.Payment = &p
	o.PaidAt = now
	o.DeliverBy = now.Add(s.cfg.DeliveryDeadline)
	o.Status = StatusPaid
	o.Notices = append(o.Notices, Notice{Code: noticePaymentAccepted, At: now})
	if err := s.deliverOrQueue(tx, &o, prod); err != nil {
		return Order{}, err
	}
	rec.State, rec.Reason = PaymentApplied, "accepted"
	if err := record(tx, "", rec); err != nil {
		return Order{}, err
	}
	return o, putOrder(tx, lk, o)
}

// RefuseHeld settles a held payment that staff rejected (or whose approval
// failed): the payment is owed back, the order's reserved stock returns
// and the order is refund_due. approvalID must be the held payment's
// approval (ErrNotHeld otherwise, also when it was decided already).
func (s *Shop) RefuseHeld(ref, approvalID string) (Order, error) {
	var out Order
	err := s.withOrder(ref, func(tx *store.Txn, o *Order, prod Product, freed *[]string) error {
		var rec PaymentRecord
		if err := tx.GetJSON(pHeld+ref, &rec); errors.Is(err, store.ErrNotFound) {
			return ErrNotHeld
		} else if err != nil {
			return err
		}
		if o.Status != StatusPaymentHeld || rec.ApprovalID != approvalID {
			return ErrNotHeld
		}
		if err := s.release(tx, prod, o, freed); err != nil {
			return err
		}
		now := s.now().Truncate(timeUnit)
		o.Items = nil
		o.Status = StatusRefundDue
		o.Notices = append(o.Notices, Notice{Code: noticePaymentRefundDue, At: now})
		rec.State, rec.Reason = PaymentOwed, "rejected"
		if err := giveBackDiscount(tx, o); err != nil { // nothing bought with it
			return err
		}
		if err := tx.Delete(pHeld + ref); err != nil {
			return err
		}
		if err := record(tx, "", rec); err != nil {
			return err
		}
		out = *o
		return nil
	})
	if err != nil {
		return Order{}, fmt.Errorf("shop: refuse held payment of %s: %w", ref, err)
	}
	s.log.Info("shop: held payment refused, refund due", "ref", ref)
	return out, nil
}

// HeldPayments lists the payments waiting for staff, by order ref.
func (s *Shop) HeldPayments() ([]PaymentRecord, error) {
	var out []PaymentRecord
	err := s.db.View(func(tx *store.Txn) error {
		return tx.Iterate(pHeld, "", false, func(_ string, v []byte) error {
			var r PaymentRecord
			if err := jsonUnmarshal(v, &r); err != nil {
				return err
			}
			out = append(out, r)
			return nil
		})
	})
	return out, err
}

// OwedPayments lists the payments owed back to buyers (for the console's
// refund work), by order ref.
func (s *Shop) OwedPayments() ([]PaymentRecord, error) {
	var out []PaymentRecord
	err := s.db.View(func(tx *store.Txn) error {
		return tx.Iterate(pOwed, "", true, func(k string, _ []byte) error {
			var r PaymentRecord
			if err := tx.GetJSON(pPayRec+strings.TrimPrefix(k, pOwed), &r); err != nil {
				return err
			}
			out = append(out, r)
			return nil
		})
	})
	return out, err
}

// Payments lists every payment recorded for the order ref.
func (s *Shop) Payments(ref string) ([]PaymentRecord, error) {
	if !refRE(ref) {
		return nil, ErrOrderNotFound
	}
	var out []PaymentRecord
	err := s.db.View(func(tx *store.Txn) error {
		err := tx.Iterate(pPayRec+ref+"/", "", false, func(_ string, v []byte) error {
			var r PaymentRecord
			if err := jsonUnmarshal(v, &r); err != nil {
				return err
			}
			out = append(out, r)
			return nil
		})
		if err != nil {
			return err
		}
		o, err := getOrderMeta(tx, ref)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		// The payment that paid the order, unless stored apart, in key order.
		r, ok := impliedRecord(o)
		if !ok {
			return nil
		}
		k := payRecKey(ref, r.Payment)
		i, found := slices.BinarySearchFunc(out, k, func(x PaymentRecord, k string) int {
			return strings.Compare(payRecKey(ref, x.Payment), k)
		})
		if !found {
			out = slices.Insert(out, i, r)
		}
		return nil
	})
	return out, err
}

// PaymentReturnedTx marks an owed payment as given back, inside the
// caller's transaction (the console's refund of it): it leaves the owed
// index. A refund_due order whose money is then all back — no payment
// owed any more, and its own payment (if any was accepted) refunded —
// becomes refunded. ErrNotPayable if that payment was not owed.
//
// Owed payments are apart from Order.Payment and Order.Refunds: an order
// is refunded its own payment by RefundTx, its extra payments by this.
func (s *Shop) PaymentReturnedTx(tx *store.Txn, ref, provider, tradeNo string) (Order, error) {
	o, lk, err := getOrderByRef(tx, ref)
	if err != nil {
		return Order{}, err
	}
	k := payRecKey(ref, Payment{Provider: provider, TradeNo: tradeNo})
	var rec PaymentRecord
	if err := tx.GetJSON(pPayRec+k, &rec); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Order{}, ErrNotPayable
		}
		return Order{}, err
	}
	if rec.State != PaymentOwed {
		return Order{}, ErrNotPayable
	}
	rec.State = PaymentReturned
	if err := record(tx, "", rec); err != nil {
		return Order{}, err
	}
	now := s.now().Truncate(timeUnit)
	o.Notices = append(o.Notices, Notice{Code: "payment_returned", At: now})
	if o.Status == StatusRefundDue && (o.Payment == nil || o.Refunded() >= o.AmountMinor) {
		owed := false
		err := tx.Iterate(pOwed+ref+"/", "", true, func(string, []byte) error {
			owed = true
			return store.ErrStop
		})
		if err != nil {
			return Order{}, err
		}
		if !owed {
			o.Status = StatusRefunded
			if err := s.scheduleRetention(tx, &o, now); err != nil {
				return Order{}, err
			}
		}
	}
	return o, putOrder(tx, lk, o)
}
