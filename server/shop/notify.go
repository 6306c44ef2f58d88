package shop

import (
	"errors"

	"veil/crypto"
	"veil/server/notify"
	"veil/server/store"
)

// NotifyIdentity opens the merchant's sealed notification secrets;
// ErrLocked while the vault is locked.
func (s *Shop) NotifyIdentity() (*crypto.Identity, error) {
	s.mu.RLock()
	v := s.vault
	s.mu.RUnlock()
	if v == nil {
		return nil, ErrLocked
	}
	return v.NotifyIdentity(crypto.DefaultKind)
}

// orderEvent is an event about o: its ref, product, quantity and amount.
func (s *Shop) orderEvent(kind notify.Kind, o *Order) notify.Event {
	e := notify.Event{Kind: kind, Ref: o.Ref, Quantity: o.Quantity, AmountMinor: o.AmountMinor, Currency: o.Currency}
	if p, ok := s.catalog.get(o.ProductID); ok {
		e.Product = p.Slug
	}
	return e
}

// notifyPaid queues, inside the paying transaction, order_paid, then
// delivery_queued (vault locked) or delivery_failed when delivery did not
// happen (deliverErr), and stock_low when the sale took the product below
// its threshold.
func (s *Shop) notifyPaid(tx *store.Txn, o *Order, prod Product, deliverErr error) error {
	n := s.cfg.Notify
	if n == nil {
		return nil
	}
	if err := n.Enqueue(tx, s.orderEvent(notify.OrderPaid, o)); err != nil {
		return err
	}
	if deliverErr != nil && !errors.Is(deliverErr, errSourced) { // a sourced order is bought upstream, not failed
		kind := notify.DeliveryFailed
		if errors.Is(deliverErr, ErrLocked) {
			kind = notify.DeliveryQueued
		}
		if err := n.Enqueue(tx, s.orderEvent(kind, o)); err != nil {
			return err
		}
	}
	left := 0
	if prod.Kind == Shared {
		var err error
		if left, err = getStock(tx, prod.ID); err != nil {
			return err
		}
	} else {
		left = s.poolOf(prod.ID).len()
	}
	return n.StockTx(tx, prod.ID, prod.Slug, left)
}

// heldEvent is payment_held: the amount that arrived, not the order's.
func heldEvent(e notify.Event, p Payment, reason string) notify.Event {
	e.AmountMinor, e.Reason = p.AmountMinor, reason
	return e
}
