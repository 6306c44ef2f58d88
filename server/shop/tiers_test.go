package shop

import (
	"errors"
	"strings"
	"testing"
	"time"

	"veil/crypto"
	"veil/server/store"
)

// settledTokens makes n settled orders, spread one day apart, and returns
// their tokens.
func settledTokens(t *testing.T, e *env, pid string, n int) []string {
	t.Helper()
	var toks []string
	for range n {
		pl := e.buy(pid, 1)
		e.pay(pl.Order)
		toks = append(toks, pl.Token)
		e.clock.Add(24 * time.Hour)
	}
	e.clock.Add(73 * time.Hour)
	if r, err := e.shop.Sweep(); err != nil || r.Settled != n {
		t.Fatalf("settle: %+v %v", r, err)
	}
	return toks
}

func TestTierThresholds(t *testing.T) {
	e := newEnv(t)
	p := e.product("game", Unique)
	e.importKeys(p.ID, keyList("TR", 40))
	rules := DefaultTierRules()
	rules.MinSpanDays = [4]int{0, 0, 0, 7}
	rules.ProofUsesPerDay = 1
	if err := e.db.Update(func(tx *store.Txn) error { return e.shop.SetTierRulesTx(tx, rules) }); err != nil {
		t.Fatal(err)
	}
	toks := settledTokens(t, e, p.ID, 14)
	unsettled := e.buy(p.ID, 1)
	e.pay(unsettled.Order)
	cases := []struct {
		name   string
		proofs []string
		tier   int
	}{
		{"none", nil, 0},
		{"one", toks[0:1], 1},
		{"three", toks[1:4], 2},
		{"ten spanning nine days", toks[4:14], 3},
		{"unsettled counts nothing", []string{unsettled.Token}, 0},
		// Each proof vouches once a day (ProofUsesPerDay 1): reusing toks[0]
		// today counts for nothing.
		{"over the daily limit", toks[0:1], 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := e.shop.EvaluateProofs(c.proofs)
			if err != nil || res.Tier != c.tier {
				t.Fatalf("tier %d (%+v, %v), want %d", res.Tier, res, err, c.tier)
			}
		})
	}
	// The next day the proof counts again; a flagged one never.
	e.clock.Add(24 * time.Hour)
	if res, _ := e.shop.EvaluateProofs(toks[0:1]); res.Tier != 1 {
		t.Fatalf("next day: %+v", res)
	}
	v, _ := e.shop.Lookup(toks[0])
	if err := e.shop.FlagAbuse(v.Order.Ref, true); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(24 * time.Hour)
	if res, _ := e.shop.EvaluateProofs(toks[0:1]); res.Tier != 0 {
		t.Fatalf("flagged: %+v", res)
	}
	// A typo in a proof is the buyer's to fix.
	var ie *InputError
	last := toks[1][len(toks[1])-1]
	swap := "Z"
	if last == 'Z' {
		swap = "Y" // always a different check character
	}
	if _, err := e.shop.EvaluateProofs([]string{toks[1][:len(toks[1])-1] + swap}); !errors.As(err, &ie) {
		t.Fatalf("typo: %v", err)
	}
}

func TestTierLimitOnUnpaidReservations(t *testing.T) {
	e := newEnv(t)
	p := e.product("game", Unique)
	e.importKeys(p.ID, keyList("UN", 10))
	max := DefaultTierRules().MaxUnpaid[0]
	for range max {
		if _, err := e.shop.Place(OrderRequest{Product: p.ID, Quantity: 1, Holder: "client-a"}); err != nil {
			t.Fatal(err)
		}
	}
	before := e.stock(p.ID)
	if _, err := e.shop.Place(OrderRequest{Product: p.ID, Quantity: 1, Holder: "client-a"}); !errors.Is(err, ErrTierLimit) {
		t.Fatalf("over the cap: %v", err)
	}
	if e.stock(p.ID) != before {
		t.Fatal("a refused order touched stock")
	}
	if _, err := e.shop.Place(OrderRequest{Product: p.ID, Quantity: 1, Holder: "client-b"}); err != nil {
		t.Fatalf("another client: %v", err)
	}
	if _, err := e.shop.Place(OrderRequest{Product: p.ID, Quantity: 6}); !errors.Is(err, ErrTierLimit) {
		t.Fatalf("quantity over the tier-0 cap: %v", err)
	}
}

// TestProofsLeaveNoLink writes nothing that ties a new order to the old
// tokens it presented: every key and value written during the purchase is
// inspected.
func TestProofsLeaveNoLink(t *testing.T) {
	e := newEnv(t)
	p := e.product("game", Unique)
	e.importKeys(p.ID, keyList("LK", 10))
	toks := settledTokens(t, e, p.ID, 3)
	before := snapshot(t, e.db)
	pl, err := e.shop.Place(OrderRequest{Product: p.ID, Quantity: 1, Proofs: toks, Holder: "h"})
	if err != nil || pl.Order.Tier != 2 {
		t.Fatalf("place: %v tier %d", err, pl.Order.Tier)
	}
	e.pay(pl.Order)
	after := snapshot(t, e.db)
	var marks []string
	for _, tok := range toks {
		v, _ := e.shop.Lookup(tok)
		tk, _ := crypto.ParseToken(tok)
		marks = append(marks, lookupHex(tk), v.Order.Ref)
	}
	written := 0
	for k, v := range after {
		if before[k] == v {
			continue
		}
		written++
		for _, m := range marks {
			if strings.Contains(k, m) || strings.Contains(v, m) {
				t.Errorf("key %s written during the purchase names a proof", k)
			}
		}
	}
	if written < 3 {
		t.Fatalf("only %d keys written: the check proves nothing", written)
	}
}

func snapshot(t *testing.T, db *store.DB) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := db.View(func(tx *store.Txn) error {
		return tx.Iterate("", "", false, func(k string, v []byte) error {
			m[k] = string(v)
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRewardOnceAndPurge(t *testing.T) {
	e := newEnv(t)
	p := e.product("game", Unique)
	e.importKeys(p.ID, keyList("RW", 20))
	rules := DefaultTierRules()
	rules.RewardEvery, rules.RewardMinTier, rules.RewardPercent = 3, 2, 10
	e.db.Update(func(tx *store.Txn) error { return e.shop.SetTierRulesTx(tx, rules) })
	toks := settledTokens(t, e, p.ID, 3)
	pl, err := e.shop.Place(OrderRequest{Product: p.ID, Quantity: 1, Proofs: toks})
	if err != nil {
		t.Fatal(err)
	}
	v, _ := e.shop.Lookup(pl.Token)
	if !strings.HasPrefix(v.RewardCode, "VEIL-") {
		t.Fatalf("no reward: %q", v.RewardCode)
	}
	next, err := e.shop.Place(OrderRequest{Product: p.ID, Quantity: 1, Discount: v.RewardCode})
	if err != nil || next.Order.AmountMinor != 891 || next.Order.Discount != 10 {
		t.Fatalf("discounted: %d %v", next.Order.AmountMinor, err)
	}
	if _, err := e.shop.Place(OrderRequest{Product: p.ID, Quantity: 1, Discount: v.RewardCode}); err == nil {
		t.Fatal("a reward code worked twice")
	}

	// Purge: 183 days (the default retention) after settlement the orders go, tier records stay.
	res, err := e.shop.Purge(true, nil)
	if err != nil || res.Due != 0 {
		t.Fatalf("dry run before retention: %+v %v", res, err)
	}
	e.clock.Add(184 * 24 * time.Hour)
	res, err = e.shop.Purge(true, nil)
	if err != nil || res.Due < 3 || res.Purged != 0 {
		t.Fatalf("dry run: %+v %v", res, err)
	}
	if _, err := e.shop.Lookup(toks[0]); err != nil {
		t.Fatal("a dry run purged")
	}
	res, err = e.shop.Purge(false, nil)
	if err != nil || res.Purged != res.Due {
		t.Fatalf("purge: %+v %v", res, err)
	}
	for _, tok := range toks {
		if _, err := e.shop.Retrieve(tok); !errors.Is(err, ErrOrderNotFound) {
			t.Fatalf("purged order still opens: %v", err)
		}
	}
	if r, _ := e.shop.EvaluateProofs(toks); r.Counted != 3 {
		t.Fatalf("tier records lost with the purge: %+v", r)
	}
	cells, err := e.shop.Patterns(p.ID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, c := range cells {
		n += c.Count
	}
	// Three settled orders were paid and purged; the two later ones were
	// never paid.
	if n != 3 {
		t.Fatalf("pattern counts %d (%+v)", n, cells)
	}
}
