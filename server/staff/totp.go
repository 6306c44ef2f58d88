package staff

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"veil/server/store"
)

const (
	guardPrefix = "staff/guard/"
	totpPeriod  = 30
)

func guardKey(name string) string { return guardPrefix + name }

// totpOpts are spelled out rather than left to library defaults: six
// digits, 30 s, SHA-1 is what every authenticator app does with an
// otpauth URL that says so.
var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// guard is one account's TOTP state. It lives apart from the user record so
// that a role change and a code check do not conflict.
//
// Two kinds of failure are counted. Failures are second-factor failures
// (a wrong TOTP or recovery code, by someone who knew the password or
// holds a session): they lock the account, approvals included.
// LoginFailures are wrong passwords at sign-in: they lock sign-in only, so
// a stranger who knows a staff name can delay a new sign-in but cannot
// stop a signed-in owner from approving.
type guard struct {
	LastStep         uint64  `json:"last_step"`              // last accepted time step; only a later one passes
	Failures         []int64 `json:"failures,omitempty"`     // unix seconds of recent failures
	LockedUntil      int64   `json:"locked_until,omitempty"` // unix seconds
	LoginFailures    []int64 `json:"login_failures,omitempty"`
	LoginLockedUntil int64   `json:"login_locked_until,omitempty"`
}

func getGuard(tx *store.Txn, name string) (guard, error) {
	var g guard
	err := tx.GetJSON(guardKey(name), &g)
	if errors.Is(err, store.ErrNotFound) {
		err = nil
	}
	return g, err
}

func (g *guard) locked(now time.Time) bool { return now.Unix() < g.LockedUntil }

// loginLocked reports whether sign-in is locked, by either kind of failure.
func (g *guard) loginLocked(now time.Time) bool {
	return g.locked(now) || now.Unix() < g.LoginLockedUntil
}

// count appends a failure at now to list, dropping those older than the
// window, and reports whether MaxFailures are reached (the list is then
// emptied and *until set).
func (s *Service) count(list *[]int64, until *int64, now time.Time) bool {
	cut := now.Add(-s.opts.FailureWindow).Unix()
	kept := (*list)[:0:0]
	for _, f := range *list {
		if f > cut {
			kept = append(kept, f)
		}
	}
	*list = append(kept, now.Unix())
	if len(*list) < s.opts.MaxFailures {
		return false
	}
	*until = now.Add(s.opts.LockoutFor).Unix()
	*list = nil
	return true
}

// recordFailure counts a second-factor failure within the window and locks
// the account once MaxFailures are reached. It writes inside tx; the caller
// commits even though it refuses the request.
func (s *Service) recordFailure(tx *store.Txn, name string, g guard, now time.Time) error {
	return s.recordAnyFailure(tx, name, g, now, false)
}

// recordLoginFailure counts a wrong password at sign-in; MaxFailures
// within the window lock sign-in (not approvals) for LockoutFor.
func (s *Service) recordLoginFailure(tx *store.Txn, name string, g guard, now time.Time) error {
	return s.recordAnyFailure(tx, name, g, now, true)
}

func (s *Service) recordAnyFailure(tx *store.Txn, name string, g guard, now time.Time, login bool) error {
	var lockNow bool
	var until int64
	if login {
		lockNow, until = s.count(&g.LoginFailures, &g.LoginLockedUntil, now), g.LoginLockedUntil
	} else {
		lockNow, until = s.count(&g.Failures, &g.LockedUntil, now), g.LockedUntil
	}
	if err := tx.SetJSON(guardKey(name), g); err != nil {
		return err
	}
	if !lockNow {
		return nil
	}
	what := "%d failures; locked until %s"
	if login {
		what = "%d wrong passwords; sign-in locked until %s"
	}
	return s.audit(tx, StaffActor(name), ActionLocked, name,
		fmt.Sprintf(what, s.opts.MaxFailures, time.Unix(until, 0).UTC().Format(time.RFC3339)))
}

// normaliseCode drops the spaces apps put in the middle ("123 456").
func normaliseCode(code string) string {
	return strings.Join(strings.Fields(code), "")
}

// matchStep finds the time step among now-1, now, now+1 whose code equals
// code. Every candidate is computed and compared in constant time; when two
// steps happen to share a code, the earliest one later than last wins, so a
// collision cannot make a fresh code look replayed.
func matchStep(secret, code string, now time.Time, last uint64) (step uint64, matched bool, err error) {
	if len(code) != 6 {
		return 0, false, nil
	}
	for _, c := range code {
		if c < '0' || c > '9' {
			return 0, false, nil
		}
	}
	cur := uint64(now.Unix()) / totpPeriod
	for _, st := range []uint64{cur - 1, cur, cur + 1} {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(int64(st*totpPeriod), 0), totpOpts)
		if err != nil {
			return 0, false, fmt.Errorf("staff: totp code: %w", err)
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			if !matched || (step <= last && st > last) {
				step = st
			}
			matched = true
		}
	}
	return step, matched, nil
}

// CheckTOTP is the one TOTP guard: it checks code for the staff member name
// and claims its time step, in one store transaction, so each code is
// accepted once, ever — at login, enrolment or any approval.
//
// Order: an empty code is ErrTOTPRequired (nothing recorded); an unknown
// name ErrBadCredentials; a locked account ErrLockedOut before the code is
// looked at; a code that matches no step of t-1, t, t+1 is ErrTOTPInvalid
// and counts as a failure (MaxFailures within FailureWindow lock the
// account for LockoutFor); a code whose step is not later than the last
// accepted one is ErrTOTPReplayed (not counted: it proves the secret is
// known, and a double submit is not an attack). Success resets failures.
func (s *Service) CheckTOTP(name, code string) error {
	name, ok := normaliseName(name)
	if !ok {
		return ErrBadCredentials
	}
	if normaliseCode(code) == "" {
		return ErrTOTPRequired
	}
	var refusal error
	err := s.db.Update(func(tx *store.Txn) error {
		var err error
		_, refusal, err = s.guardTx(tx, name, code, true)
		return err
	})
	if err != nil {
		return wrapf(err, "check totp of %s", name)
	}
	return refusal
}

// guardTx does CheckTOTP's work inside tx. refusal is the user-facing
// outcome; err a store failure. On a refusal tx may hold a failure record
// and must still be committed. enrolled says which enrolment state the
// account must be in (false only for FinishEnrolment).
func (s *Service) guardTx(tx *store.Txn, name, code string, enrolled bool) (u userRecord, refusal, err error) {
	code = normaliseCode(code)
	if code == "" {
		return u, ErrTOTPRequired, nil
	}
	u, err = getUser(tx, name)
	if errors.Is(err, ErrNotFound) {
		return u, ErrBadCredentials, nil
	}
	if err != nil {
		return u, nil, err
	}
	switch {
	case enrolled && !u.Enrolled:
		return u, ErrNotEnrolled, nil
	case !enrolled && u.Enrolled:
		return u, ErrAlreadyEnrolled, nil
	}
	now := s.now()
	g, err := getGuard(tx, name)
	if err != nil {
		return u, nil, err
	}
	if g.locked(now) {
		return u, ErrLockedOut, nil
	}
	step, ok, err := matchStep(u.TOTPSecret, code, now, g.LastStep)
	if err != nil {
		return u, nil, err
	}
	if !ok {
		return u, ErrTOTPInvalid, s.recordFailure(tx, name, g, now)
	}
	if step <= g.LastStep {
		return u, ErrTOTPReplayed, nil
	}
	g.LastStep = step
	g.Failures = nil
	return u, nil, tx.SetJSON(guardKey(name), g)
}

// LockedUntil reports until when name is locked out (zero if not locked),
// for the console.
func (s *Service) LockedUntil(name string) (time.Time, error) {
	name, ok := normaliseName(name)
	if !ok {
		return time.Time{}, ErrNotFound
	}
	var g guard
	err := s.db.View(func(tx *store.Txn) error {
		var err error
		g, err = getGuard(tx, name)
		return err
	})
	if err != nil {
		return time.Time{}, wrapf(err, "lock state of %s", name)
	}
	now := s.now()
	if !g.loginLocked(now) {
		return time.Time{}, nil
	}
	return time.Unix(max(g.LockedUntil, g.LoginLockedUntil), 0).UTC(), nil
}
