package shop

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"veil/crypto"
	"veil/server/store"
)

// Compensation vouchers. A voucher is a shop-credit code of an amount,
// usable once, at checkout in the coupon field (coupons.go). Staff issue
// one as compensation for an order through an approval (its executor calls
// IssueVoucherTx); the system proposes one by itself when the shop is at
// fault — a paid order delivered late, or one that became refund_due
// because the shop could not deliver or recalled its keys — if the owner
// set a rule (CompensationRule). The code is sealed to the order, so only
// the token holder ever sees it (on the order page); the store keeps a
// hash of it, the amount, and whether it was used.

const (
	voucherPrefix = "VCH-"
	pVoucher      = "voucher/" // voucher/<sha256 hex of the code> -> voucher
	kCompRule     = "settings/compensation"
	// MaxVoucherMinor bounds one voucher.
	MaxVoucherMinor = MaxPriceMinor
)

type voucher struct {
	AmountMinor int64     `json:"amount_minor"`
	Currency    string    `json:"currency"`
	Used        bool      `json:"used"`
	Ref         string    `json:"ref"`      // the order it compensates
	Approval    string    `json:"approval"` // the approval that issued it
	Cause       string    `json:"cause"`    // staff, late, refund_due
	CreatedAt   time.Time `json:"created_at"`
}

// IssuedVoucher is a voucher as its order keeps it: the code sealed to the
// order's recipient (re-sealed to the token's symmetric recipient on first
// retrieval, like a delivery).
type IssuedVoucher struct {
	Sealed      []byte    `json:"sealed"`
	Sym         bool      `json:"sym,omitempty"`
	AmountMinor int64     `json:"amount_minor"`
	Currency    string    `json:"currency"`
	Approval    string    `json:"approval"`
	Cause       string    `json:"cause"`
	At          time.Time `json:"at"`
}

// VoucherView is a voucher shown to the token holder.
type VoucherView struct {
	Code        string
	AmountMinor int64
	Currency    string
	Cause       string
	Used        bool
}

func voucherKey(code string) string {
	h := sha256.Sum256([]byte(NormalizeCode(code)))
	return pVoucher + hex.EncodeToString(h[:])
}

// newVoucherCode: VCH- and 16 characters (80 random bits) in groups of four.
func newVoucherCode() string {
	s := strings.ToUpper(crypto.RandomID("", 10))
	return voucherPrefix + s[:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16]
}

// ErrNotCompensable: the order cannot be compensated (never paid, or the
// amount is out of range) — 409 not_compensable.
var ErrNotCompensable = errors.New("shop: order cannot be compensated")

// CheckVoucher says whether an order may get a voucher of amountMinor (a
// proposal's check; IssueVoucherTx checks again).
func (s *Shop) CheckVoucher(ref string, amountMinor int64) (Order, error) {
	o, err := s.OrderByRef(ref)
	if err != nil {
		return o, err
	}
	return o, voucherable(o, amountMinor)
}

func voucherable(o Order, amountMinor int64) error {
	if amountMinor < 1 || amountMinor > MaxVoucherMinor {
		return inputErr("amount_minor: between 1 and %d", MaxVoucherMinor)
	}
	if o.PaidAt.IsZero() || len(o.Vouchers) >= 10 {
		return ErrNotCompensable
	}
	return nil
}

// IssueVoucherTx issues a voucher of amountMinor (the order's currency)
// to the order ref, inside the approval's transaction: once per approval,
// however often the transaction runs or the executor is retried.
func (s *Shop) IssueVoucherTx(tx *store.Txn, ref string, amountMinor int64, approvalID, cause string) (IssuedVoucher, error) {
	o, lk, err := getOrderByRef(tx, ref)
	if err != nil {
		return IssuedVoucher{}, err
	}
	for _, v := range o.Vouchers {
		if v.Approval == approvalID {
			return v, nil
		}
	}
	if err := voucherable(o, amountMinor); err != nil {
		return IssuedVoucher{}, err
	}
	r, err := o.ageRecipient()
	if err != nil {
		return IssuedVoucher{}, fmt.Errorf("shop: order recipient: %w", err)
	}
	code := newVoucherCode()
	sealed, err := crypto.Seal([]byte(code), r)
	if err != nil {
		return IssuedVoucher{}, fmt.Errorf("shop: seal voucher: %w", err)
	}
	now := s.now().Truncate(time.Second)
	rec := voucher{AmountMinor: amountMinor, Currency: o.Currency, Ref: o.Ref, Approval: approvalID, Cause: cause, CreatedAt: now}
	if err := tx.SetJSON(voucherKey(code), rec); err != nil {
		return IssuedVoucher{}, err
	}
	iv := IssuedVoucher{Sealed: sealed, AmountMinor: amountMinor, Currency: o.Currency, Approval: approvalID, Cause: cause, At: now}
	o.Vouchers = append(o.Vouchers, iv)
	o.Notices = append(o.Notices, Notice{Code: "voucher", At: now.Truncate(timeUnit)})
	return iv, putOrder(tx, lk, o)
}

// spendVoucher takes a voucher for an order of prod, inside tx.
func spendVoucher(tx *store.Txn, code string, prod Product, subtotal int64) (int64, string, error) {
	key := voucherKey(code)
	var v voucher
	if err := tx.GetJSON(key, &v); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = couponErr(CouponUnknown)
		}
		return 0, "", err
	}
	if v.Used {
		return 0, "", couponErr(CouponUsedUp)
	}
	if v.Currency != prod.Currency {
		return 0, "", couponErr(CouponNotApplicable)
	}
	v.Used = true
	return min(v.AmountMinor, subtotal-1), key, tx.SetJSON(key, v)
}

func setVoucherUsed(tx *store.Txn, key string, used bool) error {
	var v voucher
	if err := tx.GetJSON(key, &v); err != nil {
		return ignoreNotFound(err)
	}
	v.Used = used
	return tx.SetJSON(key, v)
}

// openVouchers opens the order's vouchers for the token holder into
// v.Vouchers, re-sealing any still sealed to the order's public recipient
// to the token's symmetric one; it reports whether it did.
func (s *Shop) openVouchers(tx *store.Txn, op *opener, v *View) (bool, error) {
	o := &v.Order
	changed := false
	for i, iv := range o.Vouchers {
		pt, resealed, err := op.open(iv.Sealed, iv.Sym)
		if err != nil {
			return false, fmt.Errorf("shop: open voucher of %s: %w", o.Ref, err)
		}
		if resealed != nil {
			o.Vouchers[i].Sealed, o.Vouchers[i].Sym = resealed, true
			changed = true
		}
		code := string(pt)
		var rec voucher
		if err := tx.GetJSON(voucherKey(code), &rec); err != nil && !errors.Is(err, store.ErrNotFound) {
			return false, err
		}
		v.Vouchers = append(v.Vouchers, VoucherView{Code: code, AmountMinor: iv.AmountMinor, Currency: iv.Currency,
			Cause: iv.Cause, Used: rec.Used})
	}
	return changed, nil
}

// VoucherStats counts vouchers for reports, per currency.
type VoucherStats struct {
	Currency    string `json:"currency"`
	Issued      int    `json:"issued"`
	IssuedMinor int64  `json:"issued_minor"`
	Used        int    `json:"used"`
	UsedMinor   int64  `json:"used_minor"` // face value of the used ones
	Automatic   int    `json:"automatic"`  // proposed by the system (late, refund_due)
}

// Vouchers counts the vouchers issued so far, per currency.
func (s *Shop) Vouchers() ([]VoucherStats, error) {
	by := map[string]*VoucherStats{}
	err := s.db.View(func(tx *store.Txn) error {
		return tx.Iterate(pVoucher, "", false, func(_ string, b []byte) error {
			var v voucher
			if err := jsonUnmarshal(b, &v); err != nil {
				return err
			}
			st := by[v.Currency]
			if st == nil {
				st = &VoucherStats{Currency: v.Currency}
				by[v.Currency] = st
			}
			st.Issued++
			st.IssuedMinor += v.AmountMinor
			if v.Used {
				st.Used++
				st.UsedMinor += v.AmountMinor
			}
			if v.Cause != CauseStaff {
				st.Automatic++
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("shop: voucher stats: %w", err)
	}
	out := make([]VoucherStats, 0, len(by))
	for _, st := range by {
		out = append(out, *st)
	}
	slices.SortFunc(out, func(a, b VoucherStats) int { return strings.Compare(a.Currency, b.Currency) })
	return out, nil
}

// Compensation causes.
const (
	CauseStaff     = "staff"      // proposed by a person
	CauseLate      = "late"       // delivered late (the vault was locked, the queue or an upstream was slow)
	CauseRefundDue = "refund_due" // the shop could not deliver, or recalled the keys
)

// CompensationRule is the owner's rule for proactive compensation: a
// voucher of Percent of the order's amount is proposed (still an approval)
// when a paid order is delivered LateMinutes or more after payment (Late)
// or becomes refund_due through the shop's fault (RefundDue). Percent 0
// turns it off.
type CompensationRule struct {
	Percent     int  `json:"percent"`
	LateMinutes int  `json:"late_minutes"`
	Late        bool `json:"late"`
	RefundDue   bool `json:"refund_due"`
}

// Validate checks the rule.
func (r CompensationRule) Validate() error {
	if r.Percent < 0 || r.Percent > 100 {
		return inputErr("compensation.percent: between 0 and 100")
	}
	if r.LateMinutes < 1 || r.LateMinutes > 7*24*60 {
		return inputErr("compensation.late_minutes: between 1 and 10080")
	}
	return nil
}

// DefaultCompensationRule: off, 10 minutes counted as late once on.
func DefaultCompensationRule() CompensationRule {
	return CompensationRule{LateMinutes: 10, Late: true, RefundDue: true}
}

// CompensationRule returns the owner's rule (off until set).
func (s *Shop) CompensationRule() CompensationRule {
	r := DefaultCompensationRule()
	_ = s.db.View(func(tx *store.Txn) error { return tx.GetJSON(kCompRule, &r) })
	return r
}

// SetCompensationRuleTx stores the rule (a settings approval).
func (s *Shop) SetCompensationRuleTx(tx *store.Txn, r CompensationRule) error {
	if err := r.Validate(); err != nil {
		return err
	}
	return tx.SetJSON(kCompRule, r)
}

// VoucherProposal is a voucher the system proposes for an order.
type VoucherProposal struct {
	Ref         string `json:"ref"`
	AmountMinor int64  `json:"amount_minor"`
	Currency    string `json:"currency"`
	Cause       string `json:"cause"`
	Percent     int    `json:"percent"`
}

// proposeCompensation proposes, through the configured hook and inside
// tx, a voucher for o by the owner's rule, once per cause per order.
func (s *Shop) proposeCompensation(tx *store.Txn, o *Order, cause string) error {
	if s.cfg.OnCompensate == nil || slices.Contains(o.Compensated, cause) || o.PaidAt.IsZero() {
		return nil
	}
	var r CompensationRule = DefaultCompensationRule()
	if err := tx.GetJSON(kCompRule, &r); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if r.Percent == 0 || (cause == CauseLate && !r.Late) || (cause == CauseRefundDue && !r.RefundDue) {
		return nil
	}
	amount := o.AmountMinor * int64(r.Percent) / 100
	if amount < 1 {
		return nil
	}
	o.Compensated = append(o.Compensated, cause)
	return s.cfg.OnCompensate(tx, VoucherProposal{Ref: o.Ref, AmountMinor: amount, Currency: o.Currency, Cause: cause, Percent: r.Percent})
}

// proposeIfLate proposes a voucher for o, just delivered from the queue,
// when the delivery came the rule's LateMinutes or more after payment.
func (s *Shop) proposeIfLate(tx *store.Txn, o *Order) error {
	if s.cfg.OnCompensate == nil || o.PaidAt.IsZero() {
		return nil
	}
	r := DefaultCompensationRule()
	if err := tx.GetJSON(kCompRule, &r); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if o.DeliveredAt.Sub(o.PaidAt) < time.Duration(r.LateMinutes)*time.Minute {
		return nil
	}
	return s.proposeCompensation(tx, o, CauseLate)
}
