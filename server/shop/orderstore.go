package shop

import (
	"bytes"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"filippo.io/age"

	"veil/crypto"
	"veil/server/store"
)

// How an order is stored (issue 15, "write less"). A purchase used to
// rewrite one JSON record three times, each time carrying the order's ~2 KB
// Bech32 recipient and every delivery base64-encoded. Now:
//
//	order/<ref>              the record: orderRefFormat, the order's lookup
//	                         key (32 bytes, raw: what a token's look-up
//	                         compares, in constant time, and what tier/ is
//	                         keyed by), the fields every order has in binary
//	                         (encodeOrder), then the rest of the Order as
//	                         JSON, only when any of it is set
//	ordtime/<inv>/<ref>      the placement-time index entry (admin.go); its
//	                         value is the order's raw recipient
//	                         (crypto.RecipientBytes: kind byte and public
//	                         key), written once when the order is placed
//	payload/<ref>/<n>        delivery n: payloadAsym or payloadSym, then the
//	                         age file as is; written once, replaced only by
//	                         its re-sealing on first retrieval
//
// So placing writes the record and the ordtime/ entry it needs anyway,
// paying rewrites the record (≈ 180 bytes) and adds a delivery. Revealed
// is not stored while a delivery re-sealed to the token's symmetric
// recipient implies it (only the first showing re-seals), so the first
// retrieval writes the re-sealed deliveries and nothing else; a record
// that would not change is not rewritten.
//
// Stores written before hold the record under the lookup key instead,
// with a ref/<ref> index: the binary layout of 2026-12 (order/<lookup hex>
// = orderFormat record, ref/<ref> = raw lookup key + raw recipient, the
// ordtime/ value empty) and the JSON one before it (order/<lookup hex> = a
// JSON record, recipient and payloads inline, ref/<ref> = the lookup hex).
// All are read; the next write of such an order moves it to this layout
// (and drops its ref/ and order/<lookup hex> entries). getOrder and
// putOrder are the only way to an order record.
const (
	pPayload       = "payload/" // payload/<ref>/<n> -> kind byte + age file
	orderFormat    = 0x01       // first byte of a binary record keyed by the lookup key (older)
	orderRefFormat = 0x02       // first byte of a record keyed by the ref: the lookup key follows

	payloadAsym = 0x00 // sealed to the order's recipient
	payloadSym  = 0x01 // re-sealed to the token's symmetric recipient

	lookupHexLen = 64
	lookupLen    = lookupHexLen / 2
)

func payloadKey(ref string, n int) string { return pPayload + ref + "/" + strconv.Itoa(n) }

// getOrder reads the order of a token (its ref and lookup hex lk) with its
// recipient and deliveries. store.ErrNotFound when there is none, or when
// the order with that ref has another lookup key.
func getOrder(tx *store.Txn, ref, lk string) (Order, error) {
	v, err := tx.Get(pOrder + ref)
	if err == nil {
		key, err := hex.DecodeString(lk)
		if err != nil || len(v) < 1+lookupLen || v[0] != orderRefFormat ||
			subtle.ConstantTimeCompare(v[1:1+lookupLen], key) != 1 {
			return Order{}, store.ErrNotFound
		}
		return readOrder(tx, v, nil)
	}
	if !errors.Is(err, store.ErrNotFound) {
		return Order{}, err
	}
	// An older layout: keyed by the lookup key.
	if v, err = tx.Get(pOrder + lk); err != nil {
		return Order{}, err
	}
	var rv []byte
	if len(v) > 0 && v[0] != '{' {
		o, _, err := decodeOrder(v)
		if err != nil {
			return Order{}, err
		}
		if rv, err = tx.Get(pRef + o.Ref); err != nil {
			return Order{}, fmt.Errorf("shop: order %s: ref: %w", o.Ref, err)
		}
	}
	return readOrder(tx, v, rv)
}

// findOrder returns the stored record of the order ref in any layout, its
// lookup hex, and for the older binary layout its ref value rv (nil
// otherwise). store.ErrNotFound when there is none.
func findOrder(tx *store.Txn, ref string) (v, rv []byte, lk string, err error) {
	v, err = tx.Get(pOrder + ref)
	if err == nil {
		if len(v) < 1+lookupLen || v[0] != orderRefFormat {
			return nil, nil, "", errOrderRecord
		}
		return v, nil, hex.EncodeToString(v[1 : 1+lookupLen]), nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, nil, "", err
	}
	if rv, err = tx.Get(pRef + ref); err != nil {
		return nil, nil, "", err
	}
	lk = refLookup(rv)
	if v, err = tx.Get(pOrder + lk); err != nil {
		return nil, nil, "", err
	}
	if len(v) > 0 && v[0] == '{' {
		rv = nil
	}
	return v, rv, lk, nil
}

// orderLookup returns the lookup hex of the order ref.
func orderLookup(tx *store.Txn, ref string) (string, error) {
	_, _, lk, err := findOrder(tx, ref)
	return lk, err
}

// readOrder decodes the record v (rv: its ref value, for the older binary
// layout) and fills its recipient and deliveries.
func readOrder(tx *store.Txn, v, rv []byte) (Order, error) {
	o, npay, err := decodeOrder(v)
	if err != nil || v[0] == '{' {
		return o, err // the JSON form holds everything inline
	}
	var raw []byte
	if v[0] == orderRefFormat {
		raw, err = tx.Get(orderTimeKey(o))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return Order{}, fmt.Errorf("shop: order %s: recipient: %w", o.Ref, err)
		}
	} else {
		_, raw = splitRef(rv)
	}
	return o, loadOrderParts(tx, raw, npay, &o)
}

// loadOrderParts fills the recipient raw (nil: none) and the npay
// deliveries of a binary record.
func loadOrderParts(tx *store.Txn, raw []byte, npay int, o *Order) error {
	if len(raw) > 0 {
		// Kept raw: most reads (a repeat retrieval, a payment) never need
		// the ~2 KB Bech32 string, which RecipientString builds on demand.
		o.rcpt = raw
	}
	if npay > 0 {
		o.Payloads = make([]Payload, 0, npay)
	}
	for i := range npay {
		p, err := tx.Get(payloadKey(o.Ref, i))
		if err != nil {
			return fmt.Errorf("shop: order %s: delivery %d: %w", o.Ref, i, err)
		}
		if len(p) < 1 || p[0] > payloadSym {
			return fmt.Errorf("shop: order %s: delivery %d: bad record", o.Ref, i)
		}
		o.Payloads = append(o.Payloads, Payload{Sealed: p[1:], Sym: p[0] == payloadSym})
	}
	o.Revealed = o.Revealed || symPayload(o.Payloads)
	return nil
}

// recipientString is crypto.FormatRecipient through rcptStrings: a hybrid
// recipient's Bech32 string takes tens of microseconds to build.
func recipientString(raw []byte) (string, error) {
	return rcptStrings.through(raw, crypto.FormatRecipient)
}

// parsedRecipient is crypto.ParseRecipientBytes through rcptParsed: parsing
// a hybrid key expands its ML-KEM matrix (a third of the cost of sealing to
// it), and a payment seals to the recipient of an order placed moments ago.
func parsedRecipient(raw []byte) (age.Recipient, error) {
	return rcptParsed.through(raw, crypto.ParseRecipientBytes)
}

// The caches are keyed by the raw recipient itself, so an entry can never
// name another order's recipient. rcptStrings holds the strings asked for
// last (1,024 of them, about 3 MB); rcptParsed the parsed keys of the
// orders placed or paid last (256 of them, each ≈ 6 KB with its expanded
// matrix: ≈ 1.5 MB).
var (
	rcptStrings = &ringCache[string]{max: 1024}
	rcptParsed  = &ringCache[age.Recipient]{max: 256}
)

// ringCache is a bounded map that forgets its oldest entry first.
type ringCache[V any] struct {
	mu   sync.Mutex
	max  int
	m    map[string]V
	ring []string // keys in insertion order; the oldest is evicted
	next int
}

func (c *ringCache[V]) get(k []byte) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[string(k)]
	return v, ok
}

// through returns the entry for k, or else fn(k), remembered when fn
// succeeds.
func (c *ringCache[V]) through(k []byte, fn func([]byte) (V, error)) (V, error) {
	if v, ok := c.get(k); ok {
		return v, nil
	}
	v, err := fn(k)
	if err == nil {
		c.put(k, v)
	}
	return v, err
}

func (c *ringCache[V]) put(k []byte, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]V, c.max)
	}
	if _, ok := c.m[string(k)]; ok {
		return
	}
	key := string(k)
	if len(c.ring) < c.max {
		c.ring = append(c.ring, key)
	} else {
		delete(c.m, c.ring[c.next])
		c.ring[c.next] = key
		c.next = (c.next + 1) % c.max
	}
	c.m[key] = v
}

// RecipientString returns the order's age recipient ("age1pq1…" or
// "age1…"), built from the raw form an order read from the store holds.
// Empty when the order has none (a shadow order of another kind).
func (o Order) RecipientString() string {
	if o.Recipient != "" || o.rcpt == nil {
		return o.Recipient
	}
	s, _ := recipientString(o.rcpt)
	return s
}

// RecipientKind returns the kind of the order's age recipient.
func (o Order) RecipientKind() crypto.Kind {
	if o.rcpt != nil {
		return crypto.RecipientKind(o.rcpt)
	}
	if strings.HasPrefix(o.Recipient, "age1pq1") {
		return crypto.Hybrid
	}
	return crypto.X25519
}

// recipientRaw returns the raw form of the order's recipient, nil if none.
func (o *Order) recipientRaw() ([]byte, error) {
	if o.rcpt != nil || o.Recipient == "" {
		return o.rcpt, nil
	}
	return crypto.RecipientBytes(o.Recipient)
}

// ageRecipient returns the order's recipient to seal to.
func (o *Order) ageRecipient() (age.Recipient, error) {
	if o.rcpt != nil {
		return parsedRecipient(o.rcpt)
	}
	return crypto.ParseRecipient(o.Recipient)
}

// symPayload reports whether a delivery was re-sealed to the token's
// symmetric recipient, which only the first showing of the keys does.
func symPayload(ps []Payload) bool {
	for _, p := range ps {
		if p.Sym {
			return true
		}
	}
	return false
}

// getOrderMeta reads the record of the order ref without its recipient
// and deliveries. store.ErrNotFound when there is none.
func getOrderMeta(tx *store.Txn, ref string) (Order, error) {
	v, _, _, err := findOrder(tx, ref)
	if err != nil {
		return Order{}, err
	}
	o, _, err := decodeOrder(v)
	return o, err
}

// refLookup returns the lookup hex of a ref value (either older form).
func refLookup(rv []byte) string {
	lk, _ := splitRef(rv)
	return lk
}

// splitRef splits a ref value (older layouts) into the lookup hex and the
// raw recipient: the JSON era's is the lookup hex alone (no recipient),
// the binary one's the raw lookup key and the recipient.
func splitRef(rv []byte) (lk string, raw []byte) {
	if len(rv) <= lookupHexLen {
		return string(rv), nil
	}
	return hex.EncodeToString(rv[:lookupLen]), rv[lookupLen:]
}

// putOrder writes o, whose lookup hex is lk, in the current layout: the
// record under order/<ref>, each delivery that is not stored as it is (a
// delivery dropped from o is deleted) and, when the order has no such
// record yet (it is being placed, or it is stored in an older layout,
// whose ref/ and order/<lookup hex> entries it drops), the ordtime/ entry
// with the recipient. It reads what it compares, so an unchanged delivery
// or record costs no write.
func putOrder(tx *store.Txn, lk string, o Order) error {
	key, err := hex.DecodeString(lk)
	if err != nil || len(key) != lookupLen {
		return fmt.Errorf("shop: order %s: bad lookup key", o.Ref)
	}
	old, err := tx.Get(pOrder + o.Ref)
	if errors.Is(err, store.ErrNotFound) {
		raw, err := o.recipientRaw()
		if err != nil {
			return fmt.Errorf("shop: order %s: recipient: %w", o.Ref, err)
		}
		if err := tx.Set(orderTimeKey(o), raw); err != nil {
			return err
		}
		if err := dropIfPresent(tx, pRef+o.Ref); err != nil {
			return err
		}
		if err := dropIfPresent(tx, pOrder+lk); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	for i, p := range o.Payloads {
		k := payloadKey(o.Ref, i)
		kind := byte(payloadAsym)
		if p.Sym {
			kind = payloadSym
		}
		old, err := tx.Get(k)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err == nil && len(old) > 0 && old[0] == kind && bytes.Equal(old[1:], p.Sealed) {
			continue
		}
		if err := tx.Set(k, append([]byte{kind}, p.Sealed...)); err != nil {
			return err
		}
	}
	for i := len(o.Payloads); ; i++ {
		k := payloadKey(o.Ref, i)
		ok, err := tx.Has(k)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	b, err := encodeOrder(o)
	if err != nil {
		return err
	}
	// The same body behind orderRefFormat and the lookup key.
	rec := make([]byte, 0, len(b)+lookupLen)
	rec = append(append(append(rec, orderRefFormat), key...), b[1:]...)
	if old != nil && bytes.Equal(old, rec) {
		return nil
	}
	return tx.Set(pOrder+o.Ref, rec)
}

// deleteOrderParts deletes what putOrder writes beside the record and the
// ordtime/ entry: the deliveries of the order ref.
func deleteOrderParts(tx *store.Txn, ref string) error {
	var keys []string
	err := tx.Iterate(pPayload+ref+"/", "", true, func(k string, _ []byte) error {
		keys = append(keys, k)
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// orderRecipient returns the age recipient of o: from its raw form when o
// was read from a binary layout (no Bech32), else from o.Recipient.
func orderRecipient(tx *store.Txn, o *Order) (age.Recipient, error) {
	if o.rcpt != nil {
		return parsedRecipient(o.rcpt)
	}
	if _, rv, _, err := findOrder(tx, o.Ref); err == nil {
		if _, raw := splitRef(rv); raw != nil {
			return parsedRecipient(raw)
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	return crypto.ParseRecipient(o.Recipient)
}

// EditOrderTx reads the order with this ref, lets fn change it and writes
// it back: for maintenance and tests that must change a stored order as
// such (the record's encoding is the shop's).
func EditOrderTx(tx *store.Txn, ref string, fn func(*Order) error) error {
	o, lk, err := getOrderByRef(tx, ref)
	if err != nil {
		return err
	}
	if err := fn(&o); err != nil {
		return err
	}
	return putOrder(tx, lk, o)
}

// The binary record (orderFormat): the fields below in this order, strings
// and byte strings as a uvarint length and the bytes, integers as varints,
// times as timeBits (those after created_at counted from it), the status
// as one byte (statusCodes), flags as one byte; then a uvarint length and the JSON
// of the Order with these fields (and the recipient and deliveries, stored
// apart) zeroed — empty when nothing else is set, so a plain order is about
// 150 bytes. A field added to Order later lands in the JSON part by itself.
// Revealed is stored only when no delivery re-sealed to the token implies
// it.
//
//	ref product_id quantity amount_minor currency status tier items(count,
//	each) created_at expires_at paid_at deliver_by delivered_at window_ends
//	settled_at purge_at retain_from flags payment(if flagPayment: provider
//	trade_no amount_minor band, as hours if flagBandHour) unit_minor pay_with discount discount_key
//	coupon coupon_off coupon_key reward npayloads rest
const (
	flagRevealed = 1 << iota
	flagWithheld
	flagDiscountBack
	flagCouponBack
	flagPayment
	flagBandHour // the payment's band is an RFC 3339 UTC hour, stored as hours since 1970
)

// bandHour returns the hours since 1970 of a band that is exactly an
// RFC 3339 UTC hour (as ApplyPayment makes them); false for any other.
func bandHour(band string) (int64, bool) {
	t, err := time.Parse(time.RFC3339, band)
	if err != nil || t.Unix()%3600 != 0 || t.UTC().Format(time.RFC3339) != band {
		return 0, false
	}
	return t.Unix() / 3600, true
}

// hot returns o with the fields the binary part holds, and rest o with
// them (and the recipient and deliveries) zeroed.
func splitOrder(o Order) (rest Order) {
	rest = o
	rest.Ref, rest.ProductID, rest.Quantity, rest.AmountMinor, rest.Currency = "", "", 0, 0, ""
	rest.Status, rest.Tier, rest.Items = "", 0, nil
	rest.CreatedAt, rest.ExpiresAt, rest.PaidAt, rest.DeliverBy = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	rest.DeliveredAt, rest.WindowEnds, rest.SettledAt = time.Time{}, time.Time{}, time.Time{}
	rest.PurgeAt, rest.RetainFrom = time.Time{}, time.Time{}
	rest.Revealed, rest.Withheld, rest.DiscountBack, rest.CouponBack = false, false, false, false
	rest.Payment, rest.UnitMinor, rest.PayWith = nil, 0, ""
	rest.Discount, rest.DiscountKey = 0, ""
	rest.CouponCode, rest.CouponOff, rest.CouponKey, rest.Reward = "", 0, "", nil
	rest.Recipient, rest.rcpt, rest.Payloads = "", nil, nil
	return rest
}

func encodeOrder(o Order) ([]byte, error) {
	b := make([]byte, 0, 192)
	b = append(b, orderFormat)
	str := func(s string) { b = binary.AppendUvarint(b, uint64(len(s))); b = append(b, s...) }
	num := func(n int64) { b = binary.AppendVarint(b, n) }
	var base int64 // every time after created_at counts from it
	tm := func(t time.Time) { b = binary.AppendUvarint(b, timeBits(t, base)); b = appendNanos(b, t) }
	str(o.Ref)
	str(o.ProductID)
	num(int64(o.Quantity))
	num(o.AmountMinor)
	str(o.Currency)
	if i := slices.Index(statusCodes, o.Status); i >= 0 {
		b = append(b, byte(i+1))
	} else {
		b = append(b, 0)
		str(string(o.Status))
	}
	num(int64(o.Tier))
	b = binary.AppendUvarint(b, uint64(len(o.Items)))
	for _, it := range o.Items {
		str(it)
	}
	tm(o.CreatedAt)
	if !o.CreatedAt.IsZero() {
		base = o.CreatedAt.Unix()
	}
	for _, t := range []time.Time{o.ExpiresAt, o.PaidAt, o.DeliverBy, o.DeliveredAt,
		o.WindowEnds, o.SettledAt, o.PurgeAt, o.RetainFrom} {
		tm(t)
	}
	var flags byte
	for _, f := range []struct {
		on   bool
		flag byte
	}{{o.Revealed && !symPayload(o.Payloads), flagRevealed}, {o.Withheld, flagWithheld}, {o.DiscountBack, flagDiscountBack},
		{o.CouponBack, flagCouponBack}, {o.Payment != nil, flagPayment}} {
		if f.on {
			flags |= f.flag
		}
	}
	var hour int64
	var isHour bool
	if o.Payment != nil {
		if hour, isHour = bandHour(o.Payment.Band); isHour {
			flags |= flagBandHour
		}
	}
	b = append(b, flags)
	if o.Payment != nil {
		str(o.Payment.Provider)
		str(o.Payment.TradeNo)
		num(o.Payment.AmountMinor)
		if isHour {
			num(hour)
		} else {
			str(o.Payment.Band)
		}
	}
	num(o.UnitMinor)
	str(o.PayWith)
	num(int64(o.Discount))
	str(o.DiscountKey)
	str(o.CouponCode)
	num(o.CouponOff)
	str(o.CouponKey)
	str(string(o.Reward))
	b = binary.AppendUvarint(b, uint64(len(o.Payloads)))
	rest := splitOrder(o)
	if reflect.DeepEqual(rest, Order{}) {
		return binary.AppendUvarint(b, 0), nil
	}
	js, err := json.Marshal(rest)
	if err != nil {
		return nil, err
	}
	b = binary.AppendUvarint(b, uint64(len(js)))
	return append(b, js...), nil
}

// statusCodes are the statuses stored as one byte (their index + 1; 0 is
// followed by the status as a string). Append only.
var statusCodes = []Status{StatusPending, StatusPaid, StatusDelivered, StatusSettled, StatusExpired,
	StatusRefundDue, StatusRefunded, StatusReplaced, StatusPartiallyRefunded, StatusPaymentHeld}

// timeBits is 0 for the zero time, else 1 + (zigzag(unix seconds - base) <<
// 1 | has nanoseconds); the nanoseconds follow as a uvarint when set.
func timeBits(t time.Time, base int64) uint64 {
	if t.IsZero() {
		return 0
	}
	s := t.Unix() - base
	z := uint64(s<<1) ^ uint64(s>>63)
	n := uint64(0)
	if t.Nanosecond() != 0 {
		n = 1
	}
	return 1 + (z<<1 | n)
}

func appendNanos(b []byte, t time.Time) []byte {
	if !t.IsZero() && t.Nanosecond() != 0 {
		b = binary.AppendUvarint(b, uint64(t.Nanosecond()))
	}
	return b
}

var errOrderRecord = errors.New("shop: decode order record: malformed")

// decodeOrder decodes a stored order record of any form and returns
// the number of deliveries stored apart (0 for the JSON form, which holds
// them inline, as it holds the recipient). A binary record's Recipient
// and Payloads are left empty (getOrder fills them).
func decodeOrder(v []byte) (Order, int, error) {
	var o Order
	if len(v) > 0 && v[0] == '{' {
		err := jsonUnmarshal(v, &o)
		return o, 0, err
	}
	body := v
	switch {
	case len(v) > 0 && v[0] == orderFormat:
		body = v[1:]
	case len(v) > lookupLen && v[0] == orderRefFormat:
		body = v[1+lookupLen:] // the lookup key: findOrder's
	default:
		return o, 0, errOrderRecord
	}
	d := decoder{b: body}
	var h Order
	h.Ref = d.str()
	h.ProductID = d.str()
	h.Quantity = int(d.num())
	h.AmountMinor = d.num()
	h.Currency = d.str()
	if c := d.byte(); c == 0 {
		h.Status = Status(d.str())
	} else if int(c) <= len(statusCodes) {
		h.Status = statusCodes[c-1]
	} else {
		return o, 0, errOrderRecord
	}
	h.Tier = int(d.num())
	if n := d.uvarint(); n > 0 && d.err == nil {
		if n > uint64(len(d.b)) {
			return o, 0, errOrderRecord
		}
		h.Items = make([]string, 0, n)
		for range n {
			h.Items = append(h.Items, d.str())
		}
	}
	h.CreatedAt = d.time(0)
	base := int64(0)
	if !h.CreatedAt.IsZero() {
		base = h.CreatedAt.Unix()
	}
	for _, t := range []*time.Time{&h.ExpiresAt, &h.PaidAt, &h.DeliverBy, &h.DeliveredAt,
		&h.WindowEnds, &h.SettledAt, &h.PurgeAt, &h.RetainFrom} {
		*t = d.time(base)
	}
	flags := d.byte()
	h.Revealed, h.Withheld = flags&flagRevealed != 0, flags&flagWithheld != 0
	h.DiscountBack, h.CouponBack = flags&flagDiscountBack != 0, flags&flagCouponBack != 0
	if flags&flagPayment != 0 {
		h.Payment = &Payment{Provider: d.str(), TradeNo: d.str(), AmountMinor: d.num()}
		if flags&flagBandHour != 0 {
			h.Payment.Band = time.Unix(d.num()*3600, 0).UTC().Format(time.RFC3339)
		} else {
			h.Payment.Band = d.str()
		}
	}
	h.UnitMinor = d.num()
	h.PayWith = d.str()
	h.Discount = int(d.num())
	h.DiscountKey = d.str()
	h.CouponCode = d.str()
	h.CouponOff = d.num()
	h.CouponKey = d.str()
	if r := d.str(); r != "" {
		h.Reward = []byte(r)
	}
	npay := d.uvarint()
	rest := d.bytes()
	if d.err != nil || len(d.b) != 0 || npay > 1<<16 {
		return o, 0, errOrderRecord
	}
	if len(rest) > 0 {
		if err := jsonUnmarshal(rest, &o); err != nil {
			return o, 0, err
		}
	}
	// The binary fields over the rest (whose copies of them are zero).
	o.Ref, o.ProductID, o.Quantity, o.AmountMinor, o.Currency = h.Ref, h.ProductID, h.Quantity, h.AmountMinor, h.Currency
	o.Status, o.Tier, o.Items = h.Status, h.Tier, h.Items
	o.CreatedAt, o.ExpiresAt, o.PaidAt, o.DeliverBy = h.CreatedAt, h.ExpiresAt, h.PaidAt, h.DeliverBy
	o.DeliveredAt, o.WindowEnds, o.SettledAt = h.DeliveredAt, h.WindowEnds, h.SettledAt
	o.PurgeAt, o.RetainFrom = h.PurgeAt, h.RetainFrom
	o.Revealed, o.Withheld, o.DiscountBack, o.CouponBack = h.Revealed, h.Withheld, h.DiscountBack, h.CouponBack
	o.Payment, o.UnitMinor, o.PayWith = h.Payment, h.UnitMinor, h.PayWith
	o.Discount, o.DiscountKey = h.Discount, h.DiscountKey
	o.CouponCode, o.CouponOff, o.CouponKey, o.Reward = h.CouponCode, h.CouponOff, h.CouponKey, h.Reward
	return o, int(npay), nil
}

// decoder reads the binary record; the first error sticks.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errOrderRecord
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) num() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errOrderRecord
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errOrderRecord
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string { return string(d.bytes()) }

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.err = errOrderRecord
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) time(base int64) time.Time {
	v := d.uvarint()
	if v == 0 || d.err != nil {
		return time.Time{}
	}
	v--
	z := v >> 1
	s := int64(z>>1) ^ -int64(z&1) + base
	var ns int64
	if v&1 != 0 {
		ns = int64(d.uvarint())
		if ns <= 0 || ns >= 1e9 {
			d.err = errOrderRecord
			return time.Time{}
		}
	}
	return time.Unix(s, ns).UTC()
}
