package shop

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"veil/crypto"
	"veil/server/notify"
	"veil/server/store"
)

// Automatic batch freeze (issue 13 §2). When, within a window, several
// distinct orders report keys of the same supplier batch as bad
// (key_invalid, key_already_used) — at least MinReports orders and at least
// MinPermille ‰ of the batch's delivered keys — the batch is frozen in the
// same transaction as the ticket that crosses the threshold: its unsold
// keys leave the avail/ index (the durable stock; the in-memory pools are
// reconciled after the commit), keys it holds for unpaid or undelivered
// orders are swapped for keys of other batches where stock allows, and the
// owner is told (Config.OnBatchFrozen, inside the same transaction). Frozen
// keys wait in their own index (frz/) until an approval puts them back on
// sale (UnfreezeTx) or recalls the batch (RecallTx).
//
// Only unique products are frozen: a shared product sells one key to
// everyone, and a bad one is a recall.

// FreezeRule is the owner's threshold. The zero value is never stored:
// FreezeRule() returns DefaultFreezeRule until a settings approval sets one.
type FreezeRule struct {
	// Off turns automatic freezes off.
	Off bool `json:"off,omitempty"`
	// MinReports is the least number of distinct orders reporting the
	// batch within the window.
	MinReports int `json:"min_reports"`
	// MinPermille is the least share of the batch's delivered keys those
	// orders make, in tenths of a percent (50 = 5%).
	MinPermille int `json:"min_permille"`
	// WindowHours is how far back reports count.
	WindowHours int `json:"window_hours"`
}

// DefaultFreezeRule: 3 orders and ≥ 5% of the delivered keys within 7 days.
var DefaultFreezeRule = FreezeRule{MinReports: 3, MinPermille: 50, WindowHours: 7 * 24}

// Validate checks a rule.
func (r FreezeRule) Validate() error {
	switch {
	case r.MinReports < 1 || r.MinReports > 1000:
		return inputErr("freeze.min_reports: between 1 and 1000")
	case r.MinPermille < 0 || r.MinPermille > 1000:
		return inputErr("freeze.min_permille: between 0 and 1000")
	case r.WindowHours < 1 || r.WindowHours > 24*366:
		return inputErr("freeze.window_hours: between 1 and %d", 24*366)
	}
	return nil
}

// Freeze is a frozen batch with the evidence that froze it.
type Freeze struct {
	Batch    string     `json:"batch"`
	Product  string     `json:"product"`
	Supplier string     `json:"supplier"`
	At       time.Time  `json:"at"`
	Rule     FreezeRule `json:"rule"`
	// Reports are the distinct orders' reports inside the window when it
	// froze; Delivered the batch's delivered keys then.
	Reports   []BatchReport `json:"reports"`
	Delivered int           `json:"delivered"`
	// Held is how many unsold keys left stock; Swapped how many
	// reservations moved to other batches; Unswapped how many stayed
	// (no other stock): those keys are frozen too if their order expires.
	Held      int `json:"held"`
	Swapped   int `json:"swapped"`
	Unswapped int `json:"unswapped"`
	// Ended and EndedBy are set when an approval lifted the freeze
	// ("unfrozen" or "recalled"); the record then moves to the history.
	Ended   time.Time `json:"ended,omitzero"`
	EndedBy string    `json:"ended_by,omitempty"`
}

// BatchReport is one order's report of a batch's key as bad.
type BatchReport struct {
	Ref    string    `json:"ref"`
	Ticket string    `json:"ticket"`
	Reason Reason    `json:"reason"`
	At     time.Time `json:"at"`
}

// ErrNotFrozen: the batch is not frozen (409 not_frozen).
var ErrNotFrozen = errors.New("shop: batch not frozen")

// KeyFrozen is an unsold key of a frozen batch.
const KeyFrozen KeyState = "frozen"

const (
	kFreezeRule = "setting/freeze-rule"
	pBatchRep   = "batchrep/"   // batchrep/<bid>/<ref> -> BatchReport (the order's latest)
	pFrozen     = "frozen/"     // frozen/<bid> -> Freeze, while frozen
	pFrozenPast = "frozenpast/" // frozenpast/<bid>/<unix>-<rand> -> Freeze, lifted
	pFrz        = "frz/"        // frz/<pid>/<kid> -> "": frozen unsold keys (like avail/)
)

// FreezeRule returns the rule in force.
func (s *Shop) FreezeRule() (FreezeRule, error) {
	var r FreezeRule
	err := s.db.View(func(tx *store.Txn) error {
		var err error
		r, err = getFreezeRule(tx)
		return err
	})
	return r, err
}

func getFreezeRule(tx *store.Txn) (FreezeRule, error) {
	var r FreezeRule
	err := tx.GetJSON(kFreezeRule, &r)
	if errors.Is(err, store.ErrNotFound) {
		return DefaultFreezeRule, nil
	}
	return r, err
}

// SetFreezeRuleTx replaces the rule inside a settings approval.
func (s *Shop) SetFreezeRuleTx(tx *store.Txn, r FreezeRule) error {
	if err := r.Validate(); err != nil {
		return err
	}
	return tx.SetJSON(kFreezeRule, r)
}

// isBadKeyReason: the reasons that speak about a key's batch.
func isBadKeyReason(r Reason) bool { return r == ReasonKeyInvalid || r == ReasonKeyAlreadyUsed }

// reportBatchesTx records, inside the ticket's transaction, that order o
// reports keys of their batches as bad (the ticket's item, or every current
// item of the order), and freezes each batch the report pushes over the
// rule. It returns the products whose pools need a Reconcile.
func (s *Shop) reportBatchesTx(tx *store.Txn, o Order, t Ticket) ([]string, error) {
	if !isBadKeyReason(t.Reason) {
		return nil, nil
	}
	prod, ok := s.catalog.get(o.ProductID)
	if !ok || prod.Kind != Unique {
		return nil, nil
	}
	kids := o.Items
	if t.ItemID != "" {
		kids = []string{t.ItemID}
	}
	var batches []string
	for _, kid := range kids {
		if b, _, ok := strings.Cut(kid, "-"); ok && !slices.Contains(batches, b) {
			batches = append(batches, b)
		}
	}
	rule, err := getFreezeRule(tx)
	if err != nil {
		return nil, err
	}
	var touched []string
	for _, b := range batches {
		rep := BatchReport{Ref: o.Ref, Ticket: t.ID, Reason: t.Reason, At: t.CreatedAt}
		if err := tx.SetJSON(pBatchRep+b+"/"+o.Ref, rep); err != nil {
			return nil, err
		}
		if rule.Off {
			continue
		}
		froze, err := s.maybeFreezeTx(tx, b, rule, rep)
		if err != nil {
			return nil, err
		}
		if froze && !slices.Contains(touched, prod.ID) {
			touched = append(touched, prod.ID)
		}
	}
	return touched, nil
}

// BatchEvidence is what the rule looks at for a batch now: the distinct
// orders reporting it within the window, and its delivered keys.
type BatchEvidence struct {
	Reports   []BatchReport `json:"reports"`
	Delivered int           `json:"delivered"`
}

// Crosses reports whether ev meets rule.
func (ev BatchEvidence) Crosses(rule FreezeRule) bool {
	n := len(ev.Reports)
	return !rule.Off && n >= rule.MinReports && n*1000 >= rule.MinPermille*ev.Delivered
}

func (s *Shop) batchEvidenceTx(tx *store.Txn, batch string, rule FreezeRule) (BatchEvidence, error) {
	var ev BatchEvidence
	since := s.now().Add(-time.Duration(rule.WindowHours) * time.Hour)
	err := tx.Iterate(pBatchRep+batch+"/", "", false, func(_ string, v []byte) error {
		var r BatchReport
		if err := jsonUnmarshal(v, &r); err != nil {
			return err
		}
		if !r.At.Before(since) {
			ev.Reports = append(ev.Reports, r)
		}
		return nil
	})
	if err != nil {
		return ev, err
	}
	err = tx.Iterate(pKey+batch+"-", "", false, func(_ string, v []byte) error {
		var rec keyRecord
		if err := decodeKeyRec(v, &rec); err != nil {
			return err
		}
		switch rec.State {
		case KeyDelivered, KeyReportedBad, KeyRecalled:
			ev.Delivered++
		}
		return nil
	})
	slices.SortFunc(ev.Reports, func(a, b BatchReport) int { return a.At.Compare(b.At) })
	return ev, err
}

// BatchEvidence returns what the rule in force sees of a batch now (for
// the console's batch list).
func (s *Shop) BatchEvidence(batch string) (BatchEvidence, error) {
	var ev BatchEvidence
	err := s.db.View(func(tx *store.Txn) error {
		rule, err := getFreezeRule(tx)
		if err != nil {
			return err
		}
		ev, err = s.batchEvidenceTx(tx, batch, rule)
		return err
	})
	return ev, err
}

// maybeFreezeTx freezes batch if it is not frozen and its evidence meets
// rule; crossing is the report being recorded (named in the notification).
func (s *Shop) maybeFreezeTx(tx *store.Txn, batch string, rule FreezeRule, crossing BatchReport) (bool, error) {
	if ok, err := tx.Has(pFrozen + batch); err != nil || ok {
		return false, err
	}
	ev, err := s.batchEvidenceTx(tx, batch, rule)
	if err != nil || !ev.Crosses(rule) {
		return false, err
	}
	var b Batch
	if err := tx.GetJSON(pBatch+batch, &b); err != nil {
		return false, fmt.Errorf("batch %s: %w", batch, err)
	}
	prod, ok := s.catalog.get(b.ProductID)
	if !ok {
		return false, ErrProductNotFound
	}
	f := Freeze{
		Batch: batch, Product: prod.ID, Supplier: b.Supplier, At: s.now().Truncate(timeUnit), Rule: rule,
		Reports: ev.Reports, Delivered: ev.Delivered,
	}
	// Unsold keys leave stock.
	prefix := pAvail + prod.ID + "/"
	var avail []string
	err = tx.Iterate(prefix+batch+"-", "", true, func(k string, _ []byte) error {
		avail = append(avail, strings.TrimPrefix(k, prefix))
		return nil
	})
	if err != nil {
		return false, err
	}
	for _, kid := range avail {
		if err := freezeKey(tx, prod.ID, kid); err != nil {
			return false, err
		}
		if err := tx.Delete(prefix + kid); err != nil {
			return false, err
		}
	}
	f.Held = len(avail)
	// Keys held for orders not yet delivered move to other batches.
	var reserved []keyRecord
	err = tx.Iterate(pKey+batch+"-", "", false, func(_ string, v []byte) error {
		var rec keyRecord
		if err := decodeKeyRec(v, &rec); err != nil {
			return err
		}
		if rec.State == KeyReserved && rec.Order != "" {
			reserved = append(reserved, rec)
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	for _, rec := range reserved {
		swapped, err := s.swapReservedTx(tx, prod, rec)
		if err != nil {
			return false, err
		}
		if swapped {
			f.Swapped++
		} else {
			f.Unswapped++
		}
	}
	if err := tx.SetJSON(pFrozen+batch, f); err != nil {
		return false, err
	}
	if n := s.cfg.Notify; n != nil {
		e := notify.Event{Kind: notify.BatchFrozen, Ref: crossing.Ref, Ticket: crossing.Ticket, Product: prod.Slug, Quantity: f.Held,
			Reason: string(crossing.Reason)}
		if err := n.Enqueue(tx, e); err != nil {
			return false, err
		}
	}
	if s.cfg.OnBatchFrozen != nil {
		if err := s.cfg.OnBatchFrozen(tx, f); err != nil {
			return false, err
		}
	}
	s.log.Warn("shop: batch frozen", "batch", batch, "product", prod.Slug, "reports", len(f.Reports),
		"delivered", f.Delivered, "held", f.Held, "swapped", f.Swapped, "unswapped", f.Unswapped)
	return true, nil
}

// freezeKey marks an unsold key frozen and indexes it under frz/.
func freezeKey(tx *store.Txn, pid, kid string) error {
	var rec keyRecord
	if err := getKeyRec(tx, kid, &rec); err != nil {
		return err
	}
	rec.State, rec.Order = KeyFrozen, ""
	if err := putKeyRec(tx, kid, rec); err != nil {
		return err
	}
	return tx.Set(pFrz+pid+"/"+kid, nil)
}

// swapReservedTx gives the order holding rec a key of another batch in its
// place, if stock has one, and freezes rec's key.
func (s *Shop) swapReservedTx(tx *store.Txn, prod Product, rec keyRecord) (bool, error) {
	o, lk, err := getOrderByRef(tx, rec.Order)
	if err != nil {
		return false, err
	}
	i := slices.Index(o.Items, rec.ID)
	if i < 0 || (o.Status != StatusPending && o.Status != StatusPaid && o.Status != StatusPaymentHeld) {
		return false, nil
	}
	fresh, err := takeFromStock(tx, prod, 1, o.Ref, map[string]bool{rec.Batch: true})
	if err != nil || len(fresh) == 0 {
		return false, err
	}
	o.Items[i] = fresh[0]
	if err := freezeKey(tx, prod.ID, rec.ID); err != nil {
		return false, err
	}
	return true, putOrder(tx, lk, o)
}

// orderBatches lists the batches of an order's keys, current and taken
// back.
func orderBatches(o Order) []string {
	var bs []string
	add := func(kid string) {
		if b, _, ok := strings.Cut(kid, "-"); ok && !slices.Contains(bs, b) {
			bs = append(bs, b)
		}
	}
	for _, kid := range o.Items {
		add(kid)
	}
	for kid := range o.Bad {
		add(kid)
	}
	return bs
}

// frozenBatch reports whether batch is frozen, inside tx.
func frozenBatch(tx *store.Txn, batch string) (bool, error) { return tx.Has(pFrozen + batch) }

// Freezes lists the frozen batches, oldest first, and (past) the lifted
// ones, newest first, up to limit.
func (s *Shop) Freezes(limit int) (active, past []Freeze, err error) {
	limit = min(max(limit, 1), 500)
	err = s.db.View(func(tx *store.Txn) error {
		err := tx.Iterate(pFrozen, "", false, func(_ string, v []byte) error {
			var f Freeze
			if err := jsonUnmarshal(v, &f); err != nil {
				return err
			}
			active = append(active, f)
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Iterate(pFrozenPast, "", false, func(_ string, v []byte) error {
			var f Freeze
			if err := jsonUnmarshal(v, &f); err != nil {
				return err
			}
			past = append(past, f)
			return nil
		})
	})
	slices.SortFunc(active, func(a, b Freeze) int { return a.At.Compare(b.At) })
	slices.SortStableFunc(past, func(a, b Freeze) int { return b.Ended.Compare(a.Ended) })
	if len(past) > limit {
		past = past[:limit]
	}
	return active, past, err
}

// FrozenBatch returns one frozen batch. ErrNotFrozen.
func (s *Shop) FrozenBatch(batch string) (Freeze, error) {
	var f Freeze
	err := s.db.View(func(tx *store.Txn) error { return getFreeze(tx, batch, &f) })
	return f, err
}

func getFreeze(tx *store.Txn, batch string, f *Freeze) error {
	if batch == "" || len(batch) > 40 {
		return ErrNotFrozen
	}
	err := tx.GetJSON(pFrozen+batch, f)
	if errors.Is(err, store.ErrNotFound) {
		return ErrNotFrozen
	}
	return err
}

// endFreezeTx lifts a freeze: each frozen key of the batch goes back on
// sale (unfreeze) or is withdrawn (recall), the batch's reports are cleared
// (an owner has looked at them: only new reports count towards the next
// freeze) and the record moves to the history. It returns how many keys it
// moved.
func (s *Shop) endFreezeTx(tx *store.Txn, batch, how string) (int, error) {
	var f Freeze
	if err := getFreeze(tx, batch, &f); err != nil {
		return 0, err
	}
	prefix := pFrz + f.Product + "/"
	var kids []string
	err := tx.Iterate(prefix+batch+"-", "", true, func(k string, _ []byte) error {
		kids = append(kids, strings.TrimPrefix(k, prefix))
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, kid := range kids {
		var rec keyRecord
		if err := getKeyRec(tx, kid, &rec); err != nil {
			return 0, err
		}
		if how == "unfrozen" {
			rec.State = KeyAvailable
			if err := tx.Set(pAvail+f.Product+"/"+kid, nil); err != nil {
				return 0, err
			}
		} else {
			rec.State, rec.CT = KeyWithdrawn, nil
		}
		if err := putKeyRec(tx, kid, rec); err != nil {
			return 0, err
		}
		if err := tx.Delete(prefix + kid); err != nil {
			return 0, err
		}
	}
	var reps []string
	err = tx.Iterate(pBatchRep+batch+"/", "", true, func(k string, _ []byte) error {
		reps = append(reps, k)
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, k := range reps {
		if err := tx.Delete(k); err != nil {
			return 0, err
		}
	}
	f.Ended, f.EndedBy = s.now().Truncate(timeUnit), how
	if err := tx.Delete(pFrozen + batch); err != nil {
		return 0, err
	}
	return len(kids), tx.SetJSON(pFrozenPast+batch+"/"+unixKey(f.Ended)+crypto.RandomID("-", 3), f)
}

// UnfreezeTx puts a frozen batch's keys back on sale inside a
// batch_unfreeze approval's transaction. The product's pool is stale until
// Reconcile. ErrNotFrozen.
func (s *Shop) UnfreezeTx(tx *store.Txn, batch string) (Freeze, int, error) {
	var f Freeze
	if err := getFreeze(tx, batch, &f); err != nil {
		return f, 0, err
	}
	n, err := s.endFreezeTx(tx, batch, "unfrozen")
	return f, n, err
}

// frozenCount counts a product's frozen unsold keys.
func frozenCount(tx *store.Txn, pid string) (int, error) {
	n := 0
	err := tx.Iterate(pFrz+pid+"/", "", true, func(string, []byte) error {
		n++
		return nil
	})
	return n, err
}
