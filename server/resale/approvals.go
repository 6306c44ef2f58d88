package resale

import (
	"encoding/json"
	"errors"
	"fmt"

	"veil/server/shop"
	"veil/server/staff"
	"veil/server/store"
)

// BalanceParams are the params of a top-up, an adjustment or a balance
// refund: the account, the signed amount and a note (no secrets).
type BalanceParams struct {
	Reseller    string `json:"reseller"`
	AmountMinor int64  `json:"amount_minor"`
	Currency    string `json:"currency"`
	Note        string `json:"note,omitempty"`
}

// RemedyParams are the params of a resale ticket's remedy. Product lets the
// server rebuild the product's stock pool after a replacement.
type RemedyParams struct {
	Ticket      string `json:"ticket"`
	Product     string `json:"product"`
	AmountMinor int64  `json:"amount_minor,omitempty"`
}

// permanent marks a contract error as one that retrying cannot fix, so the
// approval is marked failed rather than left pending.
func permanent(err error) error {
	var ie *shop.InputError
	if errors.As(err, &ie) || errors.Is(err, shop.ErrResellerNotFound) || errors.Is(err, shop.ErrInsufficientBalance) ||
		errors.Is(err, shop.ErrTicketNotFound) || errors.Is(err, shop.ErrTicketClosed) || errors.Is(err, shop.ErrNotRefundable) {
		return fmt.Errorf("%w: %w", staff.ErrExecFailed, err)
	}
	return err
}

func params(a staff.Approval, v any) error {
	if err := json.Unmarshal(a.Params, v); err != nil {
		return fmt.Errorf("%w: params: %v", staff.ErrExecFailed, err)
	}
	return nil
}

// RegisterExecutors plugs the resale approval kinds into st: creating an
// account, top-ups, adjustments and balance refunds (each a ledger entry
// naming the approval), and a ticket's remedies.
//
// It may be called more than once for one service (the command line's app
// and the server both do): the second call does nothing.
func RegisterExecutors(st *staff.Service, sh *shop.Shop) {
	if st.CanDecide(staff.RoleOwner, staff.KindResellerCreate) {
		return
	}
	st.RegisterExecutor(staff.KindResellerCreate, staff.RoleOwner, func(tx *store.Txn, a staff.Approval) (string, error) {
		var sp shop.ResellerSpec
		if err := params(a, &sp); err != nil {
			return "", err
		}
		r, err := sh.CreateResellerTx(tx, sp)
		if err != nil {
			return "", permanent(err)
		}
		return fmt.Sprintf("reseller %s (%s) created; issue its API secret from the console", r.Name, r.ID), nil
	})
	balance := func(kind shop.LedgerKind) staff.Executor {
		return func(tx *store.Txn, a staff.Approval) (string, error) {
			var p BalanceParams
			if err := params(a, &p); err != nil {
				return "", err
			}
			e, err := sh.BalanceTx(tx, p.Reseller, kind, p.AmountMinor, "approval-"+a.ID, p.Note)
			if err != nil {
				return "", permanent(err)
			}
			return fmt.Sprintf("%s %s: %+d, balance %d (ledger #%d)", p.Reseller, kind, e.DeltaMinor, e.BalanceMinor, e.Seq), nil
		}
	}
	st.RegisterExecutor(staff.KindResellerTopUp, staff.RoleOwner, balance(shop.LedgerTopUp))
	st.RegisterExecutor(staff.KindResellerAdjust, staff.RoleOwner, balance(shop.LedgerAdjust))
	st.RegisterExecutor(staff.KindResellerBalanceRefund, staff.RoleOwner, balance(shop.LedgerBalanceRefund))
	st.RegisterExecutor(staff.KindResellerRefund, staff.RoleOwner, func(tx *store.Txn, a staff.Approval) (string, error) {
		var p RemedyParams
		if err := params(a, &p); err != nil {
			return "", err
		}
		t, err := sh.ResaleRefundTx(tx, p.Ticket, p.AmountMinor, "approval-"+a.ID)
		if err != nil {
			return "", permanent(err)
		}
		return fmt.Sprintf("ticket %s: %d refunded to the balance of order %s", t.ID, t.AmountMinor, t.Order), nil
	})
	st.RegisterExecutor(staff.KindResellerReplacement, staff.RoleSupport, func(tx *store.Txn, a staff.Approval) (string, error) {
		var p RemedyParams
		if err := params(a, &p); err != nil {
			return "", err
		}
		t, err := sh.ResaleReplaceTx(tx, p.Ticket)
		if err != nil {
			return "", permanent(err)
		}
		return fmt.Sprintf("ticket %s: a fresh key was delivered to order %s", t.ID, t.Order), nil
	})
}
