package shop

import (
	"errors"
	"fmt"
	"io"
	"time"

	"veil/crypto"
	"veil/server/store"
)

// WriteBackup writes a backup of the whole store to w: sealed to the vault's
// backup recipient and signed with its backup-signing key
// ([crypto.NewBackupWriter]), so `veil restore` can refuse a store someone
// sealed to the public recipient. It needs the unlocked vault (ErrLocked),
// and runs while the shop serves.
func (s *Shop) WriteBackup(w io.Writer) error {
	s.mu.RLock()
	v := s.vault
	s.mu.RUnlock()
	if v == nil {
		return ErrLocked
	}
	bw, err := crypto.NewBackupWriter(w, v)
	if err != nil {
		return fmt.Errorf("shop: backup: %w", err)
	}
	if err := s.db.Backup(bw); err != nil {
		return err
	}
	if err := bw.Close(); err != nil {
		return fmt.Errorf("shop: backup: %w", err)
	}
	return nil
}

// BackupFingerprint is the fingerprint of the backup-signing key, which
// `veil restore --fingerprint` checks ("" before the vault has one).
func (s *Shop) BackupFingerprint() string {
	return crypto.NoticeFingerprintOf(s.Public().BackupSign)
}

// SealStore seals digest, the store's [store.DB.Digest] taken as the shop
// closes, with the vault's backup keys, so that `veil backup` can later
// write a v3 backup of exactly that store without the passphrase
// ([crypto.StoreSeal]). It needs the unlocked vault (ErrLocked).
func (s *Shop) SealStore(digest []byte, at time.Time) (*crypto.StoreSeal, error) {
	s.mu.RLock()
	v := s.vault
	s.mu.RUnlock()
	if v == nil {
		return nil, ErrLocked
	}
	seal, err := crypto.SealStore(v, digest, at)
	if err != nil {
		return nil, fmt.Errorf("shop: seal store: %w", err)
	}
	return seal, nil
}

// StoredPublic reads the vault's public recipients straight from db,
// without opening a Shop (whose start-up may write): `veil backup` needs
// the backup recipient and signing key of a store it must not change.
func StoredPublic(db *store.DB) (crypto.VaultPublic, error) {
	var pub crypto.VaultPublic
	err := db.View(func(tx *store.Txn) error { return tx.GetJSON(kVaultPub, &pub) })
	if errors.Is(err, store.ErrNotFound) {
		return pub, errors.New("shop: the store holds no shop")
	}
	return pub, err
}
