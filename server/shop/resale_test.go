package shop

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"veil/crypto"
	"veil/server/store"
)

// reseller creates an account with balance and returns it with its age
// identity.
func (e *env) reseller(name string, balance int64, sp ResellerSpec) (Reseller, *crypto.Identity) {
	e.t.Helper()
	id, err := crypto.NewIdentity(crypto.X25519)
	if err != nil {
		e.t.Fatal(err)
	}
	sp.Name, sp.Recipient = name, id.Recipient()
	if sp.Currency == "" {
		sp.Currency = "CNY"
	}
	var r Reseller
	err = e.db.Update(func(tx *store.Txn) error {
		var err error
		if r, err = e.shop.CreateResellerTx(tx, sp); err != nil {
			return err
		}
		if balance > 0 {
			_, err = e.shop.BalanceTx(tx, r.ID, LedgerTopUp, balance, "a1", "")
		}
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return r, id
}

func openResale(t *testing.T, o ResaleOrder, id *crypto.Identity) []Item {
	t.Helper()
	var all []Item
	for _, p := range o.Payloads {
		b, err := crypto.Open(p.Sealed, id.Age())
		if err != nil {
			t.Fatal(err)
		}
		var items []Item
		if err := json.Unmarshal(b, &items); err != nil {
			t.Fatal(err)
		}
		all = append(all, items...)
	}
	return all
}

func TestResaleOrderDebitsAndDeliversOnce(t *testing.T) {
	e := newEnv(t)
	p := e.product("game", Unique)
	keys := keyList("RS", 5)
	e.importKeys(p.ID, keys)
	r, id := e.reseller("agent-a", 2000, ResellerSpec{PercentOff: 10})
	if got := r.AgentPrice(p); got != 891 {
		t.Fatalf("agent price %d, want 891 (990 less 10%%)", got)
	}
	req := ResaleRequest{Reseller: r.ID, Product: p.Slug, Quantity: 2, IdemKey: "k1", BodyHash: sha256.Sum256([]byte("b1"))}
	pl, err := e.shop.PlaceResale(req)
	if err != nil || pl.Repeat {
		t.Fatalf("place: %+v %v", pl, err)
	}
	items := openResale(t, pl.Order, id)
	if len(items) != 2 || items[0].Key != keys[0] || items[1].Key != keys[1] {
		t.Fatalf("items %+v", items)
	}
	if acct, _ := e.shop.Reseller(r.ID); acct.BalanceMinor != 2000-1782 {
		t.Fatalf("balance %d", acct.BalanceMinor)
	}
	if e.stock(p.ID) != 3 {
		t.Fatalf("stock %d", e.stock(p.ID))
	}
	// A repeat: the same order, nothing moves — also concurrently.
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			again, err := e.shop.PlaceResale(req)
			if err != nil || !again.Repeat || again.Order.ID != pl.Order.ID {
				t.Errorf("repeat: %+v %v", again, err)
			}
		})
	}
	wg.Wait()
	if acct, _ := e.shop.Reseller(r.ID); acct.BalanceMinor != 218 || e.stock(p.ID) != 3 {
		t.Fatalf("after repeats: balance %d stock %d", acct.BalanceMinor, e.stock(p.ID))
	}
	// The same key with another body is refused.
	other := req
	other.BodyHash = sha256.Sum256([]byte("b2"))
	if _, err := e.shop.PlaceResale(other); !errors.Is(err, ErrIdempotencyConflict) {
		t.Fatalf("reused key: %v", err)
	}
	// Insufficient balance: nothing taken.
	req.IdemKey = "k2"
	if _, err := e.shop.PlaceResale(req); !errors.Is(err, ErrInsufficientBalance) {
		t.Fatalf("insufficient: %v", err)
	}
	if e.stock(p.ID) != 3 {
		t.Fatalf("stock after a refused order %d", e.stock(p.ID))
	}
	led, err := e.shop.Ledger(r.ID, 0, 0)
	if err != nil || len(led) != 2 || led[0].Kind != LedgerOrder || led[0].DeltaMinor != -1782 || led[0].BalanceMinor != 218 ||
		led[0].Ref != pl.Order.ID || led[1].Kind != LedgerTopUp || led[1].DeltaMinor != 2000 {
		t.Fatalf("ledger %+v %v", led, err)
	}
	// Suspended: refused at once.
	if _, err := e.shop.SetResellerStatus(r.ID, ResellerSuspended); err != nil {
		t.Fatal(err)
	}
	req.Quantity, req.IdemKey = 1, "k3"
	if _, err := e.shop.PlaceResale(req); !errors.Is(err, ErrResellerSuspended) {
		t.Fatalf("suspended: %v", err)
	}
	// Another account cannot read the order.
	r2, _ := e.reseller("agent-b", 0, ResellerSpec{})
	if _, err := e.shop.ResaleOrder(r2.ID, pl.Order.ID); !errors.Is(err, ErrResaleOrderNotFound) {
		t.Fatalf("other account's order: %v", err)
	}
}

func TestResaleLimitsAndPrices(t *testing.T) {
	e := newEnv(t)
	p := e.product("game", Unique)
	e.importKeys(p.ID, keyList("LM", 5))
	r, _ := e.reseller("agent", 10000, ResellerSpec{Prices: map[string]int64{p.ID: 500}, DailyLimitMinor: 1000})
	place := func(key string, qty int, maxUnit int64) error {
		_, err := e.shop.PlaceResale(ResaleRequest{Reseller: r.ID, Product: p.ID, Quantity: qty, MaxUnitMinor: maxUnit,
			IdemKey: key, BodyHash: sha256.Sum256([]byte(key))})
		return err
	}
	if err := place("a", 1, 400); !errors.Is(err, ErrPriceChanged) {
		t.Fatalf("price above max: %v", err)
	}
	if err := place("b", 2, 500); err != nil {
		t.Fatal(err)
	}
	if err := place("c", 1, 0); !errors.Is(err, ErrDailyLimit) {
		t.Fatalf("daily limit: %v", err)
	}
	e.clock.Add(24 * 3600e9)
	if err := place("d", 1, 0); err != nil {
		t.Fatalf("next day: %v", err)
	}
	usd, _ := e.reseller("usd", 10000, ResellerSpec{Currency: "USD"})
	if _, err := e.shop.PlaceResale(ResaleRequest{Reseller: usd.ID, Product: p.ID, Quantity: 1, IdemKey: "x"}); !errors.Is(err, ErrCurrencyMismatch) {
		t.Fatalf("currency: %v", err)
	}
	e.shop.Lock()
	if err := place("e", 1, 0); !errors.Is(err, ErrLocked) {
		t.Fatalf("locked: %v", err)
	}
}

func TestResaleSecretDerivedNotStored(t *testing.T) {
	e := newEnv(t)
	r, _ := e.reseller("agent", 0, ResellerSpec{})
	if _, _, err := e.shop.ResellerKey(r.ID); !errors.Is(err, ErrNoSecret) {
		t.Fatalf("before issue: %v", err)
	}
	s1, err := e.shop.IssueResellerSecret(r.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, k, err := e.shop.ResellerKey(r.ID)
	if err != nil || FormatResellerSecret(k) != s1 {
		t.Fatalf("key %v", err)
	}
	s2, _ := e.shop.IssueResellerSecret(r.ID)
	if _, k, _ = e.shop.ResellerKey(r.ID); s2 == s1 || FormatResellerSecret(k) != s2 {
		t.Fatal("a new secret did not replace the old one")
	}
	e.shop.Lock()
	if _, _, err := e.shop.ResellerKey(r.ID); !errors.Is(err, ErrLocked) {
		t.Fatalf("locked: %v", err)
	}
	e.db.Close()
	scanDir(t, e.dir, []string{s2, string(k[:])})
}

func TestResaleTicketReplaceAndRefund(t *testing.T) {
	e := newEnv(t)
	p := e.product("game", Unique)
	keys := keyList("TR", 4)
	e.importKeys(p.ID, keys)
	r, id := e.reseller("agent", 5000, ResellerSpec{})
	pl, err := e.shop.PlaceResale(ResaleRequest{Reseller: r.ID, Product: p.ID, Quantity: 2, IdemKey: "o"})
	if err != nil {
		t.Fatal(err)
	}
	treq := ResaleTicketRequest{Reseller: r.ID, Order: pl.Order.ID, ItemID: pl.Order.Items[0], Reason: ReasonKeyInvalid,
		Detail: "the key says already redeemed", IdemKey: "t1"}
	op, err := e.shop.OpenResaleTicket(treq)
	tk := op.Ticket
	if err != nil || op.Repeat || tk.Status != TicketOpen {
		t.Fatalf("ticket %+v %v", tk, err)
	}
	if again, err := e.shop.OpenResaleTicket(treq); err != nil || !again.Repeat || again.Ticket.ID != tk.ID {
		t.Fatalf("repeat ticket %+v %v", again, err)
	}
	if txt, err := OpenResaleThread(tk.Thread[0], id.Age(), false); err != nil || txt != treq.Detail {
		t.Fatalf("reseller reads %q %v", txt, err)
	}
	sup, _ := e.shop.SupportIdentity()
	if txt, err := OpenResaleThread(tk.Thread[0], sup, true); err != nil || txt != treq.Detail {
		t.Fatalf("staff reads %q %v", txt, err)
	}
	if _, err := e.shop.AnswerResaleTicket(tk.ID, "sending a new one"); err != nil {
		t.Fatal(err)
	}
	err = e.db.Update(func(tx *store.Txn) error { _, err := e.shop.ResaleReplaceTx(tx, tk.ID); return err })
	if err != nil {
		t.Fatal(err)
	}
	o, _ := e.shop.ResaleOrder(r.ID, pl.Order.ID)
	items := openResale(t, o, id)
	if len(items) != 3 || items[2].Key != keys[2] || o.Bad[keys0ID(pl)] != KeyReportedBad || o.Status != StatusReplaced {
		t.Fatalf("after replacement %+v %+v", items, o)
	}
	if tk, _ = e.shop.ResaleTicket(r.ID, tk.ID); tk.Status != TicketResolved || tk.Remedy != RemedyReplace {
		t.Fatalf("ticket %+v", tk)
	}
	// A refund of the second item to the balance.
	op2, err := e.shop.OpenResaleTicket(ResaleTicketRequest{Reseller: r.ID, Order: pl.Order.ID, ItemID: pl.Order.Items[1],
		Reason: ReasonKeyAlreadyUsed, IdemKey: "t2"})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := e.shop.Reseller(r.ID)
	err = e.db.Update(func(tx *store.Txn) error { _, err := e.shop.ResaleRefundTx(tx, op2.Ticket.ID, 0, "9"); return err })
	if err != nil {
		t.Fatal(err)
	}
	after, _ := e.shop.Reseller(r.ID)
	if after.BalanceMinor != before.BalanceMinor+990 {
		t.Fatalf("balance %d → %d", before.BalanceMinor, after.BalanceMinor)
	}
	err = e.db.Update(func(tx *store.Txn) error { _, err := e.shop.ResaleRefundTx(tx, op2.Ticket.ID, 0, "9"); return err })
	if !errors.Is(err, ErrTicketClosed) {
		t.Fatalf("second refund: %v", err)
	}
}

func keys0ID(pl ResalePlaced) string { return pl.Order.Items[0] }

func TestRecallReachesResaleOrders(t *testing.T) {
	e := newEnv(t)
	p := e.product("game", Unique)
	first := e.importKeys(p.ID, keyList("B1", 1))
	e.importKeys(p.ID, keyList("B2", 1))
	r, id := e.reseller("agent", 5000, ResellerSpec{})
	pl, err := e.shop.PlaceResale(ResaleRequest{Reseller: r.ID, Product: p.ID, Quantity: 1, IdemKey: "o"})
	if err != nil {
		t.Fatal(err)
	}
	var res RecallResult
	err = e.db.Update(func(tx *store.Txn) error { var err error; res, err = e.shop.RecallTx(tx, first.BatchID); return err })
	if err != nil || res.Recalled != 1 || res.Replaced != 1 {
		t.Fatalf("recall %+v %v", res, err)
	}
	o, _ := e.shop.ResaleOrder(r.ID, pl.Order.ID)
	items := openResale(t, o, id)
	if len(items) != 2 || items[1].Key != keyList("B2", 1)[0] || o.Bad[pl.Order.Items[0]] != KeyRecalled {
		t.Fatalf("after recall %+v %+v", items, o.Bad)
	}
}
