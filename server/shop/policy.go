package shop

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"veil/server/store"
)

// Changing what an existing product promises — its price and its
// after-sales policy (window, remedies, cooling-off, fast-track tier) — is
// a sensitive operation: the console carries it through an approval
// (ChangePolicyTx in its executor), while the rest of a product (names,
// disclosure texts, limits) changes at once (UpdateDetails). Fast-track
// remedies, approved by policy without a person, stay within bounds the
// owner sets (FastTrack), checked and counted inside the approval's
// transaction (FastTrackTx).

// PolicyChange is a change of an existing product's price or after-sales
// policy: each field set is a new value, the others stay. It names no
// secret and is what a product_policy approval carries.
type PolicyChange struct {
	Product           string    `json:"product"`
	PriceMinor        *int64    `json:"price_minor,omitempty"`
	Currency          *string   `json:"currency,omitempty"`
	WindowHours       *int      `json:"window_hours,omitempty"`
	Remedies          *[]Remedy `json:"remedies,omitempty"`
	CoolingOffMinutes *int      `json:"cooling_off_minutes,omitempty"`
	AutoApproveTier   *int      `json:"auto_approve_tier,omitempty"`
	ProRataDays       *int      `json:"pro_rata_days,omitempty"` // after-sales by use (prorata.go)
	// PriceBreaks (commerce: quantity pricing) replaces the breaks; an
	// empty list removes them.
	PriceBreaks *[]PriceBreak `json:"price_breaks,omitempty"`
}

// Empty reports whether c changes nothing.
func (c PolicyChange) Empty() bool {
	return c.PriceMinor == nil && c.Currency == nil && c.WindowHours == nil && c.Remedies == nil &&
		c.CoolingOffMinutes == nil && c.AutoApproveTier == nil && c.ProRataDays == nil && c.PriceBreaks == nil
}

// apply writes c's values into p.
func (c PolicyChange) apply(p *Product) {
	if c.PriceMinor != nil {
		p.PriceMinor = *c.PriceMinor
	}
	if c.Currency != nil {
		p.Currency = *c.Currency
	}
	if c.WindowHours != nil {
		p.Policy.WindowHours = *c.WindowHours
	}
	if c.Remedies != nil {
		p.Policy.Remedies = slices.Clone(*c.Remedies)
	}
	if c.CoolingOffMinutes != nil {
		p.Policy.CoolingOffMinutes = *c.CoolingOffMinutes
	}
	if c.AutoApproveTier != nil {
		p.Policy.AutoApproveTier = *c.AutoApproveTier
	}
	if c.ProRataDays != nil {
		p.Policy.ProRataDays = *c.ProRataDays
	}
	if c.PriceBreaks != nil {
		p.PriceBreaks = slices.Clone(*c.PriceBreaks)
	}
}

// Summary says what c changes on old, for people: "window_hours 72→0, …".
func (c PolicyChange) Summary(old Product) string {
	var parts []string
	add := func(name string, from, to any) { parts = append(parts, fmt.Sprintf("%s %v→%v", name, from, to)) }
	if c.PriceMinor != nil {
		add("price_minor", old.PriceMinor, *c.PriceMinor)
	}
	if c.Currency != nil {
		add("currency", old.Currency, *c.Currency)
	}
	if c.WindowHours != nil {
		add("window_hours", old.Policy.WindowHours, *c.WindowHours)
	}
	if c.Remedies != nil {
		add("remedies", remedyList(old.Policy.Remedies), remedyList(*c.Remedies))
	}
	if c.CoolingOffMinutes != nil {
		add("cooling_off_minutes", old.Policy.CoolingOffMinutes, *c.CoolingOffMinutes)
	}
	if c.AutoApproveTier != nil {
		add("auto_approve_tier", old.Policy.AutoApproveTier, *c.AutoApproveTier)
	}
	if c.ProRataDays != nil {
		add("pro_rata_days", old.Policy.ProRataDays, *c.ProRataDays)
	}
	if c.PriceBreaks != nil {
		add("price_breaks", breakList(old.PriceBreaks), breakList(*c.PriceBreaks))
	}
	return strings.Join(parts, ", ")
}

func remedyList(rs []Remedy) string {
	if len(rs) == 0 {
		return "none"
	}
	s := make([]string, len(rs))
	for i, r := range rs {
		s[i] = string(r)
	}
	return strings.Join(s, "+")
}

// policyDiff is what moves from old to q.
func policyDiff(old, q Product) PolicyChange {
	c := PolicyChange{Product: old.ID}
	if q.PriceMinor != old.PriceMinor {
		c.PriceMinor = &q.PriceMinor
	}
	if q.Currency != old.Currency {
		c.Currency = &q.Currency
	}
	op, qp := old.Policy, q.Policy
	if qp.WindowHours != op.WindowHours {
		c.WindowHours = &qp.WindowHours
	}
	if !slices.Equal(qp.Remedies, op.Remedies) {
		rs := slices.Clone(qp.Remedies)
		if rs == nil {
			rs = []Remedy{}
		}
		c.Remedies = &rs
	}
	if qp.CoolingOffMinutes != op.CoolingOffMinutes {
		c.CoolingOffMinutes = &qp.CoolingOffMinutes
	}
	if qp.AutoApproveTier != op.AutoApproveTier {
		c.AutoApproveTier = &qp.AutoApproveTier
	}
	if qp.ProRataDays != op.ProRataDays {
		c.ProRataDays = &qp.ProRataDays
	}
	if !breaksEqual(q.PriceBreaks, old.PriceBreaks) {
		bs := slices.Clone(q.PriceBreaks)
		if bs == nil {
			bs = []PriceBreak{}
		}
		c.PriceBreaks = &bs
	}
	return c
}

// planUpdate checks p as the new state of its product inside tx: the
// whole product must be valid and its slug free. It returns the stored
// product, p completed (ID, kind, creation time kept) with the stored
// price and policy, and the change of price and policy p asks for.
func planUpdate(tx *store.Txn, p Product) (old, q Product, c PolicyChange, err error) {
	if err = getProduct(tx, p.ID, &old); err != nil {
		return
	}
	if old.Status == Deleted {
		err = ErrProductNotFound
		return
	}
	q = p
	q.ID, q.Kind, q.CreatedAt = old.ID, old.Kind, old.CreatedAt
	// Placement, status and images change through their own calls
	// (listing.go, images.go), never through an edit of the product.
	q.Category, q.Sort, q.Status, q.Images = old.Category, old.Sort, old.Status, old.Images
	if err = q.validate(); err != nil {
		return
	}
	if q.Slug != old.Slug {
		var taken bool
		if taken, err = tx.Has(pSlug + q.Slug); err != nil {
			return
		}
		if taken {
			err = ErrSlugTaken
			return
		}
	}
	c = policyDiff(old, q)
	q.PriceMinor, q.Currency, q.Policy = old.PriceMinor, old.Currency, old.Policy
	q.PriceBreaks = old.PriceBreaks
	q.InStock = 0
	return
}

// PlanUpdate checks p as UpdateDetails would, writing nothing, and returns
// the stored product and the price and policy change p asks for (which
// only an approval applies). ErrProductNotFound, ErrSlugTaken, *InputError.
func (s *Shop) PlanUpdate(p Product) (Product, PolicyChange, error) {
	var old Product
	var c PolicyChange
	err := s.db.View(func(tx *store.Txn) error {
		var err error
		old, _, c, err = planUpdate(tx, p)
		return err
	})
	if err != nil {
		return Product{}, PolicyChange{}, fmt.Errorf("shop: update product %s: %w", p.ID, err)
	}
	return old, c, nil
}

// UpdateDetails changes everything of a product but its price and
// after-sales policy (and ID, kind, creation time): those stay as stored,
// and the change p asks for is returned, for an approval to apply
// (ChangePolicyTx). ErrProductNotFound, ErrSlugTaken, *InputError.
func (s *Shop) UpdateDetails(p Product) (Product, PolicyChange, error) {
	var out Product
	var c PolicyChange
	err := s.db.Update(func(tx *store.Txn) error {
		old, q, change, err := planUpdate(tx, p)
		if err != nil {
			return err
		}
		if q.Slug != old.Slug {
			if err := tx.Delete(pSlug + old.Slug); err != nil {
				return err
			}
			if err := tx.Set(pSlug+q.Slug, []byte(q.ID)); err != nil {
				return err
			}
		}
		out, c = q, change
		return tx.SetJSON(pProduct+q.ID, q)
	})
	if err != nil {
		return Product{}, PolicyChange{}, fmt.Errorf("shop: update product %s: %w", p.ID, err)
	}
	if err := s.reloadProduct(out.ID); err != nil { // the newest stored, should a policy change have committed meanwhile
		return Product{}, PolicyChange{}, err
	}
	out, err = s.withStock(out)
	return out, c, err
}

// ChangePolicyTx applies an approved price and policy change inside the
// approval's transaction. The catalog the shop serves from picks it up
// with Reconcile after the commit. ErrProductNotFound, *InputError.
func (s *Shop) ChangePolicyTx(tx *store.Txn, c PolicyChange) (Product, error) {
	var p Product
	if err := getProduct(tx, c.Product, &p); err != nil {
		return Product{}, err
	}
	c.apply(&p)
	if err := p.validate(); err != nil {
		return Product{}, err
	}
	p.InStock = 0
	return p, tx.SetJSON(pProduct+p.ID, p)
}

// reloadProduct puts the stored product id into the catalog.
func (s *Shop) reloadProduct(id string) error {
	var p Product
	err := s.db.View(func(tx *store.Txn) error { return getProduct(tx, id, &p) })
	if errors.Is(err, ErrProductNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	s.catalog.put(p)
	return nil
}

// FastTrack bounds the remedies that policy approves without a person (a
// product's auto_approve_tier): which kinds, and how much may leave the
// shop that way per order and per day (the shop's day), in minor units of the
// order's currency. A replacement counts as the price of one key. The
// zero value — never set — lets nothing through: every remedy waits for a
// person until the owner sets bounds (a settings approval).
type FastTrack struct {
	Remedies      []Remedy `json:"remedies"`
	MaxOrderMinor int64    `json:"max_order_minor"`
	MaxDayMinor   int64    `json:"max_day_minor"`
}

const (
	kFastTrack = "setting/fast-track" // FastTrack
	pFastDay   = "fasttrack/day/"     // fasttrack/day/<YYYY-MM-DD>/<currency> -> minor units given
	pFastOrder = "fasttrack/order/"   // fasttrack/order/<ref> -> minor units given
)

// Validate checks the bounds.
func (f FastTrack) Validate() error {
	seen := map[Remedy]bool{}
	for _, r := range f.Remedies {
		switch r {
		case RemedyReplace, RemedyPartialRefund, RemedyRefund:
		default:
			return inputErr("fast_track.remedies: %q is not one of replace, partial_refund, refund", r)
		}
		if seen[r] {
			return inputErr("fast_track.remedies: %q twice", r)
		}
		seen[r] = true
	}
	if f.MaxOrderMinor < 0 || f.MaxOrderMinor > MaxPriceMinor || f.MaxDayMinor < 0 || f.MaxDayMinor > 100*MaxPriceMinor {
		return inputErr("fast_track: max_order_minor between 0 and %d, max_day_minor between 0 and %d", MaxPriceMinor, 100*MaxPriceMinor)
	}
	return nil
}

// Allows reports whether the bounds let policy approve anything at all.
func (f FastTrack) Allows() bool {
	return len(f.Remedies) > 0 && f.MaxOrderMinor > 0 && f.MaxDayMinor > 0
}

// FastTrack returns the bounds in force.
func (s *Shop) FastTrack() (FastTrack, error) {
	var f FastTrack
	err := s.db.View(func(tx *store.Txn) error { return getFastTrack(tx, &f) })
	return f, err
}

func getFastTrack(tx *store.Txn, f *FastTrack) error {
	if err := tx.GetJSON(kFastTrack, f); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

// SetFastTrackTx replaces the bounds inside a settings approval.
func (s *Shop) SetFastTrackTx(tx *store.Txn, f FastTrack) error {
	if err := f.Validate(); err != nil {
		return err
	}
	if f.Remedies == nil {
		f.Remedies = []Remedy{}
	}
	return tx.SetJSON(kFastTrack, f)
}

// FastTrackTx decides, inside the transaction that would approve it,
// whether policy may approve remedy (amountMinor for a partial refund)
// on the order ref without a person: the product's auto_approve_tier is
// reached, and the owner's bounds allow the remedy and its amount on top
// of what fast track gave this order and, today, the whole shop. When it
// may, the amount is counted in tx and rule names what approved it, for
// the audit log; otherwise ok is false and rule says which bound held.
func (s *Shop) FastTrackTx(tx *store.Txn, ref string, remedy Remedy, amountMinor int64) (rule string, ok bool, err error) {
	o, _, err := getOrderByRef(tx, ref)
	if err != nil {
		return "", false, err
	}
	var prod Product
	if err := getProduct(tx, o.ProductID, &prod); err != nil {
		return "", false, err
	}
	tier := prod.Policy.AutoApproveTier
	if tier <= 0 || o.Tier < tier {
		return fmt.Sprintf("tier %d below the product's fast-track tier %d", o.Tier, tier), false, nil
	}
	var f FastTrack
	if err := getFastTrack(tx, &f); err != nil {
		return "", false, err
	}
	if !slices.Contains(f.Remedies, remedy) {
		return fmt.Sprintf("fast track does not allow %s", remedy), false, nil
	}
	value := amountMinor
	switch remedy {
	case RemedyRefund:
		value = o.AmountMinor - o.Refunded()
	case RemedyReplace:
		value = (o.AmountMinor + int64(o.Quantity) - 1) / int64(max(o.Quantity, 1))
	}
	orderKey := pFastOrder + o.Ref
	dayKey := pFastDay + s.now().In(s.locationTx(tx)).Format(time.DateOnly) + "/" + o.Currency
	var onOrder, onDay int64
	for _, x := range []struct {
		k string
		v *int64
	}{{orderKey, &onOrder}, {dayKey, &onDay}} {
		if err := tx.GetJSON(x.k, x.v); err != nil && !errors.Is(err, store.ErrNotFound) {
			return "", false, err
		}
	}
	if onOrder+value > f.MaxOrderMinor {
		return fmt.Sprintf("fast track per order: %d+%d over %d", onOrder, value, f.MaxOrderMinor), false, nil
	}
	if onDay+value > f.MaxDayMinor {
		return fmt.Sprintf("fast track per day: %d+%d over %d", onDay, value, f.MaxDayMinor), false, nil
	}
	if err := tx.SetJSON(orderKey, onOrder+value); err != nil {
		return "", false, err
	}
	if err := tx.SetJSON(dayKey, onDay+value); err != nil {
		return "", false, err
	}
	return fmt.Sprintf("fast_track tier>=%d %s %d; order %d/%d; day %d/%d %s", tier, remedy, value,
		onOrder+value, f.MaxOrderMinor, onDay+value, f.MaxDayMinor, o.Currency), true, nil
}
