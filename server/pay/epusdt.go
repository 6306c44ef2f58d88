package pay

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"veil/server/shop"
)

// Epusdt is the provider for USDT through a self-hosted epusdt-compatible
// gateway (assimon/epusdt, BEpusdt, UPay: one HTTP API). Unlike 易支付 the
// payment must be created at the gateway before the buyer can pay:
// Create posts the order to {URL}/api/v1/order/create-transaction and
// returns the gateway's cashier URL, the USDT amount, the wallet address
// and the expiry. The gateway then watches the chain and reports the
// payment to NotifyURL as a signed JSON body (VerifyNotify).
//
// Signing (both ways, EpusdtSign): every field except signature whose
// value is not empty, sorted by name, joined as k=v&k=v, the API token
// appended with no separator, lowercase hex MD5. Numbers are written the
// way the gateway's Go code writes a float64 (strconv.FormatFloat(f, 'f',
// -1, 64)): 9.9, not 9.90; 100, not 100.00. MD5 is the protocol's, not our
// choice; the token never leaves this process.
type Epusdt struct {
	endpoint    string // {URL}/api/v1/order/create-transaction
	token       string
	notifyURL   string
	redirectURL string
	client      *http.Client
}

// EpusdtConfig configures NewEpusdt.
type EpusdtConfig struct {
	// URL is the gateway's base URL (--epusdt-url), e.g.
	// https://usdt.example; the API path is appended.
	URL string
	// Token is the gateway's API token (--epusdt-token-file; secret).
	Token string
	// NotifyURL is our absolute /pay/epusdt/notify as the gateway reaches
	// it; RedirectURL is where the gateway's cashier sends the buyer back
	// (BEpusdt requires one).
	NotifyURL   string
	RedirectURL string
	// Client makes the calls; nil means a client with DefaultGatewayTimeout.
	Client *http.Client
}

// DefaultGatewayTimeout bounds one call to a payment gateway when the
// caller's context does not bound it sooner.
const DefaultGatewayTimeout = 10 * time.Second

// ErrGateway is wrapped by every failure to create a payment at a gateway:
// unreachable, timed out, an error answer, a malformed or inconsistent
// answer. The order must then not hold stock, and the buyer gets a
// 502-class answer (gateway_error).
var ErrGateway = errors.New("pay: payment gateway failed")

// GatewayError says how a gateway call failed. Its text never holds the
// token or the request body; the gateway's own message is clipped.
type GatewayError struct {
	Op     string // "create-transaction"
	Status int    // HTTP status, 0 if no answer arrived
	Code   int    // the gateway's status_code when it answered with one
	Reason string // short, safe to log
}

func (e *GatewayError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "pay: gateway %s failed", e.Op)
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d", e.Status)
		if e.Code != 0 {
			fmt.Fprintf(&b, ", code %d", e.Code)
		}
		b.WriteByte(')')
	}
	if e.Reason != "" {
		b.WriteString(": " + e.Reason)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrGateway) hold.
func (e *GatewayError) Unwrap() error { return ErrGateway }

var _ CurrencyChecker = (*Epusdt)(nil)

// NewEpusdt checks c and returns the provider.
func NewEpusdt(c EpusdtConfig) (*Epusdt, error) {
	base, err := url.Parse(c.URL)
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" || base.RawQuery != "" || base.Fragment != "" || base.User != nil {
		return nil, errors.New("pay: epusdt URL: an absolute http(s) URL without query or credentials is required")
	}
	if len(c.Token) < 8 || len(c.Token) > 256 || strings.ContainsFunc(c.Token, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return nil, errors.New("pay: epusdt token: 8–256 characters without spaces or control characters")
	}
	for name, u := range map[string]string{"notify URL": c.NotifyURL, "redirect URL": c.RedirectURL} {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" || pu.Fragment != "" {
			return nil, fmt.Errorf("pay: epusdt %s: an absolute http(s) URL is required", name)
		}
	}
	client := c.Client
	if client == nil {
		client = &http.Client{Timeout: DefaultGatewayTimeout}
	}
	return &Epusdt{
		endpoint:    strings.TrimRight(c.URL, "/") + "/api/v1/order/create-transaction",
		token:       c.Token,
		notifyURL:   c.NotifyURL,
		redirectURL: c.RedirectURL,
		client:      client,
	}, nil
}

// Name is the provider's id: "epusdt".
func (*Epusdt) Name() string { return "epusdt" }

// Accepts implements CurrencyChecker: the gateway converts from yuan.
func (*Epusdt) Accepts(currency string) bool { return currency == "CNY" }

// EpusdtTrade is a payment created at the gateway: what the order page
// shows and what the order must keep to show it again.
type EpusdtTrade struct {
	TradeID string // the gateway's trade id
	// URL is the gateway's cashier page (payment_url): the order's
	// payment.url.
	URL string
	// USDT is the exact amount the buyer must send, as the gateway's
	// decimal text ("7.9104"); USDTMicro is the same in millionths (USDT on
	// TRC-20 has 6 decimals).
	USDT      string
	USDTMicro int64
	// Address is the wallet the buyer pays (the gateway calls it token).
	Address string
	// Expires is when the gateway stops watching for this payment.
	Expires time.Time
}

// Start is the trade as an order's payment start: the cashier URL.
func (t EpusdtTrade) Start() Start { return Start{Provider: "epusdt", URL: t.URL} }

// Limits on a gateway's answer; a real one is a few hundred bytes.
const (
	maxGatewayAnswer = 64 << 10
	maxGatewayField  = 512
)

// Create asks the gateway for a payment of o (create-transaction): order_id
// is o's ref, amount its yuan as a JSON number with at most two decimals
// (from fen, exactly: 990 → 9.9). It checks that the answer is about this
// order and this amount. Any failure wraps ErrGateway (as a *GatewayError).
// The caller bounds the wait with ctx; the client's timeout bounds it too.
func (e *Epusdt) Create(ctx context.Context, o shop.Order) (EpusdtTrade, error) {
	if o.Currency != "CNY" {
		return EpusdtTrade{}, fmt.Errorf("%w: epusdt takes CNY only, order %s is in %s", ErrCurrency, o.Ref, o.Currency)
	}
	if o.AmountMinor <= 0 {
		return EpusdtTrade{}, fmt.Errorf("pay: order %s has no amount to pay", o.Ref)
	}
	amount := EpusdtAmount(o.AmountMinor)
	fields := map[string]string{
		"order_id":     o.Ref,
		"amount":       amount,
		"notify_url":   e.notifyURL,
		"redirect_url": e.redirectURL,
	}
	body, err := json.Marshal(struct {
		OrderID     string      `json:"order_id"`
		Amount      json.Number `json:"amount"`
		NotifyURL   string      `json:"notify_url"`
		RedirectURL string      `json:"redirect_url"`
		Signature   string      `json:"signature"`
	}{o.Ref, json.Number(amount), e.notifyURL, e.redirectURL, EpusdtSign(fields, e.token)})
	if err != nil {
		return EpusdtTrade{}, fmt.Errorf("pay: epusdt request for %s: %w", o.Ref, err)
	}
	fail := func(status, code int, reason string) (EpusdtTrade, error) {
		return EpusdtTrade{}, &GatewayError{Op: "create-transaction", Status: status, Code: code, Reason: reason}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.endpoint, bytes.NewReader(body))
	if err != nil {
		return fail(0, 0, "bad request")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := e.client.Do(req)
	if err != nil {
		reason := "unreachable"
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || isTimeout(err) {
			reason = "timed out"
		}
		return fail(0, 0, reason)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxGatewayAnswer+1))
	if err != nil {
		return fail(resp.StatusCode, 0, "answer cut off")
	}
	if len(raw) > maxGatewayAnswer {
		return fail(resp.StatusCode, 0, "answer too long")
	}
	if resp.StatusCode != http.StatusOK {
		return fail(resp.StatusCode, 0, "HTTP error")
	}
	var env struct {
		StatusCode int             `json:"status_code"`
		Message    string          `json:"message"`
		Data       json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return fail(resp.StatusCode, 0, "answer is not the gateway's JSON")
	}
	if env.StatusCode != 200 {
		return fail(resp.StatusCode, env.StatusCode, "refused: "+clipRunes(env.Message, 80))
	}
	var d struct {
		TradeID        string      `json:"trade_id"`
		OrderID        string      `json:"order_id"`
		Amount         json.Number `json:"amount"`
		ActualAmount   json.Number `json:"actual_amount"`
		Token          string      `json:"token"`
		ExpirationTime json.Number `json:"expiration_time"`
		PaymentURL     string      `json:"payment_url"`
	}
	dec := json.NewDecoder(bytes.NewReader(env.Data))
	dec.UseNumber()
	if len(env.Data) == 0 || dec.Decode(&d) != nil {
		return fail(resp.StatusCode, 200, "answer without data")
	}
	if d.OrderID != o.Ref {
		return fail(resp.StatusCode, 200, "answer is for another order")
	}
	// BEpusdt sends amounts as strings, epusdt as numbers; json.Number
	// takes both. Either way the amount must be ours, exactly.
	if got, err := parseDecimal(d.Amount.String(), 2); err != nil || got != o.AmountMinor {
		return fail(resp.StatusCode, 200, "answer is for another amount")
	}
	usdt, err := parseDecimal(d.ActualAmount.String(), 6)
	if err != nil || usdt <= 0 {
		return fail(resp.StatusCode, 200, "bad actual_amount")
	}
	if !safeText(d.TradeID, 64) || !safeText(d.Token, 128) {
		return fail(resp.StatusCode, 200, "bad trade_id or token")
	}
	pu, err := url.Parse(d.PaymentURL)
	if err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" || len(d.PaymentURL) > maxGatewayField || pu.User != nil {
		return fail(resp.StatusCode, 200, "bad payment_url")
	}
	exp, err := expiry(d.ExpirationTime.String(), time.Now())
	if err != nil {
		return fail(resp.StatusCode, 200, "bad expiration_time")
	}
	return EpusdtTrade{
		TradeID:   d.TradeID,
		URL:       d.PaymentURL,
		USDT:      formatDecimal(usdt, 6),
		USDTMicro: usdt,
		Address:   d.Token,
		Expires:   exp,
	}, nil
}

// expiry reads expiration_time: epusdt sends a Unix time in seconds,
// BEpusdt the seconds left. Anything below 10^9 (2001) is taken as
// seconds left; 0 or absent means the gateway did not say.
func expiry(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > 1<<40 {
		return time.Time{}, errors.New("bad expiry")
	}
	switch {
	case n == 0:
		return time.Time{}, nil
	case n < 1_000_000_000:
		return now.Add(time.Duration(n) * time.Second).Truncate(time.Second), nil
	}
	return time.Unix(n, 0), nil
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// EpusdtAmount writes fen as yuan the way the gateway's Go code prints the
// float64 it decodes: no trailing zeros, no point for whole yuan (990 →
// "9.9", 1000 → "10", 1 → "0.01"). It is computed from the integer, never
// through a float; for any amount below 10^13 yuan the text is exactly
// strconv.FormatFloat(float, 'f', -1, 64) of the nearest float64.
func EpusdtAmount(fen int64) string { return formatDecimal(fen, 2) }

// formatDecimal writes n units of 10^-places as the shortest exact decimal.
func formatDecimal(n int64, places int) string {
	sign := ""
	if n < 0 {
		sign, n = "-", -n
	}
	scale := int64(1)
	for range places {
		scale *= 10
	}
	ip, fp := n/scale, n%scale
	if fp == 0 {
		return sign + strconv.FormatInt(ip, 10)
	}
	frac := strconv.FormatInt(fp, 10)
	frac = strings.Repeat("0", places-len(frac)) + frac
	return sign + strconv.FormatInt(ip, 10) + "." + strings.TrimRight(frac, "0")
}

// parseDecimal parses a non-negative decimal ("9.9", "9.90", "10",
// "7.910400") into units of 10^-places, exactly: trailing zeros beyond
// places are fine, a non-zero digit beyond them, a sign, an exponent, a
// leading zero (but "0.x"), or more than 15 integer digits is not.
func parseDecimal(s string, places int) (int64, error) {
	bad := fmt.Errorf("pay: bad amount %q", clip(s))
	ip, fp, dot := strings.Cut(s, ".")
	if ip == "" || len(ip) > 15 || !digits(ip) || (len(ip) > 1 && ip[0] == '0') {
		return 0, bad
	}
	if dot && (fp == "" || len(fp) > 18 || !digits(fp)) {
		return 0, bad
	}
	if len(fp) > places {
		if strings.TrimRight(fp[places:], "0") != "" {
			return 0, bad
		}
		fp = fp[:places]
	}
	fp += strings.Repeat("0", places-len(fp))
	n, err := strconv.ParseInt(ip+fp, 10, 64)
	if err != nil {
		return 0, bad
	}
	return n, nil
}

// EpusdtSign is the protocol's signature of fields (already written as
// text: strings as they are, numbers by FormatFloat) under token. Fields
// named signature and empty values are left out; the rest are sorted by
// name. (assimon/epusdt sorts the joined "k=v" strings instead; the two
// orders differ only when one name is a prefix of another followed by a
// byte below '=', which no field of the protocol is.)
func EpusdtSign(fields map[string]string, token string) string {
	return md5Sign(fields, token, "signature")
}

// Limits of an epusdt notify: a real one has eight short fields.
const (
	MaxEpusdtNotify = 8 << 10 // body bytes
	maxNotifyFields = 32
)

// EpusdtNotice is a verified epusdt notify: the payment it proves, and
// what the gateway saw on chain.
type EpusdtNotice struct {
	Notification        // Ref = order_id, TradeNo = trade_id, AmountMinor = amount in fen
	USDT         string // actual_amount, the USDT sent, as the gateway wrote it
	Address      string // token: the wallet paid
	TxID         string // block_transaction_id
}

// VerifyNotify checks an epusdt notify body and returns the payment it
// proves. The body must be one JSON object of at most 32 distinct fields
// (a repeated name, a nested object or array, a boolean, invalid UTF-8 or
// trailing data is refused), each a string or a number: trade_id,
// order_id, token, block_transaction_id and signature strings; amount and
// status numbers; actual_amount a number or a decimal string (BEpusdt).
// Fields the protocol does not name are signed like the rest, as the
// gateways do. signature must be 32 lowercase hex digits equal, in
// constant time, to EpusdtSign over the other fields, numbers written by
// FormatFloat as the gateway writes them. status must be 2 (paid);
// order_id must have the form of an order ref; amount must be a positive
// yuan amount with at most two decimals, read exactly into fen. Whether
// the ref names an order and the amount is that order's is the shop's to
// say (a signed notify with another amount is held, not delivered). Every
// error wraps ErrRefused.
func (e *Epusdt) VerifyNotify(body []byte) (EpusdtNotice, error) {
	refuse := func(format string, a ...any) (EpusdtNotice, error) {
		return EpusdtNotice{}, fmt.Errorf("%w: "+format, append([]any{ErrRefused}, a...)...)
	}
	if len(body) > MaxEpusdtNotify {
		return refuse("body too long")
	}
	f, err := notifyFields(body)
	if err != nil {
		return EpusdtNotice{}, err
	}
	text := make(map[string]string, len(f))
	for k, v := range f {
		text[k] = v.text
	}
	sig, ok := f["signature"]
	if !ok || sig.number || !lowerHex(sig.text, 32) {
		return refuse("signature missing or malformed")
	}
	if !hmac.Equal([]byte(sig.text), []byte(EpusdtSign(text, e.token))) {
		return refuse("bad signature")
	}
	for _, k := range []string{"trade_id", "order_id", "token", "block_transaction_id"} {
		if v, ok := f[k]; ok && v.number {
			return refuse("%s is not a string", k)
		}
	}
	for _, k := range []string{"amount", "status"} {
		if v, ok := f[k]; !ok || !v.number {
			return refuse("%s missing or not a number", k)
		}
	}
	if f["status"].raw != "2" {
		return refuse("status %q is not paid", clip(f["status"].raw))
	}
	ref := text["order_id"]
	if !isRef(ref) {
		return refuse("order_id is not an order ref")
	}
	tid := text["trade_id"]
	if !safeText(tid, 64) {
		return refuse("trade_id malformed")
	}
	amount, err := parseDecimal(f["amount"].raw, 2)
	if err != nil || amount <= 0 {
		return refuse("amount %q", clip(f["amount"].raw))
	}
	n := EpusdtNotice{
		Notification: Notification{Ref: ref, TradeNo: tid, AmountMinor: amount, Currency: "CNY"},
		Address:      text["token"],
		TxID:         text["block_transaction_id"],
	}
	if v, ok := f["actual_amount"]; ok {
		usdt, err := parseDecimal(v.raw, 6)
		if err != nil {
			return refuse("actual_amount %q", clip(v.raw))
		}
		n.USDT = formatDecimal(usdt, 6)
	}
	return n, nil
}

// notifyField is one field of a notify: its raw JSON text for numbers (or
// the string), and the text the signature covers.
type notifyField struct {
	raw    string
	text   string
	number bool
}

// notifyFields reads a notify body into plain fields, refusing everything
// that is not a flat object of distinct string or number fields. null
// counts as absent, as for the gateways.
func notifyFields(body []byte) (map[string]notifyField, error) {
	refuse := func(what string) (map[string]notifyField, error) {
		return nil, fmt.Errorf("%w: %s", ErrRefused, what)
	}
	if !utf8.Valid(body) {
		return refuse("body is not UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return refuse("body is not a JSON object")
	}
	out := map[string]notifyField{}
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return refuse("malformed JSON")
		}
		k := t.(string) // object keys are always strings
		if k == "" || len(k) > maxParamName || !printableASCII(k) {
			return refuse(fmt.Sprintf("field name %q", clip(k)))
		}
		if seen[k] {
			return refuse(fmt.Sprintf("repeated field %q", k))
		}
		seen[k] = true
		if len(seen) > maxNotifyFields {
			return refuse("too many fields")
		}
		v, err := dec.Token()
		if err != nil {
			return refuse("malformed JSON")
		}
		switch v := v.(type) {
		case nil:
		case string:
			if len(v) > maxParamValue || strings.ContainsFunc(v, func(r rune) bool { return r < ' ' || r == 0x7f }) {
				return refuse(fmt.Sprintf("value of %q", k))
			}
			out[k] = notifyField{raw: v, text: v}
		case json.Number:
			f, err := strconv.ParseFloat(string(v), 64)
			if err != nil || len(v) > 64 {
				return refuse(fmt.Sprintf("number %q", k))
			}
			out[k] = notifyField{raw: string(v), text: strconv.FormatFloat(f, 'f', -1, 64), number: true}
		default:
			return refuse(fmt.Sprintf("%q is neither a string nor a number", k))
		}
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return refuse("malformed JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return refuse("data after the object")
	}
	return out, nil
}

// safeText: 1–max printable ASCII characters without spaces.
func safeText(s string, max int) bool {
	return s != "" && len(s) <= max && printableASCII(s) && !strings.ContainsRune(s, ' ')
}

// clipRunes shortens a gateway's message to at most n runes of printable
// text before it goes into an error (and so a log line).
func clipRunes(s string, n int) string {
	var b strings.Builder
	for i, r := range []rune(strings.ToValidUTF8(s, "?")) {
		if i == n {
			b.WriteString("…")
			break
		}
		if r < ' ' || r == 0x7f {
			r = ' '
		}
		b.WriteRune(r)
	}
	return b.String()
}
