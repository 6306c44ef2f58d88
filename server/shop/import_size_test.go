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
// written before holds in an older form — fp/<hex> → key id, or fpr/<32
// raw bytes> — is a duplicate, and a new import records its fingerprints
// as fpk/<16 raw bytes> with no value, in no older form.
func TestImportDuplicateOfOldFingerprint(t *testing.T) {
	e := newEnv(t)
	p := e.product("old-fp", Unique)
	fp, err := e.shop.fingerprinter()
	if err != nil {
		t.Fatal(err)
	}
	hexKey, rawKey := fp("OLD-KEY-0001"), fp("OLD-KEY-0003")
	if err := e.db.Update(func(tx *store.Txn) error {
		if err := tx.Set(pFP+hex.EncodeToString(hexKey[:]), []byte("b-old-000001")); err != nil {
			return err
		}
		return tx.Set(pFPRaw+string(rawKey[:]), nil)
	}); err != nil {
		t.Fatal(err)
	}
	lines := []string{"OLD-KEY-0001", "NEW-KEY-0002", "OLD-KEY-0003"}
	res := e.importKeys(p.ID, lines)
	if res.Imported != 1 || res.Duplicates != 2 {
		t.Fatalf("imported %d, duplicates %d; want 1 and 2", res.Imported, res.Duplicates)
	}
	n := fp("NEW-KEY-0002")
	if err := e.db.View(func(tx *store.Txn) error {
		v, err := tx.Get(pFPKey + string(n[:fpKeyLen]))
		if err != nil {
			return err
		}
		if len(v) != 0 {
			t.Errorf("fpk/ value %q, want none", v)
		}
		for _, k := range []string{pFP + hex.EncodeToString(n[:]), pFPRaw + string(n[:])} {
			if ok, err := tx.Has(k); err != nil || ok {
				t.Errorf("new key written in an older form too (%q, %v)", k[:4], err)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Every form keeps counting: no key comes in again.
	res = e.importKeys(p.ID, lines)
	if res.Imported != 0 || res.Duplicates != 3 {
		t.Fatalf("second import: imported %d, duplicates %d; want 0 and 3", res.Imported, res.Duplicates)
	}
	if got := e.stock(p.ID); got != 1 {
		t.Fatalf("stock %d, want 1", got)
	}
}

// TestImportRollsBackWhole: an import that fails after some of its
// transactions committed (a line past 64 KiB after more than importChunk
// keys) takes back everything it wrote — key records, stock entries,
// fingerprints, the pool — so the same keys import cleanly afterwards.
func TestImportRollsBackWhole(t *testing.T) {
	e := newEnv(t)
	p := e.product("rollback", Unique)
	keys := keyList("RB", importChunk+importChunk/2)
	input := strings.Join(keys, "\n") + "\n" + strings.Repeat("X", 70<<10) + "\n"
	if _, err := e.shop.ImportKeys(p.ID, BatchInfo{Supplier: "acme"}, strings.NewReader(input)); err == nil {
		t.Fatal("an import with a 70 KiB line succeeded")
	}
	if got := e.stock(p.ID); got != 0 {
		t.Fatalf("stock after the failed import: %d", got)
	}
	if err := e.db.View(func(tx *store.Txn) error {
		for _, prefix := range []string{pKey, pAvail, pFPKey} {
			n := 0
			if err := tx.Iterate(prefix, "", true, func(string, []byte) error { n++; return nil }); err != nil {
				return err
			}
			if n != 0 {
				t.Errorf("%d entries left under %s", n, prefix)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if res := e.importKeys(p.ID, keys); res.Imported != len(keys) || res.Duplicates != 0 {
		t.Fatalf("re-import: %d imported, %d duplicates", res.Imported, res.Duplicates)
	}
	if got := e.stock(p.ID); got != len(keys) {
		t.Fatalf("stock %d, want %d", got, len(keys))
	}
}
