package pay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"veil/server/shop"
)

// Monero is the provider for Monero watched through monero-wallet-rpc
// running a view-only wallet: the server can see payments to its
// subaddresses and cannot spend anything, so a stolen server loses no
// money. Each order gets a fresh subaddress (Create); a watcher sums the
// confirmed transfers to each order's subaddress (MoneroWallet.Scan) and
// the shop applies the result. There is no outside price feed: the
// merchant sets the rate (XMRRate) and the order fixes its XMR amount
// when placed.
type Monero struct {
	wallet        *MoneroWallet
	confirmations uint64
}

// DefaultMoneroConfirmations is how many blocks must hold a transfer
// before it counts (--monero-confirmations).
const DefaultMoneroConfirmations = 10

// NewMonero returns the provider over w, counting transfers with at least
// confirmations blocks.
func NewMonero(w *MoneroWallet, confirmations uint64) *Monero {
	return &Monero{wallet: w, confirmations: confirmations}
}

// Name is the provider's id: "monero".
func (*Monero) Name() string { return "monero" }

// Confirmations is the threshold the provider was built with.
func (m *Monero) Confirmations() uint64 { return m.confirmations }

// Wallet is the wallet RPC client.
func (m *Monero) Wallet() *MoneroWallet { return m.wallet }

// MoneroInvoice is what an order must keep to be paid in Monero and to
// show how: the subaddress (and its index, which the watcher asks
// about) and the exact amount.
type MoneroInvoice struct {
	Index   uint32 // subaddress index in account 0
	Address string // the subaddress
	Atomic  uint64 // piconero to pay
	XMR     string // the same in XMR, exact: "0.012345678901"
	URI     string // monero:<address>?tx_amount=<XMR>
}

// Create fixes o's price in XMR at rate (rounded up to the piconero, so
// rounding never makes the buyer underpay) and asks the wallet for a
// fresh subaddress on account 0 labelled with o's ref. A wallet failure
// wraps ErrGateway: the order must then not hold stock.
func (m *Monero) Create(ctx context.Context, o shop.Order, rate XMRRate) (MoneroInvoice, error) {
	if rate.Currency != o.Currency {
		return MoneroInvoice{}, fmt.Errorf("%w: the XMR rate is set for %q, order %s is in %s", ErrCurrency, rate.Currency, o.Ref, o.Currency)
	}
	atomic, err := rate.Atomic(o.AmountMinor)
	if err != nil {
		return MoneroInvoice{}, fmt.Errorf("pay: order %s: %w", o.Ref, err)
	}
	sub, err := m.wallet.CreateAddress(ctx, o.Ref)
	if err != nil {
		return MoneroInvoice{}, err
	}
	return MoneroInvoice{
		Index: sub.Index, Address: sub.Address, Atomic: atomic, XMR: FormatXMR(atomic),
		URI: MoneroURI(sub.Address, atomic, ""),
	}, nil
}

// AtomicPerXMR: one XMR is 10^12 piconero, the chain's unit.
const AtomicPerXMR = 1_000_000_000_000

// XMRRate is the merchant's price of one XMR, in the minor units of a
// currency: {"CNY", 120000} is 1 XMR = 1200.00 CNY. It is set by the
// merchant in the console (an approval), never fetched.
type XMRRate struct {
	Currency    string
	MinorPerXMR int64
}

// ErrRate: the rate is unset or cannot price this amount.
var ErrRate = errors.New("pay: no usable XMR rate")

// Atomic converts an amount in the rate's minor units to piconero,
// exactly: ceil(amount × 10^12 / MinorPerXMR), in 128-bit integer
// arithmetic. It rounds up, never down, so that the rounding never makes
// the buyer underpay.
func (r XMRRate) Atomic(amountMinor int64) (uint64, error) {
	if r.MinorPerXMR <= 0 {
		return 0, fmt.Errorf("%w: rate not set", ErrRate)
	}
	if amountMinor <= 0 {
		return 0, fmt.Errorf("%w: nothing to pay", ErrRate)
	}
	hi, lo := bits.Mul64(uint64(amountMinor), AtomicPerXMR)
	d := uint64(r.MinorPerXMR)
	if hi >= d {
		return 0, fmt.Errorf("%w: amount too large", ErrRate)
	}
	q, rem := bits.Div64(hi, lo, d)
	if rem != 0 {
		if q == ^uint64(0) {
			return 0, fmt.Errorf("%w: amount too large", ErrRate)
		}
		q++
	}
	return q, nil
}

// Minor converts piconero back to the rate's minor units, rounding down:
// what a payment of atomic is worth at the rate, e.g. to record an
// underpayment in the order's currency without crediting more than was
// paid. For any rate up to 10^12 minor units per XMR,
// Minor(Atomic(x)) == x. Amounts beyond int64 are capped.
func (r XMRRate) Minor(atomic uint64) int64 {
	if r.MinorPerXMR <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(atomic, uint64(r.MinorPerXMR))
	if hi >= AtomicPerXMR {
		return 1<<63 - 1
	}
	q, _ := bits.Div64(hi, lo, AtomicPerXMR)
	if q > 1<<63-1 {
		return 1<<63 - 1
	}
	return int64(q)
}

// FormatXMR writes piconero as XMR, exactly, without trailing zeros:
// 1500000000000 → "1.5", 1 → "0.000000000001", 0 → "0".
func FormatXMR(atomic uint64) string {
	ip, fp := atomic/AtomicPerXMR, atomic%AtomicPerXMR
	if fp == 0 {
		return strconv.FormatUint(ip, 10)
	}
	frac := strconv.FormatUint(fp, 10)
	frac = strings.Repeat("0", 12-len(frac)) + frac
	return strconv.FormatUint(ip, 10) + "." + strings.TrimRight(frac, "0")
}

// ParseXMR reads a decimal amount of XMR ("1.5", "0.000000000001") into
// piconero, exactly: at most 12 decimals, no sign, exponent or leading
// zero (but "0.x").
func ParseXMR(s string) (uint64, error) {
	bad := fmt.Errorf("pay: bad XMR amount %q", clip(s))
	ip, fp, dot := strings.Cut(s, ".")
	if ip == "" || len(ip) > 8 || !digits(ip) || (len(ip) > 1 && ip[0] == '0') {
		return 0, bad
	}
	if dot && (fp == "" || len(fp) > 12 || !digits(fp)) {
		return 0, bad
	}
	n, err := strconv.ParseUint(ip+fp+strings.Repeat("0", 12-len(fp)), 10, 64)
	if err != nil {
		return 0, bad
	}
	return n, nil
}

// MoneroURI is the wallet URI of a payment (the monero: scheme of the
// Monero URI spec): the address, tx_amount in XMR and, if not empty,
// tx_description (shown only in the payer's wallet).
func MoneroURI(address string, atomic uint64, description string) string {
	q := "tx_amount=" + FormatXMR(atomic)
	if description != "" {
		q += "&tx_description=" + url.QueryEscape(description)
	}
	return "monero:" + address + "?" + q
}

// isMoneroAddress checks the form of a standard address or subaddress:
// 95 characters of Monero's base58 alphabet.
func isMoneroAddress(s string) bool {
	if len(s) != 95 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz", rune(s[i])) {
			return false
		}
	}
	return true
}

// MoneroWallet is a JSON-RPC client of monero-wallet-rpc, with HTTP digest
// authentication when the wallet RPC was started with --rpc-login.
type MoneroWallet struct {
	endpoint string // {URL}/json_rpc
	client   *http.Client
	auth     *digestAuth // nil without a login
	// serial holds one token while an authenticated call is under way.
	// monero-wallet-rpc (epee) keeps one digest nonce per user and wants
	// its nc in order: a call that arrives out of order is answered stale
	// with a new nonce, which makes every other call in flight stale too.
	// So authenticated calls go one at a time.
	serial chan struct{}
}

// MoneroWalletConfig configures NewMoneroWallet.
type MoneroWalletConfig struct {
	// URL is the wallet RPC's base URL (--monero-wallet-rpc), e.g.
	// http://127.0.0.1:18083.
	URL string
	// Username and Password are the wallet RPC's --rpc-login (from
	// --monero-rpc-login-file, see ParseRPCLogin); empty for none.
	Username, Password string
	// Client makes the calls; nil means a client with DefaultGatewayTimeout.
	Client *http.Client
}

// NewMoneroWallet checks c and returns the client. It does not call the
// wallet.
func NewMoneroWallet(c MoneroWalletConfig) (*MoneroWallet, error) {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, errors.New("pay: monero wallet RPC URL: an absolute http(s) URL without query or credentials is required")
	}
	if c.Username == "" && c.Password != "" {
		return nil, errors.New("pay: monero wallet RPC login: a password without a user name")
	}
	w := &MoneroWallet{endpoint: strings.TrimRight(c.URL, "/") + "/json_rpc", client: c.Client}
	if w.client == nil {
		w.client = &http.Client{Timeout: DefaultGatewayTimeout}
	}
	if c.Username != "" {
		w.auth = &digestAuth{user: c.Username, pass: c.Password}
		w.serial = make(chan struct{}, 1)
	}
	return w, nil
}

// ParseRPCLogin reads a --rpc-login value from a login file: one line
// "user:password" (monero's own format; the password may hold ':'). A
// trailing newline is dropped.
func ParseRPCLogin(data []byte) (user, pass string, err error) {
	s := strings.TrimRight(string(data), "\r\n")
	user, pass, ok := strings.Cut(s, ":")
	if !ok || user == "" || pass == "" || strings.ContainsAny(s, "\r\n") || !utf8.ValidString(s) || len(s) > 512 {
		return "", "", errors.New("pay: monero RPC login file: one line user:password")
	}
	return user, pass, nil
}

// RPCError is an error answer of the wallet RPC.
type RPCError struct {
	Method  string
	Code    int
	Message string // clipped
}

func (e *RPCError) Error() string {
	return fmt.Sprintf("pay: wallet RPC %s: error %d: %s", e.Method, e.Code, e.Message)
}

// maxRPCAnswer bounds a wallet RPC answer (get_transfers of a busy
// wallet is the largest).
const maxRPCAnswer = 16 << 20

// Call calls method with params and decodes the result into result (nil
// to ignore it). A transport failure, an HTTP error or a malformed answer
// is a *GatewayError (wrapping ErrGateway); an error answer is a
// *RPCError, wrapped in a *GatewayError too. Errors never hold the login.
//
// With a login, calls are made one at a time (see MoneroWallet.serial):
// a slow call (Refresh of a wallet that was long offline) delays the
// others, and ctx bounds the wait. Use one MoneroWallet per wallet RPC.
func (w *MoneroWallet) Call(ctx context.Context, method string, params, result any) error {
	op := "wallet-rpc " + method
	if w.serial != nil {
		select {
		case w.serial <- struct{}{}:
			defer func() { <-w.serial }()
		case <-ctx.Done():
			return &GatewayError{Op: op, Reason: "timed out"}
		}
	}
	if params == nil {
		params = struct{}{}
	}
	body, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": "0", "method": method, "params": params})
	if err != nil {
		return fmt.Errorf("pay: wallet RPC %s: %w", method, err)
	}
	var resp *http.Response
	sentAuth := false
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.endpoint, bytes.NewReader(body))
		if err != nil {
			return &GatewayError{Op: op, Reason: "bad request"}
		}
		req.Header.Set("Content-Type", "application/json")
		if w.auth != nil {
			w.auth.authorize(req)
			sentAuth = req.Header.Get("Authorization") != ""
		}
		resp, err = w.client.Do(req)
		if err != nil {
			reason := "unreachable"
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || isTimeout(err) {
				reason = "timed out"
			}
			return &GatewayError{Op: op, Reason: reason}
		}
		if resp.StatusCode != http.StatusUnauthorized || w.auth == nil || attempt == 2 {
			break
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		if !w.auth.challenge(resp.Header, sentAuth) {
			return &GatewayError{Op: op, Status: resp.StatusCode, Reason: "login refused"}
		}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		reason := "HTTP error"
		if resp.StatusCode == http.StatusUnauthorized {
			reason = "login refused"
		}
		return &GatewayError{Op: op, Status: resp.StatusCode, Reason: reason}
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxRPCAnswer+1))
	if err != nil || len(raw) > maxRPCAnswer {
		return &GatewayError{Op: op, Status: resp.StatusCode, Reason: "answer cut off or too long"}
	}
	var env struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return &GatewayError{Op: op, Status: resp.StatusCode, Reason: "answer is not JSON-RPC"}
	}
	if env.Error != nil {
		re := &RPCError{Method: method, Code: env.Error.Code, Message: clipRunes(env.Error.Message, 120)}
		return fmt.Errorf("%w: %w", &GatewayError{Op: op, Status: resp.StatusCode, Reason: "error answer"}, re)
	}
	if len(env.Result) == 0 {
		return &GatewayError{Op: op, Status: resp.StatusCode, Reason: "answer without result"}
	}
	if result != nil {
		if err := json.Unmarshal(env.Result, result); err != nil {
			return &GatewayError{Op: op, Status: resp.StatusCode, Reason: "malformed result"}
		}
	}
	return nil
}

// Subaddress is a subaddress of account 0.
type Subaddress struct {
	Index   uint32
	Address string
}

// CreateAddress makes a fresh subaddress on account 0 with label
// (create_address).
func (w *MoneroWallet) CreateAddress(ctx context.Context, label string) (Subaddress, error) {
	var r struct {
		Address      string `json:"address"`
		AddressIndex uint32 `json:"address_index"`
	}
	if err := w.Call(ctx, "create_address", map[string]any{"account_index": 0, "label": label}, &r); err != nil {
		return Subaddress{}, err
	}
	if !isMoneroAddress(r.Address) || r.AddressIndex == 0 {
		return Subaddress{}, &GatewayError{Op: "wallet-rpc create_address", Status: 200, Reason: "malformed address"}
	}
	return Subaddress{Index: r.AddressIndex, Address: r.Address}, nil
}

// Height is the wallet's chain height (get_height): the height of the
// next block; a transfer in block h has height-h confirmations.
func (w *MoneroWallet) Height(ctx context.Context) (uint64, error) {
	var r struct {
		Height uint64 `json:"height"`
	}
	if err := w.Call(ctx, "get_height", nil, &r); err != nil {
		return 0, err
	}
	return r.Height, nil
}

// Refresh makes the wallet scan the chain now (refresh) instead of at
// its next automatic refresh, so a watcher sees new blocks at once.
func (w *MoneroWallet) Refresh(ctx context.Context) error {
	return w.Call(ctx, "refresh", nil, nil)
}

// Transfer is one incoming transfer to a subaddress of account 0, as
// get_transfers reports it (one per transaction and subaddress).
type Transfer struct {
	TxID            string `json:"txid"`
	Amount          uint64 `json:"amount"` // piconero
	Confirmations   uint64 `json:"confirmations"`
	Height          uint64 `json:"height"` // 0 while in the pool
	UnlockTime      uint64 `json:"unlock_time"`
	DoubleSpendSeen bool   `json:"double_spend_seen"`
	SubaddrIndex    struct {
		Major uint32 `json:"major"`
		Minor uint32 `json:"minor"`
	} `json:"subaddr_index"`
	InPool bool `json:"-"`
}

// Transfers lists the incoming transfers, confirmed and in the pool, to
// the subaddresses of account 0 with the given indices (get_transfers in,
// pool). indices must not be empty (an empty list would mean every
// subaddress of the wallet).
func (w *MoneroWallet) Transfers(ctx context.Context, indices []uint32) ([]Transfer, error) {
	if len(indices) == 0 {
		return nil, errors.New("pay: get_transfers: no subaddress to ask about")
	}
	var r struct {
		In   []Transfer `json:"in"`
		Pool []Transfer `json:"pool"`
	}
	params := map[string]any{"in": true, "pool": true, "account_index": 0, "subaddr_indices": indices}
	if err := w.Call(ctx, "get_transfers", params, &r); err != nil {
		return nil, err
	}
	for i := range r.Pool {
		r.Pool[i].InPool = true
		r.Pool[i].Confirmations = 0
	}
	return append(r.In, r.Pool...), nil
}

// Scan asks the wallet about the subaddresses in want (index → piconero
// due) and tallies their transfers against it (TallyTransfers). height is
// the wallet's height at the time; a caller keeping a durable cursor
// stores it (and each tally's MaxHeight) to know what it has seen.
func (w *MoneroWallet) Scan(ctx context.Context, want map[uint32]uint64, confirmations uint64) (height uint64, tallies map[uint32]Tally, err error) {
	if len(want) == 0 {
		return 0, map[uint32]Tally{}, nil
	}
	height, err = w.Height(ctx)
	if err != nil {
		return 0, nil, err
	}
	indices := make([]uint32, 0, len(want))
	for i := range want {
		indices = append(indices, i)
	}
	slices.Sort(indices)
	ts, err := w.Transfers(ctx, indices)
	if err != nil {
		return 0, nil, err
	}
	return height, TallyTransfers(ts, want, confirmations), nil
}

// PaidClass is how a subaddress's confirmed sum compares with its amount.
type PaidClass int

const (
	Unpaid    PaidClass = iota // nothing counted yet
	Underpaid                  // counted, less than due
	PaidExact                  // exactly what is due
	Overpaid                   // more than due: the excess is owed back
)

func (c PaidClass) String() string {
	switch c {
	case Underpaid:
		return "under"
	case PaidExact:
		return "exact"
	case Overpaid:
		return "over"
	}
	return "unpaid"
}

// Tally is what one subaddress has received.
type Tally struct {
	Index uint32
	Want  uint64 // piconero due
	// Confirmed sums the transfers that count: confirmations ≥ the
	// threshold and unlock_time 0.
	Confirmed uint64
	// Pending sums the transfers seen but not yet counted (in the pool or
	// with too few confirmations), double spends left out.
	Pending uint64
	// Locked sums transfers with a non-zero unlock_time: never counted,
	// since the merchant could not spend them until then.
	Locked uint64
	// TxIDs of the counted transfers, sorted; MinHeight and MaxHeight are
	// their lowest and highest block heights (0 when none counted).
	TxIDs                []string
	MinHeight, MaxHeight uint64
	Class                PaidClass
}

// Excess is what was paid beyond the amount due (owed back).
func (t Tally) Excess() uint64 {
	if t.Confirmed > t.Want {
		return t.Confirmed - t.Want
	}
	return 0
}

// TallyTransfers sums, per subaddress in want (index → piconero due), the
// transfers that count — account 0, at least confirmations blocks deep,
// unlock_time 0 — and classifies the sum against the amount due. A
// transaction is counted once per subaddress even if listed twice (in the
// chain and still in the pool, say): the entry with the most
// confirmations wins. Transfers to other subaddresses are ignored. With
// confirmations 0 a pool transfer counts (0-conf), unless a double spend
// of it was seen.
func TallyTransfers(ts []Transfer, want map[uint32]uint64, confirmations uint64) map[uint32]Tally {
	type key struct {
		tx  string
		idx uint32
	}
	best := map[key]Transfer{}
	for _, t := range ts {
		if t.SubaddrIndex.Major != 0 {
			continue
		}
		if _, ok := want[t.SubaddrIndex.Minor]; !ok {
			continue
		}
		k := key{t.TxID, t.SubaddrIndex.Minor}
		if old, ok := best[k]; !ok || t.Confirmations > old.Confirmations {
			best[k] = t
		}
	}
	out := make(map[uint32]Tally, len(want))
	for idx, w := range want {
		out[idx] = Tally{Index: idx, Want: w}
	}
	for k, t := range best {
		tl := out[k.idx]
		switch {
		case t.UnlockTime != 0:
			tl.Locked = satAdd(tl.Locked, t.Amount)
		case t.DoubleSpendSeen && t.Confirmations == 0:
			// A pool transfer someone tried to double-spend: not money yet.
		case t.Confirmations >= confirmations:
			tl.Confirmed = satAdd(tl.Confirmed, t.Amount)
			tl.TxIDs = append(tl.TxIDs, t.TxID)
			if t.Height > tl.MaxHeight {
				tl.MaxHeight = t.Height
			}
			if t.Height != 0 && (tl.MinHeight == 0 || t.Height < tl.MinHeight) {
				tl.MinHeight = t.Height
			}
		default:
			tl.Pending = satAdd(tl.Pending, t.Amount)
		}
		out[k.idx] = tl
	}
	for idx, tl := range out {
		slices.Sort(tl.TxIDs)
		switch {
		case tl.Confirmed == 0:
			tl.Class = Unpaid
		case tl.Confirmed < tl.Want:
			tl.Class = Underpaid
		case tl.Confirmed == tl.Want:
			tl.Class = PaidExact
		default:
			tl.Class = Overpaid
		}
		out[idx] = tl
	}
	return out
}

// satAdd adds without wrapping: no sum of real transfers comes near 2^64
// piconero (18 million XMR), and a forged answer must not wrap to a small
// one.
func satAdd(a, b uint64) uint64 {
	s, c := bits.Add64(a, b, 0)
	if c != 0 {
		return ^uint64(0)
	}
	return s
}
