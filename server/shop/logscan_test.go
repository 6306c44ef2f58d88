package shop

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"veil/server/store"
)

// lockedBuffer is a log sink safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestNoSecretInLogs runs the shop's life — import, orders, payments
// (exact, repeated, second, late), a delivery queued while the vault is
// locked, retrieval, a ticket and a replacement, a refund, expiry — with
// the log at debug level, then scans every line: no key, no part of one,
// no token, recipient or vault passphrase. The server's privacy test scans
// its own logs; this one catches a secret logged by the shop itself.
func TestNoSecretInLogs(t *testing.T) {
	logs := &lockedBuffer{}
	c := newClock()
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	sh, err := New(db, Config{Now: c.Now, VaultWorkFactor: 10,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sh.InitVault(testPass); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, db: db, shop: sh, clock: c}
	p := e.product("logscan", Unique)
	keys := keyList("LOGSCAN", 8)
	e.importKeys(p.ID, keys)

	var placed []Placed
	buy := func(qty int) Placed {
		pl := e.buy(p.ID, qty)
		placed = append(placed, pl)
		return pl
	}
	gw := func(trade string, o Order) Payment {
		return Payment{Provider: "gw", TradeNo: trade, AmountMinor: o.AmountMinor}
	}

	// Paid with a trade number, the notify repeated, then paid a second time.
	a := buy(2)
	e.apply(a.Order.Ref, gw("LOG-T1", a.Order), nil)
	e.apply(a.Order.Ref, gw("LOG-T1", a.Order), nil)
	e.apply(a.Order.Ref, gw("LOG-T2", a.Order), nil)
	if got := e.keysOf(a.Token); len(got) != 2 {
		t.Fatalf("order a opens %d keys", len(got))
	}

	// Paid while the vault is locked: queued, delivered by the sweep.
	b := buy(1)
	sh.Lock()
	e.pay(b.Order)
	if err := sh.Unlock(testPass); err != nil {
		t.Fatal(err)
	}
	if r, err := sh.Sweep(); err != nil || r.Delivered != 1 {
		t.Fatalf("sweep: %+v %v", r, err)
	}
	if got := e.keysOf(b.Token); len(got) != 1 {
		t.Fatalf("order b opens %d keys", len(got))
	}

	// A ticket about a key of a, replaced; b refunded.
	tk, err := sh.OpenTicket(a.Token, ReasonKeyInvalid, a.Order.Items[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sh.AnswerTicket(tk.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *store.Txn) error {
		if _, err := sh.ReplaceTx(tx, a.Order.Ref, a.Order.Items[0], tk.ID); err != nil {
			return err
		}
		_, err := sh.RefundTx(tx, b.Order.Ref, b.Order.AmountMinor)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.keysOf(a.Token); len(got) != 3 {
		t.Fatalf("order a opens %d keys after the replacement", len(got))
	}

	// Unpaid: expires, then paid late.
	d := buy(1)
	c.Add(16 * time.Minute)
	if _, err := sh.Sweep(); err != nil {
		t.Fatal(err)
	}
	e.apply(d.Order.Ref, gw("LOG-T3", d.Order), nil)
	if got := e.keysOf(d.Token); len(got) != 1 {
		t.Fatalf("late order opens %d keys", len(got))
	}

	out := logs.String()
	for _, line := range []string{"shop: payment recorded", "shop: queued order delivered", "shop: ticket opened", "shop: reservation expired"} {
		if !strings.Contains(out, line) {
			t.Fatalf("the log has no %q line: the scan would prove little", line)
		}
	}
	secrets := map[string]string{"vault passphrase": testPass, "key suffix": "SECRETKEY"}
	for i, k := range keys {
		secrets["key "+string(rune('0'+i))] = k
		secrets["key "+string(rune('0'+i))+" body"] = k[:len("LOGSCAN-00000")]
	}
	for i, pl := range placed {
		secrets["token "+string(rune('a'+i))] = pl.Token
		if o, err := sh.OrderByRef(pl.Order.Ref); err == nil && o.RecipientString() != "" {
			secrets["recipient "+string(rune('a'+i))] = o.RecipientString()
		}
	}
	for what, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("the shop logged a %s", what) // not the value: the test log is a log too
		}
	}
}
