package shop

import (
	"errors"
	"fmt"
	"strings"

	"veil/crypto"
	"veil/server/store"
)

// Signed delivery receipts (issue 13 §3): the buyer downloads one with the
// order token; it is made on request, because its commitments need the
// keys, which only the token opens. Nothing of it is stored.

// ErrNotDelivered: the order has no delivered key to give a receipt for
// (409 not_delivered): not paid yet, queued, or refunded before its keys
// were ever shown.
var ErrNotDelivered = errors.New("shop: order not delivered")

// Receipt signs the delivery receipt of a token's order with the vault's
// notice key, the product named in lang. It opens the keys to commit to
// them but does not count as showing them (cooling-off stays open) and
// writes nothing. It returns the block and the order's ref.
// crypto.ErrTokenMalformed, ErrOrderNotFound, ErrNotDelivered, ErrLocked.
func (s *Shop) Receipt(token, lang string) (block, ref string, err error) {
	t, err := crypto.ParseToken(token)
	if err != nil {
		return "", "", err
	}
	return s.ReceiptToken(t, lang)
}

// ReceiptToken is Receipt of a parsed token.
func (s *Shop) ReceiptToken(t crypto.Token, lang string) (block, ref string, err error) {
	s.mu.RLock()
	vault := s.vault
	s.mu.RUnlock()
	var v View
	err = s.db.View(func(tx *store.Txn) error {
		var err error
		if v.Order, err = getOrder(tx, t.Ref(), lookupHex(t)); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return ErrOrderNotFound
			}
			return err
		}
		p, ok := s.catalog.get(v.Order.ProductID)
		if !ok {
			return ErrProductNotFound
		}
		v.Product = p
		if !v.Order.HasReceipt() {
			return ErrNotDelivered
		}
		if vault == nil {
			return ErrLocked
		}
		// openPayloads may re-seal a delivery in v's copy; it is not
		// written back, so this stays read-only.
		_, err = s.openPayloads(newOpener(t, &v.Order), &v)
		return err
	})
	if err != nil {
		return "", "", err
	}
	if vault.NoticeKey == nil {
		return "", "", fmt.Errorf("shop: the vault has no notice key yet; unlock it again")
	}
	o := v.Order
	r := crypto.Receipt{
		Issued: s.now(), Ref: o.Ref, Product: v.Product.Slug, ProductName: receiptName(v.Product, lang),
		Quantity: o.Quantity, AmountMinor: o.AmountMinor, Currency: o.Currency, Status: string(o.Status),
		Delivered: o.DeliveredAt, WindowEnds: o.WindowEnds,
	}
	for i, it := range v.Items {
		r.Items = append(r.Items, crypto.ReceiptItem{ID: it.ID, Commitment: crypto.ReceiptCommitment(o.Ref, it.ID, it.Key), State: string(it.State)})
		v.Items[i].Key = ""
	}
	block, err = crypto.SignReceipt(vault.NoticeKey, r)
	if err != nil {
		return "", "", fmt.Errorf("shop: receipt of %s: %w", o.Ref, err)
	}
	return block, o.Ref, nil
}

// HasReceipt reports whether the order has a receipt to give: keys were
// delivered and are not withheld.
func (o Order) HasReceipt() bool {
	return len(o.Payloads) > 0 && !withheld(o) && !o.DeliveredAt.IsZero()
}

// receiptName is the product's name in lang as a receipt can carry it:
// one line, no control or format characters, at most 200 bytes; the slug
// when nothing is left.
func receiptName(p Product, lang string) string {
	var b strings.Builder
	for _, c := range p.Name.In(lang) {
		if !crypto.ReceiptNameRune(c) {
			c = ' '
		}
		if b.Len()+len(string(c)) > 200 {
			break
		}
		b.WriteRune(c)
	}
	name := strings.Join(strings.Fields(b.String()), " ")
	if name == "" {
		return p.Slug
	}
	return name
}
