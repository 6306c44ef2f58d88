package staff

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
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

// verifyPassword returns the user when password is right. An unknown or
// malformed name still costs one hash, so timing does not reveal names.
func (s *Service) verifyPassword(name, password string) (userRecord, error) {
	name, ok := normaliseName(name)
	if len(password) > 256 {
		return userRecord{}, ErrBadCredentials
	}
	var u userRecord
	found := false
	if ok {
		err := s.db.View(func(tx *store.Txn) error {
			var err error
			u, err = getUser(tx, name)
			return err
		})
		switch {
		case err == nil:
			found = true
		case !errors.Is(err, ErrNotFound):
			return u, wrapf(err, "read user")
		}
	}
	if !found {
		s.spendHash(password)
		return u, ErrBadCredentials
	}
	if !s.checkPassword(u.PasswordHash, password) {
		return u, ErrBadCredentials
	}
	return u, nil
}

// Login checks password then TOTP code (through the guard, so the code is
// spent) and opens a session.
//
// Refusals after a correct password (bad, replayed or missing code,
// lockout) are audited. Wrong passwords are not: the extra durable write
// would make a wrong password for a real name slower than any password for
// an unknown one, and a name typed by a stranger may be anything, even
// someone's password. Rate-limit wrong passwords in the HTTP layer.
func (s *Service) Login(name, password, code string) (Session, error) {
	u, err := s.verifyPassword(name, password)
	if err != nil {
		return Session{}, err
	}
	if !u.Enrolled {
		return Session{}, ErrNotEnrolled
	}
	if err := s.CheckTOTP(u.Name, code); err != nil {
		s.auditFailure(u.Name, err)
		return Session{}, err
	}
	return s.openSession(u.Name, u.Role, "totp")
}

// LoginRecovery is Login with a recovery code in place of the TOTP code;
// the code is spent. The console should then push the user to re-enrol.
func (s *Service) LoginRecovery(name, password, recoveryCode string) (Session, error) {
	u, err := s.verifyPassword(name, password)
	if err != nil {
		return Session{}, err
	}
	if err := s.UseRecoveryCode(u.Name, recoveryCode); err != nil {
		s.auditFailure(u.Name, err)
		return Session{}, err
	}
	return s.openSession(u.Name, u.Role, "recovery")
}

// auditFailure records a failed login; a store error here must not change
// the answer, and the attempt was refused either way.
func (s *Service) auditFailure(name string, reason error) {
	_ = s.db.Update(func(tx *store.Txn) error {
		return s.audit(tx, StaffActor(name), ActionLoginFailed, name, Code(reason))
	})
}

func (s *Service) openSession(name string, role Role, how string) (Session, error) {
	id := randomToken()
	key, _ := sessionKey(id)
	now := s.now()
	rec := sessionRecord{User: name, CSRF: randomToken(), Created: now, LastSeen: now}
	err := s.db.Update(func(tx *store.Txn) error {
		if err := tx.SetJSON(key, rec); err != nil {
			return err
		}
		return s.audit(tx, StaffActor(name), ActionLogin, name, how)
	})
	if err != nil {
		return Session{}, wrapf(err, "open session")
	}
	return Session{ID: id, User: name, Role: role, CSRF: rec.CSRF, CreatedAt: now, LastSeen: now}, nil
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
	return Session{User: rec.User, Role: u.Role, CSRF: rec.CSRF, CreatedAt: rec.Created, LastSeen: rec.LastSeen}, nil
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
