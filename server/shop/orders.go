package shop

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"filippo.io/age"

	"veil/crypto"
	"veil/server/store"
)

// MaxProofs bounds the old tokens one order may present.
const MaxProofs = 20

// PlaceOrder reserves qty keys of a product and returns the order with its
// token (shown once, never stored). ErrOutOfStock, ErrProductNotFound,
// *InputError. proofs are old order tokens presented for the trust tier.
func (s *Shop) PlaceOrder(product string, qty int, proofs []string) (Placed, error) {
	if qty < 1 || qty > s.cfg.MaxQuantity {
		return Placed{}, inputErr("quantity: between 1 and %d", s.cfg.MaxQuantity)
	}
	if len(proofs) > MaxProofs {
		return Placed{}, inputErr("proofs: at most %d old tokens", MaxProofs)
	}
	prod, err := s.Product(product)
	if err != nil {
		return Placed{}, err
	}
	if qty > prod.MaxPerOrder {
		return Placed{}, inputErr("quantity: at most %d of this product per order", prod.MaxPerOrder)
	}
	tok, err := crypto.NewToken()
	if err != nil {
		return Placed{}, err
	}
	id, err := tok.Identity(s.cfg.Kind)
	if err != nil {
		return Placed{}, fmt.Errorf("shop: order identity: %w", err)
	}
	now := s.now().Truncate(timeUnit)
	o := Order{
		Ref: tok.Ref(), ProductID: prod.ID, Quantity: qty,
		AmountMinor: prod.PriceMinor * int64(qty), Currency: prod.Currency,
		Status: StatusPending, Recipient: id.Recipient(),
		CreatedAt: now, ExpiresAt: now.Add(s.cfg.ReservationTTL),
	}
	lk := lookupHex(tok)

	err = s.db.UpdateUnder(s.productLock(prod.ID), func(tx *store.Txn) error {
		if ok, err := tx.Has(pRef + o.Ref); err != nil || ok {
			if err == nil { // 2^-40 per pair: practically never, but never silently
				err = errors.New("shop: order reference collision")
			}
			return err
		}
		items, err := s.reserve(tx, prod, qty, o.Ref)
		if err != nil {
			return err
		}
		o.Items = items
		if err := tx.Set(pRef+o.Ref, []byte(lk)); err != nil {
			return err
		}
		if err := tx.Set(pExpiry+unixKey(o.ExpiresAt)+"/"+o.Ref, nil); err != nil {
			return err
		}
		return tx.SetJSON(pOrder+lk, o)
	})
	if err != nil {
		if errors.Is(err, ErrOutOfStock) {
			return Placed{}, ErrOutOfStock
		}
		return Placed{}, fmt.Errorf("shop: place order %s: %w", o.Ref, err)
	}
	s.log.Info("shop: order placed", "ref", o.Ref, "product", prod.Slug, "quantity", qty)
	return Placed{Token: tok.String(), Order: o}, nil
}

func lookupHex(t crypto.Token) string {
	k := t.LookupKey()
	return hex.EncodeToString(k[:])
}

// reserve takes qty keys (or seats) of prod for the order ref. The caller
// holds the product lock.
func (s *Shop) reserve(tx *store.Txn, prod Product, qty int, ref string) ([]string, error) {
	n, err := getStock(tx, prod.ID)
	if err != nil {
		return nil, err
	}
	if n < qty {
		return nil, ErrOutOfStock
	}
	if prod.Kind == Shared {
		kid, err := tx.Get(pShared + prod.ID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, ErrOutOfStock
		}
		if err != nil {
			return nil, err
		}
		return []string{string(kid)}, addStock(tx, prod.ID, -qty)
	}
	prefix := pAvail + prod.ID + "/"
	start := ""
	if c, ok := s.cursors.Load(prod.ID); ok {
		start = prefix + c.(string)
	}
	var kids []string
	err = tx.Iterate(prefix, start, true, func(k string, _ []byte) error {
		kids = append(kids, strings.TrimPrefix(k, prefix))
		if len(kids) == qty {
			return store.ErrStop
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(kids) < qty && start != "" {
		// The cursor is a hint; if it skipped stock, look again from the top.
		s.cursors.Delete(prod.ID)
		return s.reserve(tx, prod, qty, ref)
	}
	if len(kids) < qty {
		return nil, fmt.Errorf("shop: stock counter of %s says %d, index has %d", prod.ID, n, len(kids))
	}
	for _, kid := range kids {
		var rec keyRecord
		if err := tx.GetJSON(pKey+kid, &rec); err != nil {
			return nil, err
		}
		if rec.State != KeyAvailable {
			return nil, fmt.Errorf("shop: key %s indexed available but %s", kid, rec.State)
		}
		rec.State, rec.Order = KeyReserved, ref
		if err := tx.SetJSON(pKey+kid, rec); err != nil {
			return nil, err
		}
		if err := tx.Delete(prefix + kid); err != nil {
			return nil, err
		}
	}
	// Deleted index entries stay as tombstones until compaction; starting
	// the next scan after them keeps a flash sale from rescanning them.
	s.cursors.Store(prod.ID, kids[len(kids)-1])
	return kids, addStock(tx, prod.ID, -qty)
}

// release returns an order's reserved keys (or seats) to stock.
func (s *Shop) release(tx *store.Txn, prod Product, o *Order) error {
	if prod.Kind == Shared {
		return addStock(tx, prod.ID, o.Quantity)
	}
	for _, kid := range o.Items {
		var rec keyRecord
		if err := tx.GetJSON(pKey+kid, &rec); err != nil {
			return err
		}
		if rec.State != KeyReserved || rec.Order != o.Ref {
			return fmt.Errorf("shop: release %s: key %s is %s", o.Ref, kid, rec.State)
		}
		rec.State, rec.Order = KeyAvailable, ""
		if err := tx.SetJSON(pKey+kid, rec); err != nil {
			return err
		}
		if err := tx.Set(pAvail+prod.ID+"/"+kid, nil); err != nil {
			return err
		}
		if c, ok := s.cursors.Load(prod.ID); ok && kid < c.(string) {
			s.cursors.Store(prod.ID, kid)
		}
	}
	return addStock(tx, prod.ID, len(o.Items))
}

func getOrderByRef(tx *store.Txn, ref string) (Order, string, error) {
	var o Order
	if !refRE(ref) {
		return o, "", ErrOrderNotFound
	}
	lk, err := tx.Get(pRef + ref)
	if errors.Is(err, store.ErrNotFound) {
		return o, "", ErrOrderNotFound
	}
	if err != nil {
		return o, "", err
	}
	if err := tx.GetJSON(pOrder+string(lk), &o); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = ErrOrderNotFound
		}
		return o, "", err
	}
	return o, string(lk), nil
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

// Pay applies a verified payment to the order with this ref and delivers at
// once when the vault is open, all in one transaction. It is idempotent: the
// same payment applied again changes nothing and returns the order. A
// payment after the reservation expired re-reserves stock, or leaves the
// order refund_due when none is left.
func (s *Shop) Pay(ref string, p Payment) (Order, error) {
	o, err := s.OrderByRef(ref)
	if err != nil {
		return Order{}, err
	}
	var prod Product
	if err := s.db.View(func(tx *store.Txn) error { return getProduct(tx, o.ProductID, &prod) }); err != nil {
		return Order{}, err
	}
	now := s.now().Truncate(timeUnit)
	p.Band = now.Truncate(time.Hour).Format(time.RFC3339)

	var out Order
	err = s.db.UpdateUnder(s.productLock(prod.ID), func(tx *store.Txn) error {
		o, lk, err := getOrderByRef(tx, ref)
		if err != nil {
			return err
		}
		out = o
		tradeKey := ""
		if p.TradeNo != "" {
			tradeKey = pTrade + p.Provider + "/" + p.TradeNo
			if prev, err := tx.Get(tradeKey); err == nil {
				if string(prev) == ref {
					return nil // a repeat: applied already
				}
				return ErrNotPayable // one trade cannot pay two orders
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		if o.Payment != nil && o.Payment.Provider == p.Provider && o.Payment.TradeNo == p.TradeNo && o.Payment.AmountMinor == p.AmountMinor {
			return nil // a repeat
		}
		switch o.Status {
		case StatusPending, StatusExpired:
		default:
			return ErrNotPayable
		}
		if p.AmountMinor != o.AmountMinor {
			return ErrAmountMismatch
		}
		if o.Status == StatusPending {
			if err := tx.Delete(pExpiry + unixKey(o.ExpiresAt) + "/" + o.Ref); err != nil {
				return err
			}
		}
		pp := p
		o.Payment = &pp
		o.PaidAt = now
		o.DeliverBy = now.Add(s.cfg.DeliveryDeadline)
		if tradeKey != "" {
			if err := tx.Set(tradeKey, []byte(ref)); err != nil {
				return err
			}
		}
		if o.Status == StatusExpired {
			items, err := s.reserve(tx, prod, o.Quantity, o.Ref)
			if errors.Is(err, ErrOutOfStock) {
				o.Status = StatusRefundDue
				o.Notices = append(o.Notices, Notice{Code: "late_payment_no_stock", At: now})
				out = o
				return tx.SetJSON(pOrder+lk, o)
			}
			if err != nil {
				return err
			}
			o.Items = items
			o.Notices = append(o.Notices, Notice{Code: "late_payment_reserved", At: now})
		}
		o.Status = StatusPaid
		if err := s.deliver(tx, &o, prod); err != nil {
			if !errors.Is(err, ErrLocked) {
				s.log.Error("shop: delivery failed, queued for retry", "ref", o.Ref, "err", err)
			}
			if err := tx.Set(pDeliver+o.Ref, nil); err != nil {
				return err
			}
		}
		out = o
		return tx.SetJSON(pOrder+lk, o)
	})
	if err != nil {
		return Order{}, fmt.Errorf("shop: pay %s: %w", ref, err)
	}
	s.log.Info("shop: payment applied", "ref", ref, "provider", p.Provider, "status", string(out.Status))
	return out, nil
}

// deliver opens the order's reserved keys and seals them to the order's
// recipient, marking them delivered and dropping their inventory ciphertext,
// inside the caller's transaction. It reads and decrypts everything before it
// writes anything, so an error leaves the transaction untouched.
func (s *Shop) deliver(tx *store.Txn, o *Order, prod Product) error {
	if s.Locked() {
		return ErrLocked
	}
	batches := map[string]*crypto.DataKey{}
	items := make([]Item, 0, len(o.Items))
	recs := make([]keyRecord, 0, len(o.Items))
	for _, kid := range o.Items {
		var rec keyRecord
		if err := tx.GetJSON(pKey+kid, &rec); err != nil {
			return fmt.Errorf("key %s: %w", kid, err)
		}
		if prod.Kind == Unique && (rec.State != KeyReserved || rec.Order != o.Ref) {
			return fmt.Errorf("key %s is %s, not reserved for this order", kid, rec.State)
		}
		dk := batches[rec.Batch]
		if dk == nil {
			var b Batch
			if err := tx.GetJSON(pBatch+rec.Batch, &b); err != nil {
				return fmt.Errorf("batch %s: %w", rec.Batch, err)
			}
			var err error
			if dk, err = s.batchKey(&b); err != nil {
				return err
			}
			batches[rec.Batch] = dk
		}
		pt, err := dk.OpenItem(rec.ID, rec.CT)
		if err != nil {
			return fmt.Errorf("open key %s: %w", kid, err)
		}
		items = append(items, Item{ID: rec.ID, Key: string(pt)})
		recs = append(recs, rec)
	}
	payload, err := json.Marshal(items)
	if err != nil {
		return err
	}
	r, err := crypto.ParseRecipient(o.Recipient)
	if err != nil {
		return fmt.Errorf("order recipient: %w", err)
	}
	sealed, err := crypto.Seal(payload, r)
	if err != nil {
		return fmt.Errorf("seal delivery: %w", err)
	}
	wipe(payload)
	if prod.Kind == Unique {
		for _, rec := range recs {
			rec.State, rec.CT = KeyDelivered, nil
			if err := tx.SetJSON(pKey+rec.ID, rec); err != nil {
				return err
			}
		}
	}
	now := s.now().Truncate(timeUnit)
	o.Payloads = append(o.Payloads, Payload{Sealed: sealed})
	o.Status = StatusDelivered
	o.DeliveredAt = now
	o.WindowEnds = now.Add(time.Duration(prod.Policy.WindowHours) * time.Hour)
	if err := tx.Delete(pDeliver + o.Ref); err != nil {
		return err
	}
	return tx.Set(pSettle+unixKey(o.WindowEnds)+"/"+o.Ref, nil)
}

func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}

// Retrieve opens the order of a token with its delivered keys.
// crypto.ErrTokenMalformed for a typo, ErrOrderNotFound for an unknown token.
//
// The first retrieval re-seals each delivery to the token's symmetric
// recipient (still an age file, post-quantum safe), so later retrievals
// skip the ML-KEM decapsulation; it also records that the keys were shown.
func (s *Shop) Retrieve(token string) (View, error) {
	t, err := crypto.ParseToken(token)
	if err != nil {
		return View{}, err
	}
	lk := lookupHex(t)
	var v View
	err = s.db.View(func(tx *store.Txn) error {
		if err := tx.GetJSON(pOrder+lk, &v.Order); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return ErrOrderNotFound
			}
			return err
		}
		if err := getProduct(tx, v.Order.ProductID, &v.Product); err != nil {
			return err
		}
		n, err := getStock(tx, v.Product.ID)
		v.Product.InStock = n
		return err
	})
	if err != nil {
		return View{}, err
	}
	o := &v.Order
	if len(o.Payloads) == 0 {
		return v, nil
	}
	symKey := t.RetrievalKey()
	sym := crypto.NewSymmetricIdentity(symKey)
	var orderID age.Identity
	resealed := map[int][]byte{}
	for i, p := range o.Payloads {
		var pt []byte
		if p.Sym {
			pt, err = crypto.Open(p.Sealed, sym)
		} else {
			if orderID == nil {
				kind := crypto.X25519
				if strings.HasPrefix(o.Recipient, "age1pq1") {
					kind = crypto.Hybrid
				}
				id, err := t.Identity(kind)
				if err != nil {
					return View{}, err
				}
				orderID = id.Age()
			}
			pt, err = crypto.Open(p.Sealed, orderID)
			if err == nil {
				if c, serr := crypto.Seal(pt, crypto.NewSymmetricRecipient(symKey)); serr == nil {
					resealed[i] = c
				}
			}
		}
		if err != nil {
			return View{}, fmt.Errorf("shop: open delivery of %s: %w", o.Ref, err)
		}
		var items []Item
		if err := json.Unmarshal(pt, &items); err != nil {
			return View{}, fmt.Errorf("shop: decode delivery of %s: %w", o.Ref, err)
		}
		wipe(pt)
		v.Items = append(v.Items, items...)
	}
	if len(resealed) > 0 || !o.Revealed {
		old := o.Payloads
		err := s.db.Update(func(tx *store.Txn) error {
			var cur Order
			if err := tx.GetJSON(pOrder+lk, &cur); err != nil {
				return err
			}
			for i, c := range resealed {
				// Only replace what is still the file we opened.
				if i < len(cur.Payloads) && bytes.Equal(cur.Payloads[i].Sealed, old[i].Sealed) {
					cur.Payloads[i] = Payload{Sealed: c, Sym: true}
				}
			}
			cur.Revealed = true
			*o = cur
			return tx.SetJSON(pOrder+lk, cur)
		})
		if err != nil {
			// The keys were opened; failing to cache the fast path is not
			// the buyer's problem.
			s.log.Warn("shop: record retrieval", "ref", o.Ref, "err", err)
		}
	}
	return v, nil
}
