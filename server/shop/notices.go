package shop

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"slices"
	"strconv"

	"veil/crypto"
	"veil/server/store"
)

const (
	pNotice   = "notice/" // notice/<20-digit seq> -> signed block
	kNoticeSq = "notice-seq"
	// MaxNotices kept and shown; older ones are dropped.
	MaxNotices = 50
)

// addNoticeKey gives a vault sealed before notices (or signed backups)
// existed its notice key and backup-signing key, re-sealing it with the
// passphrase it was just opened with.
func (s *Shop) addNoticeKey(v *crypto.Vault, passphrase string) error {
	for _, k := range []*ed25519.PrivateKey{&v.NoticeKey, &v.BackupSignKey} {
		if *k != nil {
			continue
		}
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		*k = priv
	}
	var sealed []byte
	var err error
	if s.cfg.VaultWorkFactor > 0 {
		sealed, err = v.SealWorkFactor(passphrase, s.cfg.VaultWorkFactor)
	} else {
		sealed, err = v.Seal(passphrase)
	}
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *store.Txn) error {
		if err := tx.Set(kVault, sealed); err != nil {
			return err
		}
		return tx.SetJSON(kVaultPub, v.Public())
	})
}

// NoticeFingerprint is the fingerprint every page shows ("" before the
// vault has a notice key).
func (s *Shop) NoticeFingerprint() string {
	return crypto.NoticeFingerprintOf(s.Public().Notice)
}

// PublishNotice signs text with the vault's notice key and keeps it for the
// notices page; ErrLocked while locked.
func (s *Shop) PublishNotice(text string) (string, error) {
	s.mu.RLock()
	v := s.vault
	s.mu.RUnlock()
	if v == nil {
		return "", ErrLocked
	}
	if v.NoticeKey == nil {
		return "", fmt.Errorf("shop: the vault has no notice key yet; unlock it again")
	}
	block, err := crypto.SignNotice(v.NoticeKey, text, s.now())
	if err != nil {
		return "", inputErr("%s", err.Error())
	}
	err = s.db.Update(func(tx *store.Txn) error {
		var seq uint64
		if b, err := tx.Get(kNoticeSq); err == nil {
			seq, _ = strconv.ParseUint(string(b), 10, 64)
		}
		seq++
		if err := tx.Set(kNoticeSq, []byte(strconv.FormatUint(seq, 10))); err != nil {
			return err
		}
		if seq > MaxNotices {
			if err := tx.Delete(fmt.Sprintf("%s%020d", pNotice, seq-MaxNotices)); err != nil {
				return err
			}
		}
		return tx.Set(fmt.Sprintf("%s%020d", pNotice, seq), []byte(block))
	})
	return block, err
}

// Notices returns the published notices, newest first.
func (s *Shop) Notices() ([]string, error) {
	var out []string
	err := s.db.View(func(tx *store.Txn) error {
		return tx.Iterate(pNotice, "", false, func(_ string, v []byte) error {
			out = append(out, string(v))
			return nil
		})
	})
	slices.Reverse(out)
	return out, err
}
