package shop

import (
	"slices"

	"veil/server/store"
)

// Sealing ahead of the commit (issue 15). Every write runs on the store's
// single committer goroutine, so crypto inside an Update fn serialises all
// writers behind it: at concurrency 64 the committer spent ~45 % of the
// process's CPU opening and sealing. A payment therefore seals the order's
// reserved keys first, in a snapshot, on the caller's goroutine; inside the
// transaction sealKeysAs still reads and checks every key record (reserved
// for this order) and takes the sealed file only when it was made for
// exactly the same keys and recipient — which makes it the same delivery,
// since a key id's plaintext never changes. Anything else (a reservation
// swapped meanwhile, a compensation's marked items) seals in the
// transaction as before. A sealed file is ciphertext to the order; one that
// is never taken is dropped when its payment returns.

type presealEntry struct {
	recipient string // the raw recipient, or the string of an old record
	kids      []string
	sealed    []byte
}

// preseal seals the reserved keys of the pending order ref, if it has any
// and its product is stocked here, for the payment about to apply. It is
// best effort: an error only means the transaction seals them itself.
func (s *Shop) preseal(ref string) {
	if s.Locked() {
		return
	}
	var e presealEntry
	err := s.db.View(func(tx *store.Txn) error {
		o, _, err := getOrderByRef(tx, ref)
		if err != nil || o.Status != StatusPending || len(o.Items) == 0 {
			return err
		}
		prod, ok := s.catalog.get(o.ProductID)
		if !ok || prod.Upstream != nil {
			return nil
		}
		recs := make([]keyRecord, 0, len(o.Items))
		for _, kid := range o.Items {
			var rec keyRecord
			if err := getKeyRec(tx, kid, &rec); err != nil {
				return err
			}
			if prod.Kind == Unique && (rec.State != KeyReserved || rec.Order != o.Ref) {
				return nil
			}
			recs = append(recs, rec)
		}
		sealed, err := s.sealRecords(tx, &o, recs, nil)
		if err != nil {
			return err
		}
		e = presealEntry{recipient: recipientID(&o), kids: slices.Clone(o.Items), sealed: sealed}
		return nil
	})
	if err != nil || e.sealed == nil {
		return
	}
	s.presealMu.Lock()
	if s.presealed == nil {
		s.presealed = map[string]presealEntry{}
	}
	s.presealed[ref] = e
	s.presealMu.Unlock()
}

// dropPresealed forgets what preseal made for ref (taken or not).
func (s *Shop) dropPresealed(ref string) {
	s.presealMu.Lock()
	delete(s.presealed, ref)
	s.presealMu.Unlock()
}

// takePresealed returns, once, the delivery sealed ahead for o if it was
// made for exactly kids and o's recipient; nil otherwise.
func (s *Shop) takePresealed(o *Order, kids []string) []byte {
	s.presealMu.Lock()
	defer s.presealMu.Unlock()
	e, ok := s.presealed[o.Ref]
	if !ok || e.recipient != recipientID(o) || !slices.Equal(e.kids, kids) {
		return nil
	}
	delete(s.presealed, o.Ref)
	return e.sealed
}

// recipientID names o's recipient for comparison: its raw form when held,
// else its string (the two never look alike: raw starts with a kind byte).
func recipientID(o *Order) string {
	if o.rcpt != nil {
		return string(o.rcpt)
	}
	return o.Recipient
}
