package shop

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"veil/crypto"
	"veil/server/store"
)

// Resale (对接, upstream side): reseller accounts buy keys through the
// reseller API at agent prices, paid from a prepaid balance. Each account
// has a key id and an API secret; the secret is derived from the vault
// (crypto.Vault.ResellerSecret) and never stored. Every balance movement is
// a ledger entry written in the transaction that moves it.

// ResellerStatus is whether an account may call the API.
type ResellerStatus string

// Reseller statuses.
const (
	ResellerActive    ResellerStatus = "active"
	ResellerSuspended ResellerStatus = "suspended"
)

// Resale errors. The HTTP layer maps each to a documented code.
var (
	ErrResellerNotFound    = errors.New("shop: reseller not found")                          // 404 reseller_not_found
	ErrResellerSuspended   = errors.New("shop: reseller suspended")                          // 403 reseller_suspended
	ErrInsufficientBalance = errors.New("shop: insufficient balance")                        // 402 insufficient_balance
	ErrDailyLimit          = errors.New("shop: daily limit reached")                         // 403 daily_limit
	ErrCurrencyMismatch    = errors.New("shop: product currency is not the account's")       // 409 currency_mismatch
	ErrIdempotencyConflict = errors.New("shop: idempotency key reused with another request") // 409 idempotency_conflict
	ErrResaleOrderNotFound = errors.New("shop: resale order not found")                      // 404 order_not_found
	ErrNoSecret            = errors.New("shop: no API secret issued")                        // 401 bad_signature
	ErrPriceChanged        = errors.New("shop: agent price above the stated maximum")        // 409 price_changed
)

// Reseller is an account of the reseller API.
type Reseller struct {
	// ID is the account's API key id ("rk_" + 20 symbols); it is not secret.
	ID     string         `json:"id"`
	Name   string         `json:"name"`
	Status ResellerStatus `json:"status"`
	// Recipient is the age recipient every key sold to the account is
	// sealed to; only the reseller holds its identity.
	Recipient string `json:"recipient"`
	Currency  string `json:"currency"`
	// PercentOff is the discount off the retail price (0–99) where Prices
	// names no agent price for a product; Prices maps product id to agent
	// price in minor units.
	PercentOff int              `json:"percent_off,omitempty"`
	Prices     map[string]int64 `json:"prices,omitempty"`
	// DailyLimitMinor caps what the account may spend per shop day (0: no
	// cap); RatePerMinute caps its API calls (0: DefaultResellerRate).
	DailyLimitMinor int64 `json:"daily_limit_minor,omitempty"`
	RatePerMinute   int   `json:"rate_per_minute,omitempty"`
	BalanceMinor    int64 `json:"balance_minor"`
	// Salt derives the API secret with the vault; empty until one is
	// issued. SecretIssued is when the current one was.
	Salt         []byte    `json:"salt,omitempty"`
	SecretIssued time.Time `json:"secret_issued,omitzero"`
	LedgerSeq    uint64    `json:"ledger_seq"`
	CreatedAt    time.Time `json:"created_at"`
}

// DefaultResellerRate is the API calls a minute an account may make unless
// it sets its own.
const DefaultResellerRate = 120

// Rate is the account's calls per minute.
func (r Reseller) Rate() int {
	if r.RatePerMinute > 0 {
		return r.RatePerMinute
	}
	return DefaultResellerRate
}

// ResellerSpec is what creating an account takes (the reseller_create
// approval's params).
type ResellerSpec struct {
	Name            string           `json:"name"`
	Recipient       string           `json:"recipient"`
	Currency        string           `json:"currency"`
	PercentOff      int              `json:"percent_off,omitempty"`
	Prices          map[string]int64 `json:"prices,omitempty"`
	DailyLimitMinor int64            `json:"daily_limit_minor,omitempty"`
	RatePerMinute   int              `json:"rate_per_minute,omitempty"`
}

// LedgerKind says why a balance moved.
type LedgerKind string

// Ledger kinds.
const (
	LedgerTopUp         LedgerKind = "top_up"         // money received from the reseller
	LedgerAdjust        LedgerKind = "adjust"         // a correction, either sign
	LedgerOrder         LedgerKind = "order"          // an order paid from the balance
	LedgerRefund        LedgerKind = "refund"         // an order (or item) refunded to the balance
	LedgerBalanceRefund LedgerKind = "balance_refund" // balance paid back to the reseller
)

// LedgerEntry is one movement of a balance.
type LedgerEntry struct {
	Seq          uint64     `json:"seq"`
	At           time.Time  `json:"at"`
	Kind         LedgerKind `json:"kind"`
	DeltaMinor   int64      `json:"delta_minor"`
	BalanceMinor int64      `json:"balance_minor"` // after the movement
	Ref          string     `json:"ref,omitempty"` // order id, approval id or ticket id
	Note         string     `json:"note,omitempty"`
}

// ResaleOrder is an order a reseller placed. Its keys are sealed to the
// reseller's recipient, never held in the clear.
type ResaleOrder struct {
	ID          string    `json:"id"` // "RS-" + 10 symbols
	Reseller    string    `json:"reseller"`
	ProductID   string    `json:"product_id"`
	Quantity    int       `json:"quantity"`
	UnitMinor   int64     `json:"unit_minor"`
	AmountMinor int64     `json:"amount_minor"`
	Currency    string    `json:"currency"`
	Status      Status    `json:"status"` // delivered, replaced, partially_refunded, refunded
	Items       []string  `json:"items"`
	Payloads    []Payload `json:"payloads"` // age files sealed to the reseller, JSON []Item
	// Bad marks items taken back (reported_bad, recalled); RefundedMinor
	// sums refunds to the balance.
	Bad           map[string]KeyState `json:"bad,omitempty"`
	RefundedMinor int64               `json:"refunded_minor,omitempty"`
	Notices       []Notice            `json:"notices,omitempty"`
	CreatedAt     time.Time           `json:"created_at"`
}

// ResaleRequest is a reseller's order.
type ResaleRequest struct {
	Reseller string
	Product  string // id or slug
	Quantity int
	// MaxUnitMinor, when set, refuses the order if the agent price went
	// above it (ErrPriceChanged).
	MaxUnitMinor int64
	// IdemKey is the request's Idempotency-Key and BodyHash the SHA-256 of
	// its body: a repeat with the same key returns the first order, the same
	// key with another body is ErrIdempotencyConflict.
	IdemKey  string
	BodyHash [32]byte
	// Render, when set, makes the answer's body from the new order inside
	// the transaction; it is stored with the idempotency record and a
	// repeat gets it back byte for byte (ResalePlaced.Answer).
	Render func(ResaleOrder) ([]byte, error)
}

// Store keys of resale.
const (
	pRsAcct  = "rs/acct/"  // rs/acct/<id> -> Reseller
	pRsName  = "rs/name/"  // rs/name/<lower name> -> id
	pRsLed   = "rs/led/"   // rs/led/<id>/<seq> -> LedgerEntry
	pRsOrd   = "rs/ord/"   // rs/ord/<order id> -> ResaleOrder
	pRsBy    = "rs/by/"    // rs/by/<id>/<order id> -> ""
	pRsIdem  = "rs/idem/"  // rs/idem/<id>/<sha256 hex of the key> -> idemRecord
	pRsDay   = "rs/day/"   // rs/day/<id>/<YYYY-MM-DD> -> spent minor units (decimal)
	pRsTkt   = "rs/tkt/"   // rs/tkt/<ticket id> -> ResaleTicket
	pRsTktBy = "rs/tktby/" // rs/tktby/<order id>/<ticket id> -> ""
)

// idemRecord remembers the first answer to an Idempotency-Key: what it
// made (an order or a ticket) and the hash of the request that made it.
type idemRecord struct {
	Kind     string `json:"kind"`
	ID       string `json:"id"`
	BodyHash string `json:"body_hash"`
	// Answer is the first answer's body as the API rendered it (Render),
	// returned as is to a repeat. It holds no key in the clear: keys in it
	// are sealed to the reseller.
	Answer []byte `json:"answer,omitempty"`
}

var (
	resellerIDRE    = regexp.MustCompile(`^rk_[0-9a-z]{20}$`)
	resaleOrderIDRE = regexp.MustCompile(`^RS-[0-9A-Z]{10}$`)
)

// IsResaleRef reports whether ref names a resale order (a key's order
// field holds either a buyer order ref or one of these).
func IsResaleRef(ref string) bool { return strings.HasPrefix(ref, "RS-") }

func newResaleOrderID() string {
	return "RS-" + strings.ToUpper(crypto.RandomID("", 7)[:10])
}

func (sp *ResellerSpec) validate() error {
	sp.Name = strings.TrimSpace(sp.Name)
	if sp.Name == "" || utf8.RuneCountInString(sp.Name) > 64 || strings.ContainsAny(sp.Name, "\x00\r\n") {
		return inputErr("name: 1 to 64 characters, one line")
	}
	if _, err := crypto.ParseRecipient(sp.Recipient); err != nil {
		return inputErr("recipient: an age recipient (age1… or age1pq1…)")
	}
	if !currencyRE.MatchString(sp.Currency) {
		return inputErr("currency: three capital letters")
	}
	if sp.PercentOff < 0 || sp.PercentOff > 99 {
		return inputErr("percent_off: 0 to 99")
	}
	if len(sp.Prices) > 1000 {
		return inputErr("prices: at most 1000")
	}
	for pid, p := range sp.Prices {
		if p <= 0 || len(pid) > 64 {
			return inputErr("prices: positive amounts by product id")
		}
	}
	if sp.DailyLimitMinor < 0 || sp.RatePerMinute < 0 || sp.RatePerMinute > 6000 {
		return inputErr("daily_limit_minor ≥ 0, rate_per_minute 0 to 6000")
	}
	return nil
}

// CheckResellerSpec validates a spec before it is proposed.
func (s *Shop) CheckResellerSpec(sp ResellerSpec) error {
	if err := sp.validate(); err != nil {
		return err
	}
	for pid := range sp.Prices {
		if _, ok := s.catalog.get(pid); !ok {
			return inputErr("prices: unknown product %q", pid)
		}
	}
	return nil
}

// CreateResellerTx creates an account inside the caller's transaction (the
// reseller_create approval's executor). It starts active with a zero
// balance and no API secret: IssueResellerSecret shows one once.
func (s *Shop) CreateResellerTx(tx *store.Txn, sp ResellerSpec) (Reseller, error) {
	if err := s.CheckResellerSpec(sp); err != nil {
		return Reseller{}, err
	}
	nameKey := pRsName + strings.ToLower(sp.Name)
	if ok, err := tx.Has(nameKey); err != nil || ok {
		if err == nil {
			err = inputErr("name: an account of that name exists")
		}
		return Reseller{}, err
	}
	r := Reseller{
		ID: crypto.RandomID("rk_", 13)[:23], Name: sp.Name, Status: ResellerActive,
		Recipient: sp.Recipient, Currency: sp.Currency, PercentOff: sp.PercentOff, Prices: sp.Prices,
		DailyLimitMinor: sp.DailyLimitMinor, RatePerMinute: sp.RatePerMinute,
		CreatedAt: s.now().Truncate(timeUnit),
	}
	if err := tx.Set(nameKey, []byte(r.ID)); err != nil {
		return Reseller{}, err
	}
	return r, tx.SetJSON(pRsAcct+r.ID, r)
}

func getReseller(tx *store.Txn, id string) (Reseller, error) {
	var r Reseller
	if !resellerIDRE.MatchString(id) {
		return r, ErrResellerNotFound
	}
	err := tx.GetJSON(pRsAcct+id, &r)
	if errors.Is(err, store.ErrNotFound) {
		err = ErrResellerNotFound
	}
	return r, err
}

// Reseller returns an account.
func (s *Shop) Reseller(id string) (Reseller, error) {
	var r Reseller
	err := s.db.View(func(tx *store.Txn) error {
		var err error
		r, err = getReseller(tx, id)
		return err
	})
	return r, err
}

// Resellers lists every account.
func (s *Shop) Resellers() ([]Reseller, error) {
	var out []Reseller
	err := s.db.View(func(tx *store.Txn) error {
		return tx.Iterate(pRsAcct, "", false, func(_ string, v []byte) error {
			var r Reseller
			if err := jsonUnmarshal(v, &r); err != nil {
				return err
			}
			out = append(out, r)
			return nil
		})
	})
	return out, err
}

// FormatResellerSecret is how an API secret is shown: "rs_" and base64url
// of its 32 bytes.
func FormatResellerSecret(k [32]byte) string {
	return "rs_" + base64.RawURLEncoding.EncodeToString(k[:])
}

// IssueResellerSecret gives the account a new API secret and returns it,
// formatted, to be shown once: a fresh salt is stored and the secret is
// derived from it with the vault (ErrLocked while locked). The previous
// secret stops working at once.
func (s *Shop) IssueResellerSecret(id string) (string, error) {
	s.mu.RLock()
	v := s.vault
	s.mu.RUnlock()
	if v == nil {
		return "", ErrLocked
	}
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	err := s.db.Update(func(tx *store.Txn) error {
		r, err := getReseller(tx, id)
		if err != nil {
			return err
		}
		r.Salt, r.SecretIssued = salt, s.now().Truncate(timeUnit)
		return tx.SetJSON(pRsAcct+r.ID, r)
	})
	if err != nil {
		return "", err
	}
	return FormatResellerSecret(v.ResellerSecret(id, salt)), nil
}

// ResellerKey returns an account and its API secret, to check a request's
// signature: ErrResellerNotFound, ErrNoSecret, ErrLocked. A suspended
// account is returned too (the caller refuses it, after checking the
// signature, so that suspension is not an oracle for key ids).
func (s *Shop) ResellerKey(id string) (Reseller, [32]byte, error) {
	r, err := s.Reseller(id)
	if err != nil {
		return r, [32]byte{}, err
	}
	if len(r.Salt) == 0 {
		return r, [32]byte{}, ErrNoSecret
	}
	s.mu.RLock()
	v := s.vault
	s.mu.RUnlock()
	if v == nil {
		return r, [32]byte{}, ErrLocked
	}
	return r, v.ResellerSecret(id, r.Salt), nil
}

// SetResellerStatus suspends or reactivates an account at once: the next
// request of a suspended account is refused.
func (s *Shop) SetResellerStatus(id string, st ResellerStatus) (Reseller, error) {
	if st != ResellerActive && st != ResellerSuspended {
		return Reseller{}, inputErr("status: active or suspended")
	}
	var r Reseller
	err := s.db.Update(func(tx *store.Txn) error {
		var err error
		if r, err = getReseller(tx, id); err != nil {
			return err
		}
		r.Status = st
		return tx.SetJSON(pRsAcct+r.ID, r)
	})
	return r, err
}

// postLedger moves r's balance by delta and writes the ledger entry, in tx.
// r is saved by the caller's later SetJSON or here (save).
func (s *Shop) postLedger(tx *store.Txn, r *Reseller, kind LedgerKind, delta int64, ref, note string) (LedgerEntry, error) {
	r.LedgerSeq++
	r.BalanceMinor += delta
	e := LedgerEntry{Seq: r.LedgerSeq, At: s.now().Truncate(timeUnit), Kind: kind, DeltaMinor: delta,
		BalanceMinor: r.BalanceMinor, Ref: ref, Note: note}
	if err := tx.SetJSON(fmt.Sprintf("%s%s/%020d", pRsLed, r.ID, e.Seq), e); err != nil {
		return e, err
	}
	return e, tx.SetJSON(pRsAcct+r.ID, r)
}

// BalanceTx moves an account's balance inside the caller's transaction —
// the executor of a top-up (delta > 0), an adjustment (either sign), a
// balance refund (delta < 0) or a refund to the balance. ref names the
// approval. A movement that would leave the balance negative is refused
// (ErrInsufficientBalance).
func (s *Shop) BalanceTx(tx *store.Txn, id string, kind LedgerKind, delta int64, ref, note string) (LedgerEntry, error) {
	switch kind {
	case LedgerTopUp, LedgerRefund:
		if delta <= 0 {
			return LedgerEntry{}, inputErr("amount: positive")
		}
	case LedgerBalanceRefund:
		if delta >= 0 {
			return LedgerEntry{}, inputErr("amount: negative")
		}
	case LedgerAdjust:
		if delta == 0 {
			return LedgerEntry{}, inputErr("amount: not zero")
		}
	default:
		return LedgerEntry{}, inputErr("kind: unknown")
	}
	if utf8.RuneCountInString(note) > 200 {
		return LedgerEntry{}, inputErr("note: at most 200 characters")
	}
	r, err := getReseller(tx, id)
	if err != nil {
		return LedgerEntry{}, err
	}
	if r.BalanceMinor+delta < 0 {
		return LedgerEntry{}, ErrInsufficientBalance
	}
	return s.postLedger(tx, &r, kind, delta, ref, note)
}

// Ledger lists an account's movements, newest first, below seq before (0:
// from the newest), at most limit (1–200, default 50).
func (s *Shop) Ledger(id string, before uint64, limit int) ([]LedgerEntry, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	var out []LedgerEntry
	err := s.db.View(func(tx *store.Txn) error {
		r, err := getReseller(tx, id)
		if err != nil {
			return err
		}
		if before == 0 || before > r.LedgerSeq {
			before = r.LedgerSeq + 1
		}
		for seq := before - 1; seq >= 1 && len(out) < limit; seq-- {
			var e LedgerEntry
			if err := tx.GetJSON(fmt.Sprintf("%s%s/%020d", pRsLed, r.ID, seq), &e); err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// AgentPrice is what the account pays for one unit of prod.
func (r Reseller) AgentPrice(prod Product) int64 {
	if p, ok := r.Prices[prod.ID]; ok {
		return p
	}
	return max(1, prod.PriceMinor*int64(100-r.PercentOff)/100)
}

// idemKey is where an Idempotency-Key's record lives: the key is hashed so
// that any bytes a client sends make a well-formed store key.
func idemKey(reseller, key string) string {
	h := sha256.Sum256([]byte(key))
	return pRsIdem + reseller + "/" + hex.EncodeToString(h[:])
}

// checkIdem returns what the key made before (and whether it did);
// ErrIdempotencyConflict if it made it for another request.
func checkIdem(tx *store.Txn, reseller, key, kind string, body [32]byte) (idemRecord, bool, error) {
	var rec idemRecord
	err := tx.GetJSON(idemKey(reseller, key), &rec)
	if errors.Is(err, store.ErrNotFound) {
		return rec, false, nil
	}
	if err != nil {
		return rec, false, err
	}
	if rec.Kind != kind || rec.BodyHash != hex.EncodeToString(body[:]) {
		return rec, false, ErrIdempotencyConflict
	}
	return rec, true, nil
}

func putIdem(tx *store.Txn, reseller, key, kind, id string, body [32]byte, answer []byte) error {
	return tx.SetJSON(idemKey(reseller, key), idemRecord{Kind: kind, ID: id, BodyHash: hex.EncodeToString(body[:]), Answer: answer})
}

// ResalePlaced is the answer to PlaceResale.
type ResalePlaced struct {
	Order ResaleOrder
	// Repeat is set when the Idempotency-Key answered an earlier request:
	// nothing changed.
	Repeat bool
	// Answer is what Render made for the first request.
	Answer []byte
}

// PlaceResale places a reseller's order and delivers it in one
// transaction: the idempotency record, the stock taken, the keys sealed to
// the reseller's recipient, the balance debited with its ledger entry and
// the day's spending all commit together or not at all. A repeat of the
// Idempotency-Key returns the first order and changes nothing.
//
// ErrResellerNotFound, ErrResellerSuspended, ErrProductNotFound,
// ErrCurrencyMismatch, ErrPriceChanged, ErrInsufficientBalance,
// ErrDailyLimit, ErrOutOfStock, ErrLocked, ErrIdempotencyConflict,
// *InputError.
func (s *Shop) PlaceResale(req ResaleRequest) (ResalePlaced, error) {
	if req.IdemKey == "" || len(req.IdemKey) > 128 {
		return ResalePlaced{}, inputErr("Idempotency-Key: 1 to 128 characters")
	}
	// A repeat first, before anything about stock or the vault: it must
	// answer the same even when those changed since.
	var out ResalePlaced
	err := s.db.View(func(tx *store.Txn) error {
		rec, ok, err := checkIdem(tx, req.Reseller, req.IdemKey, "order", req.BodyHash)
		if err != nil || !ok {
			return err
		}
		out.Repeat, out.Answer = true, rec.Answer
		return tx.GetJSON(pRsOrd+rec.ID, &out.Order)
	})
	if err != nil || out.Repeat {
		return out, err
	}
	qty := req.Quantity
	if qty < 1 || qty > s.cfg.MaxQuantity {
		return ResalePlaced{}, inputErr("quantity: between 1 and %d", s.cfg.MaxQuantity)
	}
	prod, err := s.Product(req.Product)
	if err != nil {
		return ResalePlaced{}, err
	}
	if prod.Upstream != nil {
		return ResalePlaced{}, ErrProductNotFound // not offered on: sourced from another shop
	}
	if s.Locked() {
		return ResalePlaced{}, ErrLocked
	}
	h, err := s.hold(prod, qty)
	if err != nil {
		return ResalePlaced{}, err
	}
	err = s.update(prod, func(tx *store.Txn) error {
		out = ResalePlaced{}
		if rec, ok, err := checkIdem(tx, req.Reseller, req.IdemKey, "order", req.BodyHash); err != nil || ok {
			if ok {
				out.Repeat, out.Answer = true, rec.Answer
				h.used = false
				return tx.GetJSON(pRsOrd+rec.ID, &out.Order)
			}
			return err
		}
		r, err := getReseller(tx, req.Reseller)
		if err != nil {
			return err
		}
		if r.Status != ResellerActive {
			return ErrResellerSuspended
		}
		if prod.Currency != r.Currency {
			return ErrCurrencyMismatch
		}
		unit := r.AgentPrice(prod)
		if req.MaxUnitMinor > 0 && unit > req.MaxUnitMinor {
			return ErrPriceChanged
		}
		amount := unit * int64(qty)
		if r.BalanceMinor < amount {
			return ErrInsufficientBalance
		}
		dayKey := pRsDay + r.ID + "/" + s.now().In(s.locationTx(tx)).Format(time.DateOnly)
		spent := int64(0)
		if b, err := tx.Get(dayKey); err == nil {
			spent, _ = strconv.ParseInt(string(b), 10, 64)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if r.DailyLimitMinor > 0 && spent+amount > r.DailyLimitMinor {
			return ErrDailyLimit
		}
		o := ResaleOrder{
			ID: newResaleOrderID(), Reseller: r.ID, ProductID: prod.ID, Quantity: qty,
			UnitMinor: unit, AmountMinor: amount, Currency: prod.Currency, Status: StatusDelivered,
			CreatedAt: s.now().Truncate(timeUnit),
		}
		if ok, err := tx.Has(pRsOrd + o.ID); err != nil || ok {
			if err == nil {
				err = errRefTaken
			}
			return err
		}
		items, err := h.apply(tx, o.ID)
		if err != nil {
			return err
		}
		o.Items = items
		shadow := Order{Ref: o.ID, Recipient: r.Recipient}
		sealed, recs, err := s.sealKeys(tx, &shadow, items, prod, true)
		if err != nil {
			return err
		}
		if err := markDelivered(tx, prod, recs); err != nil {
			return err
		}
		o.Payloads = []Payload{{Sealed: sealed}}
		if _, err := s.postLedger(tx, &r, LedgerOrder, -amount, o.ID, ""); err != nil {
			return err
		}
		if err := tx.Set(dayKey, []byte(strconv.FormatInt(spent+amount, 10))); err != nil {
			return err
		}
		if err := tx.Set(pRsBy+r.ID+"/"+o.ID, nil); err != nil {
			return err
		}
		if req.Render != nil {
			if out.Answer, err = req.Render(o); err != nil {
				return err
			}
		}
		if err := putIdem(tx, r.ID, req.IdemKey, "order", o.ID, req.BodyHash, out.Answer); err != nil {
			return err
		}
		out.Order = o
		return tx.SetJSON(pRsOrd+o.ID, o)
	})
	s.finish(h, err == nil)
	if err != nil {
		return ResalePlaced{}, fmt.Errorf("shop: resale order: %w", err)
	}
	if !out.Repeat {
		s.log.Info("shop: resale order delivered", "order", out.Order.ID, "reseller", req.Reseller,
			"product", prod.Slug, "quantity", qty)
	}
	return out, nil
}

// ResaleOrder returns an order of the account reseller (another account's
// order is ErrResaleOrderNotFound, as an unknown one).
func (s *Shop) ResaleOrder(reseller, id string) (ResaleOrder, error) {
	var o ResaleOrder
	err := s.db.View(func(tx *store.Txn) error {
		var err error
		o, err = getResaleOrder(tx, reseller, id)
		return err
	})
	return o, err
}

func getResaleOrder(tx *store.Txn, reseller, id string) (ResaleOrder, error) {
	var o ResaleOrder
	if !resaleOrderIDRE.MatchString(id) {
		return o, ErrResaleOrderNotFound
	}
	err := tx.GetJSON(pRsOrd+id, &o)
	if errors.Is(err, store.ErrNotFound) || (err == nil && reseller != "" && o.Reseller != reseller) {
		return ResaleOrder{}, ErrResaleOrderNotFound
	}
	return o, err
}

// ResaleOrders lists an account's orders, oldest first (at most 500).
func (s *Shop) ResaleOrders(reseller string) ([]ResaleOrder, error) {
	var out []ResaleOrder
	err := s.db.View(func(tx *store.Txn) error {
		return tx.Iterate(pRsBy+reseller+"/", "", true, func(k string, _ []byte) error {
			var o ResaleOrder
			if err := tx.GetJSON(pRsOrd+k[strings.LastIndexByte(k, '/')+1:], &o); err != nil {
				return err
			}
			out = append(out, o)
			if len(out) == 500 {
				return store.ErrStop
			}
			return nil
		})
	})
	return out, err
}
