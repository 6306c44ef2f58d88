package staff

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"veil/server/store"
)

// Issue 10 item 9: every refused (password, code) pair answers the same
// error with the same text, whether or not the password was right; a
// replayed code with a wrong password cannot tell the password apart
// either. The one exception the public contract fixes: the right password
// with a code already accepted is totp_replayed.
func TestLoginOneAnswer(t *testing.T) {
	e := newEnv(t)
	e.owner("olga")
	e.user("sam", RoleSupport)
	e.nextStep()
	used := e.code("olga", 0)
	if _, err := e.s.Login("olga", testPassword, used); err != nil {
		t.Fatal(err)
	}
	wrong := "000000"
	if e.code("olga", 0) == wrong || e.code("olga", -1) == wrong || e.code("olga", 1) == wrong {
		wrong = "111111"
	}
	for _, tc := range []struct{ name, user, password, code string }{
		{"right password, no code", "olga", testPassword, ""},
		{"right password, wrong code", "olga", testPassword, wrong},
		{"wrong password, replayed code", "olga", "wrong password!", used},
		{"wrong password, no code", "olga", "wrong password!", ""},
		{"unknown name", "ghost", testPassword, used},
	} {
		_, err := e.s.Login(tc.user, tc.password, tc.code)
		if !errors.Is(err, ErrBadCredentials) || err.Error() != ErrBadCredentials.Error() {
			t.Errorf("%s: %v (code %q)", tc.name, err, Code(err))
		}
	}
	_, err := e.s.Login("olga", testPassword, used)
	wantErr(t, err, ErrTOTPReplayed)
	// The right pair still works (two wrong passwords and three refused
	// codes so far: each below its lock).
	e.nextStep()
	if _, err := e.s.Login("olga", testPassword, e.code("olga", 0)); err != nil {
		t.Fatalf("right pair: %v", err)
	}
}

// Wrong passwords are counted per account: five lock sign-in for the
// lockout period, whatever the next password; the lock is audited. An
// unknown name costs a hash and a commit like a real one (the decoy).
func TestWrongPasswordsLockSignIn(t *testing.T) {
	e := newEnv(t)
	e.owner("olga")
	for range 5 {
		_, err := e.s.Login("olga", "wrong password!", "")
		wantErr(t, err, ErrBadCredentials)
	}
	// Right password and code: locked, and the answer does not depend on
	// the password.
	_, err := e.s.Login("olga", testPassword, e.code("olga", 0))
	wantErr(t, err, ErrLockedOut)
	_, err = e.s.Login("olga", "wrong password!", e.code("olga", 0))
	wantErr(t, err, ErrLockedOut)
	if until, err := e.s.LockedUntil("olga"); err != nil || until.IsZero() {
		t.Fatalf("LockedUntil %v %v", until, err)
	}
	if e.countAudit(ActionLocked, "olga") != 1 || e.countAudit(ActionLoginFailed, "olga") != 5 {
		t.Fatal("lock or failures not audited")
	}
	// A stranger's wrong passwords lock sign-in only: a signed-in owner
	// still approves.
	if err := e.s.CheckTOTP("olga", e.code("olga", 0)); err != nil {
		t.Fatalf("approval code during a sign-in lock: %v", err)
	}
	e.clk.Add(15*time.Minute + time.Second)
	if _, err := e.s.Login("olga", testPassword, e.code("olga", 0)); err != nil {
		t.Fatalf("after the lock: %v", err)
	}

	_, err = e.s.Login("ghost", testPassword, "123456")
	wantErr(t, err, ErrBadCredentials)
	if err := e.db.View(func(tx *store.Txn) error {
		_, err := tx.Get(loginDecoyKey)
		return err
	}); err != nil {
		t.Fatalf("no decoy commit for an unknown name: %v", err)
	}
}

// Issue 10 item 12: a recovery code signs in once, in the transaction
// that opens the session; the session can do nothing but re-enrol TOTP
// until a code from the new secret confirms it; then the old secret and
// the old recovery codes are dead and other sessions end.
func TestRecoveryReenrol(t *testing.T) {
	e := newEnv(t)
	e.owner("olga")
	codes := e.user("sam", RoleSupport)
	e.nextStep()
	other, err := e.s.Login("sam", testPassword, e.code("sam", 0))
	if err != nil {
		t.Fatal(err)
	}
	sess, err := e.s.LoginRecovery("sam", testPassword, codes[3])
	if err != nil || !sess.Reenrol {
		t.Fatalf("recovery sign-in: %+v %v", sess, err)
	}
	if got, err := e.s.Authenticate(sess.ID); err != nil || !got.Reenrol {
		t.Fatalf("authenticate: %+v %v", got, err)
	}
	if _, err := e.s.BeginReenrol(other.ID); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a full session re-enrols: %v", err)
	}
	en, err := e.s.BeginReenrol(sess.ID)
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.s.BeginReenrol(sess.ID)
	if err != nil || again.Secret != en.Secret {
		t.Fatal("a reload shows another secret")
	}
	oldSecret := e.secrets["sam"]
	if en.Secret == oldSecret {
		t.Fatal("the new secret is the old one")
	}
	e.nextStep()
	// A code of the old secret does not confirm the new one.
	_, err = e.s.FinishReenrol(sess.ID, e.code("sam", 0))
	wantErr(t, err, ErrTOTPInvalid)
	e.secrets["sam"] = en.Secret
	fresh, err := e.s.FinishReenrol(sess.ID, e.code("sam", 0))
	if err != nil || len(fresh) != recoveryCount {
		t.Fatalf("finish: %v", err)
	}
	if got, err := e.s.Authenticate(sess.ID); err != nil || got.Reenrol {
		t.Fatalf("after re-enrolment: %+v %v", got, err)
	}
	if _, err := e.s.Authenticate(other.ID); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("the other session survived: %v", err)
	}
	if e.countAudit(ActionTOTPReenrol, "sam") != 1 || e.countAudit(ActionRecoveryUsed, "sam") != 1 {
		t.Fatal("not audited")
	}
	// Old recovery codes and the old secret are dead; the new ones work.
	_, err = e.s.LoginRecovery("sam", testPassword, codes[4])
	wantErr(t, err, ErrBadCredentials)
	e.nextStep()
	e.secrets["sam"] = oldSecret
	_, err = e.s.Login("sam", testPassword, e.code("sam", 0))
	wantErr(t, err, ErrBadCredentials)
	e.secrets["sam"] = en.Secret
	if _, err := e.s.Login("sam", testPassword, e.code("sam", 0)); err != nil {
		t.Fatalf("new secret: %v", err)
	}
	if s, err := e.s.LoginRecovery("sam", testPassword, fresh[0]); err != nil || !s.Reenrol {
		t.Fatalf("new recovery code: %v", err)
	}
}

// Issue 10 item 8: the proposer of a new member chooses no password and
// learns nothing to enrol with; the enrolment secret goes to the approver
// only, and is stored nowhere in the clear (not in the approval, its
// result, the audit log or any record).
func TestProposerCannotEnrol(t *testing.T) {
	e := newEnv(t)
	e.owner("olga")
	e.user("paul", RoleOwner) // the proposer
	if err := e.s.SetTwoPerson("cli", KindStaffAdd, true); err != nil {
		t.Fatal(err)
	}
	a, err := e.s.ProposeAddUser("staff:paul", "mallory", RoleOwner)
	if err != nil {
		t.Fatal(err)
	}
	e.nextStep()
	// The proposer cannot approve it, nor enrol before or after.
	_, err = e.s.Decide(context.Background(), a.ID, "paul", Approve, e.code("paul", 0))
	wantErr(t, err, ErrSelfApproval)
	_, err = e.s.PendingEnrolment("mallory", "")
	wantErr(t, err, ErrBadCredentials)
	d, err := e.s.Decide(context.Background(), a.ID, "olga", Approve, e.code("olga", 0))
	if err != nil || d.Status != StatusApproved || d.EnrolmentSecret == "" {
		t.Fatalf("approve: %+v %v", d, err)
	}
	secret := d.EnrolmentSecret
	stored, err := e.s.Get(a.ID)
	if err != nil || stored.EnrolmentSecret != "" {
		t.Fatalf("stored approval carries the secret: %+v", stored)
	}
	_, err = e.s.Login("mallory", "", "")
	wantErr(t, err, ErrBadCredentials)
	_, err = e.s.PendingEnrolment("mallory", strings.Repeat("0", 29))
	wantErr(t, err, ErrBadCredentials)
	norm := strings.ReplaceAll(secret, "-", "")
	seen := false
	if err := e.db.View(func(tx *store.Txn) error {
		return tx.Iterate("", "", false, func(k string, v []byte) error {
			seen = seen || k == userKey("mallory")
			if strings.Contains(string(v), secret) || strings.Contains(string(v), norm) {
				t.Errorf("%s holds the enrolment secret", k)
			}
			return nil
		})
	}); err != nil || !seen {
		t.Fatalf("scan: %v, saw the new record: %v", err, seen)
	}
	en, err := e.s.PendingEnrolment("mallory", secret)
	if err != nil {
		t.Fatal(err)
	}
	e.secrets["mallory"] = en.Secret
	if _, err := e.s.FinishEnrolment("mallory", secret, "mallory's own password", e.code("mallory", 0)); err != nil {
		t.Fatal(err)
	}
	e.nextStep()
	if _, err := e.s.Login("mallory", "mallory's own password", e.code("mallory", 0)); err != nil {
		t.Fatal(err)
	}
}
