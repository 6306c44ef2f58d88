package pay

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"veil/server/shop"
)

const testUSDTToken = "tok-of-the-gateway-0123"

// TestEpusdtSignKnownAnswer pins EpusdtSign to vectors computed outside Go
// (md5sum over the text the protocol describes): the gateway's own
// documented example, a create-transaction and a notify.
func TestEpusdtSignKnownAnswer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		fields map[string]string
		token  string
		want   string
	}{
		{"epusdt wiki example", map[string]string{
			"order_id": "20220201030210321", "amount": "42", "notify_url": "http://example.com/notify",
			"redirect_url": "http://example.com/redirect", "signature": "ignored",
		}, "epusdt_password_xasddawqe", "1cd4b52df5587cfb1968b0c0c6e156cd"},
		{"create-transaction", map[string]string{
			"order_id": "R-ABCD2345", "amount": "9.9", "notify_url": "https://shop.example/pay/epusdt/notify",
			"redirect_url": "https://shop.example/pay/epusdt/return",
		}, testUSDTToken, "c7db38bdfcdcfe96a9d1ba947a60cd97"},
		{"notify, empty field left out", map[string]string{
			"trade_id": "202203251648208648961728", "order_id": "R-ABCD2345", "amount": "9.9",
			"actual_amount": "1.3745", "token": "TNEns8t9jbWENbStkQdVQtHMGpbsYsQjZK",
			"block_transaction_id": "0xabc123", "status": "2", "signature": "", "extra": "",
		}, testUSDTToken, "2bbd56d83e82790359da5901697435bb"},
	} {
		if got := EpusdtSign(tc.fields, tc.token); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

// TestEpusdtAmount: fen to the JSON number the gateway reads, without a
// float, and exactly what the gateway's FormatFloat prints back.
func TestEpusdtAmount(t *testing.T) {
	for fen, want := range map[int64]string{
		990: "9.9", 999: "9.99", 900: "9", 1: "0.01", 10: "0.1", 100: "1", 1005: "10.05", 12345678: "123456.78",
		99999999999999: "999999999999.99",
	} {
		if got := EpusdtAmount(fen); got != want {
			t.Errorf("EpusdtAmount(%d) = %q, want %q", fen, got, want)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	check := func(fen int64) {
		s := EpusdtAmount(fen)
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || strconv.FormatFloat(f, 'f', -1, 64) != s {
			t.Fatalf("fen %d: %q reads back as %v", fen, s, strconv.FormatFloat(f, 'f', -1, 64))
		}
		if back, err := parseDecimal(s, 2); err != nil || back != fen {
			t.Fatalf("fen %d: %q parses back as %d %v", fen, s, back, err)
		}
	}
	for fen := int64(1); fen <= 100000; fen++ {
		check(fen)
	}
	for range 100000 {
		check(1 + r.Int64N(999999999999999))
	}
}

func TestParseDecimal(t *testing.T) {
	for _, tc := range []struct {
		in     string
		places int
		want   int64
		ok     bool
	}{
		{"9.9", 2, 990, true}, {"9.90", 2, 990, true}, {"9.9000", 2, 990, true}, {"10", 2, 1000, true},
		{"0.01", 2, 1, true}, {"7.9104", 6, 7910400, true}, {"15.625", 6, 15625000, true},
		{"9.999", 2, 0, false}, {"9.", 2, 0, false}, {".9", 2, 0, false}, {"-9.9", 2, 0, false},
		{"9.9e0", 2, 0, false}, {"1E2", 2, 0, false}, {"09.9", 2, 0, false}, {"", 2, 0, false},
		{"+1", 2, 0, false}, {"1234567890123456", 2, 0, false}, {"0.0000001", 6, 0, false},
	} {
		got, err := parseDecimal(tc.in, tc.places)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseDecimal(%q, %d) = %d, %v; want %d ok=%v", tc.in, tc.places, got, err, tc.want, tc.ok)
		}
	}
}

// gatewaySign is the gateway's side, written independently of
// EpusdtSign: decode the JSON into map[string]any as the gateway does
// (numbers become float64), print each value, sort the "k=v" pairs, MD5.
func gatewaySign(t testing.TB, m map[string]any, token string) string {
	t.Helper()
	var pairs []string
	for k, v := range m {
		if k == "signature" || v == nil {
			continue
		}
		var s string
		switch v := v.(type) {
		case float64:
			s = strconv.FormatFloat(v, 'f', -1, 64)
		case string:
			s = v
		default:
			t.Fatalf("gateway cannot sign %T", v)
		}
		if s != "" {
			pairs = append(pairs, k+"="+s)
		}
	}
	sort.Strings(pairs)
	sum := md5.Sum([]byte(strings.Join(pairs, "&") + token))
	return hex.EncodeToString(sum[:])
}

// fakeGateway is the far side of create-transaction over real HTTP. It
// checks the request the way the gateway does (JSON, signature, amount)
// and answers with answer(order_id, amount).
type fakeGateway struct {
	srv    *httptest.Server
	calls  atomic.Int32
	answer func(w http.ResponseWriter, orderID string, amount float64)
	last   atomic.Value // map[string]any: the last request body
}

func newFakeGateway(t *testing.T) *fakeGateway {
	g := &fakeGateway{}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.calls.Add(1)
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/order/create-transaction" || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "wrong route", http.StatusNotFound)
			return
		}
		body, _ := io.ReadAll(r.Body)
		m := map[string]any{}
		if err := json.Unmarshal(body, &m); err != nil {
			fmt.Fprint(w, `{"status_code":10009,"message":"无法解析请求参数"}`)
			return
		}
		g.last.Store(m)
		if m["signature"] != gatewaySign(t, m, testUSDTToken) {
			fmt.Fprint(w, `{"status_code":401,"message":"签名认证错误"}`)
			return
		}
		amount, _ := m["amount"].(float64)
		orderID, _ := m["order_id"].(string)
		g.answer(w, orderID, amount)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func okAnswer(w http.ResponseWriter, orderID string, amount float64) {
	json.NewEncoder(w).Encode(map[string]any{
		"status_code": 200, "message": "success", "request_id": "x",
		"data": map[string]any{
			"trade_id": "202203271648380592218340", "order_id": orderID, "amount": amount,
			"actual_amount": 1.3745, "token": "TNEns8t9jbWENbStkQdVQtHMGpbsYsQjZK",
			"expiration_time": 1893456000, "payment_url": "https://usdt.example/pay/checkout-counter/202203271648380592218340",
		},
	})
}

func testEpusdt(t testing.TB, base string, client *http.Client) *Epusdt {
	t.Helper()
	e, err := NewEpusdt(EpusdtConfig{
		URL: base, Token: testUSDTToken, Client: client,
		NotifyURL: "https://shop.example/pay/epusdt/notify", RedirectURL: "https://shop.example/pay/epusdt/return",
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

var usdtOrder = shop.Order{Ref: "R-ABCD2345", AmountMinor: 990, Currency: "CNY"}

func TestEpusdtCreate(t *testing.T) {
	g := newFakeGateway(t)
	g.answer = okAnswer
	e := testEpusdt(t, g.srv.URL+"/", nil)
	tr, err := e.Create(context.Background(), usdtOrder)
	if err != nil {
		t.Fatal(err)
	}
	want := EpusdtTrade{
		TradeID: "202203271648380592218340", URL: "https://usdt.example/pay/checkout-counter/202203271648380592218340",
		USDT: "1.3745", USDTMicro: 1374500, Address: "TNEns8t9jbWENbStkQdVQtHMGpbsYsQjZK", Expires: time.Unix(1893456000, 0),
	}
	if tr != want {
		t.Fatalf("trade %+v\nwant  %+v", tr, want)
	}
	if st := tr.Start(); st.Provider != "epusdt" || st.URL != want.URL {
		t.Fatalf("start %+v", st)
	}
	m := g.last.Load().(map[string]any)
	if m["amount"] != 9.9 || m["order_id"] != "R-ABCD2345" || m["notify_url"] != "https://shop.example/pay/epusdt/notify" ||
		m["redirect_url"] != "https://shop.example/pay/epusdt/return" || len(m) != 5 {
		t.Fatalf("request %v", m)
	}
}

// TestEpusdtCreateBEpusdtAnswer: BEpusdt writes amounts as strings and the
// expiry as seconds left.
func TestEpusdtCreateBEpusdtAnswer(t *testing.T) {
	g := newFakeGateway(t)
	g.answer = func(w http.ResponseWriter, orderID string, amount float64) {
		fmt.Fprintf(w, `{"status_code":200,"message":"success","request_id":"","data":{"fiat":"CNY","trade_type":"usdt.trc20",`+
			`"trade_id":"abcDEF123","order_id":%q,"status":1,"amount":"9.90","actual_amount":"1.37",`+
			`"token":"TAddr","expiration_time":600,"payment_url":"https://b.example/pay/checkout/abcDEF123"}}`, orderID)
	}
	e := testEpusdt(t, g.srv.URL, nil)
	before := time.Now()
	tr, err := e.Create(context.Background(), usdtOrder)
	if err != nil {
		t.Fatal(err)
	}
	if tr.USDT != "1.37" || tr.USDTMicro != 1370000 || tr.TradeID != "abcDEF123" || tr.Address != "TAddr" {
		t.Fatalf("trade %+v", tr)
	}
	if tr.Expires.Before(before.Add(599*time.Second)) || tr.Expires.After(time.Now().Add(600*time.Second)) {
		t.Fatalf("expiry %v is not 600 s from now", tr.Expires)
	}
}

func TestEpusdtCreateFailures(t *testing.T) {
	data := func(orderID string, amount float64, mod func(map[string]any)) map[string]any {
		d := map[string]any{
			"trade_id": "T1", "order_id": orderID, "amount": amount, "actual_amount": 1.3745,
			"token": "TAddr", "expiration_time": 1893456000, "payment_url": "https://usdt.example/pay/T1",
		}
		mod(d)
		return d
	}
	answerWith := func(mod func(map[string]any)) func(http.ResponseWriter, string, float64) {
		return func(w http.ResponseWriter, orderID string, amount float64) {
			json.NewEncoder(w).Encode(map[string]any{"status_code": 200, "message": "success", "data": data(orderID, amount, mod)})
		}
	}
	for _, tc := range []struct {
		name   string
		answer func(http.ResponseWriter, string, float64)
		token  string
		status int
		code   int
	}{
		{"gateway refuses", func(w http.ResponseWriter, _ string, _ float64) {
			fmt.Fprint(w, `{"status_code":10003,"message":"无可用钱包地址，无法发起支付","data":null}`)
		}, "", 200, 10003},
		{"our token is wrong", okAnswer, "another-token-0000", 200, 401},
		{"HTTP 500", func(w http.ResponseWriter, _ string, _ float64) { http.Error(w, "boom", 500) }, "", 500, 0},
		{"HTML", func(w http.ResponseWriter, _ string, _ float64) { fmt.Fprint(w, "<html>502 Bad Gateway</html>") }, "", 200, 0},
		{"truncated JSON", func(w http.ResponseWriter, _ string, _ float64) {
			fmt.Fprint(w, `{"status_code":200,"data":{"trade_id":`)
		}, "", 200, 0},
		{"no data", func(w http.ResponseWriter, _ string, _ float64) {
			fmt.Fprint(w, `{"status_code":200,"message":"success"}`)
		}, "", 200, 200},
		{"another order", func(w http.ResponseWriter, _ string, amount float64) { okAnswer(w, "R-ZZZZ2345", amount) }, "", 200, 200},
		{"another amount", func(w http.ResponseWriter, orderID string, _ float64) { okAnswer(w, orderID, 0.01) }, "", 200, 200},
		{"no payment_url", answerWith(func(d map[string]any) { delete(d, "payment_url") }), "", 200, 200},
		{"javascript payment_url", answerWith(func(d map[string]any) { d["payment_url"] = "javascript:alert(1)" }), "", 200, 200},
		{"no wallet", answerWith(func(d map[string]any) { d["token"] = "" }), "", 200, 200},
		{"zero USDT", answerWith(func(d map[string]any) { d["actual_amount"] = 0 }), "", 200, 200},
		{"negative USDT", answerWith(func(d map[string]any) { d["actual_amount"] = -1 }), "", 200, 200},
		{"USDT with 7 decimals", answerWith(func(d map[string]any) { d["actual_amount"] = 1.0000001 }), "", 200, 200},
		{"expiry not a number", answerWith(func(d map[string]any) { d["expiration_time"] = "soon" }), "", 200, 200},
		{"too long", func(w http.ResponseWriter, _ string, _ float64) {
			fmt.Fprint(w, `{"status_code":200,"message":"`+strings.Repeat("x", maxGatewayAnswer)+`"}`)
		}, "", 200, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newFakeGateway(t)
			g.answer = tc.answer
			e := testEpusdt(t, g.srv.URL, nil)
			if tc.token != "" {
				e.token = tc.token
			}
			tr, err := e.Create(context.Background(), usdtOrder)
			var ge *GatewayError
			if !errors.Is(err, ErrGateway) || !errors.As(err, &ge) {
				t.Fatalf("got %+v, %v; want a gateway error", tr, err)
			}
			if ge.Status != tc.status || ge.Code != tc.code {
				t.Fatalf("error %+v, want status %d code %d", ge, tc.status, tc.code)
			}
			if strings.Contains(err.Error(), testUSDTToken) || (tc.token != "" && strings.Contains(err.Error(), tc.token)) {
				t.Fatalf("error %q holds the token", err)
			}
			if g.calls.Load() != 1 {
				t.Fatalf("%d calls", g.calls.Load())
			}
		})
	}
}

func TestEpusdtCreateUnreachableAndTimeout(t *testing.T) {
	// A closed server: nothing listens.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	_, err := testEpusdt(t, deadURL, nil).Create(context.Background(), usdtOrder)
	var ge *GatewayError
	if !errors.As(err, &ge) || ge.Reason != "unreachable" || ge.Status != 0 {
		t.Fatalf("unreachable: %v", err)
	}

	// A gateway that never answers: the caller's deadline ends the wait.
	release := make(chan struct{})
	g := newFakeGateway(t)
	g.answer = func(w http.ResponseWriter, _ string, _ float64) { <-release }
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = testEpusdt(t, g.srv.URL, nil).Create(ctx, usdtOrder)
	if !errors.As(err, &ge) || ge.Reason != "timed out" {
		t.Fatalf("timeout: %v", err)
	}
	// The client's own timeout ends it too.
	_, err = testEpusdt(t, g.srv.URL, &http.Client{Timeout: 100 * time.Millisecond}).Create(context.Background(), usdtOrder)
	if !errors.As(err, &ge) || ge.Reason != "timed out" {
		t.Fatalf("client timeout: %v", err)
	}
}

func TestEpusdtCreateRefusesOtherCurrency(t *testing.T) {
	g := newFakeGateway(t)
	g.answer = okAnswer
	_, err := testEpusdt(t, g.srv.URL, nil).Create(context.Background(), shop.Order{Ref: "R-ABCD2345", AmountMinor: 990, Currency: "USD"})
	if !errors.Is(err, ErrCurrency) || g.calls.Load() != 0 {
		t.Fatalf("USD order: %v, %d calls", err, g.calls.Load())
	}
}

func TestNewEpusdtConfig(t *testing.T) {
	good := EpusdtConfig{URL: "https://u.example", Token: testUSDTToken, NotifyURL: "https://s.example/n", RedirectURL: "https://s.example/r"}
	if _, err := NewEpusdt(good); err != nil {
		t.Fatal(err)
	}
	for name, mod := range map[string]func(*EpusdtConfig){
		"ftp URL":       func(c *EpusdtConfig) { c.URL = "ftp://u.example" },
		"relative URL":  func(c *EpusdtConfig) { c.URL = "/api" },
		"URL with user": func(c *EpusdtConfig) { c.URL = "https://a:b@u.example" },
		"short token":   func(c *EpusdtConfig) { c.Token = "short" },
		"token space":   func(c *EpusdtConfig) { c.Token = "token with space" },
		"no notify":     func(c *EpusdtConfig) { c.NotifyURL = "" },
		"no redirect":   func(c *EpusdtConfig) { c.RedirectURL = "" },
	} {
		c := good
		mod(&c)
		if _, err := NewEpusdt(c); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// gatewayNotify builds a notify body the way the gateway does: the fields
// as JSON, decoded into a map (numbers become float64), signed, then the
// signature added.
func gatewayNotify(t testing.TB, fields map[string]any, token string) []byte {
	t.Helper()
	b, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["signature"] = gatewaySign(t, m, token)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func goodUSDTNotify() map[string]any {
	return map[string]any{
		"trade_id": "202203251648208648961728", "order_id": "R-ABCD2345", "amount": 9.9, "actual_amount": 1.3745,
		"token": "TNEns8t9jbWENbStkQdVQtHMGpbsYsQjZK", "block_transaction_id": "0xabc123", "status": 2,
	}
}

func TestEpusdtVerifyNotify(t *testing.T) {
	e := testEpusdt(t, "https://usdt.example", nil)
	with := func(k string, v any) []byte {
		f := goodUSDTNotify()
		if v == nil {
			delete(f, k)
		} else {
			f[k] = v
		}
		return gatewayNotify(t, f, testUSDTToken)
	}
	edit := func(body []byte, from, to string) []byte {
		if !strings.Contains(string(body), from) {
			t.Fatalf("%s not in %s", from, body)
		}
		return []byte(strings.Replace(string(body), from, to, 1))
	}
	good := gatewayNotify(t, goodUSDTNotify(), testUSDTToken)
	for _, tc := range []struct {
		name   string
		body   []byte
		amount int64 // 0: refused
		usdt   string
	}{
		{"good", good, 990, "1.3745"},
		{"BEpusdt: actual_amount as a string", with("actual_amount", "1.374500"), 990, "1.3745"},
		{"amount 9.90 written with a zero", edit(good, `"amount":9.9`, `"amount":9.90`), 990, "1.3745"},
		{"unknown field, signed", with("fiat", "CNY"), 990, "1.3745"},
		{"null field", edit(good, `"block_transaction_id":"0xabc123"`, `"block_transaction_id":null`), 0, ""},
		{"whole yuan", with("amount", 10), 1000, "1.3745"},
		{"signed, another amount (shop holds it)", with("amount", 9.8), 980, "1.3745"},
		{"forged token", gatewayNotify(t, goodUSDTNotify(), "another-token-000"), 0, ""},
		{"waiting", with("status", 1), 0, ""},
		{"expired", with("status", 3), 0, ""},
		{"status as a string", with("status", "2"), 0, ""},
		{"status 2.0", edit(good, `"status":2`, `"status":2.0`), 0, ""},
		{"amount as a string", with("amount", "9.9"), 0, ""},
		{"amount three decimals", with("amount", 9.999), 0, ""},
		{"amount exponent", edit(good, `"amount":9.9`, `"amount":99e-1`), 0, ""},
		{"amount zero", with("amount", 0), 0, ""},
		{"amount negative", with("amount", -9.9), 0, ""},
		{"no amount", with("amount", nil), 0, ""},
		{"no status", with("status", nil), 0, ""},
		{"order_id not a ref", with("order_id", "1 OR 1=1"), 0, ""},
		{"order_id a number", with("order_id", 12345678), 0, ""},
		{"no trade_id", with("trade_id", nil), 0, ""},
		{"amount changed after signing", edit(good, `"amount":9.9`, `"amount":0.01`), 0, ""},
		{"order changed after signing", edit(good, `"R-ABCD2345"`, `"R-ZZZZ2345"`), 0, ""},
		{"unsigned extra field", edit(good, `{`, `{"extra":"x",`), 0, ""},
		{"repeated field", edit(good, `{`, `{"status":2,`), 0, ""},
		{"repeated order_id", edit(good, `{`, `{"order_id":"R-ZZZZ2345",`), 0, ""},
		{"nested object", edit(good, `"token":"TNEns8t9jbWENbStkQdVQtHMGpbsYsQjZK"`, `"token":{"a":1}`), 0, ""},
		{"array", edit(good, `"token":"TNEns8t9jbWENbStkQdVQtHMGpbsYsQjZK"`, `"token":["T"]`), 0, ""},
		{"boolean", edit(good, `"status":2`, `"status":true`), 0, ""},
		{"signature upper case", func() []byte {
			m := map[string]any{}
			json.Unmarshal(good, &m)
			sig := m["signature"].(string)
			return edit(good, sig, strings.ToUpper(sig))
		}(), 0, ""},
		{"no signature", edit(good, `"signature"`, `"sig"`), 0, ""},
		{"trailing data", append(append([]byte{}, good...), []byte(`{}`)...), 0, ""},
		{"not an object", []byte(`["x"]`), 0, ""},
		{"empty", nil, 0, ""},
		{"form body", []byte("order_id=R-ABCD2345&status=2"), 0, ""},
		{"invalid UTF-8", edit(good, `"0xabc123"`, "\"0xabc\xff\""), 0, ""},
		{"control character", with("block_transaction_id", "a\nb"), 0, ""},
		{"too long", edit(good, `{`, `{"pad":"`+strings.Repeat("x", MaxEpusdtNotify)+`",`), 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := e.VerifyNotify(tc.body)
			if tc.amount == 0 {
				if !errors.Is(err, ErrRefused) {
					t.Fatalf("accepted (or wrong error %v): %+v", err, n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := EpusdtNotice{
				Notification: Notification{Ref: "R-ABCD2345", TradeNo: "202203251648208648961728", AmountMinor: tc.amount, Currency: "CNY"},
				USDT:         tc.usdt, Address: "TNEns8t9jbWENbStkQdVQtHMGpbsYsQjZK", TxID: "0xabc123",
			}
			if n != want {
				t.Fatalf("got  %+v\nwant %+v", n, want)
			}
		})
	}
}

// FuzzEpusdtNotify: whatever VerifyNotify accepts was signed with our
// token over its own fields, is paid (status 2), names a ref and carries
// a positive amount in fen that prints back to itself.
func FuzzEpusdtNotify(f *testing.F) {
	e := testEpusdt(f, "https://usdt.example", nil)
	good := gatewayNotify(f, goodUSDTNotify(), testUSDTToken)
	f.Add(good)
	f.Add([]byte(`{"status":2,"amount":9.9,"order_id":"R-ABCD2345","trade_id":"x","signature":"00000000000000000000000000000000"}`))
	f.Add([]byte(`{"a":{"b":[1,2]}}`))
	f.Add([]byte(`{"status":2,"status":2}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := e.VerifyNotify(body)
		if err != nil {
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("error not wrapping ErrRefused: %v", err)
			}
			return
		}
		m := map[string]any{}
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("accepted a body that is not a JSON object: %v", err)
		}
		if m["signature"] != gatewaySign(t, m, testUSDTToken) || m["status"] != 2.0 {
			t.Fatalf("accepted an unsigned or unpaid notify: %s", body)
		}
		if !isRef(n.Ref) || n.AmountMinor <= 0 || EpusdtAmount(n.AmountMinor) != strconv.FormatFloat(m["amount"].(float64), 'f', -1, 64) {
			t.Fatalf("accepted %+v from %s", n, body)
		}
	})
}
