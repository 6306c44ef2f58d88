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

	"veil/crypto"
)

// cmdBackup writes the whole store, sealed with age to the vault's backup
// recipient and signed with the vault's backup-signing key: only the backup
// identity printed by `veil init` opens it, `veil restore` refuses anything
// not signed by the vault, and inside, inventory and orders stay as sealed
// as on disk. Signing needs the vault, hence the passphrase.
func cmdBackup(args []string, stdout io.Writer) error {
	fs := newFlags("backup")
	data := fs.String("data", "", "data directory")
	out := fs.String("out", "", "backup file to write (age-encrypted, signed)")
	ppFile := fs.String("passphrase-file", "", "file holding the vault passphrase (the backup is signed with a vault key)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *data == "" || *out == "" {
		return usagef("backup: --data, --out and --passphrase-file are required")
	}
	if *ppFile == "" {
		return usagef("backup: --passphrase-file is required: a backup is signed with a vault key so that restore can tell it from a forgery")
	}
	passphrase, err := readSecretFile("passphrase-file", *ppFile)
	if err != nil {
		return err
	}
	a, err := openApp(*data, slog.New(slog.DiscardHandler))
	if err != nil {
		if strings.Contains(err.Error(), "lock") {
			return fmt.Errorf("%s is in use by a running shop: stop it, or take the backup from the console", *data)
		}
		return err
	}
	defer a.Close()
	if !a.shop.Initialized() {
		return fmt.Errorf("%s holds no shop", *data)
	}
	if err := a.shop.Unlock(passphrase); err != nil {
		return err
	}
	tmp := *out + ".partial"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := a.shop.WriteBackup(bw); err != nil {
		f.Close()
		return err
	}
	if err := errors.Join(bw.Flush(), f.Sync(), f.Close()); err != nil {
		return fmt.Errorf("write backup: %w", err)
	}
	if err := os.Rename(tmp, *out); err != nil {
		return err
	}
	st, _ := os.Stat(*out)
	fmt.Fprintf(stdout, "backup written to %s (%d bytes, sealed to the backup identity, signed by key %s)\n",
		*out, st.Size(), a.shop.BackupFingerprint())
	return nil
}

// cmdRestore loads a backup into a new, empty data directory. The whole
// file is verified first (signature and tag, and the signing key's
// fingerprint if given); a forged or altered backup restores nothing. The
// load then checks it again as it reads, and a failure there (the file
// changed in between) removes what was loaded.
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
	signer, err := crypto.VerifyBackup(bufio.NewReaderSize(f, 1<<20), id, *fingerprint)
	f.Close()
	if err != nil {
		return restoreRefused(err)
	}
	if f, err = open(); err != nil {
		return err
	}
	defer f.Close()
	br, err := crypto.OpenBackup(bufio.NewReaderSize(f, 1<<20), id, *fingerprint)
	if err != nil {
		return restoreRefused(err)
	}
	a, err := openApp(*data, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	if err := a.db.Load(br); err != nil {
		a.Close()
		emptyDir(*data, existed)
		if errors.Is(err, crypto.ErrBackupForged) {
			return restoreRefused(err)
		}
		return err
	}
	if err := a.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored into %s (signed by key %s); start it with veil serve --data %s\n", *data, signer, *data)
	if *fingerprint == "" {
		fmt.Fprintf(stdout, "compare the key with the one veil init and veil backup printed (or pass --fingerprint)\n")
	}
	return nil
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
