package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"veil/crypto"
	"veil/msg"
	"veil/server/shop"
)

// TestBackupRestoreMovesHouse moves a shop with both backup forms: the
// contract's `veil backup --data DIR --out FILE` (v3, from the seal of the
// last clean close) and the one signed with --passphrase-file (v2).
func TestBackupRestoreMovesHouse(t *testing.T) {
	t.Run("without the passphrase", func(t *testing.T) { testMoveHouse(t, false) })
	t.Run("with the passphrase", func(t *testing.T) { testMoveHouse(t, true) })
}

func testMoveHouse(t *testing.T, withPassphrase bool) {
	dir1, dir2 := t.TempDir(), filepath.Join(t.TempDir(), "new")
	a, err := openAppWith(dir1, slog.New(slog.DiscardHandler), shop.Config{VaultWorkFactor: 10})
	if err != nil {
		t.Fatal(err)
	}
	res, err := initShop(a, "owner", "a long password", "vault passphrase")
	if err != nil {
		t.Fatal(err)
	}
	p, err := a.shop.CreateProduct(shop.Product{Slug: "g", Name: shop.Text{"en": "G"}, PriceMinor: 100, Currency: "CNY"})
	if err != nil {
		t.Fatal(err)
	}
	keys := "MOVE-KEY-0001\nMOVE-KEY-0002\nMOVE-KEY-0003"
	if _, err := a.shop.ImportKeys(p.ID, shop.BatchInfo{}, strings.NewReader(keys)); err != nil {
		t.Fatal(err)
	}
	pl, err := a.shop.PlaceOrder(p.ID, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.shop.Pay(pl.Order.Ref, shop.Payment{Provider: "demo", AmountMinor: pl.Order.AmountMinor}); err != nil {
		t.Fatal(err)
	}
	// A support thread, sealed to the order and the merchant.
	rcpts := []string{pl.Order.RecipientString(), a.shop.Public().Support}
	if _, err := a.threads.Append(pl.Order.Ref, rcpts, msg.Message{From: msg.FromBuyer, Text: "THREAD-BEFORE-THE-MOVE"}); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	file := filepath.Join(t.TempDir(), "shop.age")
	var out, errb bytes.Buffer
	pp := filepath.Join(t.TempDir(), "pp")
	os.WriteFile(pp, []byte("vault passphrase\n"), 0o600)
	args := []string{"backup", "--data", dir1, "--out", file}
	if withPassphrase {
		args = append(args, "--passphrase-file", pp)
	}
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("backup: %d %s", code, errb.String())
	}
	b, _ := os.ReadFile(file)
	if len(b) == 0 || bytes.Contains(b, []byte("MOVE-KEY")) || !bytes.HasPrefix(b, []byte("age-encryption.org/v1")) {
		t.Fatalf("backup file is not a sealed age file (%d bytes)", len(b))
	}
	idFile := filepath.Join(t.TempDir(), "id")
	os.WriteFile(idFile, []byte(res.BackupIdentity+"\n"), 0o600)
	wrongID := filepath.Join(t.TempDir(), "wrong")
	os.WriteFile(wrongID, []byte("AGE-SECRET-KEY-1QQQ"), 0o600)
	if code := run([]string{"restore", "--in", file, "--data", dir2, "--identity-file", wrongID}, &out, &errb); code == 0 {
		t.Fatal("restore with a bad identity succeeded")
	}
	if code := run([]string{"restore", "--in", file, "--data", dir2, "--identity-file", idFile}, &out, &errb); code != 0 {
		t.Fatalf("restore: %d %s", code, errb.String())
	}
	if code := run([]string{"restore", "--in", file, "--data", dir2, "--identity-file", idFile}, &out, &errb); code != 2 {
		t.Fatalf("restore into a non-empty dir: exit %d", code)
	}

	a2, err := openApp(dir2, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a2.Close()
	v, err := a2.shop.Retrieve(pl.Token)
	if err != nil || len(v.Items) != 2 || v.Items[0].Key != "MOVE-KEY-0001" || v.Items[1].Key != "MOVE-KEY-0002" {
		t.Fatalf("old token after the move: %+v %v", v.Items, err)
	}
	tok, _ := crypto.ParseToken(pl.Token)
	id, _ := tok.Identity(crypto.Hybrid)
	thread, _, err := a2.threads.Read(pl.Order.Ref, id.Age(), 0, 10)
	if err != nil || len(thread) != 1 || thread[0].Text != "THREAD-BEFORE-THE-MOVE" {
		t.Fatalf("thread after the move: %+v %v", thread, err)
	}
	if err := a2.shop.Unlock("vault passphrase"); err != nil {
		t.Fatal(err)
	}
	if got, _ := a2.shop.Product(p.ID); got.InStock != 1 {
		t.Fatalf("stock after the move: %d", got.InStock)
	}
}

// TestBackupRefusesChangedStore: a store written after the last clean
// close (here by a write with the vault locked, as an offline command
// makes) is not the sealed one, so the passphrase-less backup refuses it
// with advice and writes no file; a clean close with the vault unlocked
// seals it again.
func TestBackupRefusesChangedStore(t *testing.T) {
	dir := t.TempDir()
	a, err := openAppWith(dir, slog.New(slog.DiscardHandler), shop.Config{VaultWorkFactor: 10})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := initShop(a, "owner", "a long password", "vault passphrase"); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "shop.age")
	backup := func() (int, string) {
		var out, errb bytes.Buffer
		code := run([]string{"backup", "--data", dir, "--out", file}, &out, &errb)
		return code, errb.String()
	}
	if code, errs := backup(); code != 0 {
		t.Fatalf("backup after a clean close: %d %s", code, errs)
	}
	os.Remove(file)

	// A write with the vault locked: the seal stays as it was.
	a, err = openApp(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.shop.CreateProduct(shop.Product{Slug: "late", Name: shop.Text{"en": "L"}, PriceMinor: 1, Currency: "CNY"}); err != nil {
		t.Fatal(err)
	}
	a.Close()
	code, errs := backup()
	if code != 1 || !strings.Contains(errs, "changed since the shop last stopped cleanly") || !strings.Contains(errs, "--passphrase-file") ||
		strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Fatalf("backup of a changed store: exit %d %q", code, errs)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("a refused backup left a file: %v", err)
	}
	if _, err := os.Stat(file + ".partial"); !os.IsNotExist(err) {
		t.Fatalf("a refused backup left a partial file: %v", err)
	}

	// No seal at all (never closed with the vault unlocked).
	os.Remove(filepath.Join(dir, sealFileName))
	if code, errs := backup(); code != 1 || !strings.Contains(errs, "no backup seal") {
		t.Fatalf("backup without a seal: exit %d %q", code, errs)
	}

	// Unlocked and closed cleanly: sealed again.
	a, err = openAppWith(dir, slog.New(slog.DiscardHandler), shop.Config{VaultWorkFactor: 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.shop.Unlock("vault passphrase"); err != nil {
		t.Fatal(err)
	}
	a.Close()
	if code, errs := backup(); code != 0 {
		t.Fatalf("backup after a clean close: %d %s", code, errs)
	}
}
