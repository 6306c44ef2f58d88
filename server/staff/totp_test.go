package staff

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestCodeReplayedAcrossUses(t *testing.T) {
	type use func(e *env, code string) error
	login := func(e *env, code string) error {
		_, err := e.s.Login("olga", testPassword, code)
		return err
	}
	approve := func(e *env, code string) error {
		a, err := e.s.Propose("system", KindRefund, "R-AAAA1111", "refund", nil)
		if err != nil {
			e.t.Fatal(err)
		}
		_, err = e.s.Decide(context.Background(), a.ID, "olga", Approve, code)
		return err
	}
	check := func(e *env, code string) error { return e.s.CheckTOTP("olga", code) }
	execNow := func(e *env, code string) error {
		_, err := e.s.ProposeAndExecute("olga", KindExport, "batch-1", "export", nil, code)
		return err
	}
	// A replayed code is totp_replayed at sign-in too (the public
	// contract); with a wrong password it is bad_credentials (auth_test.go).
	tests := []struct {
		name          string
		first, second use
		want          error
	}{
		{"login then approval", login, approve, ErrTOTPReplayed},
		{"two approvals", approve, approve, ErrTOTPReplayed},
		{"approval then login", approve, login, ErrTOTPReplayed},
		{"two logins", login, login, ErrTOTPReplayed},
		{"check then immediate execution", check, execNow, ErrTOTPReplayed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.owner("olga")
			code := e.code("olga", 0)
			if err := tt.first(e, code); err != nil {
				t.Fatalf("first use: %v", err)
			}
			wantErr(t, tt.second(e, code), tt.want)
			// Still replayed thirty seconds later (the step is still in the window).
			e.clk.Add(20 * time.Second)
			wantErr(t, tt.second(e, code), tt.want)
			// A fresh code of the next step passes.
			e.nextStep()
			if err := tt.second(e, e.code("olga", 0)); err != nil {
				t.Fatalf("fresh code: %v", err)
			}
		})
	}
}

func TestStepWindow(t *testing.T) {
	tests := []struct {
		name   string
		offset int
		want   error
	}{
		{"previous step", -1, nil},
		{"current step", 0, nil},
		{"next step", 1, nil},
		{"two steps ago", -2, ErrTOTPInvalid},
		{"two steps ahead", 2, ErrTOTPInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.owner("olga")
			err := e.s.CheckTOTP("olga", e.code("olga", tt.offset))
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestOnlyLaterStepPasses(t *testing.T) {
	e := newEnv(t)
	e.owner("olga")
	ahead, now, behind := e.code("olga", 1), e.code("olga", 0), e.code("olga", -1)
	if err := e.s.CheckTOTP("olga", ahead); err != nil {
		t.Fatal(err)
	}
	// Valid codes of earlier steps are refused once a later step was claimed.
	wantErr(t, e.s.CheckTOTP("olga", now), ErrTOTPReplayed)
	wantErr(t, e.s.CheckTOTP("olga", behind), ErrTOTPReplayed)
	// Spaces from authenticator apps are fine.
	e.nextStep()
	e.nextStep()
	c := e.code("olga", 0)
	if err := e.s.CheckTOTP("olga", c[:3]+" "+c[3:]); err != nil {
		t.Fatal(err)
	}
}

func TestGuardRefusals(t *testing.T) {
	tests := []struct {
		name, user, code string
		want             error
	}{
		{"empty code", "olga", "", ErrTOTPRequired},
		{"blank code", "olga", "   ", ErrTOTPRequired},
		{"letters", "olga", "12a456", ErrTOTPInvalid},
		{"too long", "olga", "1234567", ErrTOTPInvalid},
		{"unknown user", "nobody", "123456", ErrBadCredentials},
		{"malformed user", "No Body!", "123456", ErrBadCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.owner("olga")
			wantErr(t, e.s.CheckTOTP(tt.user, tt.code), tt.want)
		})
	}
}

func TestLockout(t *testing.T) {
	e := newEnv(t)
	e.owner("olga")
	bad := "000000"
	if bad == e.code("olga", -1) || bad == e.code("olga", 0) || bad == e.code("olga", 1) {
		bad = "000001"
	}
	for i := range 5 {
		wantErr(t, e.s.CheckTOTP("olga", bad), ErrTOTPInvalid)
		if i < 4 {
			wantErr(t, e.s.CheckTOTP("olga", ""), ErrTOTPRequired) // not a failure
		}
	}
	// Locked: the right code is refused, at login too, before the code is looked at.
	wantErr(t, e.s.CheckTOTP("olga", e.code("olga", 0)), ErrLockedOut)
	_, err := e.s.Login("olga", testPassword, e.code("olga", 0))
	wantErr(t, err, ErrLockedOut)
	until, err := e.s.LockedUntil("olga")
	if err != nil || until.IsZero() {
		t.Fatalf("LockedUntil = %v, %v", until, err)
	}
	e.clk.Add(14*time.Minute + 30*time.Second)
	wantErr(t, e.s.CheckTOTP("olga", e.code("olga", 0)), ErrLockedOut)
	e.clk.Add(31 * time.Second) // 15 min 1 s after the lock
	if err := e.s.CheckTOTP("olga", e.code("olga", 0)); err != nil {
		t.Fatalf("after the lock ends: %v", err)
	}
	if until, _ := e.s.LockedUntil("olga"); !until.IsZero() {
		t.Fatalf("still reported locked until %v", until)
	}
	if n := e.countAudit(ActionLocked, "olga"); n != 1 {
		t.Fatalf("%d lock audit entries, want 1", n)
	}
}

func TestLockoutCountsWithinWindowOnly(t *testing.T) {
	e := newEnv(t)
	e.owner("olga")
	for range 4 {
		wantErr(t, e.s.CheckTOTP("olga", "999999x"), ErrTOTPInvalid)
	}
	e.clk.Add(16 * time.Minute) // the four failures age out
	wantErr(t, e.s.CheckTOTP("olga", "999999x"), ErrTOTPInvalid)
	if err := e.s.CheckTOTP("olga", e.code("olga", 0)); err != nil {
		t.Fatalf("not locked after failures spread over the window: %v", err)
	}
	// Success resets the count: four more failures do not lock.
	for range 4 {
		wantErr(t, e.s.CheckTOTP("olga", "x"), ErrTOTPInvalid)
	}
	e.nextStep()
	if err := e.s.CheckTOTP("olga", e.code("olga", 0)); err != nil {
		t.Fatal(err)
	}
}

func TestLockoutIsPerAccount(t *testing.T) {
	e := newEnv(t)
	e.owner("olga")
	e.user("sam", RoleSupport)
	e.nextStep()
	for range 5 {
		wantErr(t, e.s.CheckTOTP("olga", "x"), ErrTOTPInvalid)
	}
	wantErr(t, e.s.CheckTOTP("olga", e.code("olga", 0)), ErrLockedOut)
	if err := e.s.CheckTOTP("sam", e.code("sam", 0)); err != nil {
		t.Fatalf("another account is affected: %v", err)
	}
}

func TestConcurrentSameCodeOnce(t *testing.T) {
	e := newEnv(t)
	e.owner("olga")
	code := e.code("olga", 0)
	errs := make(chan error, 20)
	for range 20 {
		go func() { errs <- e.s.CheckTOTP("olga", code) }()
	}
	ok, replayed := 0, 0
	for range 20 {
		switch err := <-errs; {
		case err == nil:
			ok++
		case errors.Is(err, ErrTOTPReplayed):
			replayed++
		default:
			t.Errorf("unexpected %v", err)
		}
	}
	if ok != 1 || replayed != 19 {
		t.Fatalf("accepted %d, replayed %d; want 1 and 19", ok, replayed)
	}
}

func TestCode(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, ""},
		{ErrTOTPRequired, "totp_required"},
		{ErrTOTPInvalid, "totp_invalid"},
		{ErrTOTPReplayed, "totp_replayed"},
		{ErrLockedOut, "locked_out"},
		{ErrBadCredentials, "bad_credentials"},
		{ErrUnauthenticated, "unauthenticated"},
		{ErrForbidden, "forbidden"},
		{ErrSelfApproval, "two_person"},
		{ErrAlreadyDecided, "already_decided"},
		{fmt.Errorf("wrapped: %w", ErrTOTPReplayed), "totp_replayed"},
		{fmt.Errorf("%w: %w", ErrExecFailed, ErrLastOwner), "approval_failed"},
		{errors.New("disk on fire"), "internal"},
	}
	for _, tt := range tests {
		if got := Code(tt.err); got != tt.want {
			t.Errorf("Code(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
