package shop

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"veil/crypto"
	"veil/server/store"
)

// Trust tiers. A buyer proves history by presenting old order tokens; each
// is checked against the tier record kept under that order's lookup key
// (settled? disputes? flagged?). The tier is derived on the spot and nothing
// records which proofs came together: the per-proof daily use counter lives
// in memory only, keyed by an HMAC under a per-process key.

// tierRecord is all that tiers need of an order, and it outlives the
// order's retention.
type tierRecord struct {
	Settled  bool   `json:"settled"`
	Band     string `json:"band,omitempty"` // the Monday of the settle week
	Tickets  int    `json:"tickets"`
	Rejected int    `json:"rejected"` // claims staff found unfounded
	Flagged  bool   `json:"flagged"`  // abuse, set by staff
}

const (
	pTier     = "tier/"   // tier/<lookup hex> -> tierRecord
	pReward   = "reward/" // reward/<sha256 of code> -> reward
	kTierRule = "settings/tiers"
)

// TierRules are the merchant's thresholds; index = tier 0..3.
type TierRules struct {
	// MinSettled settled orders and MinSpanDays between the oldest and the
	// newest settle week reach each tier. Tiers 2 and 3 also need no
	// rejected claim among the proofs.
	MinSettled  [4]int `json:"min_settled"`
	MinSpanDays [4]int `json:"min_span_days"`
	// Caps per tier: quantity per order, amount per order (0 = no cap),
	// unpaid orders held at once from one client.
	MaxQuantity    [4]int   `json:"max_quantity"`
	MaxAmountMinor [4]int64 `json:"max_amount_minor"`
	MaxUnpaid      [4]int   `json:"max_unpaid"`
	// ProofUsesPerDay: one old token vouches for at most this many orders a
	// day, so it cannot be lent around.
	ProofUsesPerDay int `json:"proof_uses_per_day"`
	// Quiet loyalty: a buyer at RewardMinTier or above whose proofs are all
	// complaint-free gets a RewardPercent discount code on every
	// RewardEvery-th settled order. RewardEvery 0 turns rewards off.
	RewardMinTier int `json:"reward_min_tier"`
	RewardEvery   int `json:"reward_every"`
	RewardPercent int `json:"reward_percent"`
}

// DefaultTierRules suit a shop that just opened.
func DefaultTierRules() TierRules {
	return TierRules{
		MinSettled:      [4]int{0, 1, 3, 10},
		MinSpanDays:     [4]int{0, 0, 0, 28},
		MaxQuantity:     [4]int{5, 10, 50, 1000},
		MaxAmountMinor:  [4]int64{50_000, 200_000, 1_000_000, 0},
		MaxUnpaid:       [4]int{2, 3, 5, 10},
		ProofUsesPerDay: 3,
		RewardMinTier:   2,
		RewardEvery:     5,
		RewardPercent:   5,
	}
}

// Validate checks the rules: thresholds that do not decrease, positive
// caps, rewards in range. An *InputError says what is wrong.
func (r TierRules) Validate() error {
	for t := 1; t < 4; t++ {
		if r.MinSettled[t] < r.MinSettled[t-1] || r.MinSettled[t] < 0 || r.MinSpanDays[t] < 0 {
			return inputErr("tier thresholds must not decrease")
		}
	}
	for t := range 4 {
		if r.MaxQuantity[t] < 1 || r.MaxUnpaid[t] < 1 || r.MaxAmountMinor[t] < 0 {
			return inputErr("tier caps must be positive")
		}
	}
	if r.ProofUsesPerDay < 1 || r.RewardPercent < 0 || r.RewardPercent > 50 || r.RewardEvery < 0 ||
		r.RewardMinTier < 0 || r.RewardMinTier > 3 {
		return inputErr("tier rules out of range")
	}
	return nil
}

// TierRules returns the merchant's rules (defaults until set).
func (s *Shop) TierRules() TierRules {
	r := DefaultTierRules()
	_ = s.db.View(func(tx *store.Txn) error { return tx.GetJSON(kTierRule, &r) })
	return r
}

// SetTierRulesTx stores new rules (a settings approval).
func (s *Shop) SetTierRulesTx(tx *store.Txn, r TierRules) error {
	if err := r.Validate(); err != nil {
		return err
	}
	return tx.SetJSON(kTierRule, r)
}

// proofUses counts, in memory only, how often each proof was used today.
type proofUses struct {
	mu  sync.Mutex
	key [32]byte
	day string
	n   map[[32]byte]int
}

func newProofUses() *proofUses {
	p := &proofUses{n: map[[32]byte]int{}}
	_, _ = rand.Read(p.key[:])
	return p
}

// use counts one use of the proof with lookup key lk today and reports
// whether it is within limit.
func (p *proofUses) use(lk string, day string, limit int) bool {
	m := hmac.New(sha256.New, p.key[:])
	m.Write([]byte(lk))
	var h [32]byte
	copy(h[:], m.Sum(nil))
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.day != day {
		p.day, p.n = day, map[[32]byte]int{}
	}
	if p.n[h] >= limit {
		return false
	}
	p.n[h]++
	return true
}

// TierResult is what proofs earned.
type TierResult struct {
	Tier          int
	Counted       int  // distinct proofs that counted
	ComplaintFree bool // every counted proof had no ticket
}

// EvaluateProofs checks old tokens and derives the tier. A proof with a
// typo is an *InputError naming its position; unknown, unsettled, flagged
// or over-used proofs simply count for nothing.
func (s *Shop) EvaluateProofs(proofs []string) (TierResult, error) {
	if len(proofs) > MaxProofs {
		return TierResult{}, inputErr("proofs: at most %d old tokens", MaxProofs)
	}
	rules := s.TierRules()
	seen := map[string]bool{}
	var lks []string
	for i, p := range proofs {
		t, err := crypto.ParseToken(p)
		if err != nil {
			return TierResult{}, inputErr("proofs: token %d has a typo", i+1)
		}
		lk := lookupHex(t)
		if !seen[lk] {
			seen[lk] = true
			lks = append(lks, lk)
		}
	}
	day := s.now().Format(time.DateOnly)
	res := TierResult{ComplaintFree: true}
	var bands []string
	rejected := 0
	err := s.db.View(func(tx *store.Txn) error {
		for _, lk := range lks {
			var r tierRecord
			err := tx.GetJSON(pTier+lk, &r)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if !r.Settled || r.Flagged || !s.proofs.use(lk, day, rules.ProofUsesPerDay) {
				continue
			}
			res.Counted++
			bands = append(bands, r.Band)
			rejected += r.Rejected
			if r.Tickets > 0 {
				res.ComplaintFree = false
			}
		}
		return nil
	})
	if err != nil {
		return TierResult{}, fmt.Errorf("shop: evaluate proofs: %w", err)
	}
	span := 0
	if len(bands) > 1 {
		slices.Sort(bands)
		a, _ := time.Parse(time.DateOnly, bands[0])
		b, _ := time.Parse(time.DateOnly, bands[len(bands)-1])
		span = int(b.Sub(a).Hours() / 24)
	}
	for t := 3; t >= 1; t-- {
		if res.Counted >= rules.MinSettled[t] && span >= rules.MinSpanDays[t] && (t < 2 || rejected == 0) {
			res.Tier = t
			break
		}
	}
	if res.Counted == 0 {
		res.ComplaintFree = false
	}
	return res, nil
}

// weekBand is the Monday of t's week: when an order settled, no finer.
func weekBand(t time.Time) string {
	t = t.UTC()
	wd := (int(t.Weekday()) + 6) % 7
	return t.AddDate(0, 0, -wd).Format(time.DateOnly)
}

// writeTierRecord records a settled order for future proofs.
func (s *Shop) writeTierRecord(tx *store.Txn, lk string, o Order) error {
	var r tierRecord
	if err := tx.GetJSON(pTier+lk, &r); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	r.Settled, r.Band = true, weekBand(o.WindowEnds)
	r.Tickets, r.Rejected = 0, 0
	err := s.ticketsOf(tx, o.Ref, func(t Ticket) {
		r.Tickets++
		if t.Status == TicketRejected {
			r.Rejected++
		}
	})
	if err != nil {
		return err
	}
	return tx.SetJSON(pTier+lk, r)
}

// FlagAbuse sets or clears the abuse flag of an order's tier record: a
// flagged token counts for nothing as a proof.
func (s *Shop) FlagAbuse(ref string, flagged bool) error {
	return s.db.Update(func(tx *store.Txn) error {
		_, lk, err := getOrderByRef(tx, ref)
		if err != nil {
			return err
		}
		var r tierRecord
		if err := tx.GetJSON(pTier+lk, &r); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		r.Flagged = flagged
		return tx.SetJSON(pTier+lk, r)
	})
}

// holders tracks, in memory, the unpaid orders each client holds, so a
// newcomer cannot hoard stock with reservations. A holder is an opaque key
// the HTTP layer derives from the client address with a per-process secret;
// it is never stored.
type holders struct {
	mu    sync.Mutex
	byKey map[string]map[string]time.Time // holder -> ref -> expiry
	byRef map[string]string
}

func newHolders() *holders {
	return &holders{byKey: map[string]map[string]time.Time{}, byRef: map[string]string{}}
}

func (h *holders) count(key string, now time.Time) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for ref, exp := range h.byKey[key] {
		if now.After(exp) {
			delete(h.byKey[key], ref)
			delete(h.byRef, ref)
			continue
		}
		n++
	}
	if n == 0 {
		delete(h.byKey, key)
	}
	return n
}

func (h *holders) add(key, ref string, exp time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.byKey[key] == nil {
		h.byKey[key] = map[string]time.Time{}
	}
	h.byKey[key][ref] = exp
	h.byRef[ref] = key
}

func (h *holders) done(ref string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if key, ok := h.byRef[ref]; ok {
		delete(h.byKey[key], ref)
		if len(h.byKey[key]) == 0 {
			delete(h.byKey, key)
		}
		delete(h.byRef, ref)
	}
}

// reward is a one-time discount code, stored only as its hash.
type reward struct {
	Percent int  `json:"percent"`
	Used    bool `json:"used"`
}

// giveBackDiscount makes the code an order spent usable again, once,
// inside tx: the order expired unpaid.
func giveBackDiscount(tx *store.Txn, o *Order) error {
	if err := giveBackCoupon(tx, o); err != nil {
		return err
	}
	if o.DiscountKey == "" || o.DiscountBack {
		return nil
	}
	var rw reward
	if err := tx.GetJSON(o.DiscountKey, &rw); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil // purged or never stored: nothing to give back
		}
		return err
	}
	rw.Used = false
	o.DiscountBack = true
	return tx.SetJSON(o.DiscountKey, rw)
}

// reclaimDiscount takes the code given back by an expired order again,
// inside tx, for a late payment of that order. It reports false when the
// code was spent by another order meanwhile: the order's discounted
// amount is no longer owed to it.
func reclaimDiscount(tx *store.Txn, o *Order) (bool, error) {
	if ok, err := reclaimCoupon(tx, o); err != nil || !ok {
		return false, err
	}
	if o.DiscountKey == "" || !o.DiscountBack {
		return true, nil
	}
	var rw reward
	if err := tx.GetJSON(o.DiscountKey, &rw); errors.Is(err, store.ErrNotFound) {
		return true, nil
	} else if err != nil {
		return false, err
	}
	if rw.Used {
		return false, nil
	}
	rw.Used = true
	o.DiscountBack = false
	return true, tx.SetJSON(o.DiscountKey, rw)
}

func rewardKey(code string) string {
	h := sha256.Sum256([]byte(strings.ToUpper(strings.TrimSpace(code))))
	return pReward + hex.EncodeToString(h[:])
}

// newRewardCode makes a readable code: VEIL-XXXX-XXXX.
func newRewardCode() string {
	s := strings.ToUpper(crypto.RandomID("", 5))
	return "VEIL-" + s[:4] + "-" + s[4:8]
}
