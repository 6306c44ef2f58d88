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

func TestBackupRestoreMovesHouse(t *testing.T) {
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
	rcpts := []string{pl.Order.Recipient, a.shop.Public().Support}
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
	if code := run([]string{"backup", "--data", dir1, "--out", file, "--passphrase-file", pp}, &out, &errb); code != 0 {
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
