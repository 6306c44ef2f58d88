package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Crash test settings. The price ends in 0 so that money can be sent in
// the short form too ("19.8" for 1980).
const (
	crashPID      = "1001"
	crashKey      = "crash-test-merchant-key-0123456789"
	crashPrice    = 990
	crashWorkers  = 4
	crashMaxQty   = 3
	defaultCycles = 8
)

// crashOrder is an order the server answered 201 for.
type crashOrder struct {
	token, ref string
	qty        int
	amount     int64
	trade      string // its gateway trade number, fixed, so a resend is a repeat
	abandoned  bool   // never paid: its keys stay reserved
	tried      bool   // a notify for trade was sent
	acked      bool   // a notify for trade got "success"
}

// crashBook is what the clients know: only answers they received count.
type crashBook struct {
	mu         sync.Mutex
	orders     []*crashOrder
	outOfStock bool
	tradeSeq   int
	placed     int               // 201s
	successes  int               // notify answers "success", repeats included
	extras     int               // second payments acknowledged
	seconds    map[string]string // trade -> ref of every second payment sent
	secondsOK  map[string]bool   // second payments answered "success"
	cut        int               // requests the kill left without an answer
	errs       []string
	// fullOK: the disk-full test — a 503 storage_unavailable (a notify's
	// 503 "fail") is a valid answer that changed nothing; refusedFull
	// counts them.
	fullOK      bool
	refusedFull int
}

// refusedForSpace counts a 503 storage_unavailable when the test expects
// them and reports whether it was one.
func (b *crashBook) refusedForSpace(status int, body string) bool {
	if !b.fullOK || status != http.StatusServiceUnavailable ||
		!(strings.Contains(body, `"storage_unavailable"`) || body == "fail") {
		return false
	}
	b.mu.Lock()
	b.refusedFull++
	b.mu.Unlock()
	return true
}

func (b *crashBook) errorf(format string, a ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errs) < 20 {
		b.errs = append(b.errs, fmt.Sprintf(format, a...))
	}
}

func (b *crashBook) interrupted() {
	b.mu.Lock()
	b.cut++
	b.mu.Unlock()
}

func (b *crashBook) newTrade() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tradeSeq++
	return fmt.Sprintf("CRASH%08d", b.tradeSeq)
}

// TestCrashSafety runs the real binary with 易支付 payments, drives orders
// and signed notifies at it from several clients, kill -9s it at random
// moments and restarts it on the same data directory, many times. Then it
// checks what the shop promises to survive a crash:
//
//   - every order answered 201 exists, and every order whose payment got
//     "success" is delivered (its keys open with its token) or refund_due;
//   - no key is in two orders, and every delivered key was imported;
//   - available + reserved + delivered = imported, and the stock the
//     catalog shows is the available count;
//   - the payments owed back are exactly the second payments answered
//     "success", plus perhaps some a kill cut off: no repeat and no
//     order's own payment is owed;
//   - the server shuts down cleanly afterwards and the audit log verifies.
//
// CI runs 8 cycles (3 with -short); VEIL_CRASH_CYCLES=60 is the long mode,
// VEIL_CRASH_SEED replays a schedule, VEIL_CRASH_RACE=1 builds veil with
// the race detector when the test runs with it. A run that completes fewer
// cycles than asked fails: they run until the test's own deadline.
func TestCrashSafety(t *testing.T) {
	start := time.Now()
	cycles := defaultCycles
	if testing.Short() {
		cycles = 3
	}
	if s := os.Getenv("VEIL_CRASH_CYCLES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("VEIL_CRASH_CYCLES=%q: want a positive number", s)
		}
		cycles = n
	}
	// The cycles may take as long as the test may: stopping early would
	// pass a run that proved less than asked.
	budget := 30 * time.Minute
	if d, ok := t.Deadline(); ok {
		budget = time.Until(d) - time.Minute
	}
	seed := mrand.Uint64()
	if s := os.Getenv("VEIL_CRASH_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("VEIL_CRASH_SEED=%q", s)
		}
	}
	t.Logf("seed %d, %d cycles", seed, cycles)
	rng := mrand.New(mrand.NewPCG(seed, 0x5eed))

	bin := buildVeil(t)
	const password = "crash test owner password"
	shop := initVeil(t, bin, password, "crash test vault passphrase", map[string]string{"epay-key": crashKey})
	data, ppFile, keyFile, ini := shop.data, shop.ppFile, shop.file("epay-key"), shop.ini

	addr := freeAddr(t)
	base := "http://" + addr
	serve := []string{"serve", "--data", data, "--addr", addr, "--passphrase-file", ppFile,
		"--payments", "epay", "--epay-pid", crashPID, "--epay-key-file", keyFile,
		"--epay-gateway", "http://127.0.0.1:1/submit.php", "--public-url", base, "--rate-limit", "0"}

	// Stock comes in through the console, as a merchant's would.
	srv := startVeil(t, bin, base, serve...)
	con := signIn(t, base, "owner", password, ini.TOTPSecret)
	var prod struct{ ID, Slug string }
	con.call(http.MethodPost, "/api/v1/admin/products", "application/json",
		fmt.Sprintf(`{"slug":"crash-card","name":{"en":"Crash card","zh-CN":"崩溃卡"},"price_minor":%d,"currency":"CNY","kind":"unique"}`, crashPrice),
		http.StatusCreated, &prod)
	imported := map[string]bool{}
	var keys []string
	salt := make([]byte, 4)
	_, _ = rand.Read(salt)
	for i := range 100 + 40*cycles {
		k := fmt.Sprintf("CRASH-%05d-%s", i, hex.EncodeToString(salt))
		keys = append(keys, k)
		imported[k] = true
	}
	var imp struct{ Imported, Duplicates, Rejected int }
	con.call(http.MethodPost, "/api/v1/admin/products/"+prod.ID+"/keys", "text/plain; charset=utf-8",
		strings.Join(keys, "\n")+"\n", http.StatusOK, &imp)
	if imp.Imported != len(keys) || imp.Duplicates != 0 || imp.Rejected != 0 {
		t.Fatalf("import: %+v of %d keys", imp, len(keys))
	}

	b := &crashBook{seconds: map[string]string{}, secondsOK: map[string]bool{}}
	done := 0
	for done < cycles {
		if done > 0 {
			srv = startVeil(t, bin, base, serve...)
		}
		ctx, cancel := context.WithCancel(context.Background())
		hc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: crashWorkers}}
		var wg sync.WaitGroup
		for range crashWorkers {
			wr := mrand.New(mrand.NewPCG(rng.Uint64(), rng.Uint64()))
			wg.Go(func() { crashWorker(ctx, wr, hc, base, b) })
		}
		delay := time.Duration(30+rng.IntN(900)) * time.Millisecond
		if rng.IntN(5) == 0 {
			delay = time.Duration(rng.IntN(30)) * time.Millisecond // right after start-up
		}
		time.Sleep(delay)
		select {
		case <-srv.done:
			t.Fatalf("cycle %d: veil exited by itself: %v\n%s", done+1, srv.err, srv.stderr)
		default:
		}
		srv.kill()
		cancel()
		wg.Wait()
		hc.CloseIdleConnections()
		if bad := badLines(srv.stderr.String()); len(bad) > 0 {
			t.Errorf("cycle %d: the server logged:\n%s", done+1, strings.Join(bad, "\n"))
		}
		done++
		if time.Since(start) > budget {
			break
		}
	}
	for _, e := range b.errs {
		t.Error(e)
	}
	if done < cycles {
		t.Errorf("only %d of %d cycles within the time budget of %v", done, cycles, budget)
	}

	// The gateway resends every notify it got no "success" for; a payment
	// applied just before a crash must now be a repeat, answered success.
	srv = startVeil(t, bin, base, serve...)
	hc := &http.Client{Timeout: 20 * time.Second}
	resent := 0
	for _, o := range b.orders {
		if o.tried && !o.acked {
			resent++
			got, err := sendNotify(hc, base, o.ref, o.trade, yuan(o.amount), false)
			if err != nil || got != "success" {
				t.Errorf("%s: resent notify answered %q, %v", o.ref, got, err)
				continue
			}
			o.acked = true
			b.successes++
		}
	}

	sum := checkOrders(t, hc, base, b.orders, imported)

	if err := srv.stop(); err != nil {
		t.Errorf("clean shutdown after the crashes: %v\n%s", err, srv.stderr)
	}
	if bad := badLines(srv.stderr.String()); len(bad) > 0 {
		t.Errorf("final run: the server logged:\n%s", strings.Join(bad, "\n"))
	}
	if out, err := exec.Command(bin, "audit", "verify", "--data", data).CombinedOutput(); err != nil {
		t.Errorf("veil audit verify: %v %s", err, out)
	}

	a, err := openApp(data, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	stock, err := a.shop.Stock(prod.ID)
	if err != nil {
		t.Fatal(err)
	}
	var avail, reserved, deliveredKeys, other int
	for _, s := range stock {
		avail += s.Available
		reserved += s.Reserved
		deliveredKeys += s.Delivered
		other += s.Bad + s.Recalled + s.Withdrawn
	}
	if avail+reserved+deliveredKeys != len(keys) || other != 0 {
		t.Errorf("stock: available %d + reserved %d + delivered %d (+ %d other) != imported %d",
			avail, reserved, deliveredKeys, other, len(keys))
	}
	if deliveredKeys != sum.keys {
		t.Errorf("the store counts %d delivered keys, the orders' tokens open %d", deliveredKeys, sum.keys)
	}
	if reserved < sum.pendingKeys {
		t.Errorf("the store counts %d reserved keys, pending orders hold %d", reserved, sum.pendingKeys)
	}
	if p, err := a.shop.Product(prod.ID); err != nil || p.InStock != avail {
		t.Errorf("catalog shows %d in stock, the store counts %d available (%v)", p.InStock, avail, err)
	}
	owed := checkOwed(t, a, b)

	paid := 0
	for _, o := range b.orders {
		if o.acked {
			paid++
		}
	}
	t.Logf("%d kill -9 cycles in %v: %d orders placed (201), %d paid, %d notifies answered success "+
		"(%d resent after the last crash, %d second payments, %d owed back), %d requests cut off by a kill; %d orders delivered, %d refund_due, "+
		"%d keys delivered, %d reserved, %d available of %d; out of stock: %v",
		done, time.Since(start).Round(time.Millisecond), b.placed, paid, b.successes, resent, b.extras, owed, b.cut,
		sum.delivered, sum.refundDue, deliveredKeys, reserved, avail, len(keys), b.outOfStock)
}

// crashWorker is one client until ctx ends: it places orders, pays them
// with signed notifies (some sent twice or three times at once, the money
// sometimes in its short form), repeats notifies already answered, and
// now and then pays an order a second time. Transport errors are the
// crash doing its work and are ignored; every answer is checked.
func crashWorker(ctx context.Context, rng *mrand.Rand, hc *http.Client, base string, b *crashBook) {
	for ctx.Err() == nil {
		b.mu.Lock()
		oos := b.outOfStock
		var unpaid, paid []*crashOrder
		for _, o := range b.orders {
			switch {
			case o.acked:
				paid = append(paid, o)
			case !o.abandoned:
				unpaid = append(unpaid, o)
			}
		}
		b.mu.Unlock()
		r := rng.Float64()
		switch {
		case !oos && (r < 0.4 || len(unpaid)+len(paid) == 0):
			placeCrashOrder(hc, base, rng, b)
		case len(unpaid) > 0 && (r < 0.85 || len(paid) == 0):
			o := unpaid[rng.IntN(len(unpaid))]
			n := 1
			if rng.IntN(4) == 0 {
				n = 3 // the gateway's retries can overlap
			}
			var wg sync.WaitGroup
			for range n {
				short := rng.IntN(3) == 0
				post := rng.IntN(2) == 0
				wg.Go(func() { payCrashOrder(hc, base, o, o.trade, short, post, b) })
			}
			wg.Wait()
		case len(paid) > 0:
			o, trade := paid[rng.IntN(len(paid))], ""
			if rng.IntN(8) == 0 {
				trade = b.newTrade() // a second payment, owed back
			} else {
				trade = o.trade // a repeat
			}
			payCrashOrder(hc, base, o, trade, rng.IntN(3) == 0, rng.IntN(2) == 0, b)
		default:
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func placeCrashOrder(hc *http.Client, base string, rng *mrand.Rand, b *crashBook) {
	qty := 1 + rng.IntN(crashMaxQty)
	resp, err := hc.Post(base+"/api/v1/orders", "application/json",
		strings.NewReader(fmt.Sprintf(`{"product":"crash-card","quantity":%d}`, qty)))
	if err != nil {
		b.interrupted()
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.interrupted()
		return
	}
	switch resp.StatusCode {
	case http.StatusCreated:
		var oc struct {
			Token, Ref, Status, Currency string
			AmountMinor                  int64 `json:"amount_minor"`
		}
		if err := json.Unmarshal(body, &oc); err != nil || oc.Token == "" || oc.AmountMinor != int64(qty)*crashPrice ||
			oc.Status != "pending_payment" || oc.Currency != "CNY" {
			b.errorf("POST /api/v1/orders: 201 %s", body)
			return
		}
		o := &crashOrder{token: oc.Token, ref: oc.Ref, qty: qty, amount: oc.AmountMinor, abandoned: rng.IntN(10) == 0}
		o.trade = b.newTrade()
		b.mu.Lock()
		b.orders = append(b.orders, o)
		b.placed++
		b.mu.Unlock()
	case http.StatusConflict:
		if !strings.Contains(string(body), `"out_of_stock"`) {
			b.errorf("POST /api/v1/orders: 409 %s", body)
			return
		}
		b.mu.Lock()
		b.outOfStock = true
		b.mu.Unlock()
	case http.StatusPreconditionRequired:
		// The hoarding guard: abandoned and cut-off orders hold over half
		// the stock unpaid. A valid answer; this client does not pay work.
		if !strings.Contains(string(body), `"pow_required"`) || !strings.Contains(string(body), `"challenge"`) {
			b.errorf("POST /api/v1/orders: 428 %s", body)
		}
	default:
		if !b.refusedForSpace(resp.StatusCode, string(body)) {
			b.errorf("POST /api/v1/orders: %d %s", resp.StatusCode, body)
		}
	}
}

// payCrashOrder sends one notify for o under trade. Its own trade pays the
// order; any other trade is a second payment, owed back.
func payCrashOrder(hc *http.Client, base string, o *crashOrder, trade string, short, post bool, b *crashBook) {
	money := yuan(o.amount)
	if short {
		money = strings.TrimSuffix(money, "0")
	}
	b.mu.Lock()
	if trade == o.trade {
		o.tried = true
	} else {
		b.seconds[trade] = o.ref
	}
	b.mu.Unlock()
	got, err := sendNotify(hc, base, o.ref, trade, money, post)
	if err != nil {
		b.interrupted()
		return
	}
	if got != "success" {
		if !b.refusedForSpace(http.StatusServiceUnavailable, strings.TrimPrefix(got, "HTTP 503: ")) || !strings.HasPrefix(got, "HTTP 503: ") {
			b.errorf("notify %s for %s (money %s): answered %q", trade, o.ref, money, got)
		}
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.successes++
	if trade == o.trade {
		o.acked = true
	} else {
		b.extras++
		b.secondsOK[trade] = true
	}
}

// checkOwed compares the payments the store records as owed back with the
// second payments the clients sent: every one answered "success" is owed,
// on its own order; one cut off by a kill may be; nothing else is (an
// order's own payment applied twice would show up here). It returns how
// many are owed.
func checkOwed(t *testing.T, a *app, b *crashBook) int {
	t.Helper()
	owed, err := a.shop.OwedPayments()
	if err != nil {
		t.Fatal(err)
	}
	own := map[string]string{}
	for _, o := range b.orders {
		own[o.trade] = o.ref
	}
	got := map[string]bool{}
	for _, r := range owed {
		tr := r.Payment.TradeNo
		switch ref, second := b.seconds[tr]; {
		case own[tr] != "":
			t.Errorf("%s: its own payment %s is owed back (%s): a repeat was applied again", r.Ref, tr, r.Reason)
		case !second:
			t.Errorf("%s: payment %s owed back was never sent", r.Ref, tr)
		case ref != r.Ref:
			t.Errorf("second payment %s for %s is owed on %s", tr, ref, r.Ref)
		case got[tr]:
			t.Errorf("second payment %s owed twice", tr)
		}
		got[tr] = true
	}
	for tr := range b.secondsOK {
		if !got[tr] {
			t.Errorf("second payment %s for %s answered success but is not owed back", tr, b.seconds[tr])
		}
	}
	return len(owed)
}

// sendNotify sends a signed 易支付 notify as the gateway would, in the
// query string or as a form body, and returns the answer's body.
func sendNotify(hc *http.Client, base, ref, trade, money string, post bool) (string, error) {
	p := map[string]string{
		"pid": crashPID, "trade_no": trade, "out_trade_no": ref, "type": "alipay",
		"name": ref, "money": money, "trade_status": "TRADE_SUCCESS",
	}
	q := url.Values{}
	for k, v := range p {
		q.Set(k, v)
	}
	q.Set("sign", epaySign(p, crashKey))
	q.Set("sign_type", "MD5")
	var (
		resp *http.Response
		err  error
	)
	if post {
		resp, err = hc.Post(base+"/pay/epay/notify", "application/x-www-form-urlencoded", strings.NewReader(q.Encode()))
	} else {
		resp, err = hc.Get(base + "/pay/epay/notify?" + q.Encode())
	}
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("HTTP %d: %s", resp.StatusCode, body), nil
	}
	return string(body), nil
}

// orderSummary counts what checkOrders found.
type orderSummary struct {
	delivered, refundDue int // orders
	keys                 int // keys the delivered orders' tokens open
	pendingKeys          int // keys pending orders hold
}

// checkOrders opens every order with its token through the API.
func checkOrders(t *testing.T, hc *http.Client, base string, orders []*crashOrder, imported map[string]bool) orderSummary {
	t.Helper()
	var sum orderSummary
	owner := map[string]string{}
	for _, o := range orders {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/order", nil)
		req.Header.Set("Authorization", "Bearer "+o.token)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("GET /api/v1/order: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s (answered 201 before a crash): %d %s", o.ref, resp.StatusCode, body)
			continue
		}
		var v struct {
			Ref, Status string
			Quantity    int
			Items       []struct{ ID, Key string }
		}
		if err := json.Unmarshal(body, &v); err != nil || v.Ref != o.ref || v.Quantity != o.qty {
			t.Errorf("%s: %v %s", o.ref, err, body)
			continue
		}
		switch {
		case v.Status == "delivered" || v.Status == "settled": // no after-sales window: settled at once
			if len(v.Items) != o.qty {
				t.Errorf("%s: delivered with %d keys, bought %d", o.ref, len(v.Items), o.qty)
			}
			for _, it := range v.Items {
				if !imported[it.Key] {
					t.Errorf("%s: delivered key %q was never imported", o.ref, it.Key)
				}
				if prev, ok := owner[it.Key]; ok {
					t.Errorf("key %s… is in both %s and %s", it.Key[:12], prev, o.ref)
				}
				owner[it.Key] = o.ref
				sum.keys++
			}
			sum.delivered++
			if !o.acked {
				t.Errorf("%s: delivered without a payment", o.ref)
			}
		case v.Status == "refund_due" && o.acked:
			sum.refundDue++
		case o.acked:
			t.Errorf("%s: payment answered success, order is %s", o.ref, v.Status)
		case v.Status == "pending_payment" || v.Status == "expired":
			if len(v.Items) != 0 {
				t.Errorf("%s: %s shows %d keys", o.ref, v.Status, len(v.Items))
			}
			if v.Status == "pending_payment" {
				sum.pendingKeys += o.qty
			}
		default:
			t.Errorf("%s: never paid, order is %s", o.ref, v.Status)
		}
	}
	return sum
}
