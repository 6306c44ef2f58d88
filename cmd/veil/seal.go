package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"veil/crypto"
)

// sealFileName is the store's backup seal, next to Badger's files in the
// data directory (Badger ignores files it did not name). It holds a
// signature and a tag over the digest of the store as the shop last closed
// cleanly with its vault unlocked: `veil backup` without the passphrase
// copies it into a v3 backup if the store is still exactly that one
// (crypto/backupseal.go says why this gives a disk reader nothing).
const sealFileName = "backup-seal"

// seal writes the backup seal for the store as it is now, if the vault is
// unlocked; Close calls it last, when nothing else writes. A failure is
// logged and leaves no seal: `veil backup` then asks for a clean stop or the
// passphrase, and no backup is lost by it.
func (a *app) seal() {
	if a.dir == "" || a.shop.Locked() {
		return
	}
	path := filepath.Join(a.dir, sealFileName)
	err := func() error {
		digest, err := a.db.Digest()
		if err != nil {
			return err
		}
		s, err := a.shop.SealStore(digest, time.Now())
		if err != nil {
			return err
		}
		b, _ := s.MarshalBinary()
		return writeFileAtomic(path, b)
	}()
	if err != nil {
		os.Remove(path) // a stale seal would only be refused later; say so now
		a.log.Warn("veil: backup seal not written: veil backup will need --passphrase-file", "err", err)
	}
}

// readSeal reads dir's backup seal.
func readSeal(dir string) (*crypto.StoreSeal, error) {
	b, err := os.ReadFile(filepath.Join(dir, sealFileName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, errNoSeal
	}
	if err != nil {
		return nil, err
	}
	return crypto.ParseStoreSeal(b)
}

var errNoSeal = errors.New("no backup seal")

// writeFileAtomic writes b to path (0600) so that a crash leaves either the
// old file or the new one: a temporary file, synced, renamed, and the
// directory synced.
func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err = errors.Join(err, f.Sync(), f.Close()); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
