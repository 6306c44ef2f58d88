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

	"filippo.io/age"

	"veil/crypto"
)

// cmdBackup writes the whole store, sealed with age to the vault's backup
// recipient: only the backup identity printed by `veil init` opens it, and
// inside, inventory and orders stay as sealed as on disk.
func cmdBackup(args []string, stdout io.Writer) error {
	fs := newFlags("backup")
	data := fs.String("data", "", "data directory")
	out := fs.String("out", "", "backup file to write (age-encrypted)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *data == "" || *out == "" {
		return usagef("backup: --data and --out are required")
	}
	a, err := openApp(*data, slog.New(slog.DiscardHandler))
	if err != nil {
		if strings.Contains(err.Error(), "lock") {
			return fmt.Errorf("%s is in use by a running shop: stop it, or take the backup from the console", *data)
		}
		return err
	}
	defer a.Close()
	pub := a.shop.Public()
	if pub.Backup == "" {
		return fmt.Errorf("%s holds no shop", *data)
	}
	r, err := crypto.ParseRecipient(pub.Backup)
	if err != nil {
		return err
	}
	tmp := *out + ".partial"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	bw := bufio.NewWriterSize(f, 1<<20)
	w, err := age.Encrypt(bw, r)
	if err != nil {
		f.Close()
		return err
	}
	if err := a.db.Backup(w); err != nil {
		f.Close()
		return err
	}
	if err := errors.Join(w.Close(), bw.Flush(), f.Sync(), f.Close()); err != nil {
		return fmt.Errorf("write backup: %w", err)
	}
	if err := os.Rename(tmp, *out); err != nil {
		return err
	}
	st, _ := os.Stat(*out)
	fmt.Fprintf(stdout, "backup written to %s (%d bytes, sealed to the backup identity)\n", *out, st.Size())
	return nil
}

// cmdRestore loads a backup into a new, empty data directory.
func cmdRestore(args []string, stdout io.Writer) error {
	fs := newFlags("restore")
	in := fs.String("in", "", "backup file")
	data := fs.String("data", "", "new, empty data directory")
	idFile := fs.String("identity-file", "", "file holding the backup identity (AGE-SECRET-KEY-…)")
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
	if entries, err := os.ReadDir(*data); err == nil && len(entries) > 0 {
		return usagef("restore: %s is not empty", *data)
	}
	f, err := os.Open(*in)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := age.Decrypt(bufio.NewReaderSize(f, 1<<20), id.Age())
	if err != nil {
		return fmt.Errorf("open backup: %w", err)
	}
	a, err := openApp(*data, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	if err := a.db.Load(r); err != nil {
		a.Close()
		os.RemoveAll(filepath.Clean(*data))
		return err
	}
	if err := a.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "restored into %s; start it with veil serve --data %s\n", *data, *data)
	return nil
}
