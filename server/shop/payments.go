package shop

import (
	"errors"
	"fmt"
	"time"

	"veil/server/store"
)

// Pay applies a verified payment to the order with this ref and delivers at
// once when the vault is open, all in one transaction. It is idempotent: the
// same payment applied again changes nothing and returns the order. A
// payment after the reservation expired re-reserves stock, or leaves the
// order refund_due when none is left.
func (s *Shop) Pay(ref string, p Payment) (Order, error) {
	if !refRE(ref) {
		return Order{}, ErrOrderNotFound
	}
	now := s.now().Truncate(timeUnit)
	p.Band = now.Truncate(time.Hour).Format(time.RFC3339)

	var h *hold // stock held for a late payment, if it needs any
	var out Order
	err := s.db.Update(func(tx *store.Txn) error {
		o, lk, err := getOrderByRef(tx, ref)
		if err != nil {
			return err
		}
		out = o
		prod, ok := s.catalog.get(o.ProductID)
		if !ok {
			return ErrProductNotFound
		}
		if o.Status == StatusExpired && h == nil {
			// A late payment needs stock again. If none is left, h stays
			// nil and the order becomes refund_due below.
			h, _ = s.hold(prod, o.Quantity)
		}
		tradeKey := ""
		if p.TradeNo != "" {
			tradeKey = pTrade + p.Provider + "/" + p.TradeNo
			if prev, err := tx.Get(tradeKey); err == nil {
				if string(prev) == ref {
					return nil // a repeat: applied already
				}
				return ErrNotPayable // one trade cannot pay two orders
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		if o.Payment != nil && o.Payment.Provider == p.Provider && o.Payment.TradeNo == p.TradeNo && o.Payment.AmountMinor == p.AmountMinor {
			return nil // a repeat
		}
		switch o.Status {
		case StatusPending, StatusExpired:
		default:
			return ErrNotPayable
		}
		if p.AmountMinor != o.AmountMinor {
			return ErrAmountMismatch
		}
		if o.Status == StatusPending {
			if err := tx.Delete(pExpiry + unixKey(o.ExpiresAt) + "/" + o.Ref); err != nil {
				return err
			}
		}
		pp := p
		o.Payment = &pp
		o.PaidAt = now
		o.DeliverBy = now.Add(s.cfg.DeliveryDeadline)
		if tradeKey != "" {
			if err := tx.Set(tradeKey, []byte(ref)); err != nil {
				return err
			}
		}
		if o.Status == StatusExpired {
			var items []string
			err := ErrOutOfStock
			if h != nil {
				items, err = h.apply(tx, o.Ref)
			}
			if errors.Is(err, ErrOutOfStock) {
				o.Status = StatusRefundDue
				o.Notices = append(o.Notices, Notice{Code: "late_payment_no_stock", At: now})
				out = o
				return tx.SetJSON(pOrder+lk, o)
			}
			if err != nil {
				return err
			}
			o.Items = items
			o.Notices = append(o.Notices, Notice{Code: "late_payment_reserved", At: now})
		}
		o.Status = StatusPaid
		if err := s.deliver(tx, &o, prod); err != nil {
			if !errors.Is(err, ErrLocked) {
				s.log.Error("shop: delivery failed, queued for retry", "ref", o.Ref, "err", err)
			}
			if err := tx.Set(pDeliver+o.Ref, nil); err != nil {
				return err
			}
		}
		out = o
		return tx.SetJSON(pOrder+lk, o)
	})
	s.finish(h, err == nil)
	if err != nil {
		return Order{}, fmt.Errorf("shop: pay %s: %w", ref, err)
	}
	s.log.Info("shop: payment applied", "ref", ref, "provider", p.Provider, "status", string(out.Status))
	return out, nil
}
