package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"veil/crypto"
)

// cmdNotice signs and publishes a notice with the vault's notice key (the
// shop must be stopped: the data directory is locked while it serves; the
// console publishes notices online).
func cmdNotice(args []string, stdout io.Writer) error {
	fs := newFlags("notice")
	data := fs.String("data", "", "data directory")
	ppFile := fs.String("passphrase-file", "", "file holding the vault passphrase")
	textFile := fs.String("text-file", "", "file holding the notice text (UTF-8, at most 8 KiB)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *data == "" || *textFile == "" {
		return usagef("notice: --data, --passphrase-file and --text-file are required")
	}
	passphrase, err := readSecretFile("passphrase-file", *ppFile)
	if err != nil {
		return err
	}
	text, err := os.ReadFile(*textFile)
	if err != nil {
		return err
	}
	a, err := openApp(*data, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.shop.Unlock(passphrase); err != nil {
		return err
	}
	block, err := a.shop.PublishNotice(string(text))
	if err != nil {
		return err
	}
	// The console records its notices; the command line is no back door.
	if err := a.staff.Record(cliActor, "notice.publish", "", "fingerprint="+a.shop.NoticeFingerprint()); err != nil {
		return err
	}
	fmt.Fprint(stdout, block)
	return nil
}

// cliActor names the command line in the audit log: whoever runs it holds
// the data directory and the vault passphrase, not a staff account.
const cliActor = "cli"

// cmdVerifyNotice checks a notice's signature and, with --fingerprint, that
// it was signed by the key whose fingerprint the shop's pages show.
func cmdVerifyNotice(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := newFlags("verify-notice")
	in := fs.String("in", "", "file holding the notice (- for standard input)")
	want := fs.String("fingerprint", "", "the fingerprint shown in the shop's footer")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *in == "" {
		return usagef("verify-notice: --in is required")
	}
	var b []byte
	var err error
	if *in == "-" {
		b, err = io.ReadAll(io.LimitReader(stdin, 1<<20))
	} else {
		b, err = os.ReadFile(*in)
	}
	if err != nil {
		return err
	}
	n, err := crypto.VerifyNotice(string(b))
	if err != nil {
		return fmt.Errorf("the notice is not validly signed")
	}
	norm := func(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), "")) }
	if *want != "" && norm(*want) != norm(n.Fingerprint) {
		return fmt.Errorf("signed by key %s, not %s", n.Fingerprint, *want)
	}
	fmt.Fprintf(stdout, "good signature by key %s, dated %s\n\n%s\n", n.Fingerprint, n.Date.Format("2006-01-02 15:04 UTC"), n.Text)
	if *want == "" {
		fmt.Fprintln(stdout, "\ncompare the key with the fingerprint in the shop's footer (or pass --fingerprint)")
	}
	return nil
}
