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
	// Index and Atomic are a Monero invoice's subaddress index (account
	// 0) and the piconero due; Unit is then "XMR", URL the monero: URI.
	Index  uint32 `json:"index,omitempty"`
	Atomic uint64 `json:"atomic,omitempty"`
}

// pXMRWatch lists the orders whose Monero subaddress the watcher polls:
// xmrwatch/<ref>, written with the invoice, deleted once the watcher has
// applied what it saw (or the order is gone).
const pXMRWatch = "xmrwatch/"

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
		if inv.Unit == "XMR" {
			return tx.Set(pXMRWatch+o.Ref, []byte{1})
		}
		return nil
	})
}

// MoneroWatched returns the orders the Monero watcher polls, oldest ref
// first. An entry whose order was purged is dropped.
func (s *Shop) MoneroWatched() ([]Order, error) {
	var out []Order
	var gone []string
	err := s.db.View(func(tx *store.Txn) error {
		return tx.Iterate(pXMRWatch, "", true, func(k string, _ []byte) error {
			ref := strings.TrimPrefix(k, pXMRWatch)
			o, _, err := getOrderByRef(tx, ref)
			if errors.Is(err, ErrOrderNotFound) || (err == nil && (o.Invoice == nil || o.Invoice.Unit != "XMR")) {
				gone = append(gone, ref)
				return nil
			}
			if err != nil {
				return err
			}
			out = append(out, o)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("shop: monero watch list: %w", err)
	}
	for _, ref := range gone {
		if err := s.Unwatch(ref); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Unwatch ends the Monero watch of ref.
func (s *Shop) Unwatch(ref string) error {
	err := s.db.Update(func(tx *store.Txn) error {
		if err := tx.Delete(pXMRWatch + ref); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("shop: unwatch %s: %w", ref, err)
	}
	return nil
}

// kXMRRates holds the merchant's XMR rates: currency -> minor units per
// XMR. Set through a settings approval (SetXMRRatesTx), never fetched.
const kXMRRates = "setting/xmr-rate"

// MaxMinorPerXMR bounds a rate (10^12 minor units per XMR keeps the
// conversion exact both ways, pay.XMRRate.Minor).
const MaxMinorPerXMR = 1_000_000_000_000

// CheckXMRRates checks rates: known currency codes, each rate 0 (unset)
// to MaxMinorPerXMR.
func CheckXMRRates(rates map[string]int64) error {
	if len(rates) == 0 {
		return inputErr("xmr_rate: at least one currency")
	}
	for c, r := range rates {
		if len(c) != 3 || strings.ToUpper(c) != c || strings.Trim(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
			return inputErr("xmr_rate: %q is not a currency code such as CNY", c)
		}
		if r < 0 || r > MaxMinorPerXMR {
			return inputErr("xmr_rate.%s: 0 (unset) to %d minor units per XMR", c, int64(MaxMinorPerXMR))
		}
	}
	return nil
}

// XMRRates returns the rates in force (currency -> minor units per XMR).
func (s *Shop) XMRRates() (map[string]int64, error) {
	rates := map[string]int64{}
	err := s.db.View(func(tx *store.Txn) error {
		if err := tx.GetJSON(kXMRRates, &rates); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return nil
	})
	return rates, err
}

// SetXMRRatesTx sets the given currencies' rates inside a settings
// approval, keeping the others; a rate of 0 unsets its currency.
func (s *Shop) SetXMRRatesTx(tx *store.Txn, rates map[string]int64) error {
	if err := CheckXMRRates(rates); err != nil {
		return err
	}
	cur := map[string]int64{}
	if err := tx.GetJSON(kXMRRates, &cur); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	for c, r := range rates {
		if r == 0 {
			delete(cur, c)
		} else {
			cur[c] = r
		}
	}
	return tx.SetJSON(kXMRRates, cur)
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
		if err := dropIfPresent(tx, pExpiry+unixKey(o.ExpiresAt)+"/"+o.Ref); err != nil {
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
