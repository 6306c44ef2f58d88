package staff

import (
	"context"
	"testing"

	"veil/server/store"
)

// TestMoneyOutKindsShareTwoPerson: with the two-person rule on for refunds
// only, a "partial" refund (of any amount) cannot be approved by its
// proposer either, alone or through ProposeAndExecute; turning the rule on
// or off for any money kind turns it for all of them, and a switch stored
// for one money kind alone still counts for every one.
func TestMoneyOutKindsShareTwoPerson(t *testing.T) {
	e := newEnv(t)
	e.s.RegisterExecutor(KindPartialRefund, "", countingExecutor("test/partial"))
	e.owner("olga")
	e.user("pat", RoleOwner)
	e.nextStep()
	if err := e.s.SetTwoPerson("staff:olga", KindRefund, true); err != nil {
		t.Fatal(err)
	}
	for _, k := range []Kind{KindRefund, KindPartialRefund} {
		if on, err := e.s.TwoPerson(k); err != nil || !on {
			t.Fatalf("two-person for %s: %v %v", k, on, err)
		}
	}
	a, err := e.s.ProposeAndExecute("olga", KindPartialRefund, "R-ABCD2345", "refund it all", nil, e.code("olga", 0))
	if err != nil || a.Status != StatusPending || e.count("test/partial") != 0 {
		t.Fatalf("partial refund with a code, alone: %+v %v; want queued", a, err)
	}
	_, err = e.s.Decide(context.Background(), a.ID, "olga", Approve, e.code("olga", 0))
	wantErr(t, err, ErrSelfApproval)
	if _, err := e.s.Decide(context.Background(), a.ID, "pat", Approve, e.code("pat", 0)); err != nil {
		t.Fatalf("a second owner approves: %v", err)
	}
	if e.count("test/partial") != 1 {
		t.Fatal("the second owner's approval did not execute")
	}

	// Off through the other name: off for both.
	if err := e.s.SetTwoPerson("staff:olga", KindPartialRefund, false); err != nil {
		t.Fatal(err)
	}
	for _, k := range []Kind{KindRefund, KindPartialRefund} {
		if on, _ := e.s.TwoPerson(k); on {
			t.Fatalf("two-person for %s still on", k)
		}
	}
	// A switch stored for partial refunds alone (before kinds were
	// grouped) holds refunds too.
	if err := e.db.Update(func(tx *store.Txn) error { return tx.Set(twoPersonPrefix+string(KindPartialRefund), []byte("true")) }); err != nil {
		t.Fatal(err)
	}
	e.nextStep()
	a, err = e.s.ProposeAndExecute("olga", KindRefund, "R-ABCD2345", "refund", nil, e.code("olga", 0))
	if err != nil || a.Status != StatusPending {
		t.Fatalf("refund alone with the partial-refund switch on: %+v %v", a, err)
	}
}
