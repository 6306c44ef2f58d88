package shop

import (
	"errors"
	"slices"
	"time"

	"veil/server/store"
)

// Compensation (issue 13 §1): on top of a remedy, staff may give an order
// an extra key of any product — given, not sold. It travels like a
// delivery: taken from stock, sealed to the order's recipient as one more
// payload and shown on the order page marked "compensation". Only an
// approval gives one (CompensateKeyTx in its executor), and one approval
// gives one key, once.

// Compensation records an extra key given to an order.
type Compensation struct {
	// Approval is the approval that gave it: a second run of the same
	// approval gives nothing more.
	Approval string    `json:"approval"`
	Product  string    `json:"product"`
	Item     string    `json:"item"`
	Ticket   string    `json:"ticket,omitempty"`
	At       time.Time `json:"at"`
}

// CompensationParams is what a compensation_key approval carries.
type CompensationParams struct {
	Ref     string `json:"ref"`
	Product string `json:"product"`
	Ticket  string `json:"ticket,omitempty"`
}

// CheckCompensation says whether the order ref may be given a key of
// product now (for proposing; the approval checks again): the order is
// paid and its keys are not withheld, the product has stock, and the
// ticket, if named, is the order's. It returns the order and the product.
// ErrOrderNotFound, ErrProductNotFound, ErrTicketNotFound, ErrOutOfStock,
// *InputError.
func (s *Shop) CheckCompensation(p CompensationParams) (Order, Product, error) {
	o, err := s.OrderByRef(p.Ref)
	if err != nil {
		return o, Product{}, err
	}
	if err := compensable(o); err != nil {
		return o, Product{}, err
	}
	if p.Ticket != "" {
		t, err := s.Ticket(p.Ticket)
		if err != nil {
			return o, Product{}, err
		}
		if t.Ref != o.Ref {
			return o, Product{}, inputErr("ticket: not a ticket of this order")
		}
	}
	prod, err := s.Product(p.Product)
	if err != nil {
		return o, prod, err
	}
	if prod.InStock < 1 {
		return o, prod, ErrOutOfStock
	}
	return o, prod, nil
}

func compensable(o Order) error {
	switch {
	case o.Payment == nil:
		return inputErr("the order is not paid")
	case withheld(o):
		return inputErr("the order was refunded before its keys were shown; nothing more is shown on it")
	}
	return nil
}

// CompensateKeyTx gives the order p.Ref one key of p.Product inside the
// approval's transaction (approvalID names it): the key leaves stock, is
// sealed to the order like a delivery and marked as a compensation, and the
// buyer sees a notice. Run again for the same approval it gives nothing
// more. The pool of p.Product is stale until Reconcile. ErrOutOfStock,
// ErrLocked (the vault must be open to unseal the key), ErrOrderNotFound,
// ErrProductNotFound, *InputError.
func (s *Shop) CompensateKeyTx(tx *store.Txn, approvalID string, p CompensationParams) (Order, error) {
	o, lk, err := getOrderByRef(tx, p.Ref)
	if err != nil {
		return o, err
	}
	if slices.ContainsFunc(o.Compensations, func(c Compensation) bool { return c.Approval == approvalID }) {
		return o, nil
	}
	if err := compensable(o); err != nil {
		return o, err
	}
	prod, ok := s.catalog.get(p.Product)
	if !ok {
		return o, ErrProductNotFound
	}
	var kid string
	if prod.Kind == Shared {
		n, err := getStock(tx, prod.ID)
		if err != nil {
			return o, err
		}
		k, err := tx.Get(pShared + prod.ID)
		if n < 1 || errors.Is(err, store.ErrNotFound) {
			return o, ErrOutOfStock
		}
		if err != nil {
			return o, err
		}
		if err := addStock(tx, prod.ID, -1); err != nil {
			return o, err
		}
		kid = string(k)
	} else {
		kids, err := takeFromStock(tx, prod, 1, o.Ref, nil)
		if err != nil {
			return o, err
		}
		if len(kids) == 0 {
			return o, ErrOutOfStock
		}
		kid = kids[0]
	}
	sealed, recs, err := s.sealKeysAs(tx, &o, []string{kid}, prod, true, func(it *Item) {
		it.Compensation, it.Product = true, prod.ID
	})
	if err != nil {
		return o, err
	}
	if err := markDelivered(tx, prod, recs); err != nil {
		return o, err
	}
	now := s.now().Truncate(timeUnit)
	o.Payloads = append(o.Payloads, Payload{Sealed: sealed})
	o.Compensations = append(o.Compensations, Compensation{
		Approval: approvalID, Product: prod.ID, Item: kid, Ticket: p.Ticket, At: now,
	})
	o.Notices = append(o.Notices, Notice{Code: "compensation", At: now})
	return o, putOrder(tx, lk, o)
}
