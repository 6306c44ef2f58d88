package shop

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"veil/crypto"
	"veil/server/store"
)

// Console operations. The *Tx ones run inside a transaction the caller owns
// (an approval being executed), so they touch only the store: the pools they
// make stale are fixed by Reconcile after the commit.

const (
	pOrderTime = "ordtime/" // ordtime/<inverted unix>/<ref> -> raw recipient (orderstore.go): newest first
	pExport    = "export/"  // export/<id> -> age file, taken once

	// MaxWithdraw bounds the keys one export or deletion moves, so that it
	// fits one transaction; larger stocks take several approvals.
	MaxWithdraw = 5000
	// LowStock is the stock below which the dashboard warns.
	LowStock = 10
)

func orderTimeKey(o Order) string {
	return fmt.Sprintf("%s%012d/%s", pOrderTime, 999_999_999_999-o.CreatedAt.Unix(), o.Ref)
}

// OrderFilter narrows Orders.
type OrderFilter struct {
	Status    Status
	ProductID string
}

// Orders lists orders newest first, limit at a time; the returned cursor
// continues the list ("" at the end).
func (s *Shop) Orders(f OrderFilter, cursor string, limit int) ([]Order, string, error) {
	limit = min(max(limit, 1), 200)
	var out []Order
	next := ""
	start := ""
	if cursor != "" {
		start = pOrderTime + cursor
	}
	err := s.db.View(func(tx *store.Txn) error {
		return tx.Iterate(pOrderTime, start, true, func(k string, _ []byte) error {
			rest := strings.TrimPrefix(k, pOrderTime)
			if len(out) == limit {
				next = rest
				return store.ErrStop
			}
			_, ref, _ := strings.Cut(rest, "/")
			o, _, err := getOrderByRef(tx, ref)
			if errors.Is(err, ErrOrderNotFound) {
				return nil // purged
			}
			if err != nil {
				return err
			}
			if (f.Status != "" && o.Status != f.Status) || (f.ProductID != "" && o.ProductID != f.ProductID) {
				return nil
			}
			o.Payloads = nil // sealed bytes are of no use to staff
			out = append(out, o)
			return nil
		})
	})
	if err != nil {
		return nil, "", fmt.Errorf("shop: list orders: %w", err)
	}
	return out, next, nil
}

// RefundTx pays an order's money back: amountMinor 0 refunds all that is
// left, anything else is a partial refund. Undelivered keys return to stock.
// ErrNotRefundable when nothing was paid or all is refunded already.
func (s *Shop) RefundTx(tx *store.Txn, ref string, amountMinor int64) (Order, error) {
	o, lk, err := getOrderByRef(tx, ref)
	if err != nil {
		return Order{}, err
	}
	prod, ok := s.catalog.get(o.ProductID)
	if !ok {
		return Order{}, ErrProductNotFound
	}
	left := o.AmountMinor - o.Refunded()
	if o.Payment == nil || left <= 0 {
		return Order{}, ErrNotRefundable
	}
	if amountMinor < 0 || amountMinor > left {
		return Order{}, inputErr("amount_minor: between 1 and %d (0 refunds all that is left)", left)
	}
	if amountMinor == 0 {
		amountMinor = left
	}
	full := amountMinor == left
	now := s.now().Truncate(timeUnit)
	switch o.Status {
	case StatusPaid:
		// Paid, never delivered: the reserved keys go back and the delivery
		// is called off.
		if !full {
			return Order{}, inputErr("an undelivered order is refunded in full")
		}
		var freed []string
		if err := s.release(tx, prod, &o, &freed); err != nil {
			return Order{}, err
		}
		o.Items = nil
		if err := tx.Delete(pDeliver + o.Ref); err != nil {
			return Order{}, err
		}
	case StatusRefundDue, StatusDelivered, StatusSettled, StatusReplaced, StatusPartiallyRefunded:
		if !full && o.Status == StatusRefundDue {
			return Order{}, inputErr("a refund_due order is refunded in full")
		}
	default:
		return Order{}, ErrNotRefundable
	}
	o.Refunds = append(o.Refunds, Refund{AmountMinor: amountMinor, At: now})
	if full {
		o.Status = StatusRefunded
		o.Notices = append(o.Notices, Notice{Code: "refunded", At: now})
		if !o.Revealed {
			// Refunded before the keys were shown: they are withheld for
			// good, and their sealed copy goes with this commit, so no
			// later event can show them.
			o.Withheld, o.Payloads = true, nil
		}
		if err := s.scheduleRetention(tx, &o, now); err != nil {
			return Order{}, err
		}
	} else {
		o.Status = StatusPartiallyRefunded
		o.Notices = append(o.Notices, Notice{Code: "partially_refunded", At: now})
	}
	if err := putOrder(tx, lk, o); err != nil {
		return Order{}, err
	}
	return o, nil
}

// withdrawTx takes up to MaxWithdraw available keys of a product (one batch
// or all) out of stock, calling fn with each plaintext when fn is not nil.
func (s *Shop) withdrawTx(tx *store.Txn, productID, batchID string, fn func(key string)) (int, error) {
	prod, ok := s.catalog.get(productID)
	if !ok {
		return 0, ErrProductNotFound
	}
	if prod.Kind != Unique {
		return 0, inputErr("a shared product has no key list to withdraw")
	}
	prefix := pAvail + prod.ID + "/"
	var kids []string
	err := tx.Iterate(prefix+batchID, "", true, func(k string, _ []byte) error {
		kids = append(kids, strings.TrimPrefix(k, prefix))
		if len(kids) > MaxWithdraw {
			return store.ErrStop
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if len(kids) > MaxWithdraw {
		return 0, inputErr("more than %d keys: withdraw one batch at a time", MaxWithdraw)
	}
	batches := map[string]*crypto.DataKey{}
	for _, kid := range kids {
		var rec keyRecord
		if err := getKeyRec(tx, kid, &rec); err != nil {
			return 0, err
		}
		if rec.State != KeyAvailable {
			continue
		}
		if fn != nil {
			dk := batches[rec.Batch]
			if dk == nil {
				var b Batch
				if err := tx.GetJSON(pBatch+rec.Batch, &b); err != nil {
					return 0, err
				}
				if dk, err = s.batchKey(&b); err != nil {
					return 0, err
				}
				batches[rec.Batch] = dk
			}
			pt, err := dk.OpenItem(rec.ID, rec.CT)
			if err != nil {
				return 0, fmt.Errorf("shop: open key %s: %w", kid, err)
			}
			fn(string(pt))
			wipe(pt)
		}
		rec.State, rec.CT = KeyWithdrawn, nil
		if err := putKeyRec(tx, kid, rec); err != nil {
			return 0, err
		}
		if err := tx.Delete(prefix + kid); err != nil {
			return 0, err
		}
	}
	return len(kids), nil
}

// ExportTx withdraws the unsold keys of a product (one batch, or all when
// batchID is empty) into an age file sealed to recipient, kept under
// exportID until TakeExport hands it out once. The vault must be unlocked.
func (s *Shop) ExportTx(tx *store.Txn, productID, batchID, recipient, exportID string) (int, error) {
	r, err := crypto.ParseRecipient(recipient)
	if err != nil {
		return 0, inputErr("recipient: not an age recipient")
	}
	if exportID == "" || len(exportID) > 64 {
		return 0, inputErr("export id missing")
	}
	var b strings.Builder
	n, err := s.withdrawTx(tx, productID, batchID, func(k string) { b.WriteString(k); b.WriteByte('\n') })
	if err != nil {
		return 0, err
	}
	sealed, err := crypto.Seal([]byte(b.String()), r)
	if err != nil {
		return 0, err
	}
	return n, tx.Set(pExport+exportID, sealed)
}

// TakeExport returns an export's age file and deletes it, so it can be
// downloaded once; store.ErrNotFound when there is none.
func (s *Shop) TakeExport(exportID string) ([]byte, error) {
	var b []byte
	err := s.db.Update(func(tx *store.Txn) error {
		var err error
		if b, err = tx.Get(pExport + exportID); err != nil {
			return err
		}
		return tx.Delete(pExport + exportID)
	})
	return b, err
}

// DeleteKeysTx withdraws a batch's unsold keys (or a product's, batchID
// empty) without exporting them.
func (s *Shop) DeleteKeysTx(tx *store.Txn, productID, batchID string) (int, error) {
	return s.withdrawTx(tx, productID, batchID, nil)
}

// BatchStock counts a batch's keys by state.
type BatchStock struct {
	Batch                                                    Batch
	Available, Reserved, Delivered, Bad, Recalled, Withdrawn int
	// Frozen counts unsold keys held back by a batch freeze (freeze.go);
	// FrozenAt is when the batch froze (zero while it is not frozen).
	Frozen   int
	FrozenAt time.Time
}

// Stock counts each batch of a product by key state, oldest batch first.
func (s *Shop) Stock(productID string) ([]BatchStock, error) {
	bs, err := s.Batches(productID)
	if err != nil {
		return nil, err
	}
	out := make([]BatchStock, len(bs))
	err = s.db.View(func(tx *store.Txn) error {
		for i, b := range bs {
			out[i].Batch = b
			err := tx.Iterate(pKey+b.ID+"-", "", false, func(_ string, v []byte) error {
				var rec keyRecord
				if err := decodeKeyRec(v, &rec); err != nil {
					return err
				}
				switch rec.State {
				case KeyAvailable, KeyShared:
					out[i].Available++
				case KeyReserved:
					out[i].Reserved++
				case KeyDelivered:
					out[i].Delivered++
				case KeyReportedBad:
					out[i].Bad++
				case KeyRecalled:
					out[i].Recalled++
				case KeyWithdrawn:
					out[i].Withdrawn++
				case KeyFrozen:
					out[i].Frozen++
				}
				return nil
			})
			if err != nil {
				return err
			}
			var f Freeze
			if err := getFreeze(tx, b.ID, &f); err == nil {
				out[i].FrozenAt = f.At
			} else if !errors.Is(err, ErrNotFrozen) {
				return err
			}
		}
		return nil
	})
	return out, err
}

// KeyView is one key as the console shows it: masked, never whole.
type KeyView struct {
	ID    string   `json:"id"`
	Batch string   `json:"batch"`
	State KeyState `json:"state"`
	Order string   `json:"order,omitempty"`
	// Mask is the key's last characters (see MaskKey), only when asked for,
	// while the vault is unlocked and the key is still in stock; empty
	// otherwise.
	Mask string `json:"mask"`
}

// Keys lists a product's keys (one batch, or all) in import order, limit at
// a time; the cursor continues the list. masks asks for the masks of keys
// in stock (owners only: the console decides); without it no key is opened.
func (s *Shop) Keys(productID, batchID, cursor string, limit int, masks bool) ([]KeyView, string, error) {
	limit = min(max(limit, 1), 500)
	bs, err := s.Batches(productID)
	if err != nil {
		return nil, "", err
	}
	var out []KeyView
	next := ""
	keys := map[string]*crypto.DataKey{}
	err = s.db.View(func(tx *store.Txn) error {
		for _, b := range bs {
			if batchID != "" && b.ID != batchID {
				continue
			}
			if cursor != "" && !strings.HasPrefix(cursor, b.ID+"-") && cursor > b.ID {
				continue // a batch before the cursor's
			}
			start := ""
			if strings.HasPrefix(cursor, b.ID+"-") {
				start = pKey + cursor
			}
			err := tx.Iterate(pKey+b.ID+"-", start, false, func(k string, v []byte) error {
				if len(out) == limit {
					next = strings.TrimPrefix(k, pKey)
					return store.ErrStop
				}
				var rec keyRecord
				if err := decodeKeyRec(v, &rec); err != nil {
					return err
				}
				kv := KeyView{ID: rec.ID, Batch: rec.Batch, State: rec.State, Order: rec.Order}
				if masks && len(rec.CT) > 0 {
					kv.Mask = s.mask(tx, keys, rec)
				}
				out = append(out, kv)
				return nil
			})
			if err != nil || next != "" {
				return err
			}
		}
		return nil
	})
	return out, next, err
}

func (s *Shop) mask(tx *store.Txn, keys map[string]*crypto.DataKey, rec keyRecord) string {
	dk := keys[rec.Batch]
	if dk == nil {
		var b Batch
		if err := tx.GetJSON(pBatch+rec.Batch, &b); err != nil {
			return ""
		}
		var err error
		if dk, err = s.batchKey(&b); err != nil {
			return "" // locked
		}
		keys[rec.Batch] = dk
	}
	pt, err := dk.OpenItem(rec.ID, rec.CT)
	if err != nil {
		return ""
	}
	defer wipe(pt)
	return MaskKey(string(pt))
}

// MaskKey shows the end of a key so that the merchant can tell keys apart
// and find one in a supplier's list: at most a quarter of its characters,
// never more than four ("…STUV" for a 16-character key, "…Z" for a
// 7-character one), and nothing of a key shorter than four ("•••"). The
// rest stays out of sight: a mask must not be a head start on the key.
func MaskKey(key string) string {
	r := []rune(key)
	n := min(len(r)/4, 4)
	if n == 0 {
		return "•••"
	}
	return "…" + string(r[len(r)-n:])
}

// DayStat is one day of sales.
type DayStat struct {
	Date         string
	Orders       int
	RevenueMinor int64
}

// ProductStat is a product's line on the dashboard.
type ProductStat struct {
	Product   Product
	InStock   int
	Low       bool
	Delivered int
	Reported  int // keys reported bad or recalled
}

// BatchStat is a supplier batch's after-sales record.
type BatchStat struct {
	Batch                         Batch
	Delivered, Reported, Recalled int
}

// Dashboard is the console's overview.
type Dashboard struct {
	Days     []DayStat
	Products []ProductStat
	Batches  []BatchStat
}

// Dashboard sums paid orders per day over the last days (days of the
// shop's time zone), stock per product and after-sales per batch.
func (s *Shop) Dashboard(days int) (Dashboard, error) {
	days = min(max(days, 1), 366)
	loc := s.Location()
	y, m, dd := s.now().In(loc).AddDate(0, 0, -(days - 1)).Date()
	first := time.Date(y, m, dd, 0, 0, 0, 0, loc)
	var d Dashboard
	idx := map[string]int{}
	for i := range days {
		date := first.AddDate(0, 0, i).Format(time.DateOnly)
		idx[date] = i
		d.Days = append(d.Days, DayStat{Date: date})
	}
	err := s.db.View(func(tx *store.Txn) error {
		return tx.Iterate(pOrderTime, "", true, func(k string, _ []byte) error {
			inv, ref, _ := strings.Cut(strings.TrimPrefix(k, pOrderTime), "/")
			n, err := strconv.ParseInt(inv, 10, 64)
			if err != nil {
				return nil
			}
			if time.Unix(999_999_999_999-n, 0).Before(first) {
				return store.ErrStop
			}
			o, _, err := getOrderByRef(tx, ref)
			if err != nil || o.Payment == nil {
				return nil
			}
			if i, ok := idx[o.PaidAt.In(loc).Format(time.DateOnly)]; ok {
				d.Days[i].Orders++
				d.Days[i].RevenueMinor += o.AmountMinor - o.Refunded()
			}
			return nil
		})
	})
	if err != nil {
		return d, fmt.Errorf("shop: dashboard: %w", err)
	}
	ps, err := s.Products()
	if err != nil {
		return d, err
	}
	for _, p := range ps {
		st, err := s.Stock(p.ID)
		if err != nil {
			return d, err
		}
		line := ProductStat{Product: p, InStock: p.InStock, Low: p.InStock < LowStock}
		for _, b := range st {
			line.Delivered += b.Delivered + b.Bad + b.Recalled
			line.Reported += b.Bad + b.Recalled
			d.Batches = append(d.Batches, BatchStat{Batch: b.Batch, Delivered: b.Delivered + b.Bad + b.Recalled, Reported: b.Bad, Recalled: b.Recalled})
		}
		d.Products = append(d.Products, line)
	}
	return d, nil
}
