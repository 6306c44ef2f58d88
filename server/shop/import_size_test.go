package shop

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"veil/crypto"
	"veil/server/store"
)

// TestImportOfLongestKeysFits: one import transaction (importChunk keys of
// the longest length a key may have) fits Badger's limit on a transaction,
// which is 15% of the memtable size the store is opened with
// (server/store/options.go). A memtable too small for it fails this import
// with a "too big" transaction.
func TestImportOfLongestKeysFits(t *testing.T) {
	e := newEnv(t)
	p := e.product("long", Unique)
	pad := strings.Repeat("K", crypto.MaxKeyLen-12)
	keys := make([]string, importChunk)
	for i := range keys {
		keys[i] = fmt.Sprintf("%s%012d", pad, i)
	}
	res := e.importKeys(p.ID, keys)
	if res.Imported != importChunk || res.Rejected != 0 || res.Duplicates != 0 {
		t.Fatalf("imported %d, rejected %d (%v), duplicates %d; want %d imported", res.Imported, res.Rejected, res.Rejections, res.Duplicates, importChunk)
	}
	if got := e.stock(p.ID); got != importChunk {
		t.Fatalf("stock %d, want %d", got, importChunk)
	}
}

// TestImportDuplicateOfOldFingerprint: a key whose fingerprint a store
// written before fpr/ holds in the old fp/<hex> form is a duplicate, and a
// new import records its fingerprints as fpr/<raw> with no value.
func TestImportDuplicateOfOldFingerprint(t *testing.T) {
	e := newEnv(t)
	p := e.product("old-fp", Unique)
	fp, err := e.shop.fingerprinter()
	if err != nil {
		t.Fatal(err)
	}
	old, err := crypto.NormalizeKey("OLD-KEY-0001")
	if err != nil {
		t.Fatal(err)
	}
	h := fp(old)
	if err := e.db.Update(func(tx *store.Txn) error {
		return tx.Set(pFP+hex.EncodeToString(h[:]), []byte("b-old-000001"))
	}); err != nil {
		t.Fatal(err)
	}
	res := e.importKeys(p.ID, []string{"OLD-KEY-0001", "NEW-KEY-0002"})
	if res.Imported != 1 || res.Duplicates != 1 {
		t.Fatalf("imported %d, duplicates %d; want 1 and 1", res.Imported, res.Duplicates)
	}
	n := fp("NEW-KEY-0002")
	if err := e.db.View(func(tx *store.Txn) error {
		v, err := tx.Get(pFPRaw + string(n[:]))
		if err != nil {
			return err
		}
		if len(v) != 0 {
			t.Errorf("fpr/ value %q, want none", v)
		}
		if ok, err := tx.Has(pFP + hex.EncodeToString(n[:])); err != nil || ok {
			t.Errorf("new key written in the old form too (%v)", err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Both forms keep counting: neither key comes in again.
	res = e.importKeys(p.ID, []string{"OLD-KEY-0001", "NEW-KEY-0002"})
	if res.Imported != 0 || res.Duplicates != 2 {
		t.Fatalf("second import: imported %d, duplicates %d; want 0 and 2", res.Imported, res.Duplicates)
	}
	if got := e.stock(p.ID); got != 1 {
		t.Fatalf("stock %d, want 1", got)
	}
}
