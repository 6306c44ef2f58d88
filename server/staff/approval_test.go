package staff

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"veil/server/store"
)

func TestRoleMayDecide(t *testing.T) {
	tests := []struct {
		role     Role
		kind     Kind
		decision string
		want     error
	}{
		{RoleSupport, KindRefund, Approve, ErrForbidden},
		{RoleSupport, KindExport, Approve, ErrForbidden},
		{RoleSupport, KindRefund, Reject, ErrForbidden},
		{RoleSupport, KindReplacement, Approve, nil},
		{RoleOwner, KindRefund, Approve, nil},
		{RoleOwner, KindExport, Approve, nil},
		{RoleOwner, KindReplacement, Reject, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s %s %s", tt.role, tt.decision, tt.kind), func(t *testing.T) {
			e := newEnv(t)
			e.owner("olga")
			e.user("dec", tt.role)
			e.nextStep()
			a, err := e.s.Propose("ticket:T1", tt.kind, "R-ABCD2345", "remedy", map[string]int{"amount_minor": 990})
			if err != nil {
				t.Fatal(err)
			}
			code := e.code("dec", 0)
			got, err := e.s.Decide(context.Background(), a.ID, "dec", tt.decision, code)
			if tt.want != nil {
				wantErr(t, err, tt.want)
				// Refused before the guard: the code is still good.
				if err := e.s.CheckTOTP("dec", code); err != nil {
					t.Fatalf("a refused decision spent the code: %v", err)
				}
				if a2, _ := e.s.Get(a.ID); a2.Status != StatusPending {
					t.Fatalf("status %s after refusal", a2.Status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := StatusApproved
			if tt.decision == Reject {
				want = StatusRejected
			}
			if got.Status != want || got.DecidedBy != "staff:dec" || got.DecidedAt.IsZero() {
				t.Fatalf("got %+v", got)
			}
		})
	}
}

func TestSupportCannotApproveMoneyOrExports(t *testing.T) {
	e := newEnv(t)
	e.owner("olga")
	for _, k := range []Kind{KindRefund, KindPartialRefund, KindExport, KindPaymentConfirm, KindStaffAdd,
		KindStaffRemove, KindStaffRole, KindSettings, KindVaultUnlock, KindInventoryDelete} {
		if e.s.CanDecide(RoleSupport, k) {
			t.Errorf("support may decide %s", k)
		}
	}
	// An executor cannot lower the floor.
	e.s.RegisterExecutor(KindPartialRefund, RoleSupport, countingExecutor("test/x"))
	if e.s.CanDecide(RoleSupport, KindPartialRefund) {
		t.Error("registration lowered the floor")
	}
	// Support proposing a refund with a code: queued, not executed, code not spent.
	e.user("sam", RoleSupport)
	e.nextStep()
	code := e.code("sam", 0)
	a, err := e.s.ProposeAndExecute("sam", KindRefund, "R-ABCD2345", "refund", nil, code)
	if err != nil || a.Status != StatusPending {
		t.Fatalf("got %+v, %v; want pending", a, err)
	}
	if n := e.count("test/refunds/R-ABCD2345"); n != 0 {
		t.Fatalf("%d refunds", n)
	}
	// Support may withdraw their own proposal.
	r, err := e.s.Decide(context.Background(), a.ID, "sam", Reject, code)
	if err != nil || r.Status != StatusRejected {
		t.Fatalf("withdraw: %+v %v", r, err)
	}
}

func TestTwoPersonRule(t *testing.T) {
	tests := []struct {
		name      string
		twoPerson bool
		decider   string
		want      error
	}{
		{"off, self approves", false, "olga", nil},
		{"on, self approves", true, "olga", ErrSelfApproval},
		{"on, other approves", true, "pat", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.owner("olga")
			e.user("pat", RoleOwner)
			e.nextStep()
			if err := e.s.SetTwoPerson("staff:olga", KindRefund, tt.twoPerson); err != nil {
				t.Fatal(err)
			}
			if on, _ := e.s.TwoPerson(KindRefund); on != tt.twoPerson {
				t.Fatal("setting not persisted")
			}
			a, err := e.s.Propose("staff:olga", KindRefund, "R-ABCD2345", "refund", nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.s.Decide(context.Background(), a.ID, tt.decider, Approve, e.code(tt.decider, 0))
			if tt.want != nil {
				wantErr(t, err, tt.want)
				if n := e.count("test/refunds/R-ABCD2345"); n != 0 {
					t.Fatalf("%d refunds", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n := e.count("test/refunds/R-ABCD2345"); n != 1 {
				t.Fatalf("%d refunds", n)
			}
		})
	}
}

func TestProposeAndExecuteTwoPersonQueues(t *testing.T) {
	e := newEnv(t)
	e.owner("olga")
	if err := e.s.SetTwoPerson("staff:olga", KindExport, true); err != nil {
		t.Fatal(err)
	}
	code := e.code("olga", 0)
	a, err := e.s.ProposeAndExecute("olga", KindExport, "batch-7", "export", nil, code)
	if err != nil || a.Status != StatusPending || e.count("test/exports") != 0 {
		t.Fatalf("got %+v %v; want queued", a, err)
	}
	// Not spent by the queued call.
	if err := e.s.CheckTOTP("olga", code); err != nil {
		t.Fatal(err)
	}
}

func TestProposeAndExecute(t *testing.T) {
	e := newEnv(t)
	e.owner("olga")
	a, err := e.s.ProposeAndExecute("olga", KindRefund, "R-ABCD2345", "refund", nil, "")
	if err != nil || a.Status != StatusPending {
		t.Fatalf("without code: %+v %v", a, err)
	}
	_, err = e.s.ProposeAndExecute("olga", KindRefund, "R-ABCD2345", "refund", nil, "999999x")
	wantErr(t, err, ErrTOTPInvalid)
	a, err = e.s.ProposeAndExecute("olga", KindRefund, "R-ABCD2345", "refund", nil, e.code("olga", 0))
	if err != nil || a.Status != StatusApproved || a.Result != "done 1" {
		t.Fatalf("with code: %+v %v", a, err)
	}
	if n := e.count("test/refunds/R-ABCD2345"); n != 1 {
		t.Fatalf("%d refunds", n)
	}
	pending, err := e.s.Pending()
	if err != nil || len(pending) != 1 || pending[0].ID == a.ID {
		t.Fatalf("pending %+v %v", pending, err)
	}
}

// Twenty owners, each with a fresh valid code, approve one refund at once:
// every code passes the guard, and the approval transaction lets exactly
// one of them through.
func TestConcurrentApprovalsOneEffect(t *testing.T) {
	e := newEnv(t)
	e.owner("olga")
	names := make([]string, 20)
	for i := range names {
		names[i] = fmt.Sprintf("owner%02d", i)
		e.user(names[i], RoleOwner)
	}
	e.nextStep()
	a, err := e.s.Propose("ticket:T9", KindRefund, "R-RACE0001", "refund", map[string]int{"amount_minor": 990})
	if err != nil {
		t.Fatal(err)
	}
	codes := make([]string, len(names))
	for i, n := range names {
		codes[i] = e.code(n, 0)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(names))
	start := make(chan struct{})
	for i, n := range names {
		wg.Go(func() {
			<-start
			_, errs[i] = e.s.Decide(context.Background(), a.ID, n, Approve, codes[i])
		})
	}
	close(start)
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrAlreadyDecided):
		default:
			t.Errorf("%s: %v", names[i], err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d approvals succeeded, want 1", ok)
	}
	if n := e.count("test/refunds/R-RACE0001"); n != 1 {
		t.Fatalf("%d refunds executed, want 1", n)
	}
	if n := e.countAudit(ActionApprovalApprove, "R-RACE0001"); n != 1 {
		t.Fatalf("%d approval audit entries, want 1", n)
	}
	got, _ := e.s.Get(a.ID)
	if got.Status != StatusApproved {
		t.Fatalf("status %s", got.Status)
	}
	if r, err := VerifyAudit(e.db); err != nil || !r.OK() {
		t.Fatalf("audit %+v %v", r, err)
	}
}

// One owner racing the same code twenty times: one approval, nineteen replays.
func TestConcurrentSameCodeApprovals(t *testing.T) {
	e := newEnv(t)
	e.owner("olga")
	a, err := e.s.Propose("system", KindRefund, "R-RACE0002", "refund", nil)
	if err != nil {
		t.Fatal(err)
	}
	code := e.code("olga", 0)
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Go(func() { _, errs[i] = e.s.Decide(context.Background(), a.ID, "olga", Approve, code) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrTOTPReplayed), errors.Is(err, ErrAlreadyDecided):
		default:
			t.Errorf("unexpected %v", err)
		}
	}
	if ok != 1 || e.count("test/refunds/R-RACE0002") != 1 || e.countAudit(ActionApprovalApprove, "R-RACE0002") != 1 {
		t.Fatalf("ok=%d refunds=%d", ok, e.count("test/refunds/R-RACE0002"))
	}
}

func TestExecutorErrors(t *testing.T) {
	e := newEnv(t)
	e.owner("olga")
	calls := 0
	e.s.RegisterExecutor(KindRecall, "", func(tx *store.Txn, a Approval) (string, error) {
		calls++
		if err := tx.Set("test/recall-partial", []byte("x")); err != nil {
			return "", err
		}
		if calls == 1 {
			return "", errors.New("supplier API down")
		}
		return "", fmt.Errorf("%w: batch already recalled", ErrExecFailed)
	})
	a, err := e.s.Propose("system", KindRecall, "batch-3", "recall", nil)
	if err != nil {
		t.Fatal(err)
	}
	// A transient error: nothing changes, the approval stays pending.
	_, err = e.s.Decide(context.Background(), a.ID, "olga", Approve, e.code("olga", 0))
	if err == nil || Code(err) != "internal" {
		t.Fatalf("got %v", err)
	}
	if got, _ := e.s.Get(a.ID); got.Status != StatusPending {
		t.Fatalf("status %s", got.Status)
	}
	if e.count("test/recall-partial") != 0 {
		t.Fatal("partial write committed")
	}
	// A permanent failure: marked failed, without the executor's writes.
	e.nextStep()
	got, err := e.s.Decide(context.Background(), a.ID, "olga", Approve, e.code("olga", 0))
	wantErr(t, err, ErrExecFailed)
	if got.Status != StatusFailed || got.Result == "" {
		t.Fatalf("got %+v", got)
	}
	err = e.db.View(func(tx *store.Txn) error {
		if has, _ := tx.Has("test/recall-partial"); has {
			t.Error("failed executor's write committed")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := e.countAudit(ActionApprovalFail, "batch-3"); n != 1 {
		t.Fatalf("%d fail entries", n)
	}
	e.nextStep()
	_, err = e.s.Decide(context.Background(), a.ID, "olga", Approve, e.code("olga", 0))
	wantErr(t, err, ErrAlreadyDecided)
}

func TestProposeValidation(t *testing.T) {
	e := newEnv(t)
	e.owner("olga")
	tests := []struct {
		name, proposer string
		kind           Kind
		params         any
		want           error
	}{
		{"no executor", "system", KindSettings, nil, ErrUnknownKind},
		{"unknown kind", "system", "launch_missiles", nil, ErrUnknownKind},
		{"bad proposer", "alice", KindRefund, nil, ErrBadRequest},
		{"bad staff proposer", "staff:Alice", KindRefund, nil, ErrBadRequest},
		{"ticket proposer", "ticket:T-12", KindRefund, nil, nil},
		{"big params", "system", KindRefund, make([]byte, 20<<10), ErrBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.s.Propose(tt.proposer, tt.kind, "R-ABCD2345", "x", tt.params)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestListPagination(t *testing.T) {
	e := newEnv(t)
	e.owner("olga")
	for i := range 7 {
		kind := KindRefund
		if i%2 == 1 {
			kind = KindExport
		}
		if _, err := e.s.Propose("system", kind, fmt.Sprintf("R-PAGE000%d", i), "x", nil); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	cursor := ""
	for {
		page, next, err := e.s.List(Filter{}, cursor, 3)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range page {
			ids = append(ids, a.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if fmt.Sprint(ids) != "[7 6 5 4 3 2 1]" {
		t.Fatalf("ids %v", ids)
	}
	page, next, err := e.s.List(Filter{Kind: KindExport}, "", 10)
	if err != nil || len(page) != 3 || next != "" || page[0].ID != "6" {
		t.Fatalf("filtered %+v %q %v", page, next, err)
	}
	pending, err := e.s.Pending()
	if err != nil || len(pending) != 7 || pending[0].ID != "1" {
		t.Fatalf("pending %d %v", len(pending), err)
	}
}

func TestStaffAddThroughApproval(t *testing.T) {
	e := newEnv(t)
	e.owner("olga")
	a, err := e.s.ProposeAddUser("staff:olga", "newbie", RoleSupport)
	if err != nil {
		t.Fatal(err)
	}
	if string(a.Params) != string(mustJSON(t, StaffAddParams{Name: "newbie", Role: RoleSupport})) {
		t.Fatalf("params %s", a.Params)
	}
	_, err = e.s.ProposeAddUser("staff:olga", "newbie", RoleSupport)
	wantErr(t, err, ErrUserExists)
	_, err = e.s.Login("newbie", testPassword, "123456")
	wantErr(t, err, ErrBadCredentials)
	d, err := e.s.Decide(context.Background(), a.ID, "olga", Approve, e.code("olga", 0))
	if err != nil {
		t.Fatal(err)
	}
	if d.EnrolmentSecret == "" {
		t.Fatal("approving gave no enrolment secret")
	}
	en, err := e.s.PendingEnrolment("newbie", d.EnrolmentSecret)
	if err != nil {
		t.Fatal(err)
	}
	e.secrets["newbie"] = en.Secret
	if _, err := e.s.FinishEnrolment("newbie", d.EnrolmentSecret, testPassword, e.code("newbie", 0)); err != nil {
		t.Fatal(err)
	}
	e.nextStep()
	s, err := e.s.Login("newbie", testPassword, e.code("newbie", 0))
	if err != nil || s.Role != RoleSupport {
		t.Fatalf("login %+v %v", s, err)
	}

	// Role change and removal through approvals; the last owner stays.
	e.nextStep()
	r, err := e.s.ProposeAndExecute("olga", KindStaffRole, "olga", "demote", StaffRoleParams{Name: "olga", Role: RoleSupport}, e.code("olga", 0))
	wantErr(t, err, ErrLastOwner)
	if r.ID != "" {
		t.Fatal("failed immediate execution left an approval")
	}
	e.nextStep()
	r, err = e.s.ProposeAndExecute("olga", KindStaffRemove, "newbie", "remove", StaffRemoveParams{Name: "newbie"}, e.code("olga", 0))
	if err != nil || r.Status != StatusApproved {
		t.Fatalf("remove %+v %v", r, err)
	}
	if _, err := e.s.Authenticate(s.ID); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("removed user's session: %v", err)
	}
}

func TestStaffAddRejected(t *testing.T) {
	e := newEnv(t)
	e.owner("olga")
	a, err := e.s.ProposeAddUser("staff:olga", "newbie", RoleSupport)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Decide(context.Background(), a.ID, "olga", Reject, e.code("olga", 0)); err != nil {
		t.Fatal(err)
	}
	// The name is free again.
	if _, err := e.s.ProposeAddUser("staff:olga", "newbie", RoleSupport); err != nil {
		t.Fatal(err)
	}
}
