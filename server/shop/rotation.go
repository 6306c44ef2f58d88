package shop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"filippo.io/age"

	"veil/crypto"
	"veil/server/store"
)

// Key rotation (定期更换加密密钥). Changing the passphrase re-seals the vault.
// Rotating the inventory or support identity puts a fresh identity in the
// vault and re-seals, in the background, every batch data key or support
// message to it; the old identity stays in the vault (so nothing becomes
// unreadable) until the last item is done, then it is destroyed. Rotating
// the backup identity is immediate: nothing at rest is sealed to it.
//
// The passphrase is asked for once, at the start: both vaults of
// [crypto.Vault.Rotate] are sealed then, "during" as the vault and "after"
// under kVaultNext, and the end of the job swaps them in one commit. The job
// keeps a durable cursor in the rotation record, updated in the same commit
// as the items it re-sealed, so a crash or a stop resumes where it was.

const (
	kRotation  = "rotation"   // the current or last rotation (JSON Rotation)
	kVaultNext = "vault-next" // the sealed vault to swap in when the job ends
	// rotationChunk is how many items one commit re-seals: small enough to
	// keep a commit short, large enough that the fsync per commit is cheap.
	rotationChunk = 32
)

// Rotation states.
const (
	RotationRunning = "running"
	RotationDone    = "done"
)

// Rotation is the state of a rotation, for the console's progress display.
type Rotation struct {
	Which    string    `json:"which"` // inventory, support or backup
	State    string    `json:"state"` // running or done
	Cursor   string    `json:"-"`     // the last store key re-sealed
	Done     int       `json:"done"`
	Total    int       `json:"total"` // counted at the start; items added later are sealed to the new identity anyway
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"`
}

type rotationRecord struct {
	Rotation
	Cursor string `json:"cursor"`
}

// ErrRotationRunning is a rotation or passphrase change asked for while a
// rotation's job is still running (409 rotation_running).
var ErrRotationRunning = errors.New("shop: a key rotation is still running")

// ThreadResealer re-seals support messages, which live in msg's keyspace,
// during a support rotation. msg.Threads implements it.
type ThreadResealer interface {
	// CountSealed counts the messages of every thread.
	CountSealed() (int, error)
	// ResealTx re-seals up to limit messages after the store key after
	// ("" for the first), opening each with open and sealing it to the
	// recipients to returns for its order ref (none: leave the message as
	// it is). It returns the last key it
	// handled and how many; fewer than limit means the end was reached.
	ResealTx(tx *store.Txn, after string, limit int, open age.Identity, to func(ref string) ([]age.Recipient, error)) (last string, n int, err error)
}

// Rotation returns the current or last rotation; ok is false if there was
// none.
func (s *Shop) Rotation() (r Rotation, ok bool, err error) {
	var rec rotationRecord
	err = s.db.View(func(tx *store.Txn) error { return tx.GetJSON(kRotation, &rec) })
	if errors.Is(err, store.ErrNotFound) {
		return Rotation{}, false, nil
	}
	if err != nil {
		return Rotation{}, false, err
	}
	return rec.Rotation, true, nil
}

// sealVault seals v with the shop's work factor.
func (s *Shop) sealVault(v *crypto.Vault, passphrase string) ([]byte, error) {
	if s.cfg.VaultWorkFactor > 0 {
		return v.SealWorkFactor(passphrase, s.cfg.VaultWorkFactor)
	}
	return v.Seal(passphrase)
}

// openSealed checks passphrase against the stored vault and returns it
// opened, with what is stored under kVaultNext (nil if nothing).
func (s *Shop) openSealed(passphrase string) (v *crypto.Vault, next []byte, err error) {
	var sealed []byte
	err = s.db.View(func(tx *store.Txn) error {
		if sealed, err = tx.Get(kVault); err != nil {
			return err
		}
		next, err = tx.Get(kVaultNext)
		if errors.Is(err, store.ErrNotFound) {
			err = nil
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	v, err = crypto.OpenVault(sealed, passphrase)
	if errors.Is(err, crypto.ErrWrongPassphrase) {
		return nil, nil, ErrWrongPassphrase
	}
	return v, next, err
}

// ChangePassphrase re-seals the vault (and, during a rotation, the vault the
// rotation will swap in) with a new passphrase. The old one must open it.
func (s *Shop) ChangePassphrase(old, passphrase string) error {
	if len(passphrase) < 8 || len(passphrase) > 1024 {
		return inputErr("the new passphrase must have 8 to 1024 characters")
	}
	if old == passphrase {
		return inputErr("the new passphrase is the old one")
	}
	s.rotMu.Lock()
	defer s.rotMu.Unlock()
	v, next, err := s.openSealed(old)
	if err != nil {
		return err
	}
	sealed, err := s.sealVault(v, passphrase)
	if err != nil {
		return fmt.Errorf("shop: seal vault: %w", err)
	}
	var sealedNext []byte
	if next != nil {
		nv, err := crypto.OpenVault(next, old)
		if err != nil {
			return fmt.Errorf("shop: open the rotation's next vault: %w", err)
		}
		if sealedNext, err = s.sealVault(nv, passphrase); err != nil {
			return fmt.Errorf("shop: seal vault: %w", err)
		}
	}
	return s.db.Update(func(tx *store.Txn) error {
		if sealedNext != nil {
			if ok, err := tx.Has(kVaultNext); err != nil || !ok {
				if err == nil {
					err = errors.New("shop: the rotation ended while the passphrase changed; try again")
				}
				return err
			}
			if err := tx.Set(kVaultNext, sealedNext); err != nil {
				return err
			}
		}
		return tx.Set(kVault, sealed)
	})
}

// StartRotation rotates one of the vault's identities (crypto.RotateInventory,
// RotateSupport or RotateBackup). It needs the unlocked vault and the
// passphrase. For the backup identity it returns the new identity, to be
// shown once (restoring later backups needs it); for the others the job
// started by [Shop.Run] re-seals and then destroys the old identity.
func (s *Shop) StartRotation(which, passphrase string) (Rotation, *crypto.Identity, error) {
	switch which {
	case crypto.RotateInventory, crypto.RotateSupport, crypto.RotateBackup:
	default:
		return Rotation{}, nil, inputErr("which: inventory, support or backup")
	}
	if s.Locked() {
		return Rotation{}, nil, ErrLocked
	}
	s.rotMu.Lock()
	defer s.rotMu.Unlock()
	if r, ok, err := s.Rotation(); err != nil {
		return Rotation{}, nil, err
	} else if ok && r.State == RotationRunning {
		return Rotation{}, nil, ErrRotationRunning
	}
	v, _, err := s.openSealed(passphrase)
	if err != nil {
		return Rotation{}, nil, err
	}
	kind := crypto.DefaultKind
	if id := map[string]*crypto.Identity{crypto.RotateInventory: v.Inventory, crypto.RotateSupport: v.Support, crypto.RotateBackup: v.Backup}[which]; id != nil {
		kind = id.Kind() // keep the kind: age cannot mix hybrid and X25519 recipients in one file
	}
	during, after, err := v.Rotate(which, kind)
	if err != nil {
		return Rotation{}, nil, err
	}
	sealedDuring, err := s.sealVault(during, passphrase)
	if err != nil {
		return Rotation{}, nil, fmt.Errorf("shop: seal vault: %w", err)
	}
	var sealedAfter []byte
	now := s.now().Truncate(time.Second)
	rec := rotationRecord{Rotation: Rotation{Which: which, State: RotationRunning, Started: now}}
	switch which {
	case crypto.RotateBackup:
		rec.State, rec.Finished = RotationDone, now
	case crypto.RotateInventory:
		if rec.Total, err = s.countPrefix(pBatch); err != nil {
			return Rotation{}, nil, err
		}
	case crypto.RotateSupport:
		if s.cfg.Threads == nil {
			return Rotation{}, nil, errors.New("shop: support rotation needs the threads")
		}
		if rec.Total, err = s.cfg.Threads.CountSealed(); err != nil {
			return Rotation{}, nil, err
		}
	}
	if rec.State == RotationRunning {
		if sealedAfter, err = s.sealVault(after, passphrase); err != nil {
			return Rotation{}, nil, fmt.Errorf("shop: seal vault: %w", err)
		}
	}
	err = s.db.Update(func(tx *store.Txn) error {
		if err := tx.Set(kVault, sealedDuring); err != nil {
			return err
		}
		if sealedAfter != nil {
			if err := tx.Set(kVaultNext, sealedAfter); err != nil {
				return err
			}
		}
		if err := tx.SetJSON(kVaultPub, during.Public()); err != nil {
			return err
		}
		return tx.SetJSON(kRotation, rec)
	})
	if err != nil {
		return Rotation{}, nil, err
	}
	if err := s.setVault(during); err != nil {
		return Rotation{}, nil, err
	}
	s.wakeRotation()
	var shown *crypto.Identity
	if which == crypto.RotateBackup {
		shown = during.Backup
	}
	return rec.Rotation, shown, nil
}

func (s *Shop) countPrefix(prefix string) (n int, err error) {
	err = s.db.View(func(tx *store.Txn) error {
		return tx.Iterate(prefix, "", true, func(string, []byte) error { n++; return nil })
	})
	return n, err
}

func (s *Shop) wakeRotation() {
	select {
	case s.rotKick <- struct{}{}:
	default:
	}
}

// runRotation works on a running rotation until it is done, the vault is
// locked or ctx ends; Unlock and StartRotation wake it.
func (s *Shop) runRotation(ctx context.Context) {
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		for ctx.Err() == nil {
			r, err := s.RotationStep()
			if err != nil {
				if !errors.Is(err, ErrLocked) {
					s.log.Error("shop: key rotation", "which", r.Which, "err", err)
				}
				break
			}
			if r.State != RotationRunning {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.rotKick:
		}
	}
}

// RotationStep re-seals the next chunk of a running rotation in one commit,
// advancing its cursor; when nothing is left it swaps in the vault without
// the old identity and marks the rotation done. It returns the rotation as
// it stands (State other than running: nothing to do). ErrLocked while
// locked: the job resumes on unlock.
func (s *Shop) RotationStep() (Rotation, error) {
	s.rotMu.Lock()
	defer s.rotMu.Unlock()
	s.mu.RLock()
	v := s.vault
	s.mu.RUnlock()
	var rec rotationRecord
	err := s.db.View(func(tx *store.Txn) error { return tx.GetJSON(kRotation, &rec) })
	if errors.Is(err, store.ErrNotFound) || (err == nil && rec.State != RotationRunning) {
		return rec.Rotation, nil
	}
	if err != nil {
		return rec.Rotation, err
	}
	if v == nil {
		return rec.Rotation, ErrLocked
	}
	var n int
	var last string
	err = s.db.Update(func(tx *store.Txn) error {
		var cur rotationRecord
		if err := tx.GetJSON(kRotation, &cur); err != nil {
			return err
		}
		var err error
		switch cur.Which {
		case crypto.RotateInventory:
			last, n, err = s.resealBatchesTx(tx, cur.Cursor, v)
		case crypto.RotateSupport:
			if s.cfg.Threads == nil {
				return errors.New("shop: support rotation needs the threads")
			}
			last, n, err = s.cfg.Threads.ResealTx(tx, cur.Cursor, rotationChunk, v.SupportIdentity(),
				func(ref string) ([]age.Recipient, error) { return s.threadRecipientsTx(tx, ref, v) })
		default:
			return fmt.Errorf("shop: rotation of %q", cur.Which)
		}
		if err != nil {
			return err
		}
		if n > 0 {
			cur.Cursor, cur.Done = last, cur.Done+n
		}
		rec = cur
		if n == rotationChunk {
			return tx.SetJSON(kRotation, cur)
		}
		return s.finishRotationTx(tx, &rec)
	})
	if err != nil {
		return rec.Rotation, err
	}
	if rec.State == RotationDone {
		s.mu.Lock()
		if s.vault != nil {
			s.vault = s.vault.Retire()
		}
		s.mu.Unlock()
		s.log.Info("shop: key rotation done", "which", rec.Which, "resealed", rec.Done)
		if s.cfg.OnRotationDone != nil {
			s.cfg.OnRotationDone(rec.Rotation)
		}
	}
	return rec.Rotation, nil
}

// finishRotationTx swaps in the vault without the old identity: from this
// commit on it exists nowhere in the store (older versions go with
// compaction, and are sealed with the passphrase).
func (s *Shop) finishRotationTx(tx *store.Txn, rec *rotationRecord) error {
	next, err := tx.Get(kVaultNext)
	if err != nil {
		return fmt.Errorf("shop: finish rotation: %w", err)
	}
	if err := tx.Set(kVault, next); err != nil {
		return err
	}
	if err := tx.Delete(kVaultNext); err != nil {
		return err
	}
	rec.State, rec.Finished = RotationDone, s.now().Truncate(time.Second)
	return tx.SetJSON(kRotation, rec)
}

// resealBatchesTx re-seals up to rotationChunk batch data keys after the
// key after to the vault's (new) inventory recipient.
func (s *Shop) resealBatchesTx(tx *store.Txn, after string, v *crypto.Vault) (last string, n int, err error) {
	type item struct {
		k string
		b Batch
	}
	var items []item
	start := ""
	if after != "" {
		start = after + "\x00"
	}
	err = tx.Iterate(pBatch, start, false, func(k string, val []byte) error {
		if len(items) == rotationChunk {
			return store.ErrStop
		}
		var b Batch
		if err := json.Unmarshal(val, &b); err != nil {
			return err
		}
		items = append(items, item{k, b})
		return nil
	})
	if err != nil {
		return "", 0, err
	}
	for _, it := range items {
		dk, err := crypto.OpenDataKey(it.b.SealedDataKey, v.InventoryIdentity())
		if err != nil {
			return "", 0, fmt.Errorf("shop: rotation: open data key of batch %s: %w", it.b.ID, err)
		}
		sealed, err := dk.Seal(v.Inventory.AgeRecipient())
		dk.Wipe()
		if err != nil {
			return "", 0, err
		}
		it.b.SealedDataKey = sealed
		if err := tx.SetJSON(it.k, it.b); err != nil {
			return "", 0, err
		}
		last = it.k
	}
	return last, len(items), nil
}

// threadRecipientsTx is who a support message of order ref is sealed to: the
// order's recipient and the vault's (new) support recipient.
func (s *Shop) threadRecipientsTx(tx *store.Txn, ref string, v *crypto.Vault) ([]age.Recipient, error) {
	o, _, err := getOrderByRef(tx, ref)
	if errors.Is(err, ErrOrderNotFound) {
		return nil, nil // an orphan thread (its order purged): nobody can read it anyway
	}
	if err != nil {
		return nil, fmt.Errorf("shop: rotation: order of thread %s: %w", ref, err)
	}
	or, err := o.ageRecipient()
	if err != nil {
		return nil, err
	}
	return []age.Recipient{or, v.Support.AgeRecipient()}, nil
}

// resealIfRotated keeps an import that began before an inventory rotation
// from writing a data key sealed to the old recipient after the job passed
// its batch: inside the import's commit (which thereby conflicts with the
// rotation's start), it re-seals dk to the current recipient if that changed.
func (s *Shop) resealIfRotated(tx *store.Txn, b *Batch, sealedTo *string, dk *crypto.DataKey) error {
	var pub crypto.VaultPublic
	if err := tx.GetJSON(kVaultPub, &pub); err != nil {
		return err
	}
	if pub.Inventory == *sealedTo {
		return nil
	}
	r, err := crypto.ParseRecipient(pub.Inventory)
	if err != nil {
		return err
	}
	sealed, err := dk.Seal(r)
	if err != nil {
		return err
	}
	b.SealedDataKey, *sealedTo = sealed, pub.Inventory
	return nil
}
