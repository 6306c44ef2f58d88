package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"veil/crypto"
	"veil/server/shop"
	"veil/server/store"
)

// cmdBackup writes the whole store, sealed with age to the vault's backup
// recipient: only the backup identity printed by `veil init` opens it, and
// inside, inventory and orders stay as sealed as on disk. `veil restore`
// refuses anything the vault did not sign, which can be done two ways:
//
//   - without --passphrase-file (the contract's form), a v3 backup: the
//     store must be exactly as the shop left it at its last clean close with
//     the vault unlocked, whose seal (seal.go) the backup carries;
//   - with it, a v2 backup, signed as it is written (a store changed since,
//     e.g. after a crash, or one never unlocked).
func cmdBackup(args []string, stdout io.Writer) error {
	fs := newFlags("backup")
	data := fs.String("data", "", "data directory")
	out := fs.String("out", "", "backup file to write (age-encrypted, signed)")
	ppFile := fs.String("passphrase-file", "", "file holding the vault passphrase: sign the backup now (needed only if the store changed since the shop last stopped cleanly)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *data == "" || *out == "" {
		return usagef("backup: --data and --out are required")
	}
	if *ppFile == "" {
		return backupSealed(*data, *out, stdout)
	}
	passphrase, err := readSecretFile("passphrase-file", *ppFile)
	if err != nil {
		return err
	}
	a, err := openApp(*data, slog.New(slog.DiscardHandler))
	if err != nil {
		return inUse(*data, err)
	}
	defer a.Close()
	if !a.shop.Initialized() {
		return fmt.Errorf("%s holds no shop", *data)
	}
	if err := a.shop.Unlock(passphrase); err != nil {
		return err
	}
	size, err := writeBackupFile(*out, a.shop.WriteBackup)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backup written to %s (%d bytes, sealed to the backup identity, signed by key %s)\n",
		*out, size, a.shop.BackupFingerprint())
	return nil
}

// inUse turns the store's lock error into advice.
func inUse(dir string, err error) error {
	if strings.Contains(err.Error(), "lock") {
		return fmt.Errorf("%s is in use by a running shop: stop it, or take the backup from the console", dir)
	}
	return err
}

// errStoreChanged is the refusal of a passphrase-less backup whose store is
// not the sealed one.
func errStoreChanged(dir string, why string) error {
	return fmt.Errorf("backup: %s %s: start the shop with its passphrase and stop it cleanly (veil serve --data %s --passphrase-file FILE, then Ctrl-C), or run veil backup with --passphrase-file",
		dir, why, dir)
}

// backupSealed writes a v3 backup: the store's stream and the seal of its
// last clean close, after checking the store still has the sealed digest.
// It opens the store alone, not the shop, so nothing writes to it.
func backupSealed(data, out string, stdout io.Writer) error {
	if _, err := os.Stat(data); err != nil {
		return err
	}
	seal, err := readSeal(data)
	if errors.Is(err, errNoSeal) {
		return errStoreChanged(data, "has no backup seal (the shop never stopped cleanly with its vault unlocked)")
	}
	if err != nil {
		return errStoreChanged(data, "has an unreadable backup seal")
	}
	db, err := store.Open(data, store.Options{})
	if err != nil {
		return inUse(data, err)
	}
	defer db.Close()
	pub, err := shop.StoredPublic(db)
	if err != nil {
		return fmt.Errorf("%s holds no shop", data)
	}
	digest, err := db.Digest()
	if err != nil {
		return err
	}
	if crypto.NoticeFingerprintOf(pub.BackupSign) != seal.Fingerprint() || !seal.Matches(digest) {
		return errStoreChanged(data, "changed since the shop last stopped cleanly")
	}
	size, err := writeBackupFile(out, func(w io.Writer) error {
		bw, err := crypto.NewSealedBackupWriter(w, pub.Backup, seal)
		if err != nil {
			return err
		}
		if err := db.Backup(bw); err != nil {
			return err
		}
		return bw.Close()
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backup written to %s (%d bytes, sealed to the backup identity; the store as of %s, signed by key %s)\n",
		out, size, seal.SealedAt.Format(time.RFC3339), seal.Fingerprint())
	return nil
}

// writeBackupFile writes a backup to out through a temporary file, so a
// failure leaves no file, and returns its size.
func writeBackupFile(out string, write func(io.Writer) error) (int64, error) {
	tmp := out + ".partial"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp)
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := write(bw); err != nil {
		f.Close()
		return 0, err
	}
	if err := errors.Join(bw.Flush(), f.Sync(), f.Close()); err != nil {
		return 0, fmt.Errorf("write backup: %w", err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return 0, err
	}
	st, err := os.Stat(out)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// cmdRestore loads a backup into a new, empty data directory. A v2 backup
// is verified whole first (signature and tag, and the signing key's
// fingerprint if given), and the load checks it again as it reads. A v3
// backup is not signed byte by byte, so it is loaded, the store reopened,
// and its digest checked against the backup's seal. Either way a forged or
// altered backup restores nothing: a failure after loading began removes
// what was loaded.
func cmdRestore(args []string, stdout io.Writer) error {
	fs := newFlags("restore")
	in := fs.String("in", "", "backup file")
	data := fs.String("data", "", "new, empty data directory")
	idFile := fs.String("identity-file", "", "file holding the backup identity (AGE-SECRET-KEY-…)")
	fingerprint := fs.String("fingerprint", "", "the backup-signing key's fingerprint (veil init and veil backup print it)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *in == "" || *data == "" {
		return usagef("restore: --in, --data and --identity-file are required")
	}
	idText, err := readSecretFile("identity-file", *idFile)
	if err != nil {
		return err
	}
	id, err := crypto.ParseIdentity(strings.TrimSpace(idText))
	if err != nil {
		return fmt.Errorf("--identity-file: not an age identity")
	}
	existed := false
	if entries, err := os.ReadDir(*data); err == nil {
		if len(entries) > 0 {
			return usagef("restore: %s is not empty", *data)
		}
		existed = true
	}
	open := func() (*os.File, error) { return os.Open(*in) }
	f, err := open()
	if err != nil {
		return err
	}
	br, err := crypto.OpenBackup(bufio.NewReaderSize(f, 1<<20), id, *fingerprint)
	if err != nil {
		f.Close()
		return restoreRefused(err)
	}
	var signer, asOf string
	if br.Sealed() {
		defer f.Close()
		seal, err := restoreSealed(br, *data, existed)
		if err != nil {
			return err
		}
		signer, asOf = seal.Fingerprint(), " as of "+seal.SealedAt.Format(time.RFC3339)
	} else {
		f.Close()
		if signer, err = restoreSigned(open, id, *fingerprint, *data, existed); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "restored into %s (the store%s, signed by key %s); start it with veil serve --data %s\n", *data, asOf, signer, *data)
	if *fingerprint == "" {
		fmt.Fprintf(stdout, "compare the key with the one veil init and veil backup printed (or pass --fingerprint)\n")
	}
	return nil
}

// restoreSigned restores a v2 backup: verified whole, then loaded.
func restoreSigned(open func() (*os.File, error), id *crypto.Identity, fingerprint, data string, existed bool) (string, error) {
	f, err := open()
	if err != nil {
		return "", err
	}
	signer, err := crypto.VerifyBackup(bufio.NewReaderSize(f, 1<<20), id, fingerprint)
	f.Close()
	if err != nil {
		return "", restoreRefused(err)
	}
	if f, err = open(); err != nil {
		return "", err
	}
	defer f.Close()
	br, err := crypto.OpenBackup(bufio.NewReaderSize(f, 1<<20), id, fingerprint)
	if err != nil {
		return "", restoreRefused(err)
	}
	if err := loadStore(data, br); err != nil {
		emptyDir(data, existed)
		if errors.Is(err, crypto.ErrBackupForged) {
			return "", restoreRefused(err)
		}
		return "", err
	}
	return signer, nil
}

// restoreSealed restores a v3 backup: load, reopen (what the next veil
// serve will see, after Badger replays its logs), digest, verify the seal.
// On success the verified seal is written next to the store, so the new
// directory can be backed up again without the passphrase.
func restoreSealed(br *crypto.BackupReader, data string, existed bool) (*crypto.StoreSeal, error) {
	seal, err := func() (*crypto.StoreSeal, error) {
		if err := loadStore(data, br); err != nil {
			return nil, err
		}
		db, err := store.Open(data, store.Options{})
		if err != nil {
			return nil, err
		}
		digest, err := db.Digest()
		if err := errors.Join(err, db.Close()); err != nil {
			return nil, err
		}
		return br.VerifyStore(digest)
	}()
	if err == nil {
		b, _ := seal.MarshalBinary()
		err = writeFileAtomic(filepath.Join(data, sealFileName), b)
	}
	if err != nil {
		emptyDir(data, existed)
		// Before the seal verifies, any failure (Badger refusing the
		// stream included) may be a forgery: say nothing was restored.
		return nil, restoreRefused(err)
	}
	return seal, nil
}

// loadStore loads a backup stream into the (empty) store in data.
func loadStore(data string, r io.Reader) error {
	db, err := store.Open(data, store.Options{})
	if err != nil {
		return err
	}
	return errors.Join(db.Load(r), db.Close())
}

// restoreRefused says why a backup was refused, in one line with no secret.
func restoreRefused(err error) error {
	var wk crypto.ErrBackupWrongKey
	switch {
	case errors.As(err, &wk):
		return fmt.Errorf("backup refused: signed by key %s, not %s; nothing restored", wk.Got, wk.Want)
	case errors.Is(err, crypto.ErrBackupForged):
		return errors.New("backup refused: its signature does not verify (forged or altered); nothing restored")
	case errors.Is(err, crypto.ErrBackupNotSigned):
		return errors.New("backup refused: not a signed veil backup (made by an older veil, or not a backup); nothing restored")
	}
	return fmt.Errorf("backup refused: %w; nothing restored", err)
}

// emptyDir undoes a failed load: the directory goes back to empty (or away,
// if restore created it).
func emptyDir(dir string, keep bool) {
	if !keep {
		os.RemoveAll(filepath.Clean(dir))
		return
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		os.RemoveAll(filepath.Join(dir, e.Name()))
	}
}
