// Package staff owns the merchant side's people and their power: staff
// accounts (argon2id passwords, TOTP enrolment, recovery codes), console
// sessions, the one TOTP guard every sensitive action goes through, the
// approvals queue that executes an operation in the same transaction that
// approves it, and the hash-chained audit log.
//
// Everything is stored through veil/server/store under the "staff/" prefix:
//
//	staff/user/<name>             user record (JSON)
//	staff/guard/<name>            TOTP guard state: last accepted step, failures, lock
//	staff/session/<sha256 hex>    session record; the key is the hash of the cookie value
//	staff/invite/<name>           name reserved by a proposed, not yet approved staff_add
//	staff/login-decoy             written by a refused sign-in of an unknown name (timing)
//	staff/approval/<20 digits>    approval, keyed by MaxUint64-seq so a scan is newest first
//	staff/approval-pending/<20d>  index of pending approvals, oldest first
//	staff/approval-seq            last approval sequence number
//	staff/setting/two-person/<kind>
//	staff/audit/<20 digits>       audit entry by sequence number
//	staff/audit-head              last sequence number and hash of the chain
//
// Which function to use:
//
//   - Bootstrap creates the first, already enrolled owner (veil init, demo).
//   - Login (or LoginRecovery) / Authenticate / Logout drive console
//     sessions; a recovery-code session re-enrols TOTP with BeginReenrol
//     and FinishReenrol before it may do anything else.
//   - CreateUser or an approved ProposeAddUser gives a new member a
//     one-time enrolment secret; PendingEnrolment and FinishEnrolment use
//     it to set the member's own password and TOTP.
//   - CheckTOTP is the only TOTP check; Login, FinishEnrolment, Decide and
//     ProposeAndExecute all use it, so a code is accepted once, ever.
//   - Propose (or ProposeTx inside a caller's transaction) queues an
//     operation; Decide approves or rejects it with a fresh code;
//     ProposeAndExecute does both at once for an endpoint called with a code.
//   - RegisterExecutor is how other packages (shop, pay, crypto vault) plug
//     the effect of each Kind in.
//   - AppendAudit records an action inside any transaction; VerifyAudit
//     checks the chain (veil audit verify).
//
// HTTP status codes, cookies and CSRF checks are the HTTP layer's business;
// errors here carry a stable code (see Code) for it to map.
package staff

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"veil/server/store"
)

// Role is a staff member's role.
type Role string

// Roles. An owner may approve everything; support chats with buyers,
// proposes operations and may approve only replacements and recalls.
const (
	RoleOwner   Role = "owner"
	RoleSupport Role = "support"
)

func (r Role) valid() bool { return r == RoleOwner || r == RoleSupport }

func (r Role) rank() int {
	switch r {
	case RoleOwner:
		return 2
	case RoleSupport:
		return 1
	}
	return 0
}

// Argon2Params are the argon2id cost parameters for new password hashes.
// Existing hashes carry their own parameters, so changing these only
// affects hashes made afterwards.
type Argon2Params struct {
	Time      uint32
	MemoryKiB uint32
	Threads   uint8
}

// DefaultArgon2 returns RFC 9106's second recommended option scaled to veil's
// 2-core box: 2 passes over 64 MiB with 2 lanes, about 60–100 ms per hash
// there. Concurrent hashes are bounded by Options.HashConcurrency so a burst
// of logins cannot take more than a few hundred MiB.
func DefaultArgon2() Argon2Params { return Argon2Params{Time: 2, MemoryKiB: 64 * 1024, Threads: 2} }

// Options tune a Service; the zero value picks the defaults noted per field.
type Options struct {
	// Now is the clock; nil means time.Now. Tests move it.
	Now func() time.Time
	// Issuer is the TOTP issuer shown by authenticator apps; "" means "veil".
	Issuer string
	// Argon2 are the password hash parameters; zero means DefaultArgon2().
	// Tests use cheaper ones.
	Argon2 Argon2Params
	// HashConcurrency bounds simultaneous password hashes; 0 means NumCPU.
	HashConcurrency int
	// MaxFailures TOTP failures within FailureWindow lock the account for
	// LockoutFor. Defaults: 5, 15 minutes, 15 minutes.
	MaxFailures   int
	FailureWindow time.Duration
	LockoutFor    time.Duration
	// SessionIdle and SessionMax are a session's idle and absolute
	// lifetimes. Defaults: 30 minutes and 12 hours.
	SessionIdle time.Duration
	SessionMax  time.Duration
	// OnPending, if set, runs inside the transaction that queues an
	// approval for a person to decide (not one executed at once), so the
	// merchant can be told (merchant notifications, issue 12).
	OnPending func(tx *store.Txn, a Approval) error
}

// Service is the staff subsystem. It is safe for concurrent use.
type Service struct {
	db      *store.DB
	opts    Options
	hashSem chan struct{}

	mu        sync.RWMutex
	executors map[Kind]executorEntry
}

// New returns a Service over db. It registers the executors of the staff
// kinds (staff_add, staff_remove, staff_role) itself; other packages
// register theirs with RegisterExecutor.
func New(db *store.DB, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Issuer == "" {
		opts.Issuer = "veil"
	}
	if opts.Argon2 == (Argon2Params{}) {
		opts.Argon2 = DefaultArgon2()
	}
	if opts.HashConcurrency <= 0 {
		opts.HashConcurrency = runtime.NumCPU()
	}
	if opts.MaxFailures <= 0 {
		opts.MaxFailures = 5
	}
	if opts.FailureWindow <= 0 {
		opts.FailureWindow = 15 * time.Minute
	}
	if opts.LockoutFor <= 0 {
		opts.LockoutFor = 15 * time.Minute
	}
	if opts.SessionIdle <= 0 {
		opts.SessionIdle = 30 * time.Minute
	}
	if opts.SessionMax <= 0 {
		opts.SessionMax = 12 * time.Hour
	}
	s := &Service{
		db:        db,
		opts:      opts,
		hashSem:   make(chan struct{}, opts.HashConcurrency),
		executors: make(map[Kind]executorEntry),
	}
	s.registerStaffExecutors()
	return s
}

func (s *Service) now() time.Time { return s.opts.Now().UTC() }

// Error is a staff error with a stable, snake_case code for the API.
type Error struct {
	code string
	msg  string
}

func (e *Error) Error() string { return "staff: " + e.msg }

// Code returns the API code.
func (e *Error) Code() string { return e.code }

// Sentinel errors. Compare with errors.Is; map to API codes with Code.
var (
	ErrTOTPRequired     = &Error{"totp_required", "a TOTP code is required"}
	ErrTOTPInvalid      = &Error{"totp_invalid", "the TOTP code is not valid"}
	ErrTOTPReplayed     = &Error{"totp_replayed", "the TOTP code was already used"}
	ErrLockedOut        = &Error{"locked_out", "the account is locked for a while after repeated failures"}
	ErrBadCredentials   = &Error{"bad_credentials", "unknown user or wrong password"}
	ErrRecoveryInvalid  = &Error{"recovery_invalid", "the recovery code is not valid"}
	ErrNotEnrolled      = &Error{"enrolment_required", "TOTP enrolment is not finished"}
	ErrAlreadyEnrolled  = &Error{"already_enrolled", "TOTP enrolment is already finished"}
	ErrReenrolRequired  = &Error{"reenrol_required", "signed in with a recovery code: set up a new authenticator first"}
	ErrUnauthenticated  = &Error{"unauthenticated", "no valid session"}
	ErrForbidden        = &Error{"forbidden", "this role may not do that"}
	ErrSelfApproval     = &Error{"two_person", "this kind needs a second person: the proposer cannot approve it"}
	ErrAlreadyDecided   = &Error{"already_decided", "the approval was already decided"}
	ErrNotFound         = &Error{"not_found", "not found"}
	ErrBadName          = &Error{"bad_name", "a name is 1–32 characters of a-z 0-9 _ . -"}
	ErrBadPassword      = &Error{"bad_password", "a password is 10 to 256 characters"}
	ErrBadRole          = &Error{"bad_role", "unknown role"}
	ErrUserExists       = &Error{"user_exists", "a staff member with that name exists"}
	ErrLastOwner        = &Error{"last_owner", "the last owner cannot be removed or demoted"}
	ErrAlreadyBootstrap = &Error{"already_initialised", "staff accounts already exist"}
	ErrUnknownKind      = &Error{"unknown_kind", "no executor is registered for this kind"}
	ErrBadRequest       = &Error{"bad_request", "malformed or oversized input"}
	ErrExecFailed       = &Error{"approval_failed", "the approved operation failed for good"}
)

// Code maps an error from this package to its API code: "totp_required",
// "totp_invalid", "totp_replayed", "locked_out", "bad_credentials",
// "unauthenticated", "forbidden", "two_person", "already_decided",
// "not_found", … and "internal" for anything else (store failures).
// nil maps to "".
func Code(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.code
	}
	return "internal"
}

// wrapf adds context to store errors without hiding sentinels.
func wrapf(err error, format string, a ...any) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return fmt.Errorf("staff: "+format+": %w", append(a, err)...)
}
