package shop

import (
	"fmt"
	"strings"
	"testing"

	"veil/crypto"
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
