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
	// EnrolmentValidFor is how long a new member's enrolment secret works.
	EnrolmentValidFor = 7 * 24 * time.Hour
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
	TOTPSecret string   `json:"totp_secret"`
	Enrolled   bool     `json:"enrolled"`
	Recovery   []string `json:"recovery,omitempty"` // hex SHA-256 of unused recovery codes
	// EnrolHash is the hash of the one-time enrolment secret of a member
	// not yet enrolled (hex SHA-256, see hashEnrolSecret), valid until
	// EnrolExpires; both are cleared when enrolment finishes. Such a
	// member has no password yet: they choose it when they enrol.
	EnrolHash    string    `json:"enrol_hash,omitempty"`
	EnrolExpires time.Time `json:"enrol_expires,omitzero"`
	CreatedAt    time.Time `json:"created_at"`
	CreatedBy    string    `json:"created_by"`
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
	name, err := validateMember(name, role)
	if err != nil {
		return name, err
	}
	if !validPassword(password) {
		return name, ErrBadPassword
	}
	return name, nil
}

func validateMember(name string, role Role) (string, error) {
	name, ok := normaliseName(name)
	if !ok {
		return name, ErrBadName
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
// the console goes through a staff_add approval, see ProposeAddUser) and
// returns their one-time enrolment secret. The account has no password and
// cannot sign in until the member enrols: PendingEnrolment shows the TOTP
// secret to whoever has the enrolment secret, and FinishEnrolment sets the
// member's own password and accepts a first code. actor is the audit
// actor, e.g. StaffActor("alice") or "cli".
func (s *Service) CreateUser(ctx context.Context, name string, role Role, actor string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	name, err := validateMember(name, role)
	if err != nil {
		return "", err
	}
	var secret string
	err = s.db.Update(func(tx *store.Txn) error {
		if err := nameTaken(tx, name); err != nil {
			return err
		}
		var err error
		secret, err = s.createMemberTx(tx, name, role, actor, "role="+string(role))
		return err
	})
	if err != nil {
		return "", wrapf(err, "create user %s", name)
	}
	return secret, nil
}

// createMemberTx stores a new, unenrolled member with a fresh TOTP secret
// and a fresh enrolment secret, which it returns (its hash is stored).
func (s *Service) createMemberTx(tx *store.Txn, name string, role Role, actor, detail string) (string, error) {
	key, err := s.newTOTPKey(name, nil)
	if err != nil {
		return "", err
	}
	secret := newCode(6)
	now := s.now().Truncate(time.Second)
	u := userRecord{Name: name, Role: role, TOTPSecret: key.Secret(), EnrolHash: hashEnrolSecret(secret),
		EnrolExpires: now.Add(EnrolmentValidFor), CreatedAt: now, CreatedBy: actor}
	if err := tx.SetJSON(userKey(name), u); err != nil {
		return "", err
	}
	return secret, s.audit(tx, actor, ActionUserCreate, name, detail)
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

// PendingEnrolment shows a new member the TOTP secret to add to an
// authenticator app, given their one-time enrolment secret (the approver
// handed it over). It can be shown again until enrolment finishes. Any
// refusal — unknown name, wrong or expired secret, enrolled already — is
// ErrBadCredentials.
func (s *Service) PendingEnrolment(name, enrolSecret string) (Enrolment, error) {
	name, ok := normaliseName(name)
	if !ok {
		return Enrolment{}, ErrBadCredentials
	}
	var u userRecord
	err := s.db.View(func(tx *store.Txn) error {
		var err error
		u, err = getUser(tx, name)
		if errors.Is(err, ErrNotFound) {
			return ErrBadCredentials
		}
		return err
	})
	if err != nil {
		return Enrolment{}, wrapf(err, "pending enrolment of %s", name)
	}
	if !s.enrolSecretOK(u, enrolSecret) {
		return Enrolment{}, ErrBadCredentials
	}
	return s.enrolmentFor(u.Name, u.TOTPSecret)
}

// enrolSecretOK reports whether secret is u's unexpired enrolment secret.
func (s *Service) enrolSecretOK(u userRecord, secret string) bool {
	if u.Enrolled || u.EnrolHash == "" || !s.now().Before(u.EnrolExpires) {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(u.EnrolHash), []byte(hashEnrolSecret(secret))) == 1
}

// enrolmentFor is the enrolment (QR code and all) of a base32 TOTP secret.
func (s *Service) enrolmentFor(name, secret string) (Enrolment, error) {
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil {
		return Enrolment{}, fmt.Errorf("staff: stored totp secret of %s: %w", name, err)
	}
	key, err := s.newTOTPKey(name, raw)
	if err != nil {
		return Enrolment{}, err
	}
	return enrolmentOf(name, key)
}

// FinishEnrolment enrols a new member: with their enrolment secret, the
// password they choose and a first code from their authenticator, in one
// transaction it sets the password, marks the account enrolled, burns the
// enrolment secret and returns ten single-use recovery codes, shown once.
// The code goes through the guard's rules (its step is claimed, failures
// count towards the lockout). A wrong enrolment secret is
// ErrBadCredentials; a password out of bounds ErrBadPassword.
func (s *Service) FinishEnrolment(name, enrolSecret, password, code string) ([]string, error) {
	name, ok := normaliseName(name)
	if !ok {
		return nil, ErrBadCredentials
	}
	if !validPassword(password) {
		return nil, ErrBadPassword
	}
	if normaliseCode(code) == "" {
		return nil, ErrTOTPRequired
	}
	hash := s.hashPassword(password)
	codes, hashes := newRecoveryCodes()
	var refusal error
	err := s.db.Update(func(tx *store.Txn) error {
		refusal = nil
		u, err := getUser(tx, name)
		if errors.Is(err, ErrNotFound) {
			refusal = ErrBadCredentials
			return nil
		}
		if err != nil {
			return err
		}
		if !s.enrolSecretOK(u, enrolSecret) {
			refusal = ErrBadCredentials
			return nil
		}
		u, ref, err := s.guardTx(tx, name, code, false)
		if refusal = ref; err != nil || ref != nil {
			return err
		}
		u.PasswordHash, u.Enrolled, u.Recovery = hash, true, hashes
		u.EnrolHash, u.EnrolExpires = "", time.Time{}
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
// Enrolment secrets are the same alphabet, 24 characters (120 bits).
const recoveryAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// newCode returns groups groups of four random base32 characters.
func newCode(groups int) string {
	raw := make([]byte, 4*groups)
	_, _ = rand.Read(raw)
	var b strings.Builder
	for i, r := range raw {
		if i > 0 && i%4 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(recoveryAlphabet[r&31])
	}
	return b.String()
}

func newRecoveryCodes() (codes, hashes []string) {
	for range recoveryCount {
		c := newCode(4)
		codes = append(codes, c)
		hashes = append(hashes, hashRecovery(c))
	}
	return codes, hashes
}

// normaliseCodeText forgives case, spaces, dashes and confusable letters.
func normaliseCodeText(code string) string {
	r := strings.NewReplacer("-", "", " ", "", "i", "1", "l", "1", "o", "0", "u", "v")
	return r.Replace(strings.ToLower(strings.TrimSpace(code)))
}

func hashRecovery(code string) string {
	sum := sha256.Sum256([]byte("veil-recovery-v1:" + normaliseCodeText(code)))
	return hex.EncodeToString(sum[:])
}

func hashEnrolSecret(secret string) string {
	sum := sha256.Sum256([]byte("veil-enrol-v1:" + normaliseCodeText(secret)))
	return hex.EncodeToString(sum[:])
}
