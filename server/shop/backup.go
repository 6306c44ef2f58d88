package shop

import (
	"fmt"
	"io"

	"veil/crypto"
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
