package pay

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/boombuler/barcode/qr"

	"veil/server/shop"
)

func TestXMRRateAtomic(t *testing.T) {
	for _, tc := range []struct {
		rate   int64
		amount int64
		want   uint64
		ok     bool
	}{
		{120000, 120000, AtomicPerXMR, true}, // 1200.00 CNY at 1200.00/XMR: 1 XMR
		{120000, 990, 8250000000, true},      // 9.90 / 1200.00 = 0.00825 XMR exactly
		{300000, 1, 3333334, true},           // 1e12/300000 = 3333333.33… rounds up
		{300000, 300000, AtomicPerXMR, true}, // exact, no rounding
		{1, 18_446_744, 18_446_744 * AtomicPerXMR, true},
		{1, 18_446_745, 0, false}, // beyond 2^64 piconero
		{0, 990, 0, false},
		{-5, 990, 0, false},
		{120000, 0, 0, false},
		{120000, -1, 0, false},
	} {
		got, err := XMRRate{"CNY", tc.rate}.Atomic(tc.amount)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("rate %d amount %d: %d, %v; want %d ok=%v", tc.rate, tc.amount, got, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrRate) {
			t.Errorf("error %v does not wrap ErrRate", err)
		}
	}
	// Against big integers: the least piconero amount whose value at the
	// rate is at least the price.
	r := rand.New(rand.NewPCG(3, 4))
	scale := big.NewInt(AtomicPerXMR)
	for range 20000 {
		rate := 1 + r.Int64N(1e9)
		amount := 1 + r.Int64N(1e10)
		got, err := XMRRate{"CNY", rate}.Atomic(amount)
		need := new(big.Int).Mul(big.NewInt(amount), scale)
		q, m := new(big.Int).QuoRem(need, big.NewInt(rate), new(big.Int))
		if m.Sign() != 0 {
			q.Add(q, big.NewInt(1))
		}
		if !q.IsUint64() {
			if err == nil {
				t.Fatalf("rate %d amount %d: no overflow error", rate, amount)
			}
			continue
		}
		if err != nil || got != q.Uint64() {
			t.Fatalf("rate %d amount %d: %d %v, want %s", rate, amount, got, err, q)
		}
	}
}

func TestXMRRateMinor(t *testing.T) {
	r := XMRRate{"CNY", 120000}
	for atomic, want := range map[uint64]int64{
		AtomicPerXMR: 120000, 8_250_000_000: 990, 8_249_999_999: 989, 0: 0, 1: 0, ^uint64(0): 2213609288845,
	} {
		if got := r.Minor(atomic); got != want {
			t.Errorf("Minor(%d) = %d, want %d", atomic, got, want)
		}
	}
	// Atomic then Minor gives the price back: rounding up never loses a
	// minor unit, and never adds one.
	for amount := int64(1); amount < 50000; amount += 7 {
		for _, rate := range []int64{1, 3, 120000, 123457, 99999999} {
			a, err := XMRRate{"CNY", rate}.Atomic(amount)
			if err != nil {
				t.Fatal(err)
			}
			if back := (XMRRate{"CNY", rate}).Minor(a); back != amount {
				t.Fatalf("rate %d amount %d: %d piconero worth %d", rate, amount, a, back)
			}
		}
	}
	if (XMRRate{"CNY", 0}).Minor(AtomicPerXMR) != 0 || (XMRRate{"CNY", 1 << 62}).Minor(^uint64(0)) != 1<<63-1 {
		t.Error("edge rates")
	}
}

func TestFormatParseXMR(t *testing.T) {
	for atomic, want := range map[uint64]string{
		0: "0", 1: "0.000000000001", AtomicPerXMR: "1", 1_500_000_000_000: "1.5", 8_250_000_000: "0.00825",
		1_234_567_890_123: "1.234567890123", 18_446_744_073_709_551_615: "18446744.073709551615",
	} {
		if got := FormatXMR(atomic); got != want {
			t.Errorf("FormatXMR(%d) = %q, want %q", atomic, got, want)
		}
		if back, err := ParseXMR(want); err != nil || back != atomic {
			t.Errorf("ParseXMR(%q) = %d, %v", want, back, err)
		}
	}
	for _, bad := range []string{"", "1.", ".5", "-1", "1e3", "01", "1.0000000000001", "18446745", "1,5", " 1"} {
		if v, err := ParseXMR(bad); err == nil {
			t.Errorf("ParseXMR(%q) = %d", bad, v)
		}
	}
}

const testSubaddr = "84Cq3yi7BjT6ijmM4xvHpqcCPe2SQNvGtdgxCTBL3jv8CQ87rUKk3SEenFrv8bLNHVK9WcChbYuTCWqGVoX3JoDyRtsw9vC"

func TestMoneroURI(t *testing.T) {
	if got, want := MoneroURI(testSubaddr, 8_250_000_000, ""), "monero:"+testSubaddr+"?tx_amount=0.00825"; got != want {
		t.Errorf("%s, want %s", got, want)
	}
	if got, want := MoneroURI(testSubaddr, AtomicPerXMR, "R-ABCD2345 & co"), "monero:"+testSubaddr+"?tx_amount=1&tx_description=R-ABCD2345+%26+co"; got != want {
		t.Errorf("%s, want %s", got, want)
	}
	if !isMoneroAddress(testSubaddr) || isMoneroAddress(testSubaddr[1:]) || isMoneroAddress("0"+testSubaddr[1:]) {
		t.Error("address form check")
	}
}

func TestParseRPCLogin(t *testing.T) {
	for in, want := range map[string][2]string{
		"veil:s3cret\n": {"veil", "s3cret"}, "veil:a:b": {"veil", "a:b"}, "u:p\r\n": {"u", "p"},
	} {
		u, p, err := ParseRPCLogin([]byte(in))
		if err != nil || u != want[0] || p != want[1] {
			t.Errorf("%q: %q %q %v", in, u, p, err)
		}
	}
	for _, bad := range []string{"", "veil", ":pw", "veil:", "a:b\nc:d", "\n"} {
		if _, _, err := ParseRPCLogin([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func tr(tx string, minor uint32, amount, conf uint64) Transfer {
	t := Transfer{TxID: tx, Amount: amount, Confirmations: conf}
	if conf > 0 {
		t.Height = 100 - conf + 1
	} else {
		t.InPool = true
	}
	t.SubaddrIndex.Minor = minor
	return t
}

func TestTallyTransfers(t *testing.T) {
	locked := tr("tL", 1, 500, 20)
	locked.UnlockTime = 10_000_000
	ds := tr("tD", 1, 500, 0)
	ds.DoubleSpendSeen = true
	other := tr("tM", 1, 500, 20)
	other.SubaddrIndex.Major = 1
	want := map[uint32]uint64{1: 1000, 2: 1000, 3: 1000, 4: 1000, 5: 1000}
	ts := []Transfer{
		tr("a", 1, 1000, 10),                     // 1: exact
		tr("b", 2, 600, 12), tr("c", 2, 300, 10), // 2: 900 under …
		tr("d", 2, 100, 9),                      // … plus 100 too fresh
		tr("e", 3, 1000, 10), tr("f", 3, 1, 11), // 3: over by 1
		tr("g", 4, 1000, 0),                     // 4: only in the pool
		tr("h", 5, 700, 15), tr("h", 5, 700, 0), // 5: the same tx listed twice
		tr("z", 9, 5000, 50), // not ours to ask about
		locked, ds, other,
	}
	got := TallyTransfers(ts, want, 10)
	check := func(idx uint32, class PaidClass, confirmed, pending, lockedSum uint64, txids string) {
		t.Helper()
		g := got[idx]
		if g.Class != class || g.Confirmed != confirmed || g.Pending != pending || g.Locked != lockedSum || strings.Join(g.TxIDs, ",") != txids || g.Want != 1000 || g.Index != idx {
			t.Errorf("subaddress %d: %+v", idx, g)
		}
	}
	check(1, PaidExact, 1000, 0, 500, "a")
	check(2, Underpaid, 900, 100, 0, "b,c")
	check(3, Overpaid, 1001, 0, 0, "e,f")
	check(4, Unpaid, 0, 1000, 0, "")
	check(5, Underpaid, 700, 0, 0, "h")
	if len(got) != 5 {
		t.Errorf("tallies for %d subaddresses", len(got))
	}
	if got[3].Excess() != 1 || got[1].Excess() != 0 || got[2].Excess() != 0 {
		t.Error("excess")
	}
	if got[2].MinHeight != 89 || got[2].MaxHeight != 91 {
		t.Errorf("heights %d..%d", got[2].MinHeight, got[2].MaxHeight)
	}
	// 0-conf: the pool counts, except a double spend.
	zero := TallyTransfers([]Transfer{tr("g", 4, 1000, 0), ds}, want, 0)
	if zero[4].Class != PaidExact || zero[1].Class != Unpaid || zero[1].Pending != 0 {
		t.Errorf("0-conf: %+v %+v", zero[4], zero[1])
	}
	// A forged answer cannot wrap the sum around.
	huge := TallyTransfers([]Transfer{tr("x", 1, ^uint64(0), 10), tr("y", 1, 2, 10)}, want, 10)
	if huge[1].Confirmed != ^uint64(0) || huge[1].Class != Overpaid {
		t.Errorf("overflow: %+v", huge[1])
	}
}

// fakeWallet is the far side of monero-wallet-rpc over HTTP, with the
// server side of digest authentication written independently of the
// client (MD5-sess offered first, as epee does, and MD5).
type fakeWallet struct {
	srv        *httptest.Server
	user, pass string
	mu         sync.Mutex
	nonce      string
	lastNC     int64
	nonces     int
	unauth     int
	handle     func(method string, params map[string]any) (any, *RPCError)
	staleAfter int // answer stale=true once after this many authorised calls (0: never)
	authed     int
}

func newFakeWallet(t *testing.T, user, pass string) *fakeWallet {
	f := &fakeWallet{user: user, pass: pass}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func md5hex(s string) string { s2 := md5.Sum([]byte(s)); return hex.EncodeToString(s2[:]) }

func (f *fakeWallet) challenge(w http.ResponseWriter, stale bool) {
	f.nonces++
	f.nonce = fmt.Sprintf("nonce%d==", f.nonces)
	f.lastNC = 0
	w.Header().Add("WWW-Authenticate", fmt.Sprintf(`Digest qop="auth",algorithm=MD5-sess,realm="monero-rpc",nonce="%s",stale=%v`, f.nonce, stale))
	w.Header().Add("WWW-Authenticate", fmt.Sprintf(`Digest qop="auth",algorithm=MD5,realm="monero-rpc",nonce="%s",stale=%v`, f.nonce, stale))
	f.unauth++
	http.Error(w, "401 Unauthorized", http.StatusUnauthorized)
}

var authParam = regexp.MustCompile(`(\w+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]+))`)

func (f *fakeWallet) authorised(r *http.Request) (ok, stale bool) {
	h := r.Header.Get("Authorization")
	if !strings.HasPrefix(h, "Digest ") {
		return false, false
	}
	p := map[string]string{}
	for _, m := range authParam.FindAllStringSubmatch(h, -1) {
		p[m[1]] = m[2] + m[3]
	}
	if p["username"] != f.user || p["realm"] != "monero-rpc" || p["uri"] != r.URL.RequestURI() || p["qop"] != "auth" {
		return false, false
	}
	if p["nonce"] != f.nonce {
		return false, true
	}
	nc, err := strconv.ParseInt(p["nc"], 16, 64)
	if err != nil {
		return false, false
	}
	if nc <= f.lastNC {
		return false, true // out of order: epee answers stale, with a new nonce
	}
	ha1 := md5hex(f.user + ":monero-rpc:" + f.pass)
	switch p["algorithm"] {
	case "MD5-sess":
		ha1 = md5hex(ha1 + ":" + p["nonce"] + ":" + p["cnonce"])
	case "MD5":
	default:
		return false, false
	}
	want := md5hex(ha1 + ":" + p["nonce"] + ":" + p["nc"] + ":" + p["cnonce"] + ":auth:" + md5hex(r.Method+":"+r.URL.RequestURI()))
	if p["response"] != want {
		return false, false
	}
	f.lastNC = nc
	return true, false
}

func (f *fakeWallet) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	if f.user != "" {
		ok, stale := f.authorised(r)
		if ok && f.staleAfter > 0 && f.authed == f.staleAfter {
			f.staleAfter = 0
			ok, stale = false, true
		}
		if !ok {
			f.challenge(w, stale)
			f.mu.Unlock()
			return
		}
		f.authed++
	}
	f.mu.Unlock()
	if r.URL.Path != "/json_rpc" {
		http.NotFound(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var req struct {
		JSONRPC string         `json:"jsonrpc"`
		ID      string         `json:"id"`
		Method  string         `json:"method"`
		Params  map[string]any `json:"params"`
	}
	if json.Unmarshal(body, &req) != nil || req.JSONRPC != "2.0" {
		http.Error(w, "bad", 400)
		return
	}
	res, rerr := f.handle(req.Method, req.Params)
	if rerr != nil {
		json.NewEncoder(w).Encode(map[string]any{"id": req.ID, "jsonrpc": "2.0", "error": map[string]any{"code": rerr.Code, "message": rerr.Message}})
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"id": req.ID, "jsonrpc": "2.0", "result": res})
}

// walletRPC answers the three methods the provider uses.
func walletRPC(t *testing.T, transfers string) func(string, map[string]any) (any, *RPCError) {
	next := uint32(0)
	return func(method string, params map[string]any) (any, *RPCError) {
		switch method {
		case "create_address":
			if params["account_index"] != 0.0 || params["label"] == "" {
				return nil, &RPCError{Code: -1, Message: "bad params"}
			}
			next++
			return map[string]any{"address": testSubaddr, "address_index": next, "address_indices": []uint32{next}}, nil
		case "get_height":
			return map[string]any{"height": 120}, nil
		case "get_transfers":
			if params["in"] != true || params["pool"] != true || params["account_index"] != 0.0 {
				return nil, &RPCError{Code: -1, Message: "bad params"}
			}
			return json.RawMessage(transfers), nil
		}
		return nil, &RPCError{Code: -32601, Message: "Method not found"}
	}
}

const fakeTransfers = `{"in":[
 {"address":"x","amount":8250000000,"confirmations":10,"height":110,"txid":"aa","subaddr_index":{"major":0,"minor":1},"unlock_time":0,"double_spend_seen":false,"type":"in"},
 {"address":"x","amount":1000,"confirmations":3,"height":117,"txid":"bb","subaddr_index":{"major":0,"minor":2},"unlock_time":0,"type":"in"}],
 "pool":[{"address":"x","amount":5,"confirmations":0,"height":0,"txid":"cc","subaddr_index":{"major":0,"minor":2},"unlock_time":0,"type":"pool"}]}`

func TestMoneroWalletOverHTTP(t *testing.T) {
	f := newFakeWallet(t, "veil", "s3cret:with:colons")
	f.handle = walletRPC(t, fakeTransfers)
	w, err := NewMoneroWallet(MoneroWalletConfig{URL: f.srv.URL, Username: "veil", Password: "s3cret:with:colons"})
	if err != nil {
		t.Fatal(err)
	}
	m := NewMonero(w, 10)
	ctx := context.Background()
	inv, err := m.Create(ctx, shop.Order{Ref: "R-ABCD2345", AmountMinor: 990, Currency: "CNY"}, XMRRate{"CNY", 120000})
	if err != nil {
		t.Fatal(err)
	}
	want := MoneroInvoice{Index: 1, Address: testSubaddr, Atomic: 8250000000, XMR: "0.00825", URI: "monero:" + testSubaddr + "?tx_amount=0.00825"}
	if inv != want {
		t.Fatalf("invoice %+v", inv)
	}
	// The first call met the challenge; later ones authenticate at once.
	for range 3 {
		if h, err := w.Height(ctx); err != nil || h != 120 {
			t.Fatalf("height %d %v", h, err)
		}
	}
	if f.unauth != 1 || f.nonces != 1 {
		t.Fatalf("%d unauthorised answers, %d nonces: the challenge was not reused", f.unauth, f.nonces)
	}
	// A stale nonce is renewed and the call still succeeds.
	f.mu.Lock()
	f.staleAfter = f.authed
	f.mu.Unlock()
	height, tallies, err := w.Scan(ctx, map[uint32]uint64{1: 8250000000, 2: 2000}, m.Confirmations())
	if err != nil {
		t.Fatal(err)
	}
	if f.nonces != 2 {
		t.Fatalf("%d nonces after a stale one", f.nonces)
	}
	if height != 120 || tallies[1].Class != PaidExact || tallies[1].MaxHeight != 110 || tallies[2].Class != Unpaid || tallies[2].Pending != 1005 {
		t.Fatalf("scan %d %+v", height, tallies)
	}
	// The rate is for another currency.
	if _, err := m.Create(ctx, shop.Order{Ref: "R-ABCD2345", AmountMinor: 990, Currency: "USD"}, XMRRate{"CNY", 120000}); !errors.Is(err, ErrCurrency) {
		t.Fatalf("USD order: %v", err)
	}
	if _, err := m.Create(ctx, shop.Order{Ref: "R-ABCD2345", AmountMinor: 990, Currency: "CNY"}, XMRRate{"CNY", 0}); !errors.Is(err, ErrRate) {
		t.Fatalf("no rate: %v", err)
	}
}

// TestMoneroWalletConcurrentCalls: calls made at once all succeed against
// a server that, like epee, answers an out-of-order nc as stale with a new
// nonce (which would make the other calls in flight stale in turn).
func TestMoneroWalletConcurrentCalls(t *testing.T) {
	f := newFakeWallet(t, "veil", "s3cret")
	f.handle = walletRPC(t, fakeTransfers)
	w, _ := NewMoneroWallet(MoneroWalletConfig{URL: f.srv.URL, Username: "veil", Password: "s3cret"})
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for range 40 {
		wg.Go(func() {
			if _, err := w.Height(context.Background()); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if f.nonces != 1 {
		t.Errorf("%d nonces for 40 calls", f.nonces)
	}
	// A caller whose deadline passes while waiting its turn gives up.
	w.serial <- struct{}{}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var ge *GatewayError
	if _, err := w.Height(ctx); !errors.As(err, &ge) || ge.Reason != "timed out" {
		t.Fatalf("waiting past the deadline: %v", err)
	}
	<-w.serial
}

func TestMoneroWalletFailures(t *testing.T) {
	ctx := context.Background()
	gateway := func(t *testing.T, err error, reason string) {
		t.Helper()
		var ge *GatewayError
		if !errors.As(err, &ge) || !errors.Is(err, ErrGateway) || ge.Reason != reason {
			t.Fatalf("got %v, want a gateway error %q", err, reason)
		}
		if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "wrong-pass") {
			t.Fatalf("error %q holds the password", err)
		}
	}
	t.Run("wrong password", func(t *testing.T) {
		f := newFakeWallet(t, "veil", "s3cret")
		f.handle = walletRPC(t, fakeTransfers)
		w, _ := NewMoneroWallet(MoneroWalletConfig{URL: f.srv.URL, Username: "veil", Password: "wrong-pass"})
		_, err := w.Height(ctx)
		gateway(t, err, "login refused")
		if f.unauth > 3 {
			t.Fatalf("%d attempts", f.unauth)
		}
	})
	t.Run("no login given", func(t *testing.T) {
		f := newFakeWallet(t, "veil", "s3cret")
		f.handle = walletRPC(t, fakeTransfers)
		w, _ := NewMoneroWallet(MoneroWalletConfig{URL: f.srv.URL})
		_, err := w.Height(ctx)
		gateway(t, err, "login refused")
	})
	t.Run("error answer", func(t *testing.T) {
		f := newFakeWallet(t, "", "")
		f.handle = func(string, map[string]any) (any, *RPCError) {
			return nil, &RPCError{Code: -13, Message: "No wallet file"}
		}
		w, _ := NewMoneroWallet(MoneroWalletConfig{URL: f.srv.URL})
		_, err := w.CreateAddress(ctx, "R-ABCD2345")
		gateway(t, err, "error answer")
		var re *RPCError
		if !errors.As(err, &re) || re.Code != -13 || re.Method != "create_address" {
			t.Fatalf("rpc error %+v", re)
		}
	})
	t.Run("malformed address", func(t *testing.T) {
		f := newFakeWallet(t, "", "")
		f.handle = func(string, map[string]any) (any, *RPCError) {
			return map[string]any{"address": "javascript:alert(1)", "address_index": 3}, nil
		}
		w, _ := NewMoneroWallet(MoneroWalletConfig{URL: f.srv.URL})
		_, err := w.CreateAddress(ctx, "R-ABCD2345")
		gateway(t, err, "malformed address")
	})
	t.Run("negative amount", func(t *testing.T) {
		f := newFakeWallet(t, "", "")
		f.handle = walletRPC(t, `{"in":[{"amount":-5,"txid":"aa"}]}`)
		w, _ := NewMoneroWallet(MoneroWalletConfig{URL: f.srv.URL})
		_, err := w.Transfers(ctx, []uint32{1})
		gateway(t, err, "malformed result")
	})
	t.Run("not JSON", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "<html>") }))
		defer srv.Close()
		w, _ := NewMoneroWallet(MoneroWalletConfig{URL: srv.URL})
		_, err := w.Height(ctx)
		gateway(t, err, "answer is not JSON-RPC")
	})
	t.Run("unreachable", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		u := srv.URL
		srv.Close()
		w, _ := NewMoneroWallet(MoneroWalletConfig{URL: u})
		_, err := w.Height(ctx)
		gateway(t, err, "unreachable")
	})
	t.Run("no indices", func(t *testing.T) {
		w, _ := NewMoneroWallet(MoneroWalletConfig{URL: "http://127.0.0.1:1"})
		if _, err := w.Transfers(ctx, nil); err == nil {
			t.Fatal("asked about every subaddress")
		}
	})
	for name, c := range map[string]MoneroWalletConfig{
		"no URL":            {},
		"URL with password": {URL: "http://u:p@127.0.0.1:1"},
		"password, no user": {URL: "http://127.0.0.1:1", Password: "x"},
	} {
		if _, err := NewMoneroWallet(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestQRSVG reads the rects back into a module grid and compares it with
// the QR matrix, module by module, quiet zone included.
func TestQRSVG(t *testing.T) {
	content := "monero:" + testSubaddr + "?tx_amount=0.00825"
	svg, err := QRSVG(content)
	if err != nil {
		t.Fatal(err)
	}
	code, err := qr.Encode(content, qr.M, qr.Auto)
	if err != nil {
		t.Fatal(err)
	}
	n := code.Bounds().Dx()
	size := n + 8
	head := fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" class="qr" viewBox="0 0 %d %d" shape-rendering="crispEdges"><rect width="%d" height="%d" fill="#fff"/>`, size, size, size, size)
	if !strings.HasPrefix(svg, head) || !strings.HasSuffix(svg, "</svg>") {
		t.Fatalf("svg frame: %.200s", svg)
	}
	grid := make([][]bool, size)
	for i := range grid {
		grid[i] = make([]bool, size)
	}
	rects := regexp.MustCompile(`<rect x="(\d+)" y="(\d+)" width="(\d+)" height="1" fill="#000"/>`)
	body := strings.TrimSuffix(strings.TrimPrefix(svg, head), "</svg>")
	if rest := rects.ReplaceAllString(body, ""); rest != "" {
		t.Fatalf("unexpected markup: %.100s", rest)
	}
	for _, m := range rects.FindAllStringSubmatch(body, -1) {
		x, _ := strconv.Atoi(m[1])
		y, _ := strconv.Atoi(m[2])
		wd, _ := strconv.Atoi(m[3])
		for i := x; i < x+wd; i++ {
			if grid[y][i] {
				t.Fatalf("module %d,%d drawn twice", i, y)
			}
			grid[y][i] = true
		}
	}
	for y := range size {
		for x := range size {
			want := false
			if x >= 4 && y >= 4 && x < n+4 && y < n+4 {
				r, _, _, _ := code.At(x-4, y-4).RGBA()
				want = r < 0x8000
			}
			if grid[y][x] != want {
				t.Fatalf("module %d,%d: %v, want %v", x, y, grid[y][x], want)
			}
		}
	}
	other, _ := QRSVG(content + "1")
	if other == svg {
		t.Fatal("two contents, one picture")
	}
}
