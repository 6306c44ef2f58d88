package pay

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
	"testing"

	"veil/server/shop"
)

const (
	testPID = "1001"
	testKey = "k3y-of-the-merchant-0123"
)

func testEpay(t testing.TB) *Epay {
	t.Helper()
	e, err := NewEpay(EpayConfig{
		PID: testPID, Key: testKey, Gateway: "https://pay.example/submit.php",
		NotifyURL: "https://shop.example/pay/epay/notify", ReturnURL: "https://shop.example/pay/epay/return",
		Type: "alipay",
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestParseYuan(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"9.90", 990, true}, {"9.9", 990, true}, {"9", 900, true}, {"0.01", 1, true}, {"0", 0, true},
		{"10.05", 1005, true}, {"999999999999.99", 99999999999999, true},
		{"", 0, false}, {"9.", 0, false}, {".9", 0, false}, {"9.999", 0, false}, {"9.900", 0, false},
		{"09.90", 0, false}, {"+9.90", 0, false}, {"-9.90", 0, false}, {"9e2", 0, false}, {" 9.90", 0, false},
		{"9.90 ", 0, false}, {"9,90", 0, false}, {"9.9.0", 0, false}, {"1000000000000", 0, false},
		{"０9", 0, false}, {"NaN", 0, false}, {"0x10", 0, false}, {"true", 0, false},
	} {
		got, err := ParseYuan(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseYuan(%q) = %d, %v; want %d ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
	for _, fen := range []int64{0, 1, 10, 99, 100, 990, 123456} {
		if got, err := ParseYuan(FormatYuan(fen)); err != nil || got != fen {
			t.Errorf("round trip %d: %d %v", fen, got, err)
		}
	}
}

// TestEpaySignKnownAnswer pins the signature to the protocol's text form.
func TestEpaySignKnownAnswer(t *testing.T) {
	p := map[string]string{
		"pid": "1001", "trade_no": "2024X", "out_trade_no": "R-ABCD2345", "type": "alipay",
		"name": "R-ABCD2345", "money": "9.90", "trade_status": "TRADE_SUCCESS",
		"sign": "ignored", "sign_type": "MD5", "param": "",
	}
	text := "money=9.90&name=R-ABCD2345&out_trade_no=R-ABCD2345&pid=1001&trade_no=2024X&trade_status=TRADE_SUCCESS&type=alipay" + testKey
	sum := md5.Sum([]byte(text))
	if got, want := EpaySign(p, testKey), hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("sign %s, want %s", got, want)
	}
}

func TestEpayStart(t *testing.T) {
	e := testEpay(t)
	st, err := e.Start(shop.Order{Ref: "R-ABCD2345", AmountMinor: 990, Currency: "CNY"}, shop.Product{})
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(st.URL)
	if err != nil || !strings.HasPrefix(st.URL, "https://pay.example/submit.php?") {
		t.Fatalf("url %q: %v", st.URL, err)
	}
	q := u.Query()
	for k, want := range map[string]string{
		"pid": testPID, "type": "alipay", "out_trade_no": "R-ABCD2345", "money": "9.90", "sign_type": "MD5",
		"notify_url": "https://shop.example/pay/epay/notify", "return_url": "https://shop.example/pay/epay/return",
	} {
		if q.Get(k) != want {
			t.Errorf("%s = %q, want %q", k, q.Get(k), want)
		}
	}
	p := map[string]string{}
	for k := range q {
		p[k] = q.Get(k)
	}
	if q.Get("sign") != EpaySign(p, testKey) {
		t.Error("submit URL signature does not verify")
	}
	if _, err := e.Start(shop.Order{Ref: "R-ABCD2345", AmountMinor: 990, Currency: "USD"}, shop.Product{}); err == nil {
		t.Error("a USD order got an epay URL")
	}
}

func signed(p map[string]string, key string) url.Values {
	v := url.Values{}
	for k, s := range p {
		v.Set(k, s)
	}
	v.Set("sign", EpaySign(p, key))
	v.Set("sign_type", "MD5")
	return v
}

func goodNotify() map[string]string {
	return map[string]string{
		"pid": testPID, "trade_no": "20240101000001", "out_trade_no": "R-ABCD2345", "type": "alipay",
		"name": "R-ABCD2345", "money": "9.90", "trade_status": "TRADE_SUCCESS",
	}
}

func TestEpayVerify(t *testing.T) {
	e := testEpay(t)
	with := func(k, v string) map[string]string {
		p := goodNotify()
		if v == "" {
			delete(p, k)
		} else {
			p[k] = v
		}
		return p
	}
	for _, tc := range []struct {
		name   string
		params url.Values
		ok     bool
	}{
		{"good", signed(goodNotify(), testKey), true},
		{"9.9 equals 9.90", signed(with("money", "9.9"), testKey), true},
		{"extra signed parameter", signed(with("param", "x"), testKey), true},
		{"forged key", signed(goodNotify(), "another-key-000000"), false},
		{"other pid", signed(with("pid", "1002"), testKey), false},
		{"trade closed", signed(with("trade_status", "TRADE_CLOSED"), testKey), false},
		{"waiting", signed(with("trade_status", "WAIT_BUYER_PAY"), testKey), false},
		{"no status", signed(with("trade_status", ""), testKey), false},
		{"three decimals", signed(with("money", "9.900"), testKey), false},
		{"negative", signed(with("money", "-9.90"), testKey), false},
		{"zero", signed(with("money", "0.00"), testKey), false},
		{"not a ref", signed(with("out_trade_no", "1 OR 1=1"), testKey), false},
		{"no trade_no", signed(with("trade_no", ""), testKey), false},
		{"sign_type SHA", func() url.Values { v := signed(goodNotify(), testKey); v.Set("sign_type", "RSA"); return v }(), false},
		{"sign true", func() url.Values { v := signed(goodNotify(), testKey); v.Set("sign", "true"); return v }(), false},
		{"sign empty", func() url.Values { v := signed(goodNotify(), testKey); v.Set("sign", ""); return v }(), false},
		{"sign missing", func() url.Values { v := signed(goodNotify(), testKey); v.Del("sign"); return v }(), false},
		{"sign upper case", func() url.Values {
			v := signed(goodNotify(), testKey)
			v.Set("sign", strings.ToUpper(v.Get("sign")))
			return v
		}(), false},
		{"money changed after signing", func() url.Values { v := signed(goodNotify(), testKey); v.Set("money", "0.01"); return v }(), false},
		{"ref changed after signing", func() url.Values { v := signed(goodNotify(), testKey); v.Set("out_trade_no", "R-ZZZZ2345"); return v }(), false},
		{"repeated", func() url.Values {
			v := signed(goodNotify(), testKey)
			v.Add("trade_status", "TRADE_SUCCESS")
			return v
		}(), false},
		{"array name", func() url.Values { v := signed(goodNotify(), testKey); v.Set("money[]", "9.90"); return v }(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := e.Verify(tc.params)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				if n.Ref != "R-ABCD2345" || n.AmountMinor != 990 || n.TradeNo != "20240101000001" || n.Currency != "CNY" {
					t.Fatalf("got %+v", n)
				}
				return
			}
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("accepted (or wrong error %v): %+v", err, n)
			}
		})
	}
}

func TestNotifyParams(t *testing.T) {
	for _, tc := range []struct {
		query, body string
		ok          bool
	}{
		{"a=1&b=2", "", true},
		{"a=1", "b=2", true},
		{"", "a=%E4%B8%AD", true},
		{"a=1&a=1", "", false},
		{"a=1", "a=1", false},
		{"a[]=1", "", false},
		{"a[x]=1", "", false},
		{"a%5B%5D=1", "", false},
		{"=1", "", false},
		{"a=%zz", "", false},
		{"a=1;b=2", "", false},
		{"a=%00", "", false},
		{"a=%0A", "", false},
		{"a=%FF", "", false},
		{strings.Repeat("x", 33) + "=1", "", false},
		{"a=" + strings.Repeat("x", 513), "", false},
	} {
		_, err := NotifyParams(tc.query, tc.body)
		if (err == nil) != tc.ok {
			t.Errorf("NotifyParams(%q, %q): %v, want ok=%v", tc.query, tc.body, err, tc.ok)
		}
	}
}

// FuzzEpayNotify feeds raw query strings and bodies to the notify parser
// and verifier. Whatever it accepts must be a notify our key signed, for
// a well-formed ref, a positive amount that prints back to itself, and
// from plain distinct parameters.
func FuzzEpayNotify(f *testing.F) {
	e := testEpay(f)
	good := signed(goodNotify(), testKey).Encode()
	f.Add(good, "")
	f.Add("", good)
	f.Add(good+"&sign=0", "")
	f.Add("pid=1001&money[]=9.90", "trade_status=TRADE_SUCCESS")
	f.Add("money=9.9&sign=true", "")
	f.Fuzz(func(t *testing.T, query, body string) {
		params, err := NotifyParams(query, body)
		if err != nil {
			return
		}
		n, err := e.Verify(params)
		if err != nil {
			if !errors.Is(err, ErrRefused) {
				t.Fatalf("error not wrapping ErrRefused: %v", err)
			}
			return
		}
		p := map[string]string{}
		for k, v := range params {
			if len(v) != 1 || strings.ContainsAny(k, "[]") {
				t.Fatalf("accepted a non-plain parameter %q", k)
			}
			p[k] = v[0]
		}
		if p["sign"] != EpaySign(p, testKey) || p["pid"] != testPID || p["trade_status"] != "TRADE_SUCCESS" {
			t.Fatalf("accepted an unsigned or foreign notify: %v", params)
		}
		if !isRef(n.Ref) || n.AmountMinor <= 0 {
			t.Fatalf("accepted %+v", n)
		}
		if back, err := ParseYuan(FormatYuan(n.AmountMinor)); err != nil || back != n.AmountMinor {
			t.Fatalf("amount %d does not round-trip", n.AmountMinor)
		}
	})
}
