package shop

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"filippo.io/age"

	"veil/crypto"
	"veil/server/store"
)

// MaxProofs bounds the old tokens one order may present.
const MaxProofs = 20

// OrderRequest is a buyer's order.
type OrderRequest struct {
	Product  string   // id or slug
	Quantity int      //
	Proofs   []string // old order tokens, for the trust tier
	// Holder is an opaque per-client key (the HTTP layer derives it from
	// the address with a per-process secret) for the cap on unpaid orders;
	// "" skips that cap. It is never stored.
	Holder   string
	Discount string // a reward code, redeemable once
	// Coupon is a merchant coupon or a compensation voucher (commerce:
	// coupons.go); "" for none.
	Coupon  string
	PayWith string // the payment provider the buyer chose (kept on the order)
}

// PlaceOrder is Place without a holder or discount code.
func (s *Shop) PlaceOrder(product string, qty int, proofs []string) (Placed, error) {
	return s.Place(OrderRequest{Product: product, Quantity: qty, Proofs: proofs})
}

// Place reserves the keys of an order and returns it with its token (shown
// once, never stored). ErrOutOfStock, ErrProductNotFound, ErrTierLimit
// (stock untouched), *InputError.
func (s *Shop) Place(req OrderRequest) (Placed, error) {
	qty := req.Quantity
	if qty < 1 || qty > s.cfg.MaxQuantity {
		return Placed{}, inputErr("quantity: between 1 and %d", s.cfg.MaxQuantity)
	}
	if len(req.Discount) > 64 {
		return Placed{}, inputErr("discount: unknown code")
	}
	coupon := NormalizeCode(req.Coupon)
	if len(coupon) > 64 {
		return Placed{}, couponErr(CouponUnknown)
	}
	prod, err := s.Product(req.Product)
	if err != nil {
		return Placed{}, err
	}
	if !prod.OnSale() {
		return Placed{}, ErrProductNotFound
	}
	if qty > prod.MaxPerOrder {
		return Placed{}, inputErr("quantity: at most %d of this product per order", prod.MaxPerOrder)
	}
	tr, err := s.EvaluateProofs(req.Proofs)
	if err != nil {
		return Placed{}, err
	}
	rules := s.TierRules()
	unit := prod.UnitPrice(qty)
	amount := unit * int64(qty)
	if qty > rules.MaxQuantity[tr.Tier] || (rules.MaxAmountMinor[tr.Tier] > 0 && amount > rules.MaxAmountMinor[tr.Tier]) {
		return Placed{}, ErrTierLimit
	}
	if req.Holder != "" && s.holders.count(req.Holder, s.now()) >= rules.MaxUnpaid[tr.Tier] {
		return Placed{}, ErrTierLimit
	}
	grant := rules.RewardEvery > 0 && tr.Tier >= rules.RewardMinTier && tr.ComplaintFree &&
		tr.Counted%rules.RewardEvery == 0
	h, err := s.hold(prod, qty)
	if err != nil {
		return Placed{}, err
	}
	var tok crypto.Token
	var o Order
	// A fresh token whose 40-bit reference is taken (about one in a million
	// at 1,500 live orders) is simply replaced by another.
	var code string
	for range 3 {
		if tok, o, err = s.newOrder(prod, qty); err != nil {
			break
		}
		o.Tier, o.PayWith = tr.Tier, req.PayWith
		if grant {
			code = newRewardCode()
			if o.Reward, err = crypto.Seal([]byte(code), crypto.NewSymmetricRecipient(tok.RetrievalKey())); err != nil {
				break
			}
		}
		lk := lookupHex(tok)
		err = s.placeUpdate(prod, coupon, func(tx *store.Txn) error {
			o.AmountMinor, o.Discount, o.DiscountKey = amount, 0, ""
			o.UnitMinor, o.CouponCode, o.CouponOff, o.CouponKey = unit, "", 0, ""
			if coupon != "" {
				off, key, merchant, err := s.spendCoupon(tx, coupon, prod, amount, s.now())
				if err != nil {
					return err
				}
				o.CouponOff, o.CouponKey, o.AmountMinor = off, key, amount-off
				if merchant {
					o.CouponCode = coupon
				}
			}
			if req.Discount != "" {
				var rw reward
				if err := tx.GetJSON(rewardKey(req.Discount), &rw); err != nil || rw.Used {
					if err == nil || errors.Is(err, store.ErrNotFound) {
						err = inputErr("discount: unknown or already used code")
					}
					return err
				}
				rw.Used = true
				if err := tx.SetJSON(rewardKey(req.Discount), rw); err != nil {
					return err
				}
				o.Discount, o.DiscountKey = rw.Percent, rewardKey(req.Discount)
				o.AmountMinor = max(1, o.AmountMinor*int64(100-rw.Percent)/100)
			}
			if code != "" {
				if err := tx.SetJSON(rewardKey(code), reward{Percent: rules.RewardPercent}); err != nil {
					return err
				}
			}
			for _, k := range []string{pOrder + o.Ref, pRef + o.Ref} { // either layout (orderstore.go)
				if ok, err := tx.Has(k); err != nil || ok {
					if err == nil {
						err = errRefTaken
					}
					return err
				}
			}
			items, err := h.apply(tx, o.Ref)
			if err != nil {
				return err
			}
			o.Items = items
			if err := putOrder(tx, lk, o); err != nil { // and ordtime/, with the recipient
				return err
			}
			return s.scheduleExpiry(tx, &o) // no index entry: schedule.go
		})
		if !errors.Is(err, errRefTaken) {
			break
		}
	}
	s.finish(h, err == nil)
	if err != nil {
		if errors.Is(err, ErrOutOfStock) {
			return Placed{}, ErrOutOfStock
		}
		var ce *CouponError
		if errors.As(err, &ce) {
			return Placed{}, ce
		}
		return Placed{}, fmt.Errorf("shop: place order: %w", err)
	}
	if req.Holder != "" {
		s.holders.add(req.Holder, o.Ref, o.ExpiresAt)
	}
	s.unpaid.add(prod.ID, o.Ref, qty, o.ExpiresAt)
	s.log.Info("shop: order placed", "ref", o.Ref, "product", prod.Slug, "quantity", qty, "tier", o.Tier)
	return Placed{Token: tok.String(), Order: o}, nil
}

var errRefTaken = errors.New("shop: order reference taken")

// newOrder makes a token and the order record it names (not yet stored).
func (s *Shop) newOrder(prod Product, qty int) (crypto.Token, Order, error) {
	tok, err := crypto.NewToken()
	if err != nil {
		return tok, Order{}, err
	}
	id, err := tok.Identity(s.cfg.Kind)
	if err != nil {
		return tok, Order{}, fmt.Errorf("shop: order identity: %w", err)
	}
	now := s.now().Truncate(timeUnit)
	// The raw public key, no Bech32 string: it is what the order stores,
	// and its parsed form waits in rcptParsed for the payment's sealing.
	raw := id.RecipientBytes()
	rcptParsed.put(raw, id.AgeRecipient())
	return tok, Order{
		Ref: tok.Ref(), ProductID: prod.ID, Quantity: qty,
		AmountMinor: prod.PriceMinor * int64(qty), Currency: prod.Currency,
		Status: StatusPending, rcpt: raw,
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.ReservationTTL),
	}, nil
}

func lookupHex(t crypto.Token) string {
	k := t.LookupKey()
	return hex.EncodeToString(k[:])
}

// hold is stock set aside for one order before its transaction runs: the
// keys of a unique product taken from the pool, or seats of a shared one
// (counted inside the transaction). finish puts unused keys back.
type hold struct {
	prod Product
	pool *pool
	qty  int
	kids []string
	used bool
	// sourced: the product is bought upstream on payment (sourced.go).
	sourced bool
}

// hold takes qty keys of prod from its pool; ErrOutOfStock if too few.
func (s *Shop) hold(prod Product, qty int) (*hold, error) {
	h := &hold{prod: prod, qty: qty, pool: s.poolOf(prod.ID)}
	if prod.Upstream != nil {
		// Sourced upstream (sourced.go): nothing local to reserve; the
		// upstream's cached stock must cover the order.
		if s.upstreamAvailable(prod.ID) < qty {
			return nil, ErrOutOfStock
		}
		h.sourced = true
		return h, nil
	}
	if prod.Kind == Unique {
		if h.kids = h.pool.take(qty); h.kids == nil {
			return nil, ErrOutOfStock
		}
	}
	return h, nil
}

// apply reserves the held stock for the order ref inside tx.
func (h *hold) apply(tx *store.Txn, ref string) ([]string, error) {
	h.used = false
	if h.sourced {
		h.used = true
		return nil, nil
	}
	if h.prod.Kind == Shared {
		n, err := getStock(tx, h.prod.ID)
		if err != nil {
			return nil, err
		}
		if n < h.qty {
			return nil, ErrOutOfStock
		}
		kid, err := tx.Get(pShared + h.prod.ID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, ErrOutOfStock
		}
		if err != nil {
			return nil, err
		}
		h.used = true
		return []string{string(kid)}, addStock(tx, h.prod.ID, -h.qty)
	}
	for i := 0; i < len(h.kids); i++ {
		kid := h.kids[i]
		var rec keyRecord
		if err := getKeyRec(tx, kid, &rec); err != nil {
			return nil, err
		}
		if rec.State != KeyAvailable {
			// A stale pool entry (the key was withdrawn or recalled by an
			// approval, or the pool was just rebuilt): take another.
			more := h.pool.take(1)
			if more == nil {
				h.kids = slices.Delete(h.kids, i, i+1)
				return nil, ErrOutOfStock
			}
			h.kids[i] = more[0]
			i--
			continue
		}
		rec.State, rec.Order = KeyReserved, ref
		if err := putKeyRec(tx, kid, rec); err != nil {
			return nil, err
		}
		if err := tx.Delete(pAvail + h.prod.ID + "/" + kid); err != nil {
			return nil, err
		}
	}
	h.used = true
	return slices.Clone(h.kids), nil
}

// finish returns the held keys to the pool unless a committed transaction
// used them.
func (s *Shop) finish(h *hold, committed bool) {
	if h == nil || h.prod.Kind != Unique || (committed && h.used) {
		return
	}
	h.pool.put(h.kids)
}

// update runs fn in a transaction suited to prod: unique products need no
// lock (their keys were picked from the pool), shared ones serialise on the
// seat counter.
func (s *Shop) update(prod Product, fn func(*store.Txn) error) error {
	if prod.Kind == Shared {
		return s.db.UpdateUnder(s.productLock(prod.ID), fn)
	}
	return s.db.Update(fn)
}

// placeUpdate is update for a new order: one that spends a coupon or
// voucher also holds that code's lock, so orders racing for its last use
// queue rather than conflict (the limit itself rests on the transaction).
func (s *Shop) placeUpdate(prod Product, coupon string, fn func(*store.Txn) error) error {
	if coupon == "" {
		return s.update(prod, fn)
	}
	if prod.Kind == Shared {
		return s.db.UpdateUnder(locks{s.productLock(prod.ID), s.couponLock(coupon)}, fn)
	}
	return s.db.UpdateUnder(s.couponLock(coupon), fn)
}

// release returns an order's reserved keys (or seats) to stock inside tx;
// the keys it names go back to the pool once tx commits.
func (s *Shop) release(tx *store.Txn, prod Product, o *Order, freed *[]string) error {
	if prod.Kind == Shared {
		return addStock(tx, prod.ID, o.Quantity)
	}
	var back []string
	for _, kid := range o.Items {
		var rec keyRecord
		if err := getKeyRec(tx, kid, &rec); err != nil {
			return err
		}
		if rec.State != KeyReserved || rec.Order != o.Ref {
			return fmt.Errorf("shop: release %s: key %s is %s", o.Ref, kid, rec.State)
		}
		frozen, err := frozenBatch(tx, rec.Batch)
		if err != nil {
			return err
		}
		if frozen { // its batch froze while the order held it: not back on sale
			if err := freezeKey(tx, prod.ID, kid); err != nil {
				return err
			}
			continue
		}
		rec.State, rec.Order = KeyAvailable, ""
		if err := putKeyRec(tx, kid, rec); err != nil {
			return err
		}
		if err := tx.Set(pAvail+prod.ID+"/"+kid, nil); err != nil {
			return err
		}
		back = append(back, kid)
	}
	*freed = append((*freed)[:0], back...)
	return nil
}

func getOrderByRef(tx *store.Txn, ref string) (Order, string, error) {
	if !refRE(ref) {
		return Order{}, "", ErrOrderNotFound
	}
	v, rv, lk, err := findOrder(tx, ref)
	if errors.Is(err, store.ErrNotFound) {
		return Order{}, "", ErrOrderNotFound
	}
	if err != nil {
		return Order{}, "", err
	}
	o, err := readOrder(tx, v, rv)
	if err != nil {
		return o, "", err
	}
	return o, lk, nil
}

func refRE(ref string) bool {
	if len(ref) != 10 || !strings.HasPrefix(ref, "R-") {
		return false
	}
	for _, c := range ref[2:] {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// OrderByRef returns an order by its public reference (staff, payments).
func (s *Shop) OrderByRef(ref string) (Order, error) {
	var o Order
	err := s.db.View(func(tx *store.Txn) error {
		var err error
		o, _, err = getOrderByRef(tx, ref)
		return err
	})
	return o, err
}

// deliver opens the order's reserved keys and seals them to the order's
// recipient, marking them delivered and dropping their inventory ciphertext,
// inside the caller's transaction. It reads and decrypts everything before it
// writes anything, so an error leaves the transaction untouched.
func (s *Shop) deliver(tx *store.Txn, o *Order, prod Product) error {
	if prod.Upstream != nil {
		return errSourced // PurchaseQueued delivers it (sourced.go)
	}
	sealed, recs, err := s.sealKeys(tx, o, o.Items, prod, true)
	if err != nil {
		return err
	}
	if err := markDelivered(tx, prod, recs); err != nil {
		return err
	}
	now := s.now().Truncate(timeUnit)
	o.Payloads = append(o.Payloads, Payload{Sealed: sealed})
	o.Status = StatusDelivered
	o.DeliveredAt = now
	o.WindowEnds = now.Add(time.Duration(prod.Policy.WindowHours) * time.Hour)
	// Queued deliveries only (no blind delete: a write costs more than a read).
	if queued, err := tx.Has(pDeliver + o.Ref); err != nil {
		return err
	} else if queued {
		if err := tx.Delete(pDeliver + o.Ref); err != nil {
			return err
		}
	}
	return s.scheduleSettle(tx, o) // no index entry: schedule.go
}

// sealKeys opens the keys kids from inventory and seals them, as one age
// file, to the order's recipient. With reserved set, each unique key must be
// reserved for this order. It only reads.
func (s *Shop) sealKeys(tx *store.Txn, o *Order, kids []string, prod Product, reserved bool) ([]byte, []keyRecord, error) {
	return s.sealKeysAs(tx, o, kids, prod, reserved, nil)
}

// sealKeysAs is sealKeys with mark applied to each item before sealing
// (a compensation marks its key as such).
func (s *Shop) sealKeysAs(tx *store.Txn, o *Order, kids []string, prod Product, reserved bool, mark func(*Item)) ([]byte, []keyRecord, error) {
	if s.Locked() {
		return nil, nil, ErrLocked
	}
	recs := make([]keyRecord, 0, len(kids))
	for _, kid := range kids {
		var rec keyRecord
		if err := getKeyRec(tx, kid, &rec); err != nil {
			return nil, nil, fmt.Errorf("key %s: %w", kid, err)
		}
		if reserved && prod.Kind == Unique && (rec.State != KeyReserved || rec.Order != o.Ref) {
			return nil, nil, fmt.Errorf("key %s is %s, not reserved for this order", kid, rec.State)
		}
		recs = append(recs, rec)
	}
	if mark == nil {
		if sealed := s.takePresealed(o, kids); sealed != nil {
			return sealed, recs, nil
		}
	}
	sealed, err := s.sealRecords(tx, o, recs, mark)
	if err != nil {
		return nil, nil, err
	}
	return sealed, recs, nil
}

// sealRecords opens the inventory keys recs and seals them, as one age file
// of []Item, to the order's recipient: the costly part of a delivery.
func (s *Shop) sealRecords(tx *store.Txn, o *Order, recs []keyRecord, mark func(*Item)) ([]byte, error) {
	batches := map[string]*crypto.DataKey{}
	items := make([]Item, 0, len(recs))
	for _, rec := range recs {
		dk := batches[rec.Batch]
		if dk == nil {
			var b Batch
			if err := tx.GetJSON(pBatch+rec.Batch, &b); err != nil {
				return nil, fmt.Errorf("batch %s: %w", rec.Batch, err)
			}
			var err error
			if dk, err = s.batchKey(&b); err != nil {
				return nil, err
			}
			batches[rec.Batch] = dk
		}
		pt, err := dk.OpenItem(rec.ID, rec.CT)
		if err != nil {
			return nil, fmt.Errorf("open key %s: %w", rec.ID, err)
		}
		it := Item{ID: rec.ID, Key: string(pt)}
		if mark != nil {
			mark(&it)
		}
		items = append(items, it)
		wipe(pt)
	}
	payload, err := json.Marshal(items)
	if err != nil {
		return nil, err
	}
	defer wipe(payload)
	r, err := orderRecipient(tx, o)
	if err != nil {
		return nil, fmt.Errorf("order recipient: %w", err)
	}
	sealed, err := crypto.Seal(payload, r)
	if err != nil {
		return nil, fmt.Errorf("seal delivery: %w", err)
	}
	return sealed, nil
}

// markDelivered records delivered unique keys and drops their inventory
// ciphertext: from here on only the order's token opens them.
func markDelivered(tx *store.Txn, prod Product, recs []keyRecord) error {
	if prod.Kind != Unique {
		return nil
	}
	for _, rec := range recs {
		rec.State, rec.CT = KeyDelivered, nil
		if err := putKeyRec(tx, rec.ID, rec); err != nil {
			return err
		}
	}
	return nil
}

func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}

// Retrieve opens the order of a token with its delivered keys.
// crypto.ErrTokenMalformed for a typo, ErrOrderNotFound for an unknown token.
// An order refunded before its keys were ever shown withholds them.
//
// The first retrieval re-seals each delivery to the token's symmetric
// recipient (still an age file, post-quantum safe), so later retrievals
// skip the ML-KEM decapsulation; it also records that the keys were shown.
func (s *Shop) Retrieve(token string) (View, error) {
	t, err := crypto.ParseToken(token)
	if err != nil {
		return View{}, err
	}
	return s.RetrieveToken(t)
}

// RetrieveToken is Retrieve for a token parsed already (the HTTP layer
// parses it once where it arrives). ErrOrderNotFound.
func (s *Shop) RetrieveToken(t crypto.Token) (View, error) {
	ref, lk := t.Ref(), lookupHex(t)
	// Everything costly — deriving the order identity, opening, re-sealing
	// — runs in a snapshot on the caller's goroutine, never inside an
	// Update fn (those run one at a time on the store's committer). A
	// retrieval that must record something (the first showing, a re-seal)
	// then writes its result only if the order (record, recipient and
	// deliveries) is the one it opened; if anything moved meanwhile (a
	// refund, a replacement), it opens again. So a cooling-off refund and a
	// first retrieval racing each other still serialise: one of them sees
	// the other.
	for attempt := 0; ; attempt++ {
		var v View
		var seen Order
		var writes bool
		err := s.db.View(func(tx *store.Txn) error {
			var err error
			if seen, err = getOrder(tx, ref, lk); err != nil {
				if errors.Is(err, store.ErrNotFound) {
					return ErrOrderNotFound
				}
				return err
			}
			v, writes, err = s.retrieveIn(tx, t, seen)
			return err
		})
		if err != nil {
			return View{}, err
		}
		if !writes {
			return s.withStockView(v)
		}
		if s.beforeRecord != nil {
			s.beforeRecord()
		}
		err = s.db.Update(func(tx *store.Txn) error {
			now, err := getOrder(tx, ref, lk)
			if err != nil {
				return err
			}
			if !reflect.DeepEqual(now, seen) {
				return errOrderMoved
			}
			return putOrder(tx, lk, v.Order)
		})
		switch {
		case err == nil:
			return s.withStockView(v)
		case errors.Is(err, errOrderMoved) && attempt < 16:
			continue
		case errors.Is(err, errOrderMoved):
			return View{}, store.ErrConflict
		}
		return View{}, err
	}
}

// errOrderMoved: the order changed between a retrieval's snapshot and its
// write (RetrieveToken opens it again).
var errOrderMoved = errors.New("shop: order changed during retrieval")

// retrieveIn opens the order o, as read in tx, for its token holder: keys,
// vouchers and reward code (o itself is left as it was). writes reports whether the retrieval
// must be recorded (v.Order is then the record to write): a voucher or
// (unless the keys are withheld) a delivery still sealed to the order's
// asymmetric recipient was re-sealed, or keys were shown for the first time.
func (s *Shop) retrieveIn(tx *store.Txn, t crypto.Token, o Order) (v View, writes bool, err error) {
	// Opening re-seals in place: v's copy only.
	v.Order = o
	v.Order.Payloads, v.Order.Vouchers = slices.Clone(o.Payloads), slices.Clone(o.Vouchers)
	p, ok := s.catalog.get(v.Order.ProductID)
	if !ok {
		return v, false, ErrProductNotFound
	}
	v.Product = p
	v.RewardCode = rewardCode(t, v.Order)
	op := newOpener(t, &v.Order)
	vchanged, err := s.openVouchers(tx, op, &v)
	if err != nil {
		return v, false, err
	}
	if len(v.Order.Payloads) == 0 || withheld(v.Order) {
		return v, vchanged, nil
	}
	changed, err := s.openPayloads(op, &v)
	if err != nil {
		return v, false, err
	}
	if !changed && !vchanged && v.Order.Revealed {
		return v, false, nil
	}
	v.Order.Revealed = true
	return v, true, nil
}

// withheld: an order refunded in full before its keys were ever shown
// keeps them hidden for good — the buyer has the money back. It rests on
// the durable flag (and, for records written before the flag, on the
// refunds, which only ever grow), never on the status, which a later
// payment moves on to refund_due. (Retrieve reads and records in one
// transaction, so a cooling-off refund and a first retrieval racing each
// other serialise: one of them sees the other.)
func withheld(o Order) bool {
	return o.Withheld || (!o.Revealed && len(o.Refunds) > 0 && o.Refunded() >= o.AmountMinor)
}

// rewardCode opens the discount code an order earned, if any.
func rewardCode(t crypto.Token, o Order) string {
	if len(o.Reward) == 0 {
		return ""
	}
	b, err := crypto.Open(o.Reward, crypto.NewSymmetricIdentity(t.RetrievalKey()))
	if err != nil {
		return ""
	}
	return string(b)
}

func (s *Shop) withStockView(v View) (View, error) {
	var err error
	v.Product, err = s.withStock(v.Product)
	return v, err
}

// opener opens what was sealed to an order for its token holder: sealed to
// the token's symmetric recipient, or still to the order's public recipient,
// whose identity it derives once (the costly part) for everything it opens.
type opener struct {
	t       crypto.Token
	o       *Order
	sym     [32]byte
	orderID age.Identity
}

func newOpener(t crypto.Token, o *Order) *opener {
	return &opener{t: t, o: o, sym: t.RetrievalKey()}
}

// open returns the plaintext of sealed and, when it was sealed to the
// order's public recipient, its re-sealing to the symmetric recipient
// (still an age file, post-quantum safe), so later retrievals skip the
// ML-KEM decapsulation; resealed is nil otherwise.
func (op *opener) open(sealed []byte, sym bool) (pt, resealed []byte, err error) {
	if sym {
		pt, err = crypto.Open(sealed, crypto.NewSymmetricIdentity(op.sym))
		return pt, nil, err
	}
	if op.orderID == nil {
		id, err := op.t.Identity(op.o.RecipientKind())
		if err != nil {
			return nil, nil, err
		}
		op.orderID = id.Age()
	}
	if pt, err = crypto.Open(sealed, op.orderID); err != nil {
		return nil, nil, err
	}
	if resealed, err = crypto.Seal(pt, crypto.NewSymmetricRecipient(op.sym)); err != nil {
		wipe(pt)
		return nil, nil, err
	}
	return pt, resealed, nil
}

// openPayloads opens every delivery of the order into v.Items, re-sealing
// any still sealed to the order's public recipient (opener.open); it
// reports whether it did.
func (s *Shop) openPayloads(op *opener, v *View) (bool, error) {
	o := &v.Order
	changed := false
	for i, p := range o.Payloads {
		pt, resealed, err := op.open(p.Sealed, p.Sym)
		if err != nil {
			return false, fmt.Errorf("shop: open delivery of %s: %w", o.Ref, err)
		}
		if resealed != nil {
			o.Payloads[i] = Payload{Sealed: resealed, Sym: true}
			changed = true
		}
		var items []Item
		err = json.Unmarshal(pt, &items)
		wipe(pt)
		if err != nil {
			return false, fmt.Errorf("shop: decode delivery of %s: %w", o.Ref, err)
		}
		for i := range items {
			items[i].State = o.Bad[items[i].ID]
		}
		v.Items = append(v.Items, items...)
	}
	return changed, nil
}
