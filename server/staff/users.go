package staff

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"veil/server/store"
)

const (
	userPrefix    = "staff/user/"
	invitePrefix  = "staff/invite/"
	recoveryCount = 10
)

func userKey(name string) string   { return userPrefix + name }
func inviteKey(name string) string { return invitePrefix + name }

// userRecord is a staff member as stored.
type userRecord struct {
	Name         string `json:"name"`
	Role         Role   `json:"role"`
	PasswordHash string `json:"password_hash"` // PHC argon2id string
	// TOTPSecret (base32) is stored in the clear, deliberately. Sealing it
	// needs a key the server holds whenever staff log in: the vault's key
	// does not qualify (the vault may be locked, and unlocking it needs a
	// login), and a password-derived key would make every approval ask for
	// the password again. A copy of the data dir therefore reveals TOTP
	// secrets, which alone open nothing without the password (argon2id);
	// SECURITY.md says so.
	TOTPSecret string    `json:"totp_secret"`
	Enrolled   bool      `json:"enrolled"`
	Recovery   []string  `json:"recovery,omitempty"` // hex SHA-256 of unused recovery codes
	CreatedAt  time.Time `json:"created_at"`
	CreatedBy  string    `json:"created_by"`
}

// User is the public view of a staff member: no secrets.
type User struct {
	Name         string    `json:"name"`
	Role         Role      `json:"role"`
	Enrolled     bool      `json:"enrolled"`
	RecoveryLeft int       `json:"recovery_left"`
	CreatedAt    time.Time `json:"created_at"`
	CreatedBy    string    `json:"created_by"`
}

func (u *userRecord) public() User {
	return User{Name: u.Name, Role: u.Role, Enrolled: u.Enrolled, RecoveryLeft: len(u.Recovery), CreatedAt: u.CreatedAt, CreatedBy: u.CreatedBy}
}

// Enrolment is what a new staff member adds to an authenticator app. It is
// shown once and never logged.
type Enrolment struct {
	Name   string // the account
	Secret string // base32, for typing in
	URL    string // otpauth://totp/veil:NAME?…
	PNG    []byte // QR code of URL, 256×256
}

// normaliseName lowercases and trims; valid names are 1–32 of [a-z0-9_.-].
func normaliseName(name string) (string, bool) {
	name = strings.ToLower(strings.TrimSpace(name))
	if len(name) < 1 || len(name) > 32 {
		return name, false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return name, false
		}
	}
	return name, true
}

// StaffActor is the audit and proposer form of a staff member: "staff:NAME".
func StaffActor(name string) string { return "staff:" + name }

func getUser(tx *store.Txn, name string) (userRecord, error) {
	var u userRecord
	err := tx.GetJSON(userKey(name), &u)
	if errors.Is(err, store.ErrNotFound) {
		return u, ErrNotFound
	}
	return u, err
}

func (s *Service) newTOTPKey(name string, secret []byte) (*otp.Key, error) {
	k, err := totp.Generate(totp.GenerateOpts{
		Issuer:      s.opts.Issuer,
		AccountName: name,
		Period:      totpPeriod,
		Digits:      otp.DigitsSix,
		Algorithm:   otp.AlgorithmSHA1,
		Secret:      secret,
	})
	if err != nil {
		return nil, fmt.Errorf("staff: totp key: %w", err)
	}
	return k, nil
}

func enrolmentOf(name string, k *otp.Key) (Enrolment, error) {
	img, err := k.Image(256, 256)
	if err != nil {
		return Enrolment{}, fmt.Errorf("staff: totp qr: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return Enrolment{}, fmt.Errorf("staff: totp qr: %w", err)
	}
	return Enrolment{Name: name, Secret: k.Secret(), URL: k.URL(), PNG: buf.Bytes()}, nil
}

func validateNew(name, password string, role Role) (string, error) {
	name, ok := normaliseName(name)
	if !ok {
		return name, ErrBadName
	}
	if !validPassword(password) {
		return name, ErrBadPassword
	}
	if !role.valid() {
		return name, ErrBadRole
	}
	return name, nil
}

func nameTaken(tx *store.Txn, name string) error {
	for _, k := range []string{userKey(name), inviteKey(name)} {
		has, err := tx.Has(k)
		if err != nil {
			return err
		}
		if has {
			return ErrUserExists
		}
	}
	return nil
}

// CreateUser adds a staff member directly (for the command line and tests;
// the console goes through a staff_add approval, see ProposeAddUser). The
// account stays unenrolled until FinishEnrolment accepts a first code from
// the returned Enrolment; recovery codes are issued then. actor is the
// audit actor, e.g. StaffActor("alice") or "cli".
func (s *Service) CreateUser(ctx context.Context, name, password string, role Role, actor string) (Enrolment, error) {
	if err := ctx.Err(); err != nil {
		return Enrolment{}, err
	}
	name, err := validateNew(name, password, role)
	if err != nil {
		return Enrolment{}, err
	}
	key, err := s.newTOTPKey(name, nil)
	if err != nil {
		return Enrolment{}, err
	}
	hash := s.hashPassword(password)
	err = s.db.Update(func(tx *store.Txn) error {
		if err := nameTaken(tx, name); err != nil {
			return err
		}
		u := userRecord{Name: name, Role: role, PasswordHash: hash, TOTPSecret: key.Secret(), CreatedAt: s.now().Truncate(time.Second), CreatedBy: actor}
		if err := tx.SetJSON(userKey(name), u); err != nil {
			return err
		}
		return s.audit(tx, actor, ActionUserCreate, name, "role="+string(role))
	})
	if err != nil {
		return Enrolment{}, wrapf(err, "create user %s", name)
	}
	return enrolmentOf(name, key)
}

// Bootstrap creates the first owner, already enrolled, when no staff account
// exists yet (veil init, veil demo print the secret to the operator). It
// returns the enrolment and the owner's recovery codes.
func (s *Service) Bootstrap(name, password string) (Enrolment, []string, error) {
	name, err := validateNew(name, password, RoleOwner)
	if err != nil {
		return Enrolment{}, nil, err
	}
	key, err := s.newTOTPKey(name, nil)
	if err != nil {
		return Enrolment{}, nil, err
	}
	codes, hashes := newRecoveryCodes()
	hash := s.hashPassword(password)
	err = s.db.Update(func(tx *store.Txn) error {
		exists := false
		err := tx.Iterate(userPrefix, "", true, func(string, []byte) error {
			exists = true
			return store.ErrStop
		})
		if err != nil {
			return err
		}
		if exists {
			return ErrAlreadyBootstrap
		}
		u := userRecord{Name: name, Role: RoleOwner, PasswordHash: hash, TOTPSecret: key.Secret(), Enrolled: true,
			Recovery: hashes, CreatedAt: s.now().Truncate(time.Second), CreatedBy: "system"}
		if err := tx.SetJSON(userKey(name), u); err != nil {
			return err
		}
		return s.audit(tx, "system", ActionUserCreate, name, "role=owner bootstrap")
	})
	if err != nil {
		return Enrolment{}, nil, wrapf(err, "bootstrap")
	}
	e, err := enrolmentOf(name, key)
	return e, codes, err
}

// PendingEnrolment shows an unenrolled staff member their enrolment again
// after a password check (the console's enrolment page). Once enrolment is
// finished it returns ErrAlreadyEnrolled: the secret is never shown again.
func (s *Service) PendingEnrolment(name, password string) (Enrolment, error) {
	u, err := s.verifyPassword(name, password)
	if err != nil {
		return Enrolment{}, err
	}
	if u.Enrolled {
		return Enrolment{}, ErrAlreadyEnrolled
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(u.TOTPSecret)
	if err != nil {
		return Enrolment{}, fmt.Errorf("staff: stored totp secret of %s: %w", u.Name, err)
	}
	key, err := s.newTOTPKey(u.Name, secret)
	if err != nil {
		return Enrolment{}, err
	}
	return enrolmentOf(u.Name, key)
}

// FinishEnrolment accepts the first code from the staff member's
// authenticator (through the TOTP guard: the step is claimed, failures
// count towards the lockout), marks the account enrolled and returns its
// ten single-use recovery codes, shown once.
func (s *Service) FinishEnrolment(name, code string) ([]string, error) {
	name, ok := normaliseName(name)
	if !ok {
		return nil, ErrBadCredentials
	}
	if normaliseCode(code) == "" {
		return nil, ErrTOTPRequired
	}
	codes, hashes := newRecoveryCodes()
	var refusal error
	err := s.db.Update(func(tx *store.Txn) error {
		u, ref, err := s.guardTx(tx, name, code, false)
		if refusal = ref; err != nil || ref != nil {
			return err
		}
		u.Enrolled = true
		u.Recovery = hashes
		if err := tx.SetJSON(userKey(name), u); err != nil {
			return err
		}
		return s.audit(tx, StaffActor(name), ActionUserEnrol, name, "")
	})
	if err != nil {
		return nil, wrapf(err, "finish enrolment of %s", name)
	}
	if refusal != nil {
		return nil, refusal
	}
	return codes, nil
}

// Users lists every staff member, by name.
func (s *Service) Users() ([]User, error) {
	var out []User
	err := s.db.View(func(tx *store.Txn) error {
		return tx.Iterate(userPrefix, "", false, func(_ string, v []byte) error {
			var u userRecord
			if err := json.Unmarshal(v, &u); err != nil {
				return err
			}
			out = append(out, u.public())
			return nil
		})
	})
	return out, wrapf(err, "list users")
}

// User returns one staff member.
func (s *Service) User(name string) (User, error) {
	name, ok := normaliseName(name)
	if !ok {
		return User{}, ErrNotFound
	}
	var u userRecord
	err := s.db.View(func(tx *store.Txn) error {
		var err error
		u, err = getUser(tx, name)
		return err
	})
	if err != nil {
		return User{}, wrapf(err, "get user %s", name)
	}
	return u.public(), nil
}

func countOwners(tx *store.Txn) (int, error) {
	n := 0
	err := tx.Iterate(userPrefix, "", false, func(_ string, v []byte) error {
		var u userRecord
		if err := json.Unmarshal(v, &u); err != nil {
			return err
		}
		if u.Role == RoleOwner {
			n++
		}
		return nil
	})
	return n, err
}

// SetRole changes a staff member's role directly (command line; the console
// uses a staff_role approval). The last owner cannot be demoted. Sessions
// pick the new role up on their next request.
func (s *Service) SetRole(actor, name string, role Role) error {
	err := s.db.Update(func(tx *store.Txn) error { return s.setRoleTx(tx, actor, name, role) })
	return wrapf(err, "set role of %s", name)
}

func (s *Service) setRoleTx(tx *store.Txn, actor, name string, role Role) error {
	name, ok := normaliseName(name)
	if !ok {
		return ErrBadName
	}
	if !role.valid() {
		return ErrBadRole
	}
	u, err := getUser(tx, name)
	if err != nil {
		return err
	}
	if u.Role == role {
		return nil
	}
	if u.Role == RoleOwner {
		// Reading every user puts them all in the read set: two concurrent
		// demotions of the last two owners conflict, and the retry refuses.
		n, err := countOwners(tx)
		if err != nil {
			return err
		}
		if n <= 1 {
			return ErrLastOwner
		}
	}
	old := u.Role
	u.Role = role
	if err := tx.SetJSON(userKey(name), u); err != nil {
		return err
	}
	return s.audit(tx, actor, ActionUserRole, name, fmt.Sprintf("%s->%s", old, role))
}

// RemoveUser deletes a staff member, their guard state and all their
// sessions (command line; the console uses a staff_remove approval). The
// last owner cannot be removed.
func (s *Service) RemoveUser(actor, name string) error {
	err := s.db.Update(func(tx *store.Txn) error { return s.removeUserTx(tx, actor, name) })
	return wrapf(err, "remove user %s", name)
}

func (s *Service) removeUserTx(tx *store.Txn, actor, name string) error {
	name, ok := normaliseName(name)
	if !ok {
		return ErrBadName
	}
	u, err := getUser(tx, name)
	if err != nil {
		return err
	}
	if u.Role == RoleOwner {
		n, err := countOwners(tx)
		if err != nil {
			return err
		}
		if n <= 1 {
			return ErrLastOwner
		}
	}
	if err := tx.Delete(userKey(name)); err != nil {
		return err
	}
	if err := tx.Delete(guardKey(name)); err != nil {
		return err
	}
	if err := deleteSessionsOf(tx, name); err != nil {
		return err
	}
	return s.audit(tx, actor, ActionUserRemove, name, "")
}

// Recovery codes: 16 Crockford base32 characters (80 bits), shown as
// xxxx-xxxx-xxxx-xxxx. With 80 bits an unsalted SHA-256 is out of reach of
// brute force, and the codes are useless without the password anyway.
const recoveryAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

func newRecoveryCodes() (codes, hashes []string) {
	for range recoveryCount {
		var raw [16]byte
		_, _ = rand.Read(raw[:])
		var b strings.Builder
		for i, r := range raw {
			if i > 0 && i%4 == 0 {
				b.WriteByte('-')
			}
			b.WriteByte(recoveryAlphabet[r&31])
		}
		c := b.String()
		codes = append(codes, c)
		hashes = append(hashes, hashRecovery(c))
	}
	return codes, hashes
}

func hashRecovery(code string) string {
	r := strings.NewReplacer("-", "", " ", "", "i", "1", "l", "1", "o", "0", "u", "v")
	n := r.Replace(strings.ToLower(strings.TrimSpace(code)))
	sum := sha256.Sum256([]byte("veil-recovery-v1:" + n))
	return hex.EncodeToString(sum[:])
}

// UseRecoveryCode spends one recovery code of name in place of a TOTP code.
// It sits behind the same lockout as the TOTP guard (a wrong code counts as
// a failure). It does not check the password: callers must have done so
// (LoginRecovery does).
func (s *Service) UseRecoveryCode(name, code string) error {
	name, ok := normaliseName(name)
	if !ok {
		return ErrBadCredentials
	}
	var refusal error
	err := s.db.Update(func(tx *store.Txn) error {
		var err error
		refusal, err = s.useRecoveryTx(tx, name, code)
		return err
	})
	if err != nil {
		return wrapf(err, "recovery code for %s", name)
	}
	return refusal
}

func (s *Service) useRecoveryTx(tx *store.Txn, name, code string) (refusal, err error) {
	if strings.TrimSpace(code) == "" {
		return ErrTOTPRequired, nil
	}
	u, err := getUser(tx, name)
	if errors.Is(err, ErrNotFound) {
		return ErrBadCredentials, nil
	}
	if err != nil {
		return nil, err
	}
	if !u.Enrolled {
		return ErrNotEnrolled, nil
	}
	now := s.now()
	g, err := getGuard(tx, name)
	if err != nil {
		return nil, err
	}
	if g.locked(now) {
		return ErrLockedOut, nil
	}
	want := []byte(hashRecovery(code))
	found := -1
	for i, h := range u.Recovery {
		if subtle.ConstantTimeCompare([]byte(h), want) == 1 {
			found = i
		}
	}
	if found < 0 {
		return ErrRecoveryInvalid, s.recordFailure(tx, name, g, now)
	}
	u.Recovery = append(u.Recovery[:found:found], u.Recovery[found+1:]...)
	if err := tx.SetJSON(userKey(name), u); err != nil {
		return nil, err
	}
	g.Failures = nil
	if err := tx.SetJSON(guardKey(name), g); err != nil {
		return nil, err
	}
	return nil, s.audit(tx, StaffActor(name), ActionRecoveryUsed, name, fmt.Sprintf("left=%d", len(u.Recovery)))
}
