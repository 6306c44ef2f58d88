package shop

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"veil/crypto"
	"veil/server/store"
)

// TestPurchaseWrites: one purchase (place, pay, first retrieval) of a
// unique key commits at most 8 entries and 4,096 bytes of keys and values
// (it was 14 entries and ~11 KB with the recipient and base64 deliveries in
// a JSON record written three times, then 12 with the expiry and settle
// indexes, which schedule.go replaced, then 9 with a ref/ index beside a
// record keyed by the lookup key); a repeat retrieval writes nothing.
//
// The eight: placing writes the key's record (reserved) and drops it from
// avail/, the ordtime/ entry (its value the recipient, written once) and
// the order record (order/<ref>, the lookup key inside); paying rewrites
// the key's record (delivered, its inventory ciphertext dropped) and the
// order record and stores the delivery; the first retrieval replaces the
// delivery by its re-sealing to the token.
func TestPurchaseWrites(t *testing.T) {
	e := newEnv(t)
	p := e.product("lean", Unique)
	e.importKeys(p.ID, keyList("LEAN", 4))
	e.keysOf(e.buyAndPay(p.ID)) // warm: the first order of a product may write more

	before := e.db.Stats()
	pl := e.buy(p.ID, 1)
	placed := e.db.Stats()
	e.pay(pl.Order)
	paid := e.db.Stats()
	if ks := e.keysOf(pl.Token); len(ks) != 1 {
		t.Fatalf("keys %v", ks)
	}
	shown := e.db.Stats()
	e.keysOf(pl.Token)
	if again := e.db.Stats(); again != shown {
		t.Fatalf("a repeat retrieval wrote: %+v -> %+v", shown, again)
	}
	entries, size := shown.Entries-before.Entries, shown.Bytes-before.Bytes
	t.Logf("purchase: %d entries, %d bytes (place %d/%d, pay %d/%d, retrieve %d/%d)", entries, size,
		placed.Entries-before.Entries, placed.Bytes-before.Bytes, paid.Entries-placed.Entries, paid.Bytes-placed.Bytes,
		shown.Entries-paid.Entries, shown.Bytes-paid.Bytes)
	if entries > 8 || size > 4096 {
		t.Fatalf("a purchase wrote %d entries, %d bytes; want at most 8 and 4096", entries, size)
	}
	if n := e.keysUnder(pExpiry) + e.keysUnder(pSettle) + e.keysUnder(pRef); n != 0 {
		t.Fatalf("%d expiry/settle/ref index entries", n)
	}
	// What is stored: the record holds the lookup key but neither the
	// recipient nor a delivery; the ordtime/ entry holds the recipient.
	err := e.db.View(func(tx *store.Txn) error {
		o, lk, err := getOrderByRef(tx, pl.Order.Ref)
		if err != nil {
			return err
		}
		if lk != lookupHex(mustToken(t, pl.Token)) {
			t.Fatal("the stored lookup key is not the token's")
		}
		if ok, _ := tx.Has(pOrder + lk); ok {
			t.Fatal("a record under the lookup key too")
		}
		v, err := tx.Get(pOrder + pl.Order.Ref)
		if err != nil {
			return err
		}
		if v[0] != orderRefFormat || len(v) > 200+lookupLen {
			t.Fatalf("order record: %d bytes, first %#x", len(v), v[0])
		}
		raw, _ := crypto.RecipientBytes(o.RecipientString())
		if bytes.Contains(v, raw[1:64]) || bytes.Contains(v, o.Payloads[0].Sealed[:64]) {
			t.Fatal("the order record holds the recipient or a delivery")
		}
		if rv, err := tx.Get(orderTimeKey(o)); err != nil || !bytes.Equal(rv, raw) {
			t.Fatalf("ordtime/ value: %d bytes, %v", len(rv), err)
		}
		if len(o.Payloads) != 1 || !o.Payloads[0].Sym || !o.Revealed {
			t.Fatalf("after retrieval: %d payloads, sym %v, revealed %v", len(o.Payloads), o.Payloads[0].Sym, o.Revealed)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func mustToken(t *testing.T, s string) crypto.Token {
	t.Helper()
	tok, err := crypto.ParseToken(s)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (e *env) buyAndPay(pid string) string {
	e.t.Helper()
	pl := e.buy(pid, 1)
	e.pay(pl.Order)
	return pl.Token
}

// toOldForm rewrites the stored order ref as the code before the binary
// layout wrote it: one JSON record under the lookup key holding the
// recipient and the deliveries (base64), a ref value of the lookup hex
// alone, an empty ordtime/ value.
func (e *env) toOldForm(ref string) {
	e.t.Helper()
	err := e.db.Update(func(tx *store.Txn) error {
		o, lk, err := getOrderByRef(tx, ref)
		if err != nil {
			return err
		}
		if err := deleteOrderParts(tx, ref); err != nil {
			return err
		}
		return oldFormTx(tx, o, lk)
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// oldFormTx stores o (lookup hex lk) in the JSON form, deliveries inline.
func oldFormTx(tx *store.Txn, o Order, lk string) error {
	if err := dropIfPresent(tx, pOrder+o.Ref); err != nil {
		return err
	}
	if err := tx.Set(orderTimeKey(o), nil); err != nil {
		return err
	}
	if err := tx.Set(pRef+o.Ref, []byte(lk)); err != nil {
		return err
	}
	o.Recipient, o.rcpt = o.RecipientString(), nil // inline, as the old form held it
	return tx.SetJSON(pOrder+lk, o)
}

// toLookupForm rewrites the stored order ref in the binary layout of
// 2026-12: the orderFormat record under the lookup key, ref/<ref> = the
// raw lookup key and the raw recipient, an empty ordtime/ value; the
// deliveries stay where they are.
func (e *env) toLookupForm(ref string) {
	e.t.Helper()
	err := e.db.Update(func(tx *store.Txn) error {
		o, lk, err := getOrderByRef(tx, ref)
		if err != nil {
			return err
		}
		key, _ := hex.DecodeString(lk)
		raw, err := o.recipientRaw()
		if err != nil {
			return err
		}
		b, err := encodeOrder(o)
		if err != nil {
			return err
		}
		for k, v := range map[string][]byte{pRef + ref: append(key, raw...), pOrder + lk: b, orderTimeKey(o): nil} {
			if err := tx.Set(k, v); err != nil {
				return err
			}
		}
		return tx.Delete(pOrder + ref)
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

// storedForm: the first byte of the order's record, the length of its
// ref/ value (0: none), the number of deliveries stored apart.
func (e *env) storedForm(ref string) (record byte, refLen int, payloads int) {
	e.t.Helper()
	err := e.db.View(func(tx *store.Txn) error {
		v, _, _, err := findOrder(tx, ref)
		if err != nil {
			return err
		}
		record = v[0]
		if rv, err := tx.Get(pRef + ref); err == nil {
			refLen = len(rv)
		}
		return tx.Iterate(pPayload+ref+"/", "", true, func(string, []byte) error { payloads++; return nil })
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return
}

// TestOldOrderRecords: orders stored by the code before the binary layout
// (JSON with the recipient and deliveries inline) are paid, shown and
// refunded as before, and move to the binary layout on their next write.
func TestOldOrderRecords(t *testing.T) {
	e := newEnv(t)
	p := e.product("old", Unique)
	e.importKeys(p.ID, keyList("OLD", 3))

	// Placed before: paid, retrieved, refunded after.
	a := e.buy(p.ID, 1)
	e.toOldForm(a.Order.Ref)
	if rec, n, _ := e.storedForm(a.Order.Ref); rec != '{' || n != lookupHexLen {
		t.Fatalf("not the old form: %q, ref %d bytes", rec, n)
	}
	if got, err := e.shop.OrderByRef(a.Order.Ref); err != nil || got.RecipientString() != a.Order.RecipientString() || got.Status != StatusPending {
		t.Fatalf("old record read as %+v, %v", got, err)
	}
	if o := e.pay(a.Order); o.Status != StatusDelivered {
		t.Fatalf("paid: %s", o.Status)
	}
	if rec, n, np := e.storedForm(a.Order.Ref); rec != orderRefFormat || n != 0 || np != 1 {
		t.Fatalf("after payment: record %#x, ref %d bytes, %d payloads", rec, n, np)
	}
	if ks := e.keysOf(a.Token); len(ks) != 1 || !strings.HasPrefix(ks[0], "OLD-") {
		t.Fatalf("keys %v", ks)
	}

	// Delivered before (a delivery sealed to the order recipient, inline):
	// the first retrieval opens and re-seals it; refunded after.
	b := e.buy(p.ID, 1)
	e.pay(b.Order)
	e.toOldForm(b.Order.Ref)
	if ks := e.keysOf(b.Token); len(ks) != 1 || !strings.HasPrefix(ks[0], "OLD-") {
		t.Fatalf("keys %v", ks)
	}
	if rec, _, np := e.storedForm(b.Order.Ref); rec != orderRefFormat || np != 1 {
		t.Fatalf("after retrieval: record %#x, %d payloads", rec, np)
	}
	if ks := e.keysOf(b.Token); len(ks) != 1 {
		t.Fatalf("repeat: keys %v", ks)
	}
	// Refunded while in the old form too.
	c := e.buy(p.ID, 1)
	e.pay(c.Order)
	e.toOldForm(c.Order.Ref)
	for _, ref := range []string{b.Order.Ref, c.Order.Ref} {
		var o Order
		err := e.db.Update(func(tx *store.Txn) error {
			var err error
			o, err = e.shop.RefundTx(tx, ref, 0)
			return err
		})
		if err != nil || o.Status != StatusRefunded {
			t.Fatalf("refund %s: %s, %v", ref, o.Status, err)
		}
	}
	// c was refunded before its keys were shown: withheld for good.
	v, err := e.shop.Retrieve(c.Token)
	if err != nil || len(v.Items) != 0 {
		t.Fatalf("withheld order shows %d keys, %v", len(v.Items), err)
	}
	if _, _, np := e.storedForm(c.Order.Ref); np != 0 {
		t.Fatalf("withheld order keeps %d deliveries", np)
	}
}

// TestLookupKeyedOrders: orders stored in the binary layout of 2026-12
// (record under the lookup key, ref/<ref> with the lookup key and the
// recipient) are found by token and by ref, searched, paid, shown,
// refunded, settled and purged; the first write moves one to order/<ref>
// and drops its ref/ and order/<lookup hex> entries, a read moves nothing.
func TestLookupKeyedOrders(t *testing.T) {
	e := newEnv(t)
	p := e.product("lookup", Unique)
	e.importKeys(p.ID, keyList("LK", 4))

	// Placed before: found, then paid (moved), shown.
	a := e.buy(p.ID, 1)
	e.toLookupForm(a.Order.Ref)
	if rec, n, _ := e.storedForm(a.Order.Ref); rec != orderFormat || n <= lookupHexLen {
		t.Fatalf("not the 2026-12 form: %#x, ref %d bytes", rec, n)
	}
	if got, err := e.shop.OrderByRef(a.Order.Ref); err != nil || got.RecipientString() != a.Order.RecipientString() || got.Status != StatusPending {
		t.Fatalf("read as %+v, %v", got, err)
	}
	if v, err := e.shop.Retrieve(a.Token); err != nil || v.Order.Ref != a.Order.Ref || v.Order.Status != StatusPending {
		t.Fatalf("by token: %+v, %v", v.Order, err)
	}
	if got, _, err := e.shop.SearchOrders(OrderQuery{}, "", 50); err != nil || !slices.ContainsFunc(got, func(o Order) bool { return o.Ref == a.Order.Ref }) {
		t.Fatalf("search: %d orders, %v", len(got), err)
	}
	if rec, _, _ := e.storedForm(a.Order.Ref); rec != orderFormat {
		t.Fatalf("reads moved it: %#x", rec)
	}
	if o := e.pay(a.Order); o.Status != StatusDelivered {
		t.Fatalf("paid: %s", o.Status)
	}
	if rec, n, np := e.storedForm(a.Order.Ref); rec != orderRefFormat || n != 0 || np != 1 {
		t.Fatalf("after payment: record %#x, ref %d bytes, %d payloads", rec, n, np)
	}
	if ks := e.keysOf(a.Token); len(ks) != 1 || !strings.HasPrefix(ks[0], "LK-") {
		t.Fatalf("keys %v", ks)
	}

	// Delivered before: the first retrieval re-seals and moves it.
	b := e.buy(p.ID, 1)
	e.pay(b.Order)
	e.toLookupForm(b.Order.Ref)
	if ks := e.keysOf(b.Token); len(ks) != 1 || !strings.HasPrefix(ks[0], "LK-") {
		t.Fatalf("keys %v", ks)
	}
	if rec, n, np := e.storedForm(b.Order.Ref); rec != orderRefFormat || n != 0 || np != 1 {
		t.Fatalf("after retrieval: record %#x, ref %d bytes, %d payloads", rec, n, np)
	}

	// Shown before: a repeat retrieval writes nothing; refunded after.
	c := e.buy(p.ID, 1)
	e.pay(c.Order)
	e.keysOf(c.Token)
	e.toLookupForm(c.Order.Ref)
	st := e.db.Stats()
	if ks := e.keysOf(c.Token); len(ks) != 1 {
		t.Fatalf("repeat: keys %v", ks)
	}
	if e.db.Stats() != st {
		t.Fatal("a repeat retrieval of a 2026-12 order wrote")
	}
	err := e.db.Update(func(tx *store.Txn) error {
		o, err := e.shop.RefundTx(tx, c.Order.Ref, 0)
		if err == nil && o.Status != StatusRefunded {
			t.Errorf("refund: %s", o.Status)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if rec, _, _ := e.storedForm(c.Order.Ref); rec != orderRefFormat {
		t.Fatalf("after refund: %#x", rec)
	}

	// Settled and purged from the 2026-12 form: nothing of it is left.
	d := e.buy(p.ID, 1)
	e.pay(d.Order)
	e.toLookupForm(d.Order.Ref)
	e.clock.Add(73 * time.Hour)
	if r, err := e.shop.Sweep(); err != nil || r.Settled < 1 {
		t.Fatalf("settle: %+v %v", r, err)
	}
	lk := lookupHex(mustToken(t, d.Token))
	var tier bool
	_ = e.db.View(func(tx *store.Txn) error { tier, _ = tx.Has(pTier + lk); return nil })
	if !tier {
		t.Fatal("no tier record for the settled order")
	}
	e.clock.Add((DefaultRetentionDays + 1) * 24 * time.Hour)
	if res, err := e.shop.Purge(false, nil); err != nil || res.Purged != 4 {
		t.Fatalf("purge: %+v %v", res, err)
	}
	for _, pre := range []string{pOrder, pRef, pOrderTime, pPayload} {
		if n := e.keysUnder(pre); n != 0 {
			t.Fatalf("%d %s entries left after the purge", n, pre)
		}
	}
}

// TestOrderRecordRoundTrip: every field of an order survives the binary
// record, including those it keeps as JSON, and damaged records are
// refused without a panic.
func TestOrderRecordRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 3, 21, 0, 5, 0, time.UTC)
	o := Order{
		Ref: "R-ABCD1234", ProductID: "p1", Quantity: 3, AmountMinor: 2970, Currency: "CNY",
		Status: StatusPartiallyRefunded, Tier: 2, Items: []string{"k1", "k2", "k3"},
		CreatedAt: at, ExpiresAt: at.Add(15 * time.Minute), PaidAt: at.Add(time.Minute),
		DeliverBy: at.Add(time.Hour), DeliveredAt: at.Add(2 * time.Minute), WindowEnds: at.Add(72 * time.Hour),
		SettledAt: at.Add(80 * time.Hour), PurgeAt: at.Add(1000 * time.Hour), RetainFrom: at.Add(81 * time.Hour).Add(7),
		Payment:  &Payment{Provider: "epusdt", TradeNo: "T-1", AmountMinor: 2970, Band: "2026-12-03T21:00:00Z"},
		Revealed: true, Withheld: true, Notices: []Notice{{Code: "refund_due", At: at}},
		Refunds: []Refund{{AmountMinor: 100, At: at}}, Reward: []byte{1, 2, 3}, Discount: 10,
		DiscountKey: "reward/x", DiscountBack: true, Bad: map[string]KeyState{"k1": "recalled"},
		PayWith: "epusdt", UnitMinor: 990, CouponCode: "SALE", CouponOff: 30, CouponKey: "coupon/SALE",
		CouponBack: true, Compensated: []string{"late"},
	}
	// Every field set: a field added to Order later must be set here too.
	rv := reflect.ValueOf(o)
	for i := range rv.NumField() {
		name := rv.Type().Field(i).Name
		if rv.Field(i).IsZero() && !slices.Contains([]string{"Recipient", "rcpt", "Payloads", "Invoice", "Upstream", "Compensations", "Vouchers"}, name) {
			t.Fatalf("field %s not set in the test order", name)
		}
	}
	b, err := encodeOrder(o)
	if err != nil {
		t.Fatal(err)
	}
	got, npay, err := decodeOrder(b)
	if err != nil || npay != 0 {
		t.Fatal(npay, err)
	}
	if !reflect.DeepEqual(got, o) {
		gj, _ := json.Marshal(got)
		oj, _ := json.Marshal(o)
		t.Fatalf("round trip:\n got %s\nwant %s", gj, oj)
	}
	for _, st := range []Status{"some_future_status", StatusPaymentHeld, ""} {
		b, _ := encodeOrder(Order{Status: st})
		if got, _, err := decodeOrder(b); err != nil || got.Status != st {
			t.Fatalf("status %q came back as %q, %v", st, got.Status, err)
		}
	}
	for _, band := range []string{"2026-12-03T21:30:00Z", "2026-12-03T21:00:00+08:00", "", "x"} {
		b, _ := encodeOrder(Order{Payment: &Payment{Provider: "demo", Band: band}})
		if got, _, err := decodeOrder(b); err != nil || got.Payment.Band != band {
			t.Fatalf("band %q came back as %+v, %v", band, got.Payment, err)
		}
	}
	plain := Order{Ref: "R-ABCD1234", ProductID: "p1", Quantity: 1, AmountMinor: 990, Currency: "CNY",
		Status: StatusPending, Items: []string{"01JXYZ"}, CreatedAt: at, ExpiresAt: at,
		Payloads: []Payload{{Sealed: []byte("x")}, {Sealed: []byte("y"), Sym: true}}}
	b, _ = encodeOrder(plain)
	if len(b) > 80 {
		t.Fatalf("a plain order takes %d bytes", len(b))
	}
	if _, npay, _ := decodeOrder(b); npay != 2 {
		t.Fatalf("npay %d", npay)
	}
	for i := range b {
		for _, cut := range [][]byte{b[:i], append(append([]byte{}, b[:i]...), 0xff)} {
			if _, _, err := decodeOrder(cut); err == nil && i < len(b)-1 {
				t.Fatalf("a record cut at %d decoded", i)
			}
		}
	}
	if _, _, err := decodeOrder(nil); !errors.Is(err, errOrderRecord) {
		t.Fatal(err)
	}
}

// FuzzDecodeOrder: any bytes decode or fail, never panic; what decodes
// re-encodes to a record that decodes to the same order.
func FuzzDecodeOrder(f *testing.F) {
	b, _ := encodeOrder(Order{Ref: "R-ABCD1234", Items: []string{"a"}, Payment: &Payment{Provider: "demo"}})
	f.Add(b)
	f.Add([]byte(`{"ref":"R-X"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		o, _, err := decodeOrder(b)
		if err != nil || len(b) == 0 || b[0] == '{' {
			return
		}
		b2, err := encodeOrder(o)
		if err != nil {
			t.Fatal(err)
		}
		o2, _, err := decodeOrder(b2)
		if err != nil || !reflect.DeepEqual(o, o2) {
			t.Fatalf("re-encoded: %v", err)
		}
	})
}

// TestRetrieveRefundedWhileOpening: a first retrieval opens the keys in a
// snapshot and records in a later update; a full refund committed in
// between makes it open the order again, which now withholds the keys —
// it neither shows them nor writes the re-sealed delivery back.
func TestRetrieveRefundedWhileOpening(t *testing.T) {
	e := newEnv(t)
	p := e.product("race", Unique)
	e.importKeys(p.ID, keyList("RACE", 2))
	pl := e.buy(p.ID, 1)
	e.pay(pl.Order)
	opened := 0
	e.shop.beforeRecord = func() {
		opened++
		if opened > 1 {
			return
		}
		err := e.db.Update(func(tx *store.Txn) error {
			_, err := e.shop.RefundTx(tx, pl.Order.Ref, 0)
			return err
		})
		if err != nil {
			t.Error(err)
		}
	}
	t.Cleanup(func() { e.shop.beforeRecord = nil })
	v, err := e.shop.Retrieve(pl.Token)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Items) != 0 || !v.Order.Withheld || v.Order.Revealed {
		t.Fatalf("refunded while opened: %d keys shown, withheld %v, revealed %v", len(v.Items), v.Order.Withheld, v.Order.Revealed)
	}
	if opened != 1 {
		t.Fatalf("opened %d times before recording; want 1 (the second opening withholds)", opened)
	}
	if _, _, np := e.storedForm(pl.Order.Ref); np != 0 {
		t.Fatalf("%d deliveries stored after a refund before showing", np)
	}
	o, err := e.shop.OrderByRef(pl.Order.Ref)
	if err != nil || o.Revealed || o.Status != StatusRefunded {
		t.Fatalf("stored: revealed %v, %s, %v", o.Revealed, o.Status, err)
	}
}

// TestImpliedPaymentRecord: the payment that paid an order is not stored
// apart, yet Payments lists it and a repeat of it answers with it; one
// stored apart (an extra payment, owed back) is listed beside it.
func TestImpliedPaymentRecord(t *testing.T) {
	e := newEnv(t)
	p := e.product("implied", Unique)
	e.importKeys(p.ID, keyList("IMP", 2))
	pl := e.buy(p.ID, 1)
	pay := Payment{Provider: "epay", TradeNo: "T-100", AmountMinor: pl.Order.AmountMinor}
	r1, err := e.shop.ApplyPayment(pl.Order.Ref, pay, nil)
	if err != nil || r1.Outcome != OutcomeApplied {
		t.Fatal(r1.Outcome, err)
	}
	stored := 0
	_ = e.db.View(func(tx *store.Txn) error {
		return tx.Iterate(pPayRec, "", true, func(string, []byte) error { stored++; return nil })
	})
	if stored != 0 {
		t.Fatalf("%d payment records stored apart", stored)
	}
	r2, err := e.shop.ApplyPayment(pl.Order.Ref, pay, nil)
	if err != nil || r2.Outcome != OutcomeRepeat || r2.Record != r1.Record {
		t.Fatalf("repeat: %s %+v, %v; want %+v", r2.Outcome, r2.Record, err, r1.Record)
	}
	extra := Payment{Provider: "epay", TradeNo: "T-000", AmountMinor: 5}
	if r, err := e.shop.ApplyPayment(pl.Order.Ref, extra, nil); err != nil || r.Outcome != OutcomeOwed {
		t.Fatal(r.Outcome, err)
	}
	recs, err := e.shop.Payments(pl.Order.Ref)
	if err != nil || len(recs) != 2 {
		t.Fatalf("payments %+v, %v", recs, err)
	}
	if recs[0].Payment.TradeNo != "T-000" || recs[0].State != PaymentOwed ||
		recs[1].Payment.TradeNo != "T-100" || recs[1].State != PaymentApplied || recs[1] != r1.Record {
		t.Fatalf("payments %+v", recs)
	}
}

// TestOldKeyRecords: keys imported by the code before the binary key
// record (JSON, ciphertext in base64) are sold, delivered and shown.
func TestOldKeyRecords(t *testing.T) {
	e := newEnv(t)
	p := e.product("oldkeys", Unique)
	e.importKeys(p.ID, keyList("OLDK", 2))
	err := e.db.Update(func(tx *store.Txn) error {
		var kids []string
		err := tx.Iterate(pKey, "", true, func(k string, _ []byte) error {
			kids = append(kids, strings.TrimPrefix(k, pKey))
			return nil
		})
		if err != nil || len(kids) != 2 {
			t.Fatalf("%d keys, %v", len(kids), err)
		}
		for _, kid := range kids {
			var rec keyRecord
			if err := getKeyRec(tx, kid, &rec); err != nil {
				return err
			}
			if err := tx.SetJSON(pKey+kid, rec); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		ks := e.keysOf(e.buyAndPay(p.ID))
		if len(ks) != 1 || !strings.HasPrefix(ks[0], "OLDK-") {
			t.Fatalf("keys %v", ks)
		}
	}
	if e.stock(p.ID) != 0 {
		t.Fatalf("stock %d", e.stock(p.ID))
	}
}

// TestKeyRecordRoundTrip: a key record survives the binary form; a cut
// one is refused.
func TestKeyRecordRoundTrip(t *testing.T) {
	for _, r := range []keyRecord{
		{ID: "b1-000001", Product: "p1", Batch: "b1", State: KeyReserved, Order: "R-ABCD1234", CT: []byte{0, 1, 2, 255}},
		{ID: "b1-000002", Product: "p1", Batch: "b1", State: KeyDelivered},
	} {
		b := encodeKeyRec(r)
		var got keyRecord
		if err := decodeKeyRec(b, &got); err != nil || !reflect.DeepEqual(got, r) {
			t.Fatalf("%+v came back as %+v, %v", r, got, err)
		}
		for i := range b {
			if err := decodeKeyRec(b[:i], &got); err == nil {
				t.Fatalf("a record cut at %d decoded", i)
			}
		}
	}
}

// TestStringCache: the cache keeps its newest entries up to its bound.
func TestStringCache(t *testing.T) {
	c := &ringCache[string]{max: 3}
	for i := range 5 {
		c.put([]byte{byte(i)}, string(rune('a'+i)))
		c.put([]byte{byte(i)}, "again") // a second put keeps the first
	}
	for i := range 5 {
		s, ok := c.get([]byte{byte(i)})
		if want := i >= 2; ok != want || (ok && s != string(rune('a'+i))) {
			t.Fatalf("entry %d: %q, %v", i, s, ok)
		}
	}
	if len(c.m) != 3 {
		t.Fatalf("%d entries", len(c.m))
	}
}
