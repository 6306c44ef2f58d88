package shop

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"veil/crypto"
	"veil/server/store"
)

// Import limits.
const (
	MaxImportKeys  = 100_000
	MaxImportBytes = 64 << 20
	importChunk    = 1000 // keys per transaction: the longest fit Badger's 1.2 MiB (store/options.go)
	maxRejections  = 100
	defaultSeats   = 1000
	maxSeats       = 1_000_000
)

// KeyState is an inventory key's state.
type KeyState string

const (
	KeyAvailable   KeyState = "available"
	KeyReserved    KeyState = "reserved"
	KeyDelivered   KeyState = "delivered"
	KeyShared      KeyState = "shared" // a shared product's key: never consumed
	KeyReportedBad KeyState = "reported_bad"
	KeyRecalled    KeyState = "recalled"
	KeyWithdrawn   KeyState = "withdrawn" // exported or deleted by an approval
)

// keyRecord is one inventory key. CT is the key encrypted under its batch's
// data key; it is dropped when the key is delivered.
type keyRecord struct {
	ID      string   `json:"id"`
	Product string   `json:"product"`
	Batch   string   `json:"batch"`
	State   KeyState `json:"state"`
	Order   string   `json:"order,omitempty"` // ref
	CT      []byte   `json:"ct,omitempty"`
}

var dateRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

func (b *BatchInfo) validate(now time.Time) error {
	b.Supplier = strings.TrimSpace(b.Supplier)
	if b.Supplier == "" {
		b.Supplier = "-"
	}
	if len(b.Supplier) > 100 {
		return inputErr("batch: supplier label longer than 100 bytes")
	}
	if b.CostMinor < 0 || b.CostMinor > MaxPriceMinor {
		return inputErr("batch: cost_minor between 0 and %d", MaxPriceMinor)
	}
	if b.Date == "" {
		b.Date = now.Format(time.DateOnly)
	}
	if !dateRE.MatchString(b.Date) {
		return inputErr("batch: date as YYYY-MM-DD")
	}
	if _, err := time.Parse(time.DateOnly, b.Date); err != nil {
		return inputErr("batch: date as YYYY-MM-DD")
	}
	if b.Seats == 0 {
		b.Seats = defaultSeats
	}
	if b.Seats < 1 || b.Seats > maxSeats {
		return inputErr("batch: seats between 1 and %d", maxSeats)
	}
	return nil
}

// ImportKeys imports one key per line from r into a new batch of the product.
// Bad lines are rejected one by one with a reason (never aborting the rest);
// a key whose fingerprint was ever imported before (sold ones included)
// counts as a duplicate. The vault must be unlocked (ErrLocked): the
// fingerprint key lives in it. A shared product takes exactly one key.
func (s *Shop) ImportKeys(productID string, info BatchInfo, r io.Reader) (ImportResult, error) {
	now := s.now()
	if err := info.validate(now.In(s.Location())); err != nil { // the batch date is the shop's day
		return ImportResult{}, err
	}
	fp, err := s.fingerprinter()
	if err != nil {
		return ImportResult{}, err
	}
	prod, err := s.Product(productID)
	if err != nil {
		return ImportResult{}, err
	}
	dk, err := crypto.NewDataKey()
	if err != nil {
		return ImportResult{}, err
	}
	defer dk.Wipe()
	s.mu.RLock()
	rcpt, sealedTo := s.invRcpt, s.pub.Inventory
	s.mu.RUnlock()
	sealedDK, err := dk.Seal(rcpt)
	if err != nil {
		return ImportResult{}, fmt.Errorf("shop: seal batch key: %w", err)
	}
	b := Batch{
		ID: batchID(now), ProductID: prod.ID, Supplier: info.Supplier, CostMinor: info.CostMinor,
		Date: info.Date, SealedDataKey: sealedDK,
	}
	res := ImportResult{BatchID: b.ID}
	reject := func(line int, reason string) {
		res.Rejected++
		if len(res.Rejections) < maxRejections {
			res.Rejections = append(res.Rejections, Rejection{Line: line, Reason: reason})
		}
	}

	legacy, err := s.legacyFingerprints()
	if err != nil {
		return ImportResult{}, err
	}
	var chunk []pending
	seen := map[[32]byte]struct{}{}
	var written []importedKey // for rollback if a later chunk fails
	flush := func(last bool) error {
		var fresh []pending
		err := s.update(prod, func(tx *store.Txn) error {
			fresh = fresh[:0]
			for _, p := range chunk {
				// Checked here too, inside the transaction: two imports
				// running at once must not both take the same key.
				if ok, err := tx.Has(pFPKey + p.fp[:fpKeyLen]); err != nil {
					return err
				} else if ok {
					continue
				}
				if legacy.raw {
					if ok, err := tx.Has(pFPRaw + p.fp); err != nil {
						return err
					} else if ok {
						continue
					}
				}
				if legacy.hex {
					if ok, err := tx.Has(pFP + hex.EncodeToString([]byte(p.fp))); err != nil {
						return err
					} else if ok {
						continue
					}
				}
				fresh = append(fresh, p)
			}
			for _, p := range fresh {
				if err := putKeyRec(tx, p.rec.ID, p.rec); err != nil {
					return err
				}
				if err := tx.Set(pFPKey+p.fp[:fpKeyLen], nil); err != nil {
					return err
				}
				if prod.Kind == Unique {
					if err := tx.Set(pAvail+prod.ID+"/"+p.rec.ID, nil); err != nil {
						return err
					}
				}
			}
			if prod.Kind == Shared && len(fresh) == 1 {
				if err := addStock(tx, prod.ID, info.Seats); err != nil {
					return err
				}
				if err := tx.Set(pShared+prod.ID, []byte(fresh[0].rec.ID)); err != nil {
					return err
				}
			}
			if err := s.resealIfRotated(tx, &b, &sealedTo, dk); err != nil {
				return err
			}
			bb := b
			bb.Imported = res.Imported + len(fresh)
			if !last && bb.Imported == 0 {
				return nil
			}
			return tx.SetJSON(pBatch+b.ID, bb)
		})
		if err != nil {
			return err
		}
		res.Duplicates += len(chunk) - len(fresh)
		res.Imported += len(fresh)
		for _, p := range fresh {
			written = append(written, importedKey{id: p.rec.ID, fp: strings.Clone(p.fp[:fpKeyLen])})
		}
		if prod.Kind == Unique {
			kids := make([]string, len(fresh))
			for i, p := range fresh {
				kids[i] = p.rec.ID
			}
			s.poolOf(prod.ID).put(kids)
		}
		chunk = chunk[:0]
		return nil
	}

	fits := prod.KeyFormat.keyChecker()
	sc := bufio.NewScanner(io.LimitReader(r, MaxImportBytes+1))
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	line, total := 0, 0
	var bytesRead int64
	for sc.Scan() {
		line++
		raw := sc.Text()
		bytesRead += int64(len(raw)) + 1
		if bytesRead > MaxImportBytes {
			err = inputErr("import larger than %d MiB", MaxImportBytes>>20)
			break
		}
		if strings.TrimSpace(raw) == "" {
			continue // blank lines are layout, not keys
		}
		if line == 1 {
			raw = strings.TrimPrefix(raw, "\ufeff")
		}
		k, nerr := crypto.NormalizeKey(raw)
		if nerr != nil {
			reject(line, rejectReason(nerr))
			continue
		}
		if why := fits(k); why != "" {
			reject(line, why)
			continue
		}
		total++
		if total > MaxImportKeys {
			err = inputErr("more than %d keys in one import", MaxImportKeys)
			break
		}
		if prod.Kind == Shared && total > 1 {
			err = inputErr("a shared product takes one key per import")
			break
		}
		h := fp(k)
		if _, dup := seen[h]; dup {
			res.Duplicates++
			continue
		}
		seen[h] = struct{}{}
		id := fmt.Sprintf("%s-%06d", b.ID, line)
		ct, serr := dk.SealItem(id, []byte(k))
		if serr != nil {
			err = serr
			break
		}
		state := KeyAvailable
		if prod.Kind == Shared {
			state = KeyShared
		}
		chunk = append(chunk, pending{keyRecord{ID: id, Product: prod.ID, Batch: b.ID, State: state, CT: ct}, string(h[:])})
		if len(chunk) >= importChunk {
			if err = flush(false); err != nil {
				break
			}
		}
	}
	if err == nil {
		if serr := sc.Err(); serr != nil {
			if errors.Is(serr, bufio.ErrTooLong) {
				err = inputErr("line %d is longer than 64 KiB", line+1)
			} else {
				err = fmt.Errorf("shop: read import: %w", serr)
			}
		}
	}
	if err == nil {
		err = flush(true)
	}
	if err != nil {
		// No partial import: take back what earlier chunks wrote.
		if rerr := s.rollbackImport(prod, b.ID, written, info); rerr != nil {
			s.log.Error("shop: import rollback failed", "batch", b.ID, "err", rerr)
		}
		return ImportResult{}, err
	}
	s.log.Info("shop: import", "product", prod.Slug, "batch", b.ID, "imported", res.Imported,
		"duplicates", res.Duplicates, "rejected", res.Rejected)
	return res, nil
}

// pending is a key on its way into the store, with its fingerprint.
type pending struct {
	rec keyRecord
	fp  string // the fingerprint's 32 bytes
}

// pFPKey holds the fingerprint of every key imported (sold ones included)
// as fpk/<the first 16 bytes of its HMAC>, with no value. Badger keeps the
// tables it wrote mapped and resident, so every byte a stocked key takes
// on disk is a byte of memory: 16 bytes instead of the HMAC's 32 took a
// million keys in stock from 221 to ≈206 MiB of tables (README
// "Measured"). Sixteen bytes are plenty for duplicate detection: the HMAC
// key is the shop's secret, so no one can aim at a collision, and by
// chance one among a billion keys has odds of about 10⁻²¹ (a collision
// would only refuse an import line as a duplicate).
//
// Stores written before keep their fingerprints in the forms of their
// time — fpr/<32 raw bytes> (pFPRaw), fp/<hex> → key id (pFP) — and
// imports there still consult them; nothing reads anything else of them.
const (
	pFPKey   = "fpk/"
	fpKeyLen = 16
	pFPRaw   = "fpr/"
)

// legacyFP says which older fingerprint forms a store holds. None is
// written any more, so a store without one never gains one, and its
// imports skip those look-ups.
type legacyFP struct{ raw, hex bool }

func (s *Shop) legacyFingerprints() (legacyFP, error) {
	var l legacyFP
	err := s.db.View(func(tx *store.Txn) error {
		for _, c := range []struct {
			prefix string
			found  *bool
		}{{pFPRaw, &l.raw}, {pFP, &l.hex}} {
			err := tx.Iterate(c.prefix, "", true, func(string, []byte) error {
				*c.found = true
				return store.ErrStop
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	return l, err
}

// importedKey is what a rollback needs of a key an import wrote: its id
// and its stored fingerprint. The import keeps one per key until it ends,
// not the whole record: ≈ 200 bytes less a key, ≈ 20 MB less heap for an
// import of MaxImportKeys (stocking a million keys in such imports: peak
// RSS 638 → 608 MiB).
type importedKey struct{ id, fp string }

func (s *Shop) rollbackImport(prod Product, batch string, written []importedKey, info BatchInfo) error {
	if prod.Kind == Unique {
		// Take back only what is still in the pool: a key an order holds
		// already stays sold.
		pl := s.poolOf(prod.ID)
		kept := written[:0]
		for _, p := range written {
			if pl.remove([]string{p.id}) == 1 {
				kept = append(kept, p)
			}
		}
		written = kept
	}
	for len(written) > 0 {
		n := min(len(written), importChunk)
		part := written[:n]
		err := s.update(prod, func(tx *store.Txn) error {
			for _, p := range part {
				if prod.Kind == Unique {
					if err := tx.Delete(pAvail + prod.ID + "/" + p.id); err != nil {
						return err
					}
				}
				if err := tx.Delete(pKey + p.id); err != nil {
					return err
				}
				if err := tx.Delete(pFPKey + p.fp); err != nil {
					return err
				}
			}
			if prod.Kind == Shared {
				return addStock(tx, prod.ID, -info.Seats)
			}
			return nil
		})
		if err != nil {
			return err
		}
		written = written[n:]
	}
	return s.db.Update(func(tx *store.Txn) error { return tx.Delete(pBatch + batch) })
}

func rejectReason(err error) string {
	switch {
	case errors.Is(err, crypto.ErrKeyTooLong):
		return "too_long"
	case errors.Is(err, crypto.ErrKeyBadChar):
		return "bad_char"
	case errors.Is(err, crypto.ErrKeyEmpty):
		return "empty"
	}
	return "invalid"
}

// batchID is time-ordered so that keys of older batches sell first.
func batchID(now time.Time) string {
	return fmt.Sprintf("b%011x%s", now.UnixMilli(), crypto.RandomID("", 3))
}

// pShared holds each shared product's current key.
const pShared = "shared/" // shared/<pid> -> kid

// Batches lists a product's batches, oldest first.
func (s *Shop) Batches(productID string) ([]Batch, error) {
	var out []Batch
	err := s.db.View(func(tx *store.Txn) error {
		return tx.Iterate(pBatch, "", false, func(_ string, v []byte) error {
			var b Batch
			if err := jsonUnmarshal(v, &b); err != nil {
				return err
			}
			if b.ProductID == productID {
				b.SealedDataKey = nil
				out = append(out, b)
			}
			return nil
		})
	})
	return out, err
}
