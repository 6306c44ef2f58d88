package server

import (
	"bytes"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"veil/crypto"
	"veil/server/shop"
	"veil/server/store"
)

// TestOnlineBackup takes a backup through the console while the shop
// serves, restores it into a new store, and opens an old order there.
func TestOnlineBackup(t *testing.T) {
	e := newConsoleEnv(t)
	p := e.addProduct(t, "card", "BACKUP-KEY-1", "BACKUP-KEY-2")
	pl, err := e.shop.PlaceOrder(p.ID, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.shop.Pay(pl.Order.Ref, shop.Payment{Provider: "demo", AmountMinor: pl.Order.AmountMinor}); err != nil {
		t.Fatal(err)
	}
	olga := e.login("olga")
	e.next()
	wantErrorJSON(t, e.api(olga, "POST", "/api/v1/admin/backup", `{}`), http.StatusUnauthorized, "totp_required")
	w := e.api(olga, "POST", "/api/v1/admin/backup", `{"totp":"`+e.code("olga")+`"}`)
	if w.Code != http.StatusOK || !bytes.HasPrefix(w.Body.Bytes(), []byte("age-encryption.org/v1")) {
		t.Fatalf("backup: %d %.80s", w.Code, w.Body)
	}
	if bytes.Contains(w.Body.Bytes(), []byte("BACKUP-KEY")) {
		t.Fatal("the backup holds a key in the clear")
	}
	// Signed by the vault's backup-signing key, whose fingerprint restore
	// checks.
	r, err := crypto.OpenBackup(bytes.NewReader(w.Body.Bytes()), e.vault.Backup, e.shop.BackupFingerprint())
	if err != nil {
		t.Fatal(err)
	}
	db2, err := store.Open(filepath.Join(t.TempDir(), "restored"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	if err := db2.Load(r); err != nil {
		t.Fatal(err)
	}
	sh2, err := shop.New(db2, shop.Config{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := sh2.Retrieve(pl.Token)
	if err != nil || len(v.Items) != 1 || !strings.HasPrefix(v.Items[0].Key, "BACKUP-KEY-") {
		t.Fatalf("restored order: %+v %v", v.Items, err)
	}
	if e.auditCount("backup.download", "") != 1 {
		t.Fatal("backup not audited")
	}
	// Locked, nothing can sign it: 503 vault_locked, not an unsigned file.
	e.shop.Lock()
	e.next()
	wantErrorJSON(t, e.api(olga, "POST", "/api/v1/admin/backup", `{"totp":"`+e.code("olga")+`"}`), http.StatusServiceUnavailable, "vault_locked")
}
