package staff

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"veil/server/store"
)

func TestLoginRefusals(t *testing.T) {
	tests := []struct {
		name, user, password string
		code                 func(e *env) string
		want                 error
	}{
		{"wrong password", "olga", "wrong password!", func(e *env) string { return e.code("olga", 0) }, ErrBadCredentials},
		{"unknown user", "ghost", testPassword, func(*env) string { return "123456" }, ErrBadCredentials},
		{"malformed user", "Ghost User", testPassword, func(*env) string { return "123456" }, ErrBadCredentials},
		{"huge password", "olga", strings.Repeat("x", 300), func(*env) string { return "123456" }, ErrBadCredentials},
		// One answer for any refused pair: the answer never says the
		// password was right (issue 10 item 9).
		{"no code", "olga", testPassword, func(*env) string { return "" }, ErrBadCredentials},
		{"wrong code", "olga", testPassword, func(*env) string { return "12345" }, ErrBadCredentials},
		{"unenrolled", "newbie", testPassword, func(*env) string { return "123456" }, ErrBadCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.owner("olga")
			if _, err := e.s.CreateUser(context.Background(), "newbie", RoleSupport, "cli"); err != nil {
				t.Fatal(err)
			}
			s, err := e.s.Login(tt.user, tt.password, tt.code(e))
			wantErr(t, err, tt.want)
			if s.ID != "" {
				t.Fatal("a refused login returned a session")
			}
		})
	}
}

func TestLoginFailuresAudited(t *testing.T) {
	e := newEnv(t)
	e.owner("olga")
	_, _ = e.s.Login("ghost", testPassword, "123456")
	if n := e.countAudit(ActionLoginFailed, ""); n != 0 {
		t.Fatalf("%d login_failed entries for an unknown name, want 0", n)
	}
	_, _ = e.s.Login("olga", "wrong password!", "123456")
	_, _ = e.s.Login("olga", testPassword, "12345x")
	_, _ = e.s.Login("olga", testPassword, "")
	if n := e.countAudit(ActionLoginFailed, "olga"); n != 3 {
		t.Fatalf("%d login_failed entries for a real name, want 3", n)
	}
	for _, a := range e.auditEntries() {
		if strings.Contains(a.Ref+a.Detail+a.Actor, "ghost") || strings.Contains(a.Detail, testPassword) {
			t.Fatalf("audit names an unknown login name or a password: %+v", a)
		}
	}
}

func TestSessionLifecycle(t *testing.T) {
	tests := []struct {
		name  string
		steps []time.Duration // clock moves, each followed by Authenticate
		alive []bool
	}{
		{"fresh", []time.Duration{0}, []bool{true}},
		{"idle 29 min", []time.Duration{29 * time.Minute}, []bool{true}},
		{"idle 30 min", []time.Duration{30 * time.Minute}, []bool{false}},
		{"activity keeps it", []time.Duration{20 * time.Minute, 20 * time.Minute, 20 * time.Minute}, []bool{true, true, true}},
		{"expired stays expired", []time.Duration{31 * time.Minute, 0}, []bool{false, false}},
		{"absolute 12 h despite activity", func() []time.Duration {
			d := make([]time.Duration, 0, 30)
			for range 29 { // 29 × 25 min = 12 h 5 min
				d = append(d, 25*time.Minute)
			}
			return d
		}(), func() []bool {
			b := make([]bool, 29)
			for i := range 28 { // 28 × 25 min = 11 h 40 min
				b[i] = true
			}
			return b
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.owner("olga")
			sess, err := e.s.Login("olga", testPassword, e.code("olga", 0))
			if err != nil {
				t.Fatal(err)
			}
			if sess.ID == "" || sess.CSRF == "" || sess.Role != RoleOwner {
				t.Fatalf("bad session %+v", sess)
			}
			for i, d := range tt.steps {
				e.clk.Add(d)
				got, err := e.s.Authenticate(sess.ID)
				if alive := err == nil; alive != tt.alive[i] {
					t.Fatalf("step %d (+%v): alive=%v err=%v, want alive=%v", i, d, alive, err, tt.alive[i])
				}
				if err != nil {
					wantErr(t, err, ErrUnauthenticated)
					continue
				}
				if got.User != "olga" || !got.CheckCSRF(sess.CSRF) || got.CheckCSRF("") || got.CheckCSRF("x") {
					t.Fatalf("step %d: bad session %+v", i, got)
				}
			}
		})
	}
}

func TestSessionStoredHashedAndLogout(t *testing.T) {
	e := newEnv(t)
	e.owner("olga")
	sess, err := e.s.Login("olga", testPassword, e.code("olga", 0))
	if err != nil {
		t.Fatal(err)
	}
	// The cookie value appears nowhere in the store.
	err = e.db.View(func(tx *store.Txn) error {
		return tx.Iterate("", "", false, func(k string, v []byte) error {
			if strings.Contains(k, sess.ID) || strings.Contains(string(v), sess.ID) {
				t.Errorf("session id stored in the clear under %s", k)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"", "x", sess.ID + "A", strings.Repeat("A", 43)} {
		_, err := e.s.Authenticate(bad)
		wantErr(t, err, ErrUnauthenticated)
	}
	if err := e.s.Logout(sess.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.s.Authenticate(sess.ID)
	wantErr(t, err, ErrUnauthenticated)
	if err := e.s.Logout(sess.ID); err != nil {
		t.Fatalf("second logout: %v", err)
	}
	if n := e.countAudit(ActionLogout, "olga"); n != 1 {
		t.Fatalf("%d logout entries", n)
	}
}

func TestSessionFollowsUser(t *testing.T) {
	e := newEnv(t)
	e.owner("olga")
	e.user("sam", RoleOwner)
	e.nextStep()
	sess, err := e.s.Login("sam", testPassword, e.code("sam", 0))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.s.SetRole("staff:olga", "sam", RoleSupport); err != nil {
		t.Fatal(err)
	}
	got, err := e.s.Authenticate(sess.ID)
	if err != nil || got.Role != RoleSupport {
		t.Fatalf("role after demotion: %+v, %v", got, err)
	}
	if err := e.s.RemoveUser("staff:olga", "sam"); err != nil {
		t.Fatal(err)
	}
	_, err = e.s.Authenticate(sess.ID)
	wantErr(t, err, ErrUnauthenticated)
}

func TestPurgeSessions(t *testing.T) {
	e := newEnv(t)
	e.owner("olga")
	old, err := e.s.Login("olga", testPassword, e.code("olga", 0))
	if err != nil {
		t.Fatal(err)
	}
	e.clk.Add(20 * time.Minute)
	fresh, err := e.s.Login("olga", testPassword, e.code("olga", 0))
	if err != nil {
		t.Fatal(err)
	}
	e.clk.Add(15 * time.Minute)
	n, err := e.s.PurgeSessions()
	if err != nil || n != 1 {
		t.Fatalf("purged %d, %v; want 1", n, err)
	}
	if _, err := e.s.Authenticate(fresh.ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.s.Authenticate(old.ID)
	wantErr(t, err, ErrUnauthenticated)
}

func TestRecoveryCodes(t *testing.T) {
	e := newEnv(t)
	e.owner("olga")
	codes := e.user("sam", RoleSupport)
	if len(codes) != recoveryCount {
		t.Fatalf("%d codes", len(codes))
	}
	sess, err := e.s.LoginRecovery("sam", testPassword, strings.ToUpper(codes[0]))
	if err != nil || sess.ID == "" || !sess.Reenrol {
		t.Fatalf("recovery login: %+v %v", sess, err)
	}
	if n := e.countAudit(ActionRecoveryUsed, "sam"); n != 1 {
		t.Fatalf("%d recovery_used entries", n)
	}
	// Burned: the same code is refused, like any refused pair.
	_, err = e.s.LoginRecovery("sam", testPassword, codes[0])
	wantErr(t, err, ErrBadCredentials)
	_, err = e.s.LoginRecovery("sam", "wrong password!", codes[1])
	wantErr(t, err, ErrBadCredentials)
	u, err := e.s.User("sam")
	if err != nil || u.RecoveryLeft != recoveryCount-1 {
		t.Fatalf("left %d, %v", u.RecoveryLeft, err)
	}
	// Wrong recovery codes count towards the lockout (with the burned one:
	// five second-factor failures; the wrong password counts apart).
	for range 4 {
		_, err = e.s.LoginRecovery("sam", testPassword, "nope")
		wantErr(t, err, ErrBadCredentials)
	}
	_, err = e.s.LoginRecovery("sam", testPassword, codes[1])
	wantErr(t, err, ErrLockedOut)
}

func TestEnrolment(t *testing.T) {
	e := newEnv(t)
	e.owner("olga")
	enrol, err := e.s.CreateUser(context.Background(), "Sam", RoleSupport, "staff:olga")
	if err != nil {
		t.Fatal(err)
	}
	if len(enrol) != 29 {
		t.Fatalf("enrolment secret %q", enrol)
	}
	// No password yet: nothing signs in.
	_, err = e.s.Login("sam", "", "123456")
	wantErr(t, err, ErrBadCredentials)
	en, err := e.s.PendingEnrolment("sam", strings.ToUpper(enrol))
	if err != nil {
		t.Fatal(err)
	}
	if en.Name != "sam" || en.Secret == "" || !strings.HasPrefix(en.URL, "otpauth://totp/veil:sam?") ||
		!strings.Contains(en.URL, "digits=6") || !strings.Contains(en.URL, "period=30") {
		t.Fatalf("bad enrolment %+v", en)
	}
	if len(en.PNG) < 8 || string(en.PNG[1:4]) != "PNG" {
		t.Fatal("no PNG")
	}
	e.secrets["sam"] = en.Secret
	again, err := e.s.PendingEnrolment("sam", enrol)
	if err != nil || again.Secret != en.Secret || again.URL != en.URL {
		t.Fatalf("pending enrolment: %+v %v", again, err)
	}
	_, err = e.s.PendingEnrolment("sam", "wrong-secret")
	wantErr(t, err, ErrBadCredentials)
	_, err = e.s.PendingEnrolment("ghost", enrol)
	wantErr(t, err, ErrBadCredentials)
	wantErr(t, e.s.CheckTOTP("sam", e.code("sam", 0)), ErrNotEnrolled)
	_, err = e.s.FinishEnrolment("sam", enrol, "short", e.code("sam", 0))
	wantErr(t, err, ErrBadPassword)
	_, err = e.s.FinishEnrolment("sam", "wrong-secret", testPassword, e.code("sam", 0))
	wantErr(t, err, ErrBadCredentials)
	_, err = e.s.FinishEnrolment("sam", enrol, testPassword, "000000x")
	wantErr(t, err, ErrTOTPInvalid)
	codes, err := e.s.FinishEnrolment("sam", enrol, testPassword, e.code("sam", 0))
	if err != nil || len(codes) != recoveryCount {
		t.Fatalf("finish: %v", err)
	}
	// The enrolment code was claimed: it cannot sign in.
	_, err = e.s.Login("sam", testPassword, e.code("sam", 0))
	wantErr(t, err, ErrTOTPReplayed)
	// The enrolment secret is burned.
	_, err = e.s.FinishEnrolment("sam", enrol, "another password", e.code("sam", 1))
	wantErr(t, err, ErrBadCredentials)
	_, err = e.s.PendingEnrolment("sam", enrol)
	wantErr(t, err, ErrBadCredentials)
	e.nextStep()
	if _, err := e.s.Login("sam", testPassword, e.code("sam", 0)); err != nil {
		t.Fatalf("sign in with the chosen password: %v", err)
	}
}

// An enrolment secret works for EnrolmentValidFor only.
func TestEnrolmentSecretExpires(t *testing.T) {
	e := newEnv(t)
	e.owner("olga")
	enrol, err := e.s.CreateUser(context.Background(), "sam", RoleSupport, "cli")
	if err != nil {
		t.Fatal(err)
	}
	e.clk.Add(EnrolmentValidFor)
	_, err = e.s.PendingEnrolment("sam", enrol)
	wantErr(t, err, ErrBadCredentials)
}

func TestCreateUserValidation(t *testing.T) {
	tests := []struct {
		name, user string
		role       Role
		want       error
	}{
		{"ok", "a.b_c-1", RoleSupport, nil},
		{"empty name", "", RoleSupport, ErrBadName},
		{"long name", strings.Repeat("a", 33), RoleSupport, ErrBadName},
		{"bad char", "a/b", RoleSupport, ErrBadName},
		{"bad role", "bob", "admin", ErrBadRole},
		{"taken", "olga", RoleSupport, ErrUserExists},
		{"taken, other case", "OLGA", RoleSupport, ErrUserExists},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.owner("olga")
			_, err := e.s.CreateUser(context.Background(), tt.user, tt.role, "cli")
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantErr(t, err, tt.want)
		})
	}
}

func TestBootstrapOnce(t *testing.T) {
	e := newEnv(t)
	e.owner("olga")
	_, _, err := e.s.Bootstrap("other", testPassword)
	wantErr(t, err, ErrAlreadyBootstrap)
	users, err := e.s.Users()
	if err != nil || len(users) != 1 || users[0].Role != RoleOwner || !users[0].Enrolled || users[0].RecoveryLeft != recoveryCount {
		t.Fatalf("users %+v %v", users, err)
	}
}

func TestLastOwner(t *testing.T) {
	e := newEnv(t)
	e.owner("olga")
	wantErr(t, e.s.RemoveUser("cli", "olga"), ErrLastOwner)
	wantErr(t, e.s.SetRole("cli", "olga", RoleSupport), ErrLastOwner)
	e.user("pat", RoleOwner)
	// Two concurrent removals of the two owners: exactly one wins.
	errs := make(chan error, 2)
	go func() { errs <- e.s.RemoveUser("cli", "olga") }()
	go func() { errs <- e.s.RemoveUser("cli", "pat") }()
	e1, e2 := <-errs, <-errs
	if (e1 == nil) == (e2 == nil) || !(errors.Is(e1, ErrLastOwner) || errors.Is(e2, ErrLastOwner)) {
		t.Fatalf("got %v and %v; want one success and one last_owner", e1, e2)
	}
	users, _ := e.s.Users()
	if len(users) != 1 || users[0].Role != RoleOwner {
		t.Fatalf("users %+v", users)
	}
}
