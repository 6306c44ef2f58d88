package shop

import (
	"errors"
	"fmt"
	"strings"

	"veil/server/store"
)

// OwedPayment is a payment owed back to a buyer (a duplicate, late or
// rejected payment), with what the console needs to give it back.
type OwedPayment struct {
	PaymentRecord
	// Cursor is the payment's position in the owed list.
	Cursor      string
	ProductID   string
	Currency    string
	OrderStatus Status
}

// OwedTotal sums the payments owed back.
type OwedTotal struct {
	Count int
	// Minor is the amount owed per currency, in minor units.
	Minor map[string]int64
}

// Owed lists the payments owed back, oldest order ref first, limit at a
// time; next is the cursor of the following page ("" at the end).
func (s *Shop) Owed(cursor string, limit int) ([]OwedPayment, string, error) {
	limit = min(max(limit, 1), 200)
	var out []OwedPayment
	next := ""
	start := ""
	if cursor != "" {
		start = pOwed + cursor
	}
	err := s.db.View(func(tx *store.Txn) error {
		return tx.Iterate(pOwed, start, true, func(k string, _ []byte) error {
			rest := strings.TrimPrefix(k, pOwed)
			if len(out) == limit {
				next = rest
				return store.ErrStop
			}
			op, err := owedAt(tx, rest)
			if err != nil {
				return err
			}
			out = append(out, op)
			return nil
		})
	})
	if err != nil {
		return nil, "", fmt.Errorf("shop: list owed payments: %w", err)
	}
	return out, next, nil
}

// OwedSum counts and sums every payment owed back.
func (s *Shop) OwedSum() (OwedTotal, error) {
	t := OwedTotal{Minor: map[string]int64{}}
	err := s.db.View(func(tx *store.Txn) error {
		return tx.Iterate(pOwed, "", true, func(k string, _ []byte) error {
			op, err := owedAt(tx, strings.TrimPrefix(k, pOwed))
			if err != nil {
				return err
			}
			t.Count++
			t.Minor[op.Currency] += op.Payment.AmountMinor
			return nil
		})
	})
	if err != nil {
		return OwedTotal{}, fmt.Errorf("shop: sum owed payments: %w", err)
	}
	return t, nil
}

// owedAt reads the owed payment at key <ref>/<provider>/<trade no>.
func owedAt(tx *store.Txn, key string) (OwedPayment, error) {
	op := OwedPayment{Cursor: key}
	if err := tx.GetJSON(pPayRec+key, &op.PaymentRecord); err != nil {
		return op, fmt.Errorf("owed payment %s: %w", key, err)
	}
	o, _, err := getOrderByRef(tx, op.Ref)
	if err != nil && !errors.Is(err, ErrOrderNotFound) {
		return op, err
	}
	op.ProductID, op.Currency, op.OrderStatus = o.ProductID, o.Currency, o.Status
	return op, nil
}

// OwedPaymentOf is the payment (provider, trade number) of the order ref
// if it is owed back now; ErrNotRefundable otherwise.
func (s *Shop) OwedPaymentOf(ref, provider, tradeNo string) (OwedPayment, error) {
	if !refRE(ref) {
		return OwedPayment{}, ErrOrderNotFound
	}
	var op OwedPayment
	err := s.db.View(func(tx *store.Txn) error {
		if _, _, err := getOrderByRef(tx, ref); err != nil {
			return err
		}
		if provider == "" || strings.Contains(provider, "/") || strings.Contains(tradeNo, "/") {
			return ErrNotRefundable
		}
		key := payRecKey(ref, Payment{Provider: provider, TradeNo: tradeNo})
		if ok, err := tx.Has(pOwed + key); err != nil {
			return err
		} else if !ok {
			return ErrNotRefundable
		}
		var err error
		op, err = owedAt(tx, key)
		return err
	})
	return op, err
}
