package shop

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"veil/crypto"
	"veil/server/store"
)

const testPass = "correct horse battery"

// clock is a settable test clock.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}
func (c *clock) Now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) Add(d time.Duration) { c.ns.Add(int64(d)) }

type env struct {
	t     *testing.T
	dir   string
	db    *store.DB
	shop  *Shop
	clock *clock
}

func openEnv(t *testing.T, dir string, c *clock) *env {
	t.Helper()
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sh, err := New(db, Config{Now: c.Now, VaultWorkFactor: 10})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, dir: dir, db: db, shop: sh, clock: c}
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := openEnv(t, t.TempDir(), newClock())
	t.Cleanup(func() { e.db.Close() })
	if _, err := e.shop.InitVault(testPass); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) product(slug string, kind Kind) Product {
	e.t.Helper()
	p, err := e.shop.CreateProduct(Product{
		Slug: slug, Name: Text{"en": "Test " + slug, "zh-CN": "测试"}, PriceMinor: 990, Currency: "CNY",
		Kind: kind, Policy: Policy{WindowHours: 72, Remedies: []Remedy{RemedyReplace, RemedyRefund}},
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func keyList(prefix string, n int) []string {
	ks := make([]string, n)
	for i := range ks {
		ks[i] = fmt.Sprintf("%s-%05d-SECRETKEY", prefix, i)
	}
	return ks
}

func (e *env) importKeys(pid string, keys []string) ImportResult {
	e.t.Helper()
	res, err := e.shop.ImportKeys(pid, BatchInfo{Supplier: "acme", CostMinor: 500}, strings.NewReader(strings.Join(keys, "\n")))
	if err != nil {
		e.t.Fatal(err)
	}
	return res
}

func (e *env) stock(pid string) int {
	e.t.Helper()
	p, err := e.shop.Product(pid)
	if err != nil {
		e.t.Fatal(err)
	}
	return p.InStock
}

func (e *env) buy(pid string, qty int) Placed {
	e.t.Helper()
	pl, err := e.shop.PlaceOrder(pid, qty, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return pl
}

func (e *env) pay(o Order) Order {
	e.t.Helper()
	out, err := e.shop.Pay(o.Ref, Payment{Provider: "demo", AmountMinor: o.AmountMinor})
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *env) keysOf(token string) []string {
	e.t.Helper()
	v, err := e.shop.Retrieve(token)
	if err != nil {
		e.t.Fatal(err)
	}
	var ks []string
	for _, it := range v.Items {
		ks = append(ks, it.Key)
	}
	return ks
}

func TestBuyPayRetrieve(t *testing.T) {
	e := newEnv(t)
	p := e.product("game", Unique)
	keys := keyList("G", 5)
	if res := e.importKeys(p.ID, keys); res.Imported != 5 || res.Duplicates != 0 || res.Rejected != 0 {
		t.Fatalf("import = %+v", res)
	}
	pl := e.buy(p.Slug, 2)
	if pl.Order.Status != StatusPending || pl.Order.AmountMinor != 1980 || e.stock(p.ID) != 3 {
		t.Fatalf("placed %+v stock %d", pl.Order, e.stock(p.ID))
	}
	if v, err := e.shop.Retrieve(pl.Token); err != nil || len(v.Items) != 0 {
		t.Fatalf("unpaid retrieve: %v %v", v.Items, err)
	}
	o := e.pay(pl.Order)
	if o.Status != StatusDelivered {
		t.Fatalf("status after pay = %s", o.Status)
	}
	got := e.keysOf(pl.Token)
	if strings.Join(got, ",") != strings.Join(keys[:2], ",") {
		t.Fatalf("keys = %v, want %v", got, keys[:2])
	}
	// The second retrieval goes through the symmetric re-seal.
	o2, _ := e.shop.OrderByRef(pl.Order.Ref)
	if !o2.Revealed || len(o2.Payloads) != 1 || !o2.Payloads[0].Sym {
		t.Fatalf("after first retrieval: revealed=%v payloads=%+v", o2.Revealed, o2.Payloads)
	}
	if got2 := e.keysOf(pl.Token); strings.Join(got2, ",") != strings.Join(got, ",") {
		t.Fatalf("second retrieval = %v", got2)
	}
	// Paying again is a no-op.
	if again := e.pay(pl.Order); again.Status != StatusDelivered || len(again.Payloads) != 1 {
		t.Fatalf("repeat payment changed the order: %+v", again)
	}
}

func TestRetrieveErrors(t *testing.T) {
	e := newEnv(t)
	p := e.product("game", Unique)
	e.importKeys(p.ID, keyList("G", 1))
	pl := e.buy(p.ID, 1)
	// One wrong character: a typo the check character catches.
	bad := []byte(pl.Token)
	for i, c := range bad {
		if c != '-' {
			if c == 'A' {
				bad[i] = 'B'
			} else {
				bad[i] = 'A'
			}
			break
		}
	}
	if _, err := e.shop.Retrieve(string(bad)); !errors.Is(err, crypto.ErrTokenMalformed) {
		t.Fatalf("typo: %v", err)
	}
	other, _ := crypto.NewToken()
	if _, err := e.shop.Retrieve(other.String()); !errors.Is(err, ErrOrderNotFound) {
		t.Fatalf("unknown: %v", err)
	}
	// Normalised input still opens the order.
	if _, err := e.shop.Retrieve(strings.ToLower(strings.ReplaceAll(pl.Token, "-", " "))); err != nil {
		t.Fatalf("normalised: %v", err)
	}
}

func TestConcurrentReservationNeverOversells(t *testing.T) {
	e := newEnv(t)
	p := e.product("flash", Unique)
	keys := keyList("F", 50)
	e.importKeys(p.ID, keys)
	var mu sync.Mutex
	var tokens []string
	var oos atomic.Int32
	var wg sync.WaitGroup
	for range 200 {
		wg.Go(func() {
			pl, err := e.shop.PlaceOrder(p.ID, 1, nil)
			if errors.Is(err, ErrOutOfStock) {
				oos.Add(1)
				return
			}
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := e.shop.Pay(pl.Order.Ref, Payment{Provider: "demo", AmountMinor: pl.Order.AmountMinor}); err != nil {
				t.Error(err)
			}
			mu.Lock()
			tokens = append(tokens, pl.Token)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(tokens) != 50 || oos.Load() != 150 {
		t.Fatalf("orders %d, out of stock %d", len(tokens), oos.Load())
	}
	seen := map[string]bool{}
	for _, tok := range tokens {
		for _, k := range e.keysOf(tok) {
			if seen[k] {
				t.Fatalf("key %s delivered twice", k)
			}
			seen[k] = true
		}
	}
	for _, k := range keys {
		if !seen[k] {
			t.Fatalf("key %s never delivered", k)
		}
	}
	if e.stock(p.ID) != 0 {
		t.Fatalf("stock = %d", e.stock(p.ID))
	}
}

func TestExpiryAndLatePayment(t *testing.T) {
	e := newEnv(t)
	p := e.product("game", Unique)
	keys := keyList("E", 2)
	e.importKeys(p.ID, keys)
	a := e.buy(p.ID, 1)
	b := e.buy(p.ID, 1)
	if e.stock(p.ID) != 0 {
		t.Fatal("stock not reserved")
	}
	e.clock.Add(16 * time.Minute)
	r, err := e.shop.Sweep()
	if err != nil || r.Expired != 2 {
		t.Fatalf("sweep %+v %v", r, err)
	}
	if e.stock(p.ID) != 2 {
		t.Fatalf("expired keys not returned: stock %d", e.stock(p.ID))
	}
	// Late payment with stock left: re-reserved and delivered.
	if o := e.pay(a.Order); o.Status != StatusDelivered {
		t.Fatalf("late payment with stock: %s", o.Status)
	}
	// Someone else buys the last key; b's late payment finds none.
	c := e.buy(p.ID, 1)
	e.pay(c.Order)
	if o := e.pay(b.Order); o.Status != StatusRefundDue || len(o.Notices) == 0 {
		t.Fatalf("late payment without stock: %+v", o)
	}
	if v, _ := e.shop.Retrieve(b.Token); len(v.Items) != 0 || v.Order.Status != StatusRefundDue {
		t.Fatalf("refund_due order shows %v", v.Items)
	}
	all := append(e.keysOf(a.Token), e.keysOf(c.Token)...)
	if len(all) != 2 || all[0] == all[1] {
		t.Fatalf("delivered %v", all)
	}
}

func TestLockedVaultQueuesThenDeadline(t *testing.T) {
	e := newEnv(t)
	p := e.product("game", Unique)
	e.importKeys(p.ID, keyList("L", 3))
	a, b := e.buy(p.ID, 1), e.buy(p.ID, 2)
	e.shop.Lock()
	if o := e.pay(a.Order); o.Status != StatusPaid {
		t.Fatalf("locked pay: %s", o.Status)
	}
	if o := e.pay(b.Order); o.Status != StatusPaid {
		t.Fatalf("locked pay: %s", o.Status)
	}
	if err := e.shop.Unlock("wrong passphrase"); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	// Unlocked in time: a is delivered by the sweep.
	if err := e.shop.Unlock(testPass); err != nil {
		t.Fatal(err)
	}
	if r, err := e.shop.Sweep(); err != nil || r.Delivered != 2 {
		t.Fatalf("sweep after unlock: %+v %v", r, err)
	}
	if len(e.keysOf(a.Token)) != 1 || len(e.keysOf(b.Token)) != 2 {
		t.Fatal("queued orders not delivered")
	}

	// Now a payment that stays locked past the deadline.
	e.importKeys(p.ID, keyList("M", 1))
	c := e.buy(p.ID, 1)
	e.shop.Lock()
	e.pay(c.Order)
	e.clock.Add(31 * time.Minute)
	if r, err := e.shop.Sweep(); err != nil || r.RefundDue != 1 {
		t.Fatalf("deadline sweep: %+v %v", r, err)
	}
	if o, _ := e.shop.OrderByRef(c.Order.Ref); o.Status != StatusRefundDue {
		t.Fatalf("status %s", o.Status)
	}
	if e.stock(p.ID) != 1 {
		t.Fatalf("undelivered key not returned to stock: %d", e.stock(p.ID))
	}
}

func TestImportDuplicatesAndRejections(t *testing.T) {
	e := newEnv(t)
	p := e.product("game", Unique)
	in := "AAAA-1111\n\nBBBB-2222\r\nAAAA-1111\nbad\x01key\n" + strings.Repeat("x", 600) + "\n  CCCC-3333  \n"
	res, err := e.shop.ImportKeys(p.ID, BatchInfo{Supplier: "s"}, strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if res.Imported != 3 || res.Duplicates != 1 || res.Rejected != 2 {
		t.Fatalf("import = %+v", res)
	}
	want := []Rejection{{Line: 5, Reason: "bad_char"}, {Line: 6, Reason: "too_long"}}
	if fmt.Sprint(res.Rejections) != fmt.Sprint(want) {
		t.Fatalf("rejections %v, want %v", res.Rejections, want)
	}
	// Sold keys still count as duplicates later.
	pl := e.buy(p.ID, 3)
	e.pay(pl.Order)
	res2 := e.importKeys(p.ID, []string{"AAAA-1111", "DDDD-4444"})
	if res2.Imported != 1 || res2.Duplicates != 1 {
		t.Fatalf("re-import = %+v", res2)
	}
	e.shop.Lock()
	if _, err := e.shop.ImportKeys(p.ID, BatchInfo{}, strings.NewReader("X")); !errors.Is(err, ErrLocked) {
		t.Fatalf("locked import: %v", err)
	}
}

func TestSharedProduct(t *testing.T) {
	e := newEnv(t)
	p := e.product("vpn", Shared)
	if _, err := e.shop.ImportKeys(p.ID, BatchInfo{Seats: 3}, strings.NewReader("SHARED-ACCOUNT:pw")); err != nil {
		t.Fatal(err)
	}
	if e.stock(p.ID) != 3 {
		t.Fatalf("seats %d", e.stock(p.ID))
	}
	var toks []string
	for range 3 {
		pl := e.buy(p.ID, 1)
		e.pay(pl.Order)
		toks = append(toks, pl.Token)
	}
	if _, err := e.shop.PlaceOrder(p.ID, 1, nil); !errors.Is(err, ErrOutOfStock) {
		t.Fatalf("fourth seat: %v", err)
	}
	for _, tok := range toks {
		if ks := e.keysOf(tok); len(ks) != 1 || ks[0] != "SHARED-ACCOUNT:pw" {
			t.Fatalf("shared keys %v", ks)
		}
	}
}

func TestReopenKeepsAcknowledged(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	e := openEnv(t, dir, c)
	if _, err := e.shop.InitVault(testPass); err != nil {
		t.Fatal(err)
	}
	p := e.product("game", Unique)
	keys := keyList("R", 20)
	e.importKeys(p.ID, keys)
	var toks []string
	for i := range 10 {
		pl := e.buy(p.ID, 1)
		if i%2 == 0 {
			e.pay(pl.Order)
		}
		toks = append(toks, pl.Token)
	}
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	e = openEnv(t, dir, c)
	defer e.db.Close()
	if !e.shop.Locked() {
		t.Fatal("reopened shop should start locked")
	}
	for i, tok := range toks {
		v, err := e.shop.Retrieve(tok)
		if err != nil {
			t.Fatalf("order %d lost: %v", i, err)
		}
		if i%2 == 0 && (v.Order.Status != StatusDelivered || len(v.Items) != 1 || v.Items[0].Key != keys[i]) {
			t.Fatalf("order %d: %s %v", i, v.Order.Status, v.Items)
		}
		if i%2 == 1 && v.Order.Status != StatusPending {
			t.Fatalf("order %d: %s", i, v.Order.Status)
		}
	}
	if e.stock(p.ID) != 10 {
		t.Fatalf("stock after reopen %d", e.stock(p.ID))
	}
	if err := e.shop.Unlock(testPass); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		pl := e.buy(p.ID, 5)
		if o := e.pay(pl.Order); o.Status != StatusDelivered {
			t.Fatalf("after reopen: %s", o.Status)
		}
	}
}

func TestSettlement(t *testing.T) {
	e := newEnv(t)
	p := e.product("game", Unique)
	e.importKeys(p.ID, keyList("S", 1))
	pl := e.buy(p.ID, 1)
	e.pay(pl.Order)
	e.clock.Add(71 * time.Hour)
	if r, err := e.shop.Sweep(); err != nil || r.Settled != 0 {
		t.Fatalf("settled inside the window: %+v %v", r, err)
	}
	e.clock.Add(2 * time.Hour)
	if r, err := e.shop.Sweep(); err != nil || r.Settled != 1 {
		t.Fatalf("not settled: %+v %v", r, err)
	}
	if o, _ := e.shop.OrderByRef(pl.Order.Ref); o.Status != StatusSettled {
		t.Fatalf("status %s", o.Status)
	}
}

func TestNoPlaintextOnDisk(t *testing.T) {
	e := newEnv(t)
	p := e.product("game", Unique)
	keys := keyList("PRIVACYKEY", 30)
	e.importKeys(p.ID, keys)
	var secrets []string
	secrets = append(secrets, keys...)
	for range 10 {
		pl := e.buy(p.ID, 2)
		e.pay(pl.Order)
		e.keysOf(pl.Token)
		secrets = append(secrets, pl.Token, strings.ReplaceAll(pl.Token, "-", ""))
	}
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	scanDir(t, e.dir, secrets)
	e.db, _ = store.Open(e.dir, store.Options{})
}

// scanDir fails if any secret appears as plain bytes in any file under dir.
func scanDir(t *testing.T, dir string, secrets []string) {
	t.Helper()
	n := 0
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		n++
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds a secret in the clear", filepath.Base(path))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("scanned no files")
	}
}
