package shop

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"veil/server/store"
)

// Retention and pattern data. When an order's retention ends it is purged:
// its record, sealed deliveries (crypto-erasure: the keys are gone for
// good), references, tickets and thread go; what remains is its tier record
// (under the token's lookup key, holding no time finer than a week), one
// count in the pattern aggregates: product × quantity × amount band × hour
// band × weekday, and its money in the monthly report aggregates
// (reports.go: month × currency × product × batch).

const (
	pPurge   = "purge/"   // purge/<unix>/<ref>: goes at that time (expired orders)
	pRetain  = "retain/"  // retain/<unix>/<ref>: settled or refunded then; goes a retention later
	pPattern = "pattern/" // pattern/<pid>/<qty>/<amount band>/<hour band>/<weekday> -> count
	// kRetention holds the retention setting in whole days (decimal).
	kRetention = "setting/retention-days"
)

// Retention bounds, in days. The default, 183, is "at least six months"
// whatever the months; the trade keeps disputes open about that long.
const (
	DefaultRetentionDays = 183
	MinRetentionDays     = 1
	MaxRetentionDays     = 3650
)

// RetentionDays is how long a settled or refunded order is kept before the
// purge removes it: the merchant's setting, else the Config's default.
func (s *Shop) RetentionDays() int {
	days := s.defaultRetentionDays()
	_ = s.db.View(func(tx *store.Txn) error {
		days = s.retentionDaysTx(tx)
		return nil
	})
	return days
}

func (s *Shop) defaultRetentionDays() int {
	if s.cfg.Retention > 0 {
		return max(1, int(s.cfg.Retention/(24*time.Hour)))
	}
	return DefaultRetentionDays
}

func (s *Shop) retentionDaysTx(tx *store.Txn) int {
	b, err := tx.Get(kRetention)
	if err != nil {
		return s.defaultRetentionDays()
	}
	n, err := strconv.Atoi(string(b))
	if err != nil || n < MinRetentionDays || n > MaxRetentionDays {
		return s.defaultRetentionDays()
	}
	return n
}

// SetRetentionDaysTx stores the retention setting (a settings approval).
// It applies at once to every settled or refunded order, also those
// settled before the change: the purge measures each from its settlement.
func (s *Shop) SetRetentionDaysTx(tx *store.Txn, days int) error {
	if days < MinRetentionDays || days > MaxRetentionDays {
		return inputErr("retention_days: %d to %d", MinRetentionDays, MaxRetentionDays)
	}
	return tx.Set(kRetention, []byte(strconv.Itoa(days)))
}

// schedulePurge sets when an order goes.
func (s *Shop) schedulePurge(tx *store.Txn, o *Order, at time.Time) error {
	if err := unschedule(tx, o); err != nil {
		return err
	}
	o.PurgeAt = at.UTC().Truncate(timeUnit)
	return tx.Set(pPurge+unixKey(o.PurgeAt)+"/"+o.Ref, nil)
}

// scheduleRetention keeps a settled or refunded order for the retention
// setting counted from start. The index holds start, not the end, so a
// changed setting applies to it without rewriting the index; PurgeAt is
// the end as the setting stood (for people).
func (s *Shop) scheduleRetention(tx *store.Txn, o *Order, start time.Time) error {
	if err := unschedule(tx, o); err != nil {
		return err
	}
	o.RetainFrom = start.UTC().Truncate(timeUnit)
	o.PurgeAt = o.RetainFrom.Add(time.Duration(s.retentionDaysTx(tx)) * 24 * time.Hour)
	return tx.Set(pRetain+unixKey(o.RetainFrom)+"/"+o.Ref, nil)
}

// unschedule drops the order's purge index entry, whichever it is.
func unschedule(tx *store.Txn, o *Order) error {
	if !o.RetainFrom.IsZero() {
		if err := tx.Delete(pRetain + unixKey(o.RetainFrom) + "/" + o.Ref); err != nil {
			return err
		}
		o.RetainFrom = time.Time{}
	}
	if !o.PurgeAt.IsZero() {
		if err := tx.Delete(pPurge + unixKey(o.PurgeAt) + "/" + o.Ref); err != nil {
			return err
		}
	}
	return nil
}

// legacyRetention is the retention before it was a setting: settled and
// refunded orders were indexed under purge/ at start + 180 days.
const legacyRetention = 180 * 24 * time.Hour

// migrateRetention moves settled and refunded orders indexed the old way
// (purge/ at an absolute time) to retain/, so the setting applies to them
// too. It runs at start; an order is moved in its own transaction, and a
// crash leaves the rest for the next start.
func (s *Shop) migrateRetention() error {
	var keys []string
	err := s.db.View(func(tx *store.Txn) error {
		return tx.Iterate(pPurge, "", true, func(k string, _ []byte) error {
			keys = append(keys, k)
			return nil
		})
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		_, ref, ok := strings.Cut(strings.TrimPrefix(k, pPurge), "/")
		if !ok {
			continue
		}
		err := s.db.Update(func(tx *store.Txn) error {
			o, lk, err := getOrderByRef(tx, ref)
			if err != nil || !o.RetainFrom.IsZero() {
				return err
			}
			if o.Status != StatusSettled && o.Status != StatusRefunded {
				return nil
			}
			if err := s.scheduleRetention(tx, &o, o.PurgeAt.Add(-legacyRetention)); err != nil {
				return err
			}
			return putOrder(tx, lk, o)
		})
		if err != nil && !errors.Is(err, ErrOrderNotFound) {
			return fmt.Errorf("shop: move %s to the retention index: %w", ref, err)
		}
	}
	return nil
}

// purgeDue lists the orders whose retention ended by now: expired ones at
// their time, settled and refunded ones a retention after it.
func (s *Shop) purgeDue(now time.Time) ([]string, error) {
	refs, err := s.due(pPurge, now)
	if err != nil {
		return nil, err
	}
	retained, err := s.due(pRetain, now.Add(-time.Duration(s.RetentionDays())*24*time.Hour))
	if err != nil {
		return nil, err
	}
	return append(refs, retained...), nil
}

// PurgeResult reports a purge.
type PurgeResult struct {
	Due    int      // orders whose retention ended
	Purged int      // removed (0 in a dry run)
	Refs   []string // the refs, for a dry run's listing (first 1000)
}

// Purge removes every order whose retention ended. With dryRun it only
// lists them. progress, if set, is called after each order.
func (s *Shop) Purge(dryRun bool, progress func(done, total int)) (PurgeResult, error) {
	refs, err := s.purgeDue(s.now())
	if err != nil {
		return PurgeResult{}, err
	}
	res := PurgeResult{Due: len(refs)}
	res.Refs = refs[:min(len(refs), 1000)]
	if dryRun {
		return res, nil
	}
	for i, ref := range refs {
		if s.cfg.OnPurge != nil {
			if err := s.cfg.OnPurge(ref); err != nil {
				return res, fmt.Errorf("shop: purge %s: %w", ref, err)
			}
		}
		err := s.db.Update(func(tx *store.Txn) error { return s.purgeTx(tx, ref) })
		if err != nil && !errors.Is(err, ErrOrderNotFound) {
			return res, fmt.Errorf("shop: purge %s: %w", ref, err)
		}
		res.Purged++
		if progress != nil {
			progress(i+1, len(refs))
		}
	}
	if res.Purged > 0 {
		// Deleted records stay in old files until compaction: make the
		// purge final on disk.
		if err := s.db.Compact(); err != nil {
			return res, fmt.Errorf("shop: purge: %w", err)
		}
		s.log.Info("shop: purge", "orders", res.Purged)
	}
	return res, nil
}

func (s *Shop) purgeTx(tx *store.Txn, ref string) error {
	o, lk, err := getOrderByRef(tx, ref)
	if err != nil {
		return err
	}
	now := s.now()
	if !o.RetainFrom.IsZero() {
		if o.RetainFrom.Add(time.Duration(s.retentionDaysTx(tx)) * 24 * time.Hour).After(now) {
			return nil // refunded again meanwhile, or the setting grew
		}
	} else if !o.PurgeAt.IsZero() && o.PurgeAt.After(now) {
		return nil // rescheduled meanwhile
	}
	if o.Payment != nil {
		if err := addPattern(tx, o); err != nil {
			return err
		}
		if err := s.addReportAgg(tx, o); err != nil { // reports.go: figures outlive the order
			return err
		}
		if o.Payment.TradeNo != "" {
			if err := tx.Delete(pTrade + o.Payment.Provider + "/" + o.Payment.TradeNo); err != nil {
				return err
			}
		}
	}
	// Payment records, owed and held markers go with the order.
	for _, prefix := range []string{pPayRec + ref + "/", pOwed + ref + "/"} {
		var ks []string
		if err := tx.Iterate(prefix, "", true, func(k string, _ []byte) error { ks = append(ks, k); return nil }); err != nil {
			return err
		}
		for _, k := range ks {
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
	}
	if err := tx.Delete(pHeld + ref); err != nil {
		return err
	}
	var tickets []string
	if err := s.ticketsOf(tx, ref, func(t Ticket) { tickets = append(tickets, t.ID) }); err != nil {
		return err
	}
	for _, id := range tickets {
		if err := tx.Delete(pTicket + id); err != nil {
			return err
		}
		if err := tx.Delete(pOrderTicket + ref + "/" + id); err != nil {
			return err
		}
	}
	// Its reports of bad batches go too (a freeze keeps its own evidence).
	for _, b := range orderBatches(o) {
		if err := tx.Delete(pBatchRep + b + "/" + ref); err != nil {
			return err
		}
	}
	// The deliveries stored apart (orderstore.go): crypto-erased with the
	// record, as the recipient goes with ordtime/ (or, in an older layout,
	// ref/<ref>).
	if err := deleteOrderParts(tx, ref); err != nil {
		return err
	}
	for _, k := range []string{pOrder + ref, pOrder + lk, pRef + ref} { // whichever layout it is in
		if err := dropIfPresent(tx, k); err != nil {
			return err
		}
	}
	for _, k := range []string{
		orderTimeKey(o), pDeliver + ref, pFastOrder + ref,
		pPurge + unixKey(o.PurgeAt) + "/" + ref,
		pRetain + unixKey(o.RetainFrom) + "/" + ref,
	} {
		if err := tx.Delete(k); err != nil {
			return err
		}
	}
	// Only orders stored before schedule.go have these.
	for _, k := range []string{pExpiry + unixKey(o.ExpiresAt) + "/" + ref, pSettle + unixKey(o.WindowEnds) + "/" + ref} {
		if err := dropIfPresent(tx, k); err != nil {
			return err
		}
	}
	return nil
}

// Bands of the pattern data.
var amountBands = []int64{1000, 5000, 10000, 50000, 100000} // minor units: ¥10, 50, 100, 500, 1000

// AmountBand names the band of an amount in minor units ("0", "1", …).
func AmountBand(minor int64) int {
	for i, b := range amountBands {
		if minor < b {
			return i
		}
	}
	return len(amountBands)
}

// HourBand is the four-hour band of t (0 = 00:00–03:59 UTC … 5).
func HourBand(t time.Time) int { return t.UTC().Hour() / 4 }

func patternKey(o Order) string {
	created := o.CreatedAt.UTC()
	return fmt.Sprintf("%s%s/%d/%d/%d/%d", pPattern, o.ProductID, o.Quantity, AmountBand(o.AmountMinor),
		HourBand(created), (int(created.Weekday())+6)%7)
}

func addPattern(tx *store.Txn, o Order) error {
	k := patternKey(o)
	n := 0
	if b, err := tx.Get(k); err == nil {
		n, _ = strconv.Atoi(string(b))
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return tx.Set(k, []byte(strconv.Itoa(n+1)))
}

// PatternCell is one count of the pattern data.
type PatternCell struct {
	ProductID  string
	Quantity   int
	AmountBand int
	HourBand   int
	Weekday    int // 0 = Monday
	Count      int
}

// Patterns returns the purchase pattern of a product ("" = all): the
// aggregates of purged orders plus the paid orders still kept, folded the
// same way.
func (s *Shop) Patterns(productID string) ([]PatternCell, error) {
	cells := map[string]*PatternCell{}
	add := func(k string, n int) {
		parts := strings.Split(strings.TrimPrefix(k, pPattern), "/")
		if len(parts) != 5 {
			return
		}
		c := cells[k]
		if c == nil {
			c = &PatternCell{ProductID: parts[0]}
			c.Quantity, _ = strconv.Atoi(parts[1])
			c.AmountBand, _ = strconv.Atoi(parts[2])
			c.HourBand, _ = strconv.Atoi(parts[3])
			c.Weekday, _ = strconv.Atoi(parts[4])
			cells[k] = c
		}
		c.Count += n
	}
	prefix := pPattern
	if productID != "" {
		prefix += productID + "/"
	}
	err := s.db.View(func(tx *store.Txn) error {
		err := tx.Iterate(prefix, "", false, func(k string, v []byte) error {
			n, _ := strconv.Atoi(string(v))
			add(k, n)
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Iterate(pOrderTime, "", true, func(k string, _ []byte) error {
			_, ref, _ := strings.Cut(strings.TrimPrefix(k, pOrderTime), "/")
			o, _, err := getOrderByRef(tx, ref)
			if err != nil || o.Payment == nil || (productID != "" && o.ProductID != productID) {
				return nil
			}
			add(patternKey(o), 1)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("shop: patterns: %w", err)
	}
	out := make([]PatternCell, 0, len(cells))
	for _, c := range cells {
		out = append(out, *c)
	}
	return out, nil
}
