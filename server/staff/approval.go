package staff

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"veil/server/store"
)

// Kind names a sensitive operation.
type Kind string

// Kinds of approvals.
const (
	KindRefund          Kind = "refund"
	KindPartialRefund   Kind = "partial_refund"
	KindReplacement     Kind = "replacement"
	KindRecall          Kind = "recall"
	KindExport          Kind = "export"
	KindPaymentConfirm  Kind = "payment_confirm"
	KindStaffAdd        Kind = "staff_add"
	KindStaffRemove     Kind = "staff_remove"
	KindStaffRole       Kind = "staff_role"
	KindSettings        Kind = "settings"
	KindVaultUnlock     Kind = "vault_unlock"
	KindInventoryDelete Kind = "inventory_delete"
	// KindPaymentReturn marks a payment owed back to a buyer (duplicate,
	// late or rejected) as given back: money leaving the shop.
	KindPaymentReturn Kind = "payment_return"
	// KindProductPolicy changes an existing product's price or after-sales
	// policy (window, remedies, cooling-off, fast-track tier).
	KindProductPolicy Kind = "product_policy"
)

// kindInfo is what the approval rules know of a kind.
type kindInfo struct {
	kind Kind
	// floor is the least role that may decide it, whatever an executor
	// registers.
	floor Role
	// moneyOut: it pays money out of the shop (see MoneyOut).
	moneyOut bool
}

// kindTable holds every kind in registration order. The kinds above are
// registered here; a feature adds its own in a file of its own
// (kinds_<feature>.go) with RegisterKind in an init func, so features do not
// collide in one list.
var kindTable []kindInfo

func init() {
	// Support may decide replacements and recalls only; money, key exports,
	// staff, settings, the vault and deletions are owners'.
	RegisterKind(KindRefund, RoleOwner, true)
	RegisterKind(KindPartialRefund, RoleOwner, true)
	RegisterKind(KindReplacement, RoleSupport, false)
	RegisterKind(KindRecall, RoleSupport, false)
	RegisterKind(KindExport, RoleOwner, false)
	RegisterKind(KindPaymentConfirm, RoleOwner, false)
	RegisterKind(KindStaffAdd, RoleOwner, false)
	RegisterKind(KindStaffRemove, RoleOwner, false)
	RegisterKind(KindStaffRole, RoleOwner, false)
	RegisterKind(KindSettings, RoleOwner, false)
	RegisterKind(KindVaultUnlock, RoleOwner, false)
	RegisterKind(KindInventoryDelete, RoleOwner, false)
	RegisterKind(KindPaymentReturn, RoleOwner, true)
	RegisterKind(KindProductPolicy, RoleOwner, false)
}

// RegisterKind adds an approval kind: floor is the least role that may
// decide it, moneyOut whether it pays money out of the shop (refunds of any
// size, payments given back, balances refunded: anything where money leaves
// shares the money two-person switch). Call it from an init func only; a
// kind registered twice panics at start-up.
func RegisterKind(k Kind, floor Role, moneyOut bool) {
	if k == "" || k.valid() {
		panic(fmt.Sprintf("staff: approval kind %q registered twice or empty", k))
	}
	kindTable = append(kindTable, kindInfo{kind: k, floor: floor, moneyOut: moneyOut})
}

// Kinds lists every kind, for settings pages, in registration order.
func Kinds() []Kind {
	ks := make([]Kind, len(kindTable))
	for i, x := range kindTable {
		ks[i] = x.kind
	}
	return ks
}

func kindOf(k Kind) (kindInfo, bool) {
	for _, x := range kindTable {
		if x.kind == k {
			return x, true
		}
	}
	return kindInfo{}, false
}

// floorRole is the least role that may decide a kind, whatever an executor
// registers; an unknown kind is owners'.
func floorRole(k Kind) Role {
	if x, ok := kindOf(k); ok {
		return x.floor
	}
	return RoleOwner
}

// MoneyOut reports whether kind pays money out of the shop — a refund
// of any size, or any other way money is given back. For the two-person
// rule these are one kind, whatever each is called: the rule on any of
// them is on for all of them. A new kind that returns money registers
// with moneyOut set.
func MoneyOut(k Kind) bool {
	x, ok := kindOf(k)
	return ok && x.moneyOut
}

// twoPersonGroup lists the kinds that share kind's two-person switch.
func twoPersonGroup(k Kind) []Kind {
	if !MoneyOut(k) {
		return []Kind{k}
	}
	var g []Kind
	for _, x := range Kinds() {
		if MoneyOut(x) {
			g = append(g, x)
		}
	}
	return g
}

// twoPersonOn reads kind's two-person switch inside tx: on when it is set
// for any kind of its group (a switch stored for one money kind before
// they were grouped counts for all).
func twoPersonOn(tx *store.Txn, k Kind) (bool, error) {
	for _, x := range twoPersonGroup(k) {
		on, err := tx.Has(twoPersonPrefix + string(x))
		if err != nil || on {
			return on, err
		}
	}
	return false, nil
}

func (k Kind) valid() bool {
	_, ok := kindOf(k)
	return ok
}

// Status of an approval.
type Status string

// Statuses. An approval leaves pending exactly once.
const (
	StatusPending  Status = "pending"
	StatusApproved Status = "approved"
	StatusRejected Status = "rejected"
	StatusFailed   Status = "failed"
)

// Approval is one queued sensitive operation.
type Approval struct {
	ID      string          `json:"id"`
	Kind    Kind            `json:"kind"`
	Ref     string          `json:"ref"`     // order ref (R-…), staff name or other target; never a token
	Summary string          `json:"summary"` // for people; no secrets
	Params  json.RawMessage `json:"params,omitempty"`
	// ProposedBy is "staff:NAME", "system" or "ticket:ID".
	ProposedBy string    `json:"proposed_by"`
	Status     Status    `json:"status"`
	CreatedAt  time.Time `json:"created_at"`
	DecidedAt  time.Time `json:"decided_at,omitzero"`
	DecidedBy  string    `json:"decided_by,omitempty"` // "staff:NAME"
	Result     string    `json:"result,omitempty"`     // executor's result or failure; no secrets
	// EnrolmentSecret is set on the approval Decide returns when approving
	// a staff_add: the new member's one-time enrolment secret, for the
	// approver to hand over. It is never stored (json "-") nor shown again.
	EnrolmentSecret string `json:"-"`
}

// Executor performs an approved operation inside the transaction that
// marks the approval approved, so the effect and the approval commit
// together or not at all. a.DecidedBy and a.DecidedAt are set.
//
// The store retries a conflicting transaction, so an executor may run more
// than once for one commit: it must act only through tx. If it returns an
// error the transaction is aborted, nothing changes, the approval stays
// pending and Decide returns the error (retry later). If the error wraps
// ErrExecFailed, the operation can never succeed: the approval is marked
// failed, with the error text as Result, in a separate transaction. The
// result string is stored and shown to staff: no secrets in it.
type Executor func(tx *store.Txn, a Approval) (result string, err error)

type executorEntry struct {
	minRole Role
	fn      Executor
	// private, when set, is used in place of fn by a decision: it also
	// returns a secret for the decider alone (staff_add's enrolment secret).
	private func(tx *store.Txn, a Approval) (result, secret string, err error)
}

// RegisterExecutor plugs in the effect of kind. minRole may raise, never
// lower, the role needed to decide it (see the floor on Kind). It panics on
// an unknown kind, a nil fn or a second registration — wiring mistakes,
// found at start-up. staff_add, staff_remove and staff_role are registered
// by New.
func (s *Service) RegisterExecutor(kind Kind, minRole Role, fn Executor) {
	if !kind.valid() || fn == nil || (minRole != "" && !minRole.valid()) {
		panic(fmt.Sprintf("staff: bad executor registration for %q", kind))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.executors[kind]; dup {
		panic(fmt.Sprintf("staff: executor for %q registered twice", kind))
	}
	if minRole.rank() < floorRole(kind).rank() {
		minRole = floorRole(kind)
	}
	s.executors[kind] = executorEntry{minRole: minRole, fn: fn}
}

func (s *Service) executor(kind Kind) (executorEntry, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.executors[kind]
	return e, ok
}

// CanDecide reports whether role may approve or reject kind.
func (s *Service) CanDecide(role Role, kind Kind) bool {
	e, ok := s.executor(kind)
	if !ok {
		return false
	}
	return role.valid() && role.rank() >= e.minRole.rank()
}

const (
	approvalPrefix  = "staff/approval/"
	pendingPrefix   = "staff/approval-pending/"
	approvalSeqKey  = "staff/approval-seq"
	twoPersonPrefix = "staff/setting/two-person/"
	maxParams       = 16 << 10
)

// Approvals are keyed by MaxUint64-seq so an ascending scan is newest first.
func approvalKey(seq uint64) string {
	return fmt.Sprintf("%s%020d", approvalPrefix, math.MaxUint64-seq)
}
func pendingKey(seq uint64) string { return fmt.Sprintf("%s%020d", pendingPrefix, seq) }

func parseID(id string) (uint64, bool) {
	n, err := strconv.ParseUint(id, 10, 64)
	return n, err == nil && n > 0 && n < math.MaxUint64
}

func validProposer(p string) bool {
	if p == "system" {
		return true
	}
	if name, ok := strings.CutPrefix(p, "staff:"); ok {
		n, valid := normaliseName(name)
		return valid && n == name
	}
	if id, ok := strings.CutPrefix(p, "ticket:"); ok {
		return id != "" && len(id) <= 64 && !strings.ContainsAny(id, " \t\r\n")
	}
	return false
}

// Propose queues an operation. proposer is "staff:NAME", "system" or
// "ticket:ID"; ref names the target (an order ref, never a token); params
// is JSON-encoded (≤ 16 KiB) for the executor and shown to staff, so it
// must hold no secrets. The kind needs a registered executor.
func (s *Service) Propose(proposer string, kind Kind, ref, summary string, params any) (Approval, error) {
	var a Approval
	err := s.db.Update(func(tx *store.Txn) error {
		var err error
		a, err = s.ProposeTx(tx, proposer, kind, ref, summary, params)
		return err
	})
	if err != nil {
		return Approval{}, wrapf(err, "propose %s", kind)
	}
	return a, nil
}

// ProposeTx is Propose inside the caller's transaction, so that, say, a
// ticket's proposed remedy and its approval commit together. Like every
// transaction body it may run more than once.
func (s *Service) ProposeTx(tx *store.Txn, proposer string, kind Kind, ref, summary string, params any) (Approval, error) {
	a, err := s.newApproval(proposer, kind, ref, summary, params)
	if err != nil {
		return a, err
	}
	if err := s.insertApproval(tx, &a); err != nil {
		return a, err
	}
	if s.opts.OnPending != nil {
		return a, s.opts.OnPending(tx, a)
	}
	return a, nil
}

func (s *Service) newApproval(proposer string, kind Kind, ref, summary string, params any) (Approval, error) {
	if _, ok := s.executor(kind); !ok {
		return Approval{}, ErrUnknownKind
	}
	if !validProposer(proposer) || len(ref) > 128 || len(summary) > 512 {
		return Approval{}, ErrBadRequest
	}
	var raw json.RawMessage
	if params != nil {
		b, err := json.Marshal(params)
		if err != nil {
			return Approval{}, fmt.Errorf("staff: encode params: %w", err)
		}
		if len(b) > maxParams {
			return Approval{}, ErrBadRequest
		}
		raw = b
	}
	return Approval{Kind: kind, Ref: ref, Summary: summary, Params: raw, ProposedBy: proposer,
		Status: StatusPending, CreatedAt: s.now().Truncate(time.Second)}, nil
}

func (s *Service) insertApproval(tx *store.Txn, a *Approval) error {
	var seq uint64
	if err := tx.GetJSON(approvalSeqKey, &seq); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	seq++
	a.ID = strconv.FormatUint(seq, 10)
	if err := tx.SetJSON(approvalSeqKey, seq); err != nil {
		return err
	}
	if err := tx.SetJSON(approvalKey(seq), a); err != nil {
		return err
	}
	if err := tx.Set(pendingKey(seq), nil); err != nil {
		return err
	}
	return s.audit(tx, a.ProposedBy, ActionApprovalPropose, a.Ref, fmt.Sprintf("id=%s kind=%s", a.ID, a.Kind))
}

// Get returns one approval.
func (s *Service) Get(id string) (Approval, error) {
	seq, ok := parseID(id)
	if !ok {
		return Approval{}, ErrNotFound
	}
	var a Approval
	err := s.db.View(func(tx *store.Txn) error {
		var err error
		a, err = getApproval(tx, seq)
		return err
	})
	if err != nil {
		return Approval{}, wrapf(err, "get approval %s", id)
	}
	return a, nil
}

func getApproval(tx *store.Txn, seq uint64) (Approval, error) {
	var a Approval
	err := tx.GetJSON(approvalKey(seq), &a)
	if errors.Is(err, store.ErrNotFound) {
		return a, ErrNotFound
	}
	return a, err
}

// Pending returns every pending approval, oldest first (the queue).
func (s *Service) Pending() ([]Approval, error) {
	var out []Approval
	err := s.db.View(func(tx *store.Txn) error {
		return tx.Iterate(pendingPrefix, "", true, func(k string, _ []byte) error {
			seq, err := strconv.ParseUint(strings.TrimPrefix(k, pendingPrefix), 10, 64)
			if err != nil {
				return fmt.Errorf("bad pending key %q", k)
			}
			a, err := getApproval(tx, seq)
			if err != nil {
				return err
			}
			out = append(out, a)
			return nil
		})
	})
	return out, wrapf(err, "pending approvals")
}

// Filter selects approvals in List; zero fields match everything.
type Filter struct {
	Status     Status
	Kind       Kind
	ProposedBy string
}

func (f Filter) match(a *Approval) bool {
	return (f.Status == "" || a.Status == f.Status) && (f.Kind == "" || a.Kind == f.Kind) &&
		(f.ProposedBy == "" || a.ProposedBy == f.ProposedBy)
}

// List returns up to limit approvals matching f, newest first, older than
// the approval whose ID is cursor ("" = from the newest). next is the
// cursor of the following page, "" at the end. limit ≤ 0 means 50; at most
// 200.
func (s *Service) List(f Filter, cursor string, limit int) (page []Approval, next string, err error) {
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 200)
	start := ""
	if cursor != "" {
		seq, ok := parseID(cursor)
		if !ok {
			return nil, "", ErrBadRequest
		}
		if seq == 1 {
			return nil, "", nil
		}
		start = approvalKey(seq - 1)
	}
	err = s.db.View(func(tx *store.Txn) error {
		return tx.Iterate(approvalPrefix, start, false, func(_ string, v []byte) error {
			var a Approval
			if err := json.Unmarshal(v, &a); err != nil {
				return err
			}
			if !f.match(&a) {
				return nil
			}
			if len(page) == limit {
				next = page[len(page)-1].ID
				return store.ErrStop
			}
			page = append(page, a)
			return nil
		})
	})
	if err != nil {
		return nil, "", wrapf(err, "list approvals")
	}
	return page, next, nil
}

// SetTwoPerson turns the two-person rule for kind on or off: when on, the
// staff member who proposed an approval of that kind cannot approve it.
// Kinds that pay money out share one switch (MoneyOut): setting any of
// them sets all of them.
// actor is audited. This is itself a settings change: the console should
// reach it through a settings approval (SetTwoPersonTx in its executor).
func (s *Service) SetTwoPerson(actor string, kind Kind, on bool) error {
	err := s.db.Update(func(tx *store.Txn) error { return s.SetTwoPersonTx(tx, actor, kind, on) })
	return wrapf(err, "set two-person for %s", kind)
}

// SetTwoPersonTx is SetTwoPerson inside the caller's transaction.
func (s *Service) SetTwoPersonTx(tx *store.Txn, actor string, kind Kind, on bool) error {
	if !kind.valid() {
		return ErrUnknownKind
	}
	for _, k := range twoPersonGroup(kind) {
		var err error
		if on {
			err = tx.Set(twoPersonPrefix+string(k), []byte("true"))
		} else {
			err = tx.Delete(twoPersonPrefix + string(k))
		}
		if err != nil {
			return err
		}
	}
	return s.audit(tx, actor, ActionTwoPerson, string(kind), strconv.FormatBool(on))
}

// TwoPerson reports whether the two-person rule is on for kind.
func (s *Service) TwoPerson(kind Kind) (bool, error) {
	var on bool
	err := s.db.View(func(tx *store.Txn) error {
		var err error
		on, err = twoPersonOn(tx, kind)
		return err
	})
	return on, wrapf(err, "two-person setting")
}

// Decision is approve or reject.
const (
	Approve = "approve"
	Reject  = "reject"
)

// Decide approves or rejects approval id as staffName with a fresh TOTP
// code.
//
// Order of checks: the approval exists and is pending; the decider exists
// and has the role for the kind (ErrForbidden; the proposer may always
// reject — withdraw — their own proposal); for approve, the two-person rule
// (ErrSelfApproval); then the TOTP guard, which claims the code in its own
// transaction. Then one transaction re-reads the approval (ErrAlreadyDecided
// if another decision won), runs the executor, stores the decision and
// appends the audit entry, so a concurrent second approval has no effect.
//
// A code accepted by the guard is spent even if the decision then fails
// (already decided, executor error): codes are never given back, because a
// code that was seen must not work again.
func (s *Service) Decide(ctx context.Context, id, staffName, decision, totpCode string) (Approval, error) {
	if err := ctx.Err(); err != nil {
		return Approval{}, err
	}
	if decision != Approve && decision != Reject {
		return Approval{}, ErrBadRequest
	}
	seq, ok := parseID(id)
	if !ok {
		return Approval{}, ErrNotFound
	}
	name, ok := normaliseName(staffName)
	if !ok {
		return Approval{}, ErrForbidden
	}
	var (
		a Approval
		u userRecord
	)
	err := s.db.View(func(tx *store.Txn) error {
		var err error
		if a, err = getApproval(tx, seq); err != nil {
			return err
		}
		u, err = getUser(tx, name)
		if errors.Is(err, ErrNotFound) {
			return ErrForbidden
		}
		return err
	})
	if err != nil {
		return Approval{}, wrapf(err, "decide %s", id)
	}
	if a.Status != StatusPending {
		return a, ErrAlreadyDecided
	}
	if err := s.mayDecide(u, a, decision); err != nil {
		return a, err
	}
	if err := s.CheckTOTP(name, totpCode); err != nil {
		return a, err
	}
	if err := ctx.Err(); err != nil {
		return a, err
	}
	return s.decideTx(seq, name, decision)
}

func (s *Service) mayDecide(u userRecord, a Approval, decision string) error {
	self := a.ProposedBy == StaffActor(u.Name)
	if !s.CanDecide(u.Role, a.Kind) && !(decision == Reject && self) {
		return ErrForbidden
	}
	if decision == Approve && self {
		var on bool
		err := s.db.View(func(tx *store.Txn) error {
			var err error
			on, err = twoPersonOn(tx, a.Kind)
			return err
		})
		if err != nil {
			return wrapf(err, "two-person setting")
		}
		if on {
			return ErrSelfApproval
		}
	}
	return nil
}

func (s *Service) decideTx(seq uint64, name, decision string) (Approval, error) {
	var a Approval
	err := s.db.Update(func(tx *store.Txn) error {
		var err error
		if a, err = getApproval(tx, seq); err != nil {
			return err
		}
		if a.Status != StatusPending {
			return ErrAlreadyDecided
		}
		return s.applyDecision(tx, &a, name, decision)
	})
	if errors.Is(err, ErrExecFailed) {
		return s.markFailed(seq, name, err)
	}
	if err != nil {
		return a, wrapf(err, "decide %d", seq)
	}
	return a, nil
}

// applyDecision runs the executor (for approve) and records the decision
// of the pending approval a inside tx.
func (s *Service) applyDecision(tx *store.Txn, a *Approval, name, decision string) error {
	a.DecidedAt = s.now().Truncate(time.Second)
	a.DecidedBy = StaffActor(name)
	action := ActionApprovalReject
	if decision == Approve {
		e, ok := s.executor(a.Kind)
		if !ok {
			return ErrUnknownKind
		}
		var res, secret string
		var err error
		if e.private != nil {
			res, secret, err = e.private(tx, *a)
		} else {
			res, err = e.fn(tx, *a)
		}
		if err != nil {
			return fmt.Errorf("staff: execute %s %s: %w", a.Kind, a.ID, err)
		}
		a.Status, a.Result, a.EnrolmentSecret, action = StatusApproved, res, secret, ActionApprovalApprove
	} else {
		a.Status = StatusRejected
		if a.Kind == KindStaffAdd {
			if err := tx.Delete(inviteKey(a.Ref)); err != nil {
				return err
			}
		}
	}
	seq, _ := parseID(a.ID)
	if err := tx.SetJSON(approvalKey(seq), a); err != nil {
		return err
	}
	if err := tx.Delete(pendingKey(seq)); err != nil {
		return err
	}
	return s.audit(tx, a.DecidedBy, action, a.Ref, fmt.Sprintf("id=%s kind=%s", a.ID, a.Kind))
}

// markFailed records that an approved operation failed for good.
func (s *Service) markFailed(seq uint64, name string, cause error) (Approval, error) {
	var a Approval
	err := s.db.Update(func(tx *store.Txn) error {
		var err error
		if a, err = getApproval(tx, seq); err != nil {
			return err
		}
		if a.Status != StatusPending {
			return ErrAlreadyDecided
		}
		a.Status = StatusFailed
		a.DecidedAt = s.now().Truncate(time.Second)
		a.DecidedBy = StaffActor(name)
		a.Result = truncate(cause.Error(), 512)
		if err := tx.SetJSON(approvalKey(seq), a); err != nil {
			return err
		}
		if err := tx.Delete(pendingKey(seq)); err != nil {
			return err
		}
		if a.Kind == KindStaffAdd {
			if err := tx.Delete(inviteKey(a.Ref)); err != nil {
				return err
			}
		}
		return s.audit(tx, a.DecidedBy, ActionApprovalFail, a.Ref, fmt.Sprintf("id=%s kind=%s", a.ID, a.Kind))
	})
	if err != nil {
		return a, wrapf(err, "mark approval %d failed", seq)
	}
	return a, cause
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// ProposeAndExecute serves a sensitive endpoint called with a TOTP code:
// when staffName may approve the kind alone (role, two-person rule), the
// code passes the guard and the approval is created, executed and recorded
// in one transaction — nothing is queued if the executor fails. When
// staffName may not approve it alone, or totpCode is empty, it is only
// queued and returned pending, with no code spent: the caller answers 202
// for a pending result and 200 for an approved one.
func (s *Service) ProposeAndExecute(staffName string, kind Kind, ref, summary string, params any, totpCode string) (Approval, error) {
	name, ok := normaliseName(staffName)
	if !ok {
		return Approval{}, ErrForbidden
	}
	proposer := StaffActor(name)
	var u userRecord
	err := s.db.View(func(tx *store.Txn) error {
		var err error
		u, err = getUser(tx, name)
		if errors.Is(err, ErrNotFound) {
			return ErrForbidden
		}
		return err
	})
	if err != nil {
		return Approval{}, wrapf(err, "propose %s", kind)
	}
	a, err := s.newApproval(proposer, kind, ref, summary, params)
	if err != nil {
		return Approval{}, err
	}
	if normaliseCode(totpCode) == "" || s.mayDecide(u, a, Approve) != nil {
		return s.Propose(proposer, kind, ref, summary, params)
	}
	if err := s.CheckTOTP(name, totpCode); err != nil {
		return Approval{}, err
	}
	err = s.db.Update(func(tx *store.Txn) error {
		a2 := a
		if err := s.insertApproval(tx, &a2); err != nil {
			return err
		}
		if err := s.applyDecision(tx, &a2, name, Approve); err != nil {
			return err
		}
		a = a2
		return nil
	})
	if err != nil {
		return Approval{}, wrapf(err, "execute %s", kind)
	}
	return a, nil
}

// AutoApproveTx records an operation that policy approves without a person
// — a trusted buyer's remedy within the product's limits, a cooling-off
// refund — and executes it inside tx. The approval is created approved,
// decided by "system", and audited with the rule that allowed it, so the
// queue and the log show it like any other.
func (s *Service) AutoApproveTx(tx *store.Txn, proposer string, kind Kind, ref, summary string, params any, rule string) (Approval, error) {
	a, err := s.newApproval(proposer, kind, ref, summary, params)
	if err != nil {
		return Approval{}, err
	}
	if err := s.insertApproval(tx, &a); err != nil {
		return Approval{}, err
	}
	e, _ := s.executor(kind)
	res, err := e.fn(tx, a)
	if err != nil {
		return Approval{}, fmt.Errorf("staff: execute %s %s: %w", a.Kind, a.ID, err)
	}
	a.Status, a.Result = StatusApproved, res
	a.DecidedAt, a.DecidedBy = s.now().Truncate(time.Second), "system"
	seq, _ := parseID(a.ID)
	if err := tx.SetJSON(approvalKey(seq), a); err != nil {
		return Approval{}, err
	}
	if err := tx.Delete(pendingKey(seq)); err != nil {
		return Approval{}, err
	}
	return a, s.audit(tx, "system", ActionApprovalApprove, a.Ref, truncate(fmt.Sprintf("id=%s kind=%s rule=%s", a.ID, a.Kind, rule), 256))
}
