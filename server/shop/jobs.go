package shop

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"veil/server/notify"
	"veil/server/store"
)

// errSkip aborts a job's transaction without counting as a failure;
// errNoSave commits what fn wrote but leaves the order record as it was.
var (
	errSkip   = errors.New("shop: skip")
	errNoSave = errors.New("shop: no save")
)

// Run does background work until ctx ends: expiring reservations, retrying
// queued deliveries (at once after Unlock), turning overdue ones into
// refund_due, settling orders whose after-sales window closed, hourly,
// purging orders whose retention ended, and a key rotation's re-sealing.
func (s *Shop) Run(ctx context.Context) {
	rotDone := make(chan struct{})
	go func() { s.runRotation(ctx); close(rotDone) }()
	defer func() { <-rotDone }()
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	var lastPurge, lastSync time.Time
	for {
		if _, err := s.Sweep(); err != nil {
			s.jobError("shop: background sweep", err)
		}
		// Resale: sourced products' stock and purchases (sourced.go),
		// forwarded tickets' outcomes every 30 s (forward.go).
		s.RefreshUpstreamStock(ctx, false)
		if _, err := s.PurchaseQueued(ctx); err != nil {
			s.jobError("shop: upstream purchases", err)
		}
		if time.Since(lastSync) > s.cfg.ForwardPoll {
			lastSync = time.Now()
			if _, err := s.SyncForwarded(ctx); err != nil {
				s.log.Warn("shop: forwarded tickets", "err", err)
			}
		}
		if time.Since(lastPurge) > time.Hour {
			lastPurge = time.Now()
			last := -1
			_, err := s.Purge(false, func(done, total int) {
				// Progress in the log every 10% of a long purge.
				if pct := done * 100 / total; total >= 100 && pct/10 != last/10 {
					last = pct
					s.log.Info("shop: purging", "done", done, "total", total)
				}
			})
			if err != nil {
				s.jobError("shop: purge", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.kick:
		}
	}
}

// jobError logs a background job's failure, except that the store cannot
// write now (a full disk, a failed sync): the store logs that once when it
// starts refusing writes, and the job simply runs again on the next tick.
func (s *Shop) jobError(msg string, err error) {
	if errors.Is(err, store.ErrUnavailable) {
		return
	}
	s.log.Error(msg, "err", err)
}

// SweepResult counts what one sweep did.
type SweepResult struct {
	Expired, Delivered, RefundDue, Settled int
}

// Sweep runs each background job once.
func (s *Shop) Sweep() (SweepResult, error) {
	var r SweepResult
	var errs []error
	var err error
	r.Expired, err = s.expireDue()
	errs = append(errs, err)
	r.Delivered, r.RefundDue, err = s.deliverQueued()
	errs = append(errs, err)
	r.Settled, err = s.settleDue()
	errs = append(errs, err)
	errs = append(errs, s.advanceSweepFrom(s.now()))
	return r, errors.Join(errs...)
}

// due lists refs under a time-keyed index (prefix<unix>/<ref>) up to now.
func (s *Shop) due(prefix string, now time.Time) ([]string, error) {
	var refs []string
	err := s.db.View(func(tx *store.Txn) error {
		return tx.Iterate(prefix, "", true, func(k string, _ []byte) error {
			rest := strings.TrimPrefix(k, prefix)
			ts, ref, ok := strings.Cut(rest, "/")
			if !ok {
				return nil
			}
			sec, err := strconv.ParseInt(ts, 10, 64)
			if err != nil {
				return nil
			}
			if sec > now.Unix() {
				return store.ErrStop
			}
			refs = append(refs, ref)
			return nil
		})
	})
	return refs, err
}

// withOrder runs fn on the order ref inside one transaction holding the
// product's lock, and saves the order unless fn returns an error. If fn
// returns errNoSave, its other writes commit and withOrder returns errSkip.
//
// fn may free keys (release): it appends them to *freed, and they return to
// the product's pool once the transaction commits.
func (s *Shop) withOrder(ref string, fn func(tx *store.Txn, o *Order, prod Product, freed *[]string) error) error {
	o, err := s.OrderByRef(ref)
	if err != nil {
		return err
	}
	prod, ok := s.catalog.get(o.ProductID)
	if !ok {
		return ErrProductNotFound
	}
	noSave := false
	var freed []string
	err = s.update(prod, func(tx *store.Txn) error {
		noSave = false
		freed = freed[:0]
		o, lk, err := getOrderByRef(tx, ref)
		if err != nil {
			return err
		}
		err = fn(tx, &o, prod, &freed)
		if errors.Is(err, errNoSave) {
			noSave = true
			return nil
		}
		if err != nil {
			return err
		}
		return putOrder(tx, lk, o)
	})
	if err == nil && len(freed) > 0 {
		s.poolOf(prod.ID).put(freed)
	}
	if err == nil && noSave {
		return errSkip // committed fn's own writes; nothing to count
	}
	return err
}

// expireDue expires the pending orders due by now: those on the expiry
// list (schedule.go) and, from stores written before it, in the expiry/
// index.
func (s *Shop) expireDue() (int, error) {
	now := s.now()
	legacy, err := s.due(pExpiry, now)
	if err != nil {
		return 0, err
	}
	listed, err := s.dueOrders(&s.expiring, now, expiresAt)
	if err != nil {
		return 0, err
	}
	n := 0
	for i, ref := range append(listed, legacy...) {
		var next time.Time
		err := s.withOrder(ref, func(tx *store.Txn, o *Order, prod Product, freed *[]string) error {
			key := pExpiry + unixKey(o.ExpiresAt) + "/" + o.Ref
			if o.Status != StatusPending {
				return errors.Join(dropIfPresent(tx, key), errNoSave)
			}
			if o.ExpiresAt.After(now) {
				next = o.ExpiresAt
				return errSkip
			}
			if err := s.release(tx, prod, o, freed); err != nil {
				return err
			}
			o.Status, o.Items = StatusExpired, nil
			s.orderEnded(o.Ref)
			if err := giveBackDiscount(tx, o); err != nil {
				return err
			}
			if err := s.schedulePurge(tx, o, o.ExpiresAt.Add(s.cfg.ExpiredRetention)); err != nil {
				return err
			}
			return dropIfPresent(tx, key)
		})
		if i < len(listed) {
			s.expiring.after(ref, next, err)
		}
		if errors.Is(err, errSkip) {
			continue
		}
		if err != nil {
			for _, r := range listed[min(i+1, len(listed)):] {
				s.expiring.retry(r)
			}
			return n, fmt.Errorf("shop: expire %s: %w", ref, err)
		}
		n++
		s.log.Info("shop: reservation expired", "ref", ref)
	}
	return n, nil
}

func (s *Shop) deliverQueued() (delivered, refundDue int, err error) {
	var refs []string
	err = s.db.View(func(tx *store.Txn) error {
		return tx.Iterate(pDeliver, "", true, func(k string, _ []byte) error {
			refs = append(refs, strings.TrimPrefix(k, pDeliver))
			return nil
		})
	})
	if err != nil {
		return 0, 0, err
	}
	now := s.now()
	for _, ref := range refs {
		var status Status
		err := s.withOrder(ref, func(tx *store.Txn, o *Order, prod Product, freed *[]string) error {
			if o.Status != StatusPaid {
				return errors.Join(tx.Delete(pDeliver+o.Ref), errNoSave)
			}
			if prod.Upstream != nil {
				return errSkip // PurchaseQueued delivers it, deadline included (sourced.go)
			}
			if now.After(o.DeliverBy) {
				// Could not deliver in time: the keys go back to stock and
				// the buyer is owed a refund.
				if err := s.release(tx, prod, o, freed); err != nil {
					return err
				}
				o.Status, o.Items = StatusRefundDue, nil
				o.Notices = append(o.Notices, Notice{Code: "delivery_deadline", At: now.Truncate(timeUnit)})
				status = o.Status
				if err := s.refundDue(tx, o, true); err != nil {
					return err
				}
				if err := s.cfg.Notify.Enqueue(tx, s.orderEvent(notify.DeliveryFailed, o)); err != nil {
					return err
				}
				return tx.Delete(pDeliver + o.Ref)
			}
			if err := s.deliver(tx, o, prod); err != nil {
				if errors.Is(err, ErrLocked) {
					return errSkip
				}
				return err
			}
			status = o.Status
			return s.proposeIfLate(tx, o)
		})
		if errors.Is(err, errSkip) {
			continue
		}
		if err != nil {
			s.log.Error("shop: queued delivery", "ref", ref, "err", err)
			continue
		}
		switch status {
		case StatusDelivered:
			delivered++
			s.log.Info("shop: queued order delivered", "ref", ref)
		case StatusRefundDue:
			refundDue++
			s.log.Warn("shop: delivery deadline passed, refund due", "ref", ref)
		}
	}
	return delivered, refundDue, nil
}

// settleDue settles the delivered orders whose after-sales window closed
// by now: those on the settle list (schedule.go) and, from stores written
// before it, in the settle/ index.
func (s *Shop) settleDue() (int, error) {
	now := s.now()
	legacy, err := s.due(pSettle, now)
	if err != nil {
		return 0, err
	}
	listed, err := s.dueOrders(&s.settling, now, settlesAt)
	if err != nil {
		return 0, err
	}
	n := 0
	for i, ref := range append(listed, legacy...) {
		var next time.Time
		err := s.withOrder(ref, func(tx *store.Txn, o *Order, _ Product, _ *[]string) error {
			if o.WindowEnds.After(now) {
				next = o.WindowEnds
				return errSkip
			}
			if err := dropIfPresent(tx, pSettle+unixKey(o.WindowEnds)+"/"+o.Ref); err != nil {
				return err
			}
			if settlesAt(*o).IsZero() {
				return nil // refunded or owed (or settled already): not a settled sale
			}
			o.Status = StatusSettled
			o.SettledAt = now.Truncate(timeUnit)
			lk, err := orderLookup(tx, o.Ref)
			if err != nil {
				return err
			}
			if err := s.writeTierRecord(tx, lk, *o); err != nil {
				return err
			}
			return s.scheduleRetention(tx, o, o.SettledAt)
		})
		if i < len(listed) {
			s.settling.after(ref, next, err)
		}
		if errors.Is(err, errSkip) {
			continue
		}
		if err != nil {
			for _, r := range listed[min(i+1, len(listed)):] {
				s.settling.retry(r)
			}
			return n, fmt.Errorf("shop: settle %s: %w", ref, err)
		}
		n++
	}
	return n, nil
}
