package shop

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"veil/server/store"
)

// Invoice is a payment a gateway created for an order (epusdt): where the
// buyer pays and what. It names the merchant's wallet and the gateway's
// trade, never the payer.
type Invoice struct {
	TradeID   string    `json:"trade_id"`
	URL       string    `json:"url"`     // the gateway's cashier page
	Amount    string    `json:"amount"`  // exact decimal text, e.g. "7.9104"
	Unit      string    `json:"unit"`    // "USDT"
	Address   string    `json:"address"` // the wallet to pay
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// SetInvoice records the gateway's invoice on a pending order; any other
// status is ErrNotPayable.
func (s *Shop) SetInvoice(ref string, inv Invoice) error {
	if inv.URL == "" || len(inv.URL) > 2048 || strings.ContainsAny(inv.URL+inv.Amount+inv.Unit+inv.Address+inv.TradeID, "\x00\r\n") {
		return inputErr("invoice: malformed")
	}
	return s.withOrder(ref, func(tx *store.Txn, o *Order, _ Product, _ *[]string) error {
		if o.Status != StatusPending {
			return ErrNotPayable
		}
		o.Invoice = &inv
		return nil
	})
}

// Abandon gives an unpaid order's stock back at once, as its expiry would
// (status expired, a discount code returned): the payment could not be
// started, so the order must not hold stock. An order that is no longer
// pending_payment is left alone (ErrNotPayable).
func (s *Shop) Abandon(ref string) error {
	err := s.withOrder(ref, func(tx *store.Txn, o *Order, prod Product, freed *[]string) error {
		if o.Status != StatusPending {
			return ErrNotPayable
		}
		if err := s.release(tx, prod, o, freed); err != nil {
			return err
		}
		if err := tx.Delete(pExpiry + unixKey(o.ExpiresAt) + "/" + o.Ref); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		o.Status, o.Items = StatusExpired, nil
		if err := giveBackDiscount(tx, o); err != nil {
			return err
		}
		return s.schedulePurge(tx, o, s.now().Add(s.cfg.ExpiredRetention))
	})
	if err != nil {
		return fmt.Errorf("shop: abandon %s: %w", ref, err)
	}
	s.orderEnded(ref)
	s.log.Info("shop: order abandoned (payment not started)", "ref", ref)
	return nil
}
