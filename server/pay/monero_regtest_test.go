package pay_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"veil/server/pay"
	"veil/server/pay/xmrtest"
	"veil/server/shop"
)

// TestMoneroRegtest drives the real Monero software: a regtest monerod, a
// view-only merchant wallet behind digest authentication and a funded
// buyer wallet. Two orders get subaddresses; the buyer pays one exactly
// and the other one piconero short; the watcher sees both in the pool at
// once, counts neither before the last confirmation, and then sees
// exactly the amounts paid: exact, and under.
func TestMoneroRegtest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	began := time.Now()
	n := xmrtest.Start(ctx, t)
	t.Logf("network up and buyer funded in %v", time.Since(began).Round(time.Millisecond))

	w, err := pay.NewMoneroWallet(pay.MoneroWalletConfig{URL: n.MerchantURL, Username: n.MerchantUser, Password: n.MerchantPassword})
	if err != nil {
		t.Fatal(err)
	}
	// Three confirmations rather than the default ten: the same rule, and
	// each block costs the daemon ~160 ms of CPU (RandomX, light mode).
	const confirmations = 3
	m := pay.NewMonero(w, confirmations)
	// Calls at once, as a watcher and checkouts make them, all pass the
	// wallet's digest authentication.
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			if _, err := w.Height(ctx); err != nil {
				t.Errorf("concurrent call: %v", err)
			}
		})
	}
	wg.Wait()
	rate := pay.XMRRate{Currency: "CNY", MinorPerXMR: 120000} // 1 XMR = 1200.00 CNY
	exact, err := m.Create(ctx, shop.Order{Ref: "R-EXACT234", AmountMinor: 990, Currency: "CNY"}, rate)
	if err != nil {
		t.Fatal(err)
	}
	under, err := m.Create(ctx, shop.Order{Ref: "R-UNDER234", AmountMinor: 4999, Currency: "CNY"}, rate)
	if err != nil {
		t.Fatal(err)
	}
	if exact.Atomic != 8_250_000_000 || exact.XMR != "0.00825" || exact.Index == under.Index || exact.Address == under.Address ||
		exact.Address == n.MerchantAddress || exact.URI != "monero:"+exact.Address+"?tx_amount=0.00825" {
		t.Fatalf("invoices %+v %+v", exact, under)
	}
	want := map[uint32]uint64{exact.Index: exact.Atomic, under.Index: under.Atomic}

	txExact := n.Pay(ctx, exact.Address, exact.Atomic)
	txUnder := n.Pay(ctx, under.Address, under.Atomic-1)

	scan := func(stage string) map[uint32]pay.Tally {
		t.Helper()
		if err := w.Refresh(ctx); err != nil {
			t.Fatalf("%s: refresh: %v", stage, err)
		}
		_, tallies, err := w.Scan(ctx, want, m.Confirmations())
		if err != nil {
			t.Fatalf("%s: %v", stage, err)
		}
		return tallies
	}
	// In the pool: seen, not counted.
	got := scan("pool")
	if g := got[exact.Index]; g.Class != pay.Unpaid || g.Pending != exact.Atomic || g.Confirmed != 0 {
		t.Fatalf("pool, exact: %+v", g)
	}
	if g := got[under.Index]; g.Class != pay.Unpaid || g.Pending != under.Atomic-1 {
		t.Fatalf("pool, under: %+v", g)
	}
	// One confirmation short: still not counted.
	n.Mine(ctx, confirmations-1)
	got = scan("too few confirmations")
	if g := got[exact.Index]; g.Class != pay.Unpaid || g.Pending != exact.Atomic || g.Confirmed != 0 {
		t.Fatalf("too few confirmations, exact: %+v", g)
	}
	// The last one.
	n.Mine(ctx, 1)
	height, tallies, err := func() (uint64, map[uint32]pay.Tally, error) {
		if err := w.Refresh(ctx); err != nil {
			return 0, nil, err
		}
		return w.Scan(ctx, want, m.Confirmations())
	}()
	if err != nil {
		t.Fatal(err)
	}
	g := tallies[exact.Index]
	if g.Class != pay.PaidExact || g.Confirmed != exact.Atomic || g.Pending != 0 || len(g.TxIDs) != 1 || g.TxIDs[0] != txExact ||
		g.MaxHeight == 0 || height != g.MaxHeight+confirmations {
		t.Fatalf("confirmed, exact (height %d): %+v", height, g)
	}
	g = tallies[under.Index]
	if g.Class != pay.Underpaid || g.Confirmed != under.Atomic-1 || len(g.TxIDs) != 1 || g.TxIDs[0] != txUnder {
		t.Fatalf("confirmed, under: %+v", g)
	}
	t.Logf("whole test %v", time.Since(began).Round(time.Millisecond))
}
