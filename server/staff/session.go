package staff

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"veil/server/store"
)

const sessionPrefix = "staff/session/"

// lastSeenEvery limits last-seen writes to one a minute per session; the
// idle expiry is therefore exact to within a minute.
const lastSeenEvery = time.Minute

// Session is a logged-in staff member.
type Session struct {
	// ID is the cookie value (base64url of 32 random bytes). Only Login
	// sets it; the store keeps only its SHA-256.
	ID        string
	User      string
	Role      Role // current role, re-read on every Authenticate
	CSRF      string
	CreatedAt time.Time
	LastSeen  time.Time
	// Reenrol marks a session opened with a recovery code: it may only
	// re-enrol TOTP (BeginReenrol, FinishReenrol) or sign out until then.
	Reenrol bool
}

// CheckCSRF reports, in constant time, whether token is this session's
// CSRF token.
func (s Session) CheckCSRF(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.CSRF)) == 1
}

type sessionRecord struct {
	User     string    `json:"user"`
	CSRF     string    `json:"csrf"`
	Created  time.Time `json:"created"`
	LastSeen time.Time `json:"last_seen"`
	Reenrol  bool      `json:"reenrol,omitempty"`
	// PendingTOTP is the new TOTP secret (base32) of a re-enrolment, until
	// confirmed; in the clear like the user's own (see userRecord).
	PendingTOTP string `json:"pending_totp,omitempty"`
}

// sessionKey maps a cookie value to its store key; false if it cannot be
// one of ours.
func sessionKey(id string) (string, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(raw) != 32 {
		return "", false
	}
	sum := sha256.Sum256(raw)
	return sessionPrefix + hex.EncodeToString(sum[:]), true
}

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// loginDecoyKey is written by a sign-in for an unknown name, so that it
// costs what a refused sign-in of a real name costs: one hash and one
// durable commit. It holds nothing.
const loginDecoyKey = "staff/login-decoy"

// Login signs name in with password and a TOTP code (the code is spent)
// and opens a session.
//
// Any refused pair answers ErrBadCredentials — wrong password, unknown or
// unenrolled name, missing, wrong or replayed code — so the answer never
// tells a right password from a wrong one; only ErrLockedOut differs, and
// it is given before the password is looked at. Every refusal costs one
// argon2id hash and one durable commit: for a real name it counts the
// failure (wrong passwords lock sign-in, second-factor failures lock the
// account: see guard) and audits it with its true reason; for an unknown
// name it writes a decoy and audits nothing (a name typed by a stranger
// may be anything, even someone's password).
func (s *Service) Login(name, password, code string) (Session, error) {
	return s.login(name, password, code, "")
}

// LoginRecovery is Login with a recovery code in place of the TOTP code.
// The code is burned in the transaction that opens the session, and the
// session is limited to re-enrolment (Session.Reenrol) until the member
// confirms a new TOTP secret with FinishReenrol: whoever needed a recovery
// code has lost, or may have leaked, the authenticator.
func (s *Service) LoginRecovery(name, password, recoveryCode string) (Session, error) {
	if strings.TrimSpace(recoveryCode) == "" {
		return s.login(name, password, "", "")
	}
	return s.login(name, password, "", recoveryCode)
}

func (s *Service) login(name, password, code, recovery string) (Session, error) {
	name, ok := normaliseName(name)
	var u userRecord
	found := false
	if ok && len(password) <= 256 {
		err := s.db.View(func(tx *store.Txn) error {
			var err error
			u, err = getUser(tx, name)
			return err
		})
		switch {
		case err == nil:
			found = u.Enrolled && u.PasswordHash != ""
		case !errors.Is(err, ErrNotFound):
			return Session{}, wrapf(err, "read user")
		}
	}
	if !found {
		s.spendHash(password)
		_ = s.db.Update(func(tx *store.Txn) error { return tx.Set(loginDecoyKey, []byte{1}) })
		return Session{}, ErrBadCredentials
	}
	var g guard
	if err := s.db.View(func(tx *store.Txn) error {
		var err error
		g, err = getGuard(tx, name)
		return err
	}); err != nil {
		return Session{}, wrapf(err, "read guard")
	}
	if g.loginLocked(s.now()) {
		return Session{}, ErrLockedOut
	}
	pwOK := s.checkPassword(u.PasswordHash, password)
	id, csrf := randomToken(), randomToken()
	key, _ := sessionKey(id)
	how := "totp"
	if recovery != "" {
		how = "recovery"
	}
	var (
		refusal error
		sess    Session
	)
	err := s.db.Update(func(tx *store.Txn) error {
		refusal = nil
		u, err := getUser(tx, name)
		if errors.Is(err, ErrNotFound) {
			refusal = ErrBadCredentials // removed meanwhile
			return nil
		}
		if err != nil {
			return err
		}
		now := s.now()
		g, err := getGuard(tx, name)
		if err != nil {
			return err
		}
		if g.loginLocked(now) {
			refusal = ErrLockedOut
			return nil
		}
		reason, step, burn := "", uint64(0), -1
		switch {
		case !pwOK:
			reason = "wrong password"
		case recovery != "":
			if burn = matchRecovery(u.Recovery, recovery); burn < 0 {
				reason = Code(ErrRecoveryInvalid)
			}
		default:
			var matched bool
			if step, matched, err = matchStep(u.TOTPSecret, normaliseCode(code), now, g.LastStep); err != nil {
				return err
			}
			switch {
			case normaliseCode(code) == "":
				reason = Code(ErrTOTPRequired)
			case !matched:
				reason = Code(ErrTOTPInvalid)
			case step <= g.LastStep:
				reason = Code(ErrTOTPReplayed)
			}
		}
		if reason != "" {
			refusal = ErrBadCredentials
			if reason == Code(ErrTOTPReplayed) {
				// The public contract answers a replayed code as such.
				// Only someone who saw this code within its ±1 step
				// window learns the password was right (SECURITY.md).
				refusal = ErrTOTPReplayed
			}
			record := s.recordFailure
			if !pwOK {
				record = s.recordLoginFailure
			}
			if err := record(tx, name, g, now); err != nil {
				return err
			}
			return s.audit(tx, StaffActor(name), ActionLoginFailed, name, reason)
		}
		if burn >= 0 {
			u.Recovery = append(u.Recovery[:burn:burn], u.Recovery[burn+1:]...)
			if err := tx.SetJSON(userKey(name), u); err != nil {
				return err
			}
			if err := s.audit(tx, StaffActor(name), ActionRecoveryUsed, name, fmt.Sprintf("left=%d", len(u.Recovery))); err != nil {
				return err
			}
		} else {
			g.LastStep = step
		}
		g.Failures, g.LoginFailures = nil, nil
		if err := tx.SetJSON(guardKey(name), g); err != nil {
			return err
		}
		rec := sessionRecord{User: name, CSRF: csrf, Created: now, LastSeen: now, Reenrol: burn >= 0}
		if err := tx.SetJSON(key, rec); err != nil {
			return err
		}
		sess = Session{ID: id, User: name, Role: u.Role, CSRF: csrf, CreatedAt: now, LastSeen: now, Reenrol: rec.Reenrol}
		return s.audit(tx, StaffActor(name), ActionLogin, name, how)
	})
	if err != nil {
		return Session{}, wrapf(err, "sign in %s", name)
	}
	if refusal != nil {
		return Session{}, refusal
	}
	return sess, nil
}

// matchRecovery returns the index of code's hash among hashes, or -1;
// every hash is compared, in constant time.
func matchRecovery(hashes []string, code string) int {
	want := []byte(hashRecovery(code))
	found := -1
	for i, h := range hashes {
		if subtle.ConstantTimeCompare([]byte(h), want) == 1 {
			found = i
		}
	}
	return found
}

// BeginReenrol gives a session limited to re-enrolment (after a recovery
// code) the new TOTP secret to add to an authenticator app. The secret is
// made on the first call and kept with the session, so a reload shows the
// same one; it replaces the old secret only once FinishReenrol confirms a
// code from it. Other sessions get ErrForbidden.
func (s *Service) BeginReenrol(sessionID string) (Enrolment, error) {
	key, ok := sessionKey(sessionID)
	if !ok {
		return Enrolment{}, ErrUnauthenticated
	}
	var name, secret string
	err := s.db.Update(func(tx *store.Txn) error {
		var rec sessionRecord
		if err := tx.GetJSON(key, &rec); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return ErrUnauthenticated
			}
			return err
		}
		if !rec.Reenrol {
			return ErrForbidden
		}
		name = rec.User
		if rec.PendingTOTP == "" {
			k, err := s.newTOTPKey(rec.User, nil)
			if err != nil {
				return err
			}
			rec.PendingTOTP = k.Secret()
			if err := tx.SetJSON(key, rec); err != nil {
				return err
			}
		}
		secret = rec.PendingTOTP
		return nil
	})
	if err != nil {
		return Enrolment{}, wrapf(err, "begin re-enrolment")
	}
	return s.enrolmentFor(name, secret)
}

// FinishReenrol confirms the new TOTP secret of a re-enrolment session
// with a code from it (through the guard's rules: failures count, the step
// must be later than the last accepted one). In one transaction the secret
// replaces the old one, ten new recovery codes replace the old ones, the
// member's other sessions end, and this session becomes a full one. It
// returns the new recovery codes, shown once.
func (s *Service) FinishReenrol(sessionID, code string) ([]string, error) {
	key, ok := sessionKey(sessionID)
	if !ok {
		return nil, ErrUnauthenticated
	}
	if normaliseCode(code) == "" {
		return nil, ErrTOTPRequired
	}
	codes, hashes := newRecoveryCodes()
	var refusal error
	err := s.db.Update(func(tx *store.Txn) error {
		refusal = nil
		var rec sessionRecord
		if err := tx.GetJSON(key, &rec); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return ErrUnauthenticated
			}
			return err
		}
		if !rec.Reenrol {
			return ErrForbidden
		}
		if rec.PendingTOTP == "" {
			return ErrNotEnrolled // BeginReenrol first
		}
		u, err := getUser(tx, rec.User)
		if err != nil {
			return err
		}
		now := s.now()
		g, err := getGuard(tx, rec.User)
		if err != nil {
			return err
		}
		if g.locked(now) {
			refusal = ErrLockedOut
			return nil
		}
		step, matched, err := matchStep(rec.PendingTOTP, normaliseCode(code), now, g.LastStep)
		if err != nil {
			return err
		}
		if !matched {
			refusal = ErrTOTPInvalid
			return s.recordFailure(tx, rec.User, g, now)
		}
		if step <= g.LastStep {
			refusal = ErrTOTPReplayed
			return nil
		}
		g.LastStep, g.Failures = step, nil
		if err := tx.SetJSON(guardKey(rec.User), g); err != nil {
			return err
		}
		u.TOTPSecret, u.Recovery = rec.PendingTOTP, hashes
		if err := tx.SetJSON(userKey(u.Name), u); err != nil {
			return err
		}
		if err := deleteSessionsOf(tx, u.Name); err != nil {
			return err
		}
		rec.Reenrol, rec.PendingTOTP, rec.LastSeen = false, "", now
		if err := tx.SetJSON(key, rec); err != nil {
			return err
		}
		return s.audit(tx, StaffActor(u.Name), ActionTOTPReenrol, u.Name, "new TOTP secret and recovery codes")
	})
	if err != nil {
		return nil, wrapf(err, "finish re-enrolment")
	}
	if refusal != nil {
		return nil, refusal
	}
	return codes, nil
}

func (s *Service) expired(rec sessionRecord, now time.Time) bool {
	return now.Sub(rec.LastSeen) >= s.opts.SessionIdle || now.Sub(rec.Created) >= s.opts.SessionMax
}

// Authenticate returns the session for a cookie value, or
// ErrUnauthenticated when it is unknown, expired (idle or absolute), or its
// user was removed or is not enrolled. Expired sessions are deleted. The
// returned Session has no ID (the caller has it) and the user's current role.
func (s *Service) Authenticate(sessionID string) (Session, error) {
	key, ok := sessionKey(sessionID)
	if !ok {
		return Session{}, ErrUnauthenticated
	}
	now := s.now()
	var (
		rec   sessionRecord
		u     userRecord
		valid bool
	)
	err := s.db.View(func(tx *store.Txn) error {
		if err := tx.GetJSON(key, &rec); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		}
		var err error
		u, err = getUser(tx, rec.User)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		valid = err == nil && u.Enrolled && !s.expired(rec, now)
		return err
	})
	if err != nil {
		return Session{}, wrapf(err, "authenticate")
	}
	if !valid {
		if rec.User != "" {
			_ = s.db.Update(func(tx *store.Txn) error { return tx.Delete(key) })
		}
		return Session{}, ErrUnauthenticated
	}
	if now.Sub(rec.LastSeen) >= lastSeenEvery {
		err := s.db.Update(func(tx *store.Txn) error {
			var cur sessionRecord
			if err := tx.GetJSON(key, &cur); err != nil {
				return err // ErrNotFound: logged out meanwhile
			}
			cur.LastSeen = now
			rec = cur
			return tx.SetJSON(key, cur)
		})
		if errors.Is(err, store.ErrNotFound) {
			return Session{}, ErrUnauthenticated
		}
		if err != nil {
			return Session{}, wrapf(err, "touch session")
		}
	}
	return Session{User: rec.User, Role: u.Role, CSRF: rec.CSRF, CreatedAt: rec.Created, LastSeen: rec.LastSeen, Reenrol: rec.Reenrol}, nil
}

// Logout deletes the session server-side. Logging out an unknown or
// expired session is not an error.
func (s *Service) Logout(sessionID string) error {
	key, ok := sessionKey(sessionID)
	if !ok {
		return nil
	}
	err := s.db.Update(func(tx *store.Txn) error {
		var rec sessionRecord
		if err := tx.GetJSON(key, &rec); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		}
		if err := tx.Delete(key); err != nil {
			return err
		}
		return s.audit(tx, StaffActor(rec.User), ActionLogout, rec.User, "")
	})
	return wrapf(err, "logout")
}

// PurgeSessions deletes every expired session; run it now and then.
func (s *Service) PurgeSessions() (int, error) {
	now := s.now()
	var dead []string
	err := s.db.View(func(tx *store.Txn) error {
		return tx.Iterate(sessionPrefix, "", false, func(k string, v []byte) error {
			var rec sessionRecord
			if json.Unmarshal(v, &rec) != nil || s.expired(rec, now) {
				dead = append(dead, k)
			}
			return nil
		})
	})
	if err != nil {
		return 0, wrapf(err, "purge sessions")
	}
	for _, k := range dead {
		if err := s.db.Update(func(tx *store.Txn) error { return tx.Delete(k) }); err != nil {
			return 0, wrapf(err, "purge sessions")
		}
	}
	return len(dead), nil
}

// deleteSessionsOf removes all sessions of name inside tx.
func deleteSessionsOf(tx *store.Txn, name string) error {
	var keys []string
	err := tx.Iterate(sessionPrefix, "", false, func(k string, v []byte) error {
		var rec sessionRecord
		if json.Unmarshal(v, &rec) == nil && rec.User == name {
			keys = append(keys, k)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
