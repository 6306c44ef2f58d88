package pay

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"veil/server/shop"
)

// Epay is the 易支付 provider. The buyer follows a signed submit URL to the
// gateway; the gateway reports the payment to NotifyURL (Verify) and sends
// the buyer back to ReturnURL, which proves nothing and only shows the
// order's state as the store has it.
//
// Signing (both ways): take every parameter except sign and sign_type
// whose value is not empty, sort by name, join as k=v&k=v with the raw
// (unescaped) values, append the merchant key with no separator, and take
// the lowercase hex MD5. MD5 is the protocol's, not our choice; the key
// never leaves this process.
type Epay struct {
	pid       string
	keys      atomic.Pointer[epayKeys] // the merchant key, and the previous one for a while after a rotation (epay_rotate.go)
	gateway   string
	notifyURL string
	returnURL string
	typ       string
	keyFile   string
	rotMu     sync.Mutex
}

// EpayConfig configures NewEpay.
type EpayConfig struct {
	PID string // merchant id at the gateway
	Key string // merchant key (secret)
	// Gateway is the absolute submit URL, e.g. https://pay.example/submit.php.
	Gateway string
	// NotifyURL and ReturnURL are our absolute URLs of /pay/epay/notify and
	// /pay/epay/return as the gateway and the buyer reach them.
	NotifyURL string
	ReturnURL string
	// Type is the payment method asked of the gateway ("alipay", "wxpay",
	// "qqpay", …); empty leaves the choice to the gateway's cashier page.
	Type string
	// KeyFile is where Key came from; [Epay.RotateKey] writes the new key
	// there so that a restart uses it. Empty: a rotation lasts until the
	// process ends.
	KeyFile string
}

var _ Verifier = (*Epay)(nil)

// NewEpay checks c and returns the provider.
func NewEpay(c EpayConfig) (*Epay, error) {
	if !safeToken(c.PID, 32) {
		return nil, errors.New("pay: epay pid: 1–32 letters, digits, '-' or '_'")
	}
	if len(c.Key) < 8 || len(c.Key) > 256 || strings.ContainsFunc(c.Key, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return nil, errors.New("pay: epay key: 8–256 characters without spaces or control characters")
	}
	for name, u := range map[string]string{"gateway": c.Gateway, "notify URL": c.NotifyURL, "return URL": c.ReturnURL} {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" || pu.RawQuery != "" || pu.Fragment != "" {
			return nil, fmt.Errorf("pay: epay %s: an absolute http(s) URL without query is required", name)
		}
	}
	if c.Type != "" && !safeToken(c.Type, 16) {
		return nil, errors.New("pay: epay type: 1–16 letters, digits, '-' or '_'")
	}
	e := &Epay{pid: c.PID, gateway: c.Gateway, notifyURL: c.NotifyURL, returnURL: c.ReturnURL, typ: c.Type, keyFile: c.KeyFile}
	e.keys.Store(&epayKeys{cur: c.Key})
	return e, nil
}

// Name implements Provider.
func (*Epay) Name() string { return "epay" }

// Accepts implements CurrencyChecker: 易支付 charges in yuan.
func (*Epay) Accepts(currency string) bool { return currency == "CNY" }

// Start implements Provider: the gateway's submit URL with the signed
// parameters. out_trade_no is the order's ref and money its amount in yuan
// with two decimals. name is the ref too: the gateway learns nothing about
// what was bought beyond the amount it sees anyway.
func (e *Epay) Start(o shop.Order, _ shop.Product) (Start, error) {
	if o.Currency != "CNY" {
		return Start{}, fmt.Errorf("%w: epay takes CNY only, order %s is in %s", ErrCurrency, o.Ref, o.Currency)
	}
	if o.AmountMinor <= 0 {
		return Start{}, fmt.Errorf("pay: order %s has no amount to pay", o.Ref)
	}
	p := map[string]string{
		"pid":          e.pid,
		"type":         e.typ,
		"out_trade_no": o.Ref,
		"notify_url":   e.notifyURL,
		"return_url":   e.returnURL,
		"name":         o.Ref,
		"money":        FormatYuan(o.AmountMinor),
	}
	q := url.Values{}
	for k, v := range p {
		if v != "" {
			q.Set(k, v)
		}
	}
	q.Set("sign", EpaySign(p, e.keys.Load().cur))
	q.Set("sign_type", "MD5")
	return Start{Provider: "epay", URL: e.gateway + "?" + q.Encode()}, nil
}

// EpaySign is the protocol's signature of params under key (see Epay).
func EpaySign(params map[string]string, key string) string {
	return md5Sign(params, key, "sign", "sign_type")
}

// md5Sign is the signature both 易支付 and epusdt gateways use: lowercase
// hex MD5 of the non-empty fields except those in skip, sorted by name,
// joined k=v&…, with the secret appended.
func md5Sign(fields map[string]string, secret string, skip ...string) string {
	names := make([]string, 0, len(fields))
	for k, v := range fields {
		if v == "" || slices.Contains(skip, k) {
			continue
		}
		names = append(names, k)
	}
	slices.Sort(names)
	var b strings.Builder
	for i, k := range names {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(fields[k])
	}
	b.WriteString(secret)
	sum := md5.Sum([]byte(b.String()))
	return hex.EncodeToString(sum[:])
}

// Limits of a notify: a real one has about ten short parameters.
const (
	maxNotifyParams = 32
	maxParamName    = 32
	maxParamValue   = 512
)

// NotifyParams merges a notify's query string and form body into one set
// of parameters, refusing anything that is not a plain list of distinct
// names with one string value each: a repeated name (in one part or
// across both), an array- or map-style name (a[] , a[x]), an empty name,
// a malformed escape, too many or too long parameters, invalid UTF-8 or
// control characters. PHP-based shops were robbed through exactly such
// parameters; here they never reach the signature check.
func NotifyParams(query, body string) (url.Values, error) {
	out := url.Values{}
	for _, part := range []string{query, body} {
		if part == "" {
			continue
		}
		v, err := url.ParseQuery(part)
		if err != nil {
			return nil, fmt.Errorf("%w: malformed parameters", ErrRefused)
		}
		for k, vals := range v {
			if _, dup := out[k]; dup || len(vals) != 1 {
				return nil, fmt.Errorf("%w: repeated parameter %q", ErrRefused, clip(k))
			}
			out[k] = vals
		}
	}
	if err := checkPlain(out); err != nil {
		return nil, err
	}
	return out, nil
}

func checkPlain(v url.Values) error {
	if len(v) > maxNotifyParams {
		return fmt.Errorf("%w: too many parameters", ErrRefused)
	}
	for k, vals := range v {
		if k == "" || len(k) > maxParamName || strings.ContainsAny(k, "[]") || !printableASCII(k) {
			return fmt.Errorf("%w: parameter name %q", ErrRefused, clip(k))
		}
		if len(vals) != 1 {
			return fmt.Errorf("%w: repeated parameter %q", ErrRefused, k)
		}
		s := vals[0]
		if len(s) > maxParamValue || !utf8.ValidString(s) || strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return fmt.Errorf("%w: value of %q", ErrRefused, k)
		}
	}
	return nil
}

// Verify implements Verifier. It accepts a notify only when every
// parameter is a single plain string, sign is 32 lowercase hex digits
// equal (in constant time) to the signature recomputed with our key,
// sign_type is MD5 or absent, pid is ours, trade_status is TRADE_SUCCESS,
// out_trade_no has the form of an order ref, trade_no is a short printable
// string and money is a positive decimal amount (ParseYuan). Whether the
// ref names an order and the amount is the order's is the shop's to say.
func (e *Epay) Verify(params url.Values) (Notification, error) {
	if err := checkPlain(params); err != nil {
		return Notification{}, err
	}
	p := make(map[string]string, len(params))
	for k, v := range params {
		p[k] = v[0]
	}
	sign := p["sign"]
	if !lowerHex(sign, 32) {
		return Notification{}, fmt.Errorf("%w: sign missing or malformed", ErrRefused)
	}
	if st := p["sign_type"]; st != "" && st != "MD5" {
		return Notification{}, fmt.Errorf("%w: sign_type %q", ErrRefused, clip(st))
	}
	if !e.signedByOurKey(p, sign) {
		return Notification{}, fmt.Errorf("%w: bad signature", ErrRefused)
	}
	if p["pid"] != e.pid {
		return Notification{}, fmt.Errorf("%w: pid is not ours", ErrRefused)
	}
	if p["trade_status"] != "TRADE_SUCCESS" {
		return Notification{}, fmt.Errorf("%w: trade_status %q", ErrRefused, clip(p["trade_status"]))
	}
	ref := p["out_trade_no"]
	if !isRef(ref) {
		return Notification{}, fmt.Errorf("%w: out_trade_no is not an order ref", ErrRefused)
	}
	tn := p["trade_no"]
	if tn == "" || len(tn) > 64 || !printableASCII(tn) || strings.ContainsRune(tn, ' ') {
		return Notification{}, fmt.Errorf("%w: trade_no malformed", ErrRefused)
	}
	amount, err := ParseYuan(p["money"])
	if err != nil || amount <= 0 {
		return Notification{}, fmt.Errorf("%w: money %q", ErrRefused, clip(p["money"]))
	}
	return Notification{Ref: ref, TradeNo: tn, AmountMinor: amount, Currency: "CNY"}, nil
}

// maxYuanDigits bounds the integer part: 10^12 yuan is beyond any order
// and far from int64 overflow.
const maxYuanDigits = 12

// ParseYuan parses a decimal amount of yuan into fen, exactly, never
// through a float: one or more digits (no leading zero unless the integer
// part is 0), optionally '.' and one or two more. So "9.9" and "9.90" are
// both 990 fen and "9" is 900; "9.", ".9", "9.999", "09.90", "+9.90",
// "-1", "9e2", " 9.90", "9,90" and "" are refused.
func ParseYuan(s string) (int64, error) {
	ip, fp, dot := strings.Cut(s, ".")
	if ip == "" || len(ip) > maxYuanDigits || !digits(ip) || (len(ip) > 1 && ip[0] == '0') {
		return 0, fmt.Errorf("pay: bad amount %q", clip(s))
	}
	if dot && (fp == "" || len(fp) > 2 || !digits(fp)) {
		return 0, fmt.Errorf("pay: bad amount %q", clip(s))
	}
	yuan, err := strconv.ParseInt(ip, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("pay: bad amount %q", clip(s))
	}
	var fen int64
	switch len(fp) {
	case 1:
		fen = int64(fp[0]-'0') * 10
	case 2:
		fen = int64(fp[0]-'0')*10 + int64(fp[1]-'0')
	}
	return yuan*100 + fen, nil
}

// FormatYuan writes fen as yuan with exactly two decimals: 990 → "9.90".
func FormatYuan(fen int64) string {
	sign := ""
	if fen < 0 {
		sign, fen = "-", -fen
	}
	return fmt.Sprintf("%s%d.%02d", sign, fen/100, fen%100)
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func lowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

func safeToken(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// isRef reports whether s has the form of an order ref: "R-" and eight
// of 0-9A-Z.
func isRef(s string) bool {
	if len(s) != 10 || !strings.HasPrefix(s, "R-") {
		return false
	}
	for i := 2; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// clip shortens attacker-chosen text before it goes into an error (and so
// a log line).
func clip(s string) string {
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	q := strconv.QuoteToASCII(s)
	return q[1 : len(q)-1]
}
