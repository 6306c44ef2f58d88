package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"veil/server/shop"
)

func TestNoticeSignAndVerify(t *testing.T) {
	dir := t.TempDir()
	a, err := openAppWith(dir, slog.New(slog.DiscardHandler), shop.Config{VaultWorkFactor: 10})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := initShop(a, "owner", "a long password", "vault passphrase"); err != nil {
		t.Fatal(err)
	}
	fp := a.shop.NoticeFingerprint()
	a.Close()
	tmp := t.TempDir()
	pp, text := filepath.Join(tmp, "pp"), filepath.Join(tmp, "text")
	os.WriteFile(pp, []byte("vault passphrase\n"), 0o600)
	os.WriteFile(text, []byte("We moved to http://new.example/\n"), 0o600)
	var out, errb bytes.Buffer
	if code := run([]string{"notice", "--data", dir, "--passphrase-file", pp, "--text-file", text}, &out, &errb); code != 0 {
		t.Fatalf("notice: %d %s", code, errb.String())
	}
	notice := filepath.Join(tmp, "notice.txt")
	os.WriteFile(notice, out.Bytes(), 0o600)
	// The command line's notice is in the audit log, as the console's is.
	a, err = openAppWith(dir, slog.New(slog.DiscardHandler), shop.Config{VaultWorkFactor: 10})
	if err != nil {
		t.Fatal(err)
	}
	entries, _, err := a.staff.Audit(0, 10)
	a.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 || entries[0].Action != "notice.publish" || entries[0].Actor != "cli" || entries[0].Detail != "fingerprint="+fp {
		t.Fatalf("newest audit entry %+v, want notice.publish by cli", entries)
	}
	out.Reset()
	if code := run([]string{"verify-notice", "--in", notice, "--fingerprint", fp}, &out, &errb); code != 0 {
		t.Fatalf("verify: %d %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "We moved to http://new.example/") {
		t.Fatalf("output %q", out.String())
	}
	if code := run([]string{"verify-notice", "--in", notice, "--fingerprint", "0000 0000"}, &out, &errb); code != 1 {
		t.Fatalf("wrong fingerprint: exit %d", code)
	}
	forged := strings.Replace(string(mustRead(t, notice)), "new.example", "evil.example", 1)
	os.WriteFile(notice, []byte(forged), 0o600)
	if code := run([]string{"verify-notice", "--in", notice}, &out, &errb); code != 1 {
		t.Fatalf("forged notice: exit %d", code)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
