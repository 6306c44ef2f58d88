package shop

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"veil/crypto"
	"veil/server/store"
)

// FuzzImportKeys imports arbitrary bytes into one product of a real shop
// over a real Badger. The shop is set up once per fuzzing process and keeps
// every key imported so far, so later inputs also meet the store's
// duplicate check. Each import must account for every non-blank line
// exactly once (imported, duplicate or rejected), agree line by line with
// NormalizeKey, add exactly the imported keys to the stock, and a refused
// import must leave the stock as it was.
func FuzzImportKeys(f *testing.F) {
	db, err := store.Open(f.TempDir(), store.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	sh, err := New(db, Config{VaultWorkFactor: 10})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := sh.InitVault(testPass); err != nil {
		f.Fatal(err)
	}
	p, err := sh.CreateProduct(Product{Slug: "fuzz", Name: Text{"en": "Fuzz"}, PriceMinor: 990, Currency: "CNY"})
	if err != nil {
		f.Fatal(err)
	}
	imported := map[string]bool{} // every key this process imported

	f.Add([]byte("AAAA-1111\nBBBB-2222\n"))
	f.Add([]byte("\uFEFFAAAA-1111\r\nAAAA-1111\r\n\r\n  \n\x00bad\n"))
	f.Add([]byte("0\nx\n--\nok-2\n")) // junk the default key format refuses
	f.Fuzz(func(t *testing.T, data []byte) {
		before := inStock(t, sh, p.ID)
		res, err := sh.ImportKeys(p.ID, BatchInfo{}, bytes.NewReader(data))
		if err != nil {
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("import failed with a non-input error: %v", err)
			}
			if after := inStock(t, sh, p.ID); after != before {
				t.Fatalf("refused import changed the stock: %d -> %d (%v)", before, after, err)
			}
			return
		}

		want := modelImport(data, imported)
		if res.Imported != len(want.fresh) || res.Duplicates != want.duplicates || res.Rejected != len(want.rejections) {
			t.Fatalf("import = imported %d, duplicates %d, rejected %d; want %d, %d, %d",
				res.Imported, res.Duplicates, res.Rejected, len(want.fresh), want.duplicates, len(want.rejections))
		}
		if res.Imported+res.Duplicates+res.Rejected != want.lines {
			t.Fatalf("%d non-blank lines, accounted for %d", want.lines, res.Imported+res.Duplicates+res.Rejected)
		}
		if len(res.Rejections) != min(len(want.rejections), maxRejections) {
			t.Fatalf("%d rejections listed, want %d", len(res.Rejections), min(len(want.rejections), maxRejections))
		}
		for i, r := range res.Rejections {
			if r != want.rejections[i] {
				t.Fatalf("rejection %d = %+v, want %+v", i, r, want.rejections[i])
			}
		}
		if after := inStock(t, sh, p.ID); after != before+res.Imported {
			t.Fatalf("stock %d -> %d after importing %d keys", before, after, res.Imported)
		}
		for _, k := range want.fresh {
			imported[k] = true
		}
	})
}

// importModel is what an import of some bytes should report.
type importModel struct {
	lines      int // non-blank lines
	fresh      []string
	duplicates int
	rejections []Rejection
}

// modelImport splits data as bufio.ScanLines does and classifies each line
// the way ImportKeys documents it.
func modelImport(data []byte, known map[string]bool) importModel {
	var m importModel
	text := string(data)
	text = strings.TrimSuffix(text, "\n")
	if len(data) == 0 {
		return m
	}
	seen := map[string]bool{}
	for i, raw := range strings.Split(text, "\n") {
		raw = strings.TrimSuffix(raw, "\r")
		if strings.TrimSpace(raw) == "" {
			continue
		}
		m.lines++
		if i == 0 {
			raw = strings.TrimPrefix(raw, "\uFEFF")
		}
		k, err := crypto.NormalizeKey(raw)
		if err != nil {
			m.rejections = append(m.rejections, Rejection{Line: i + 1, Reason: rejectReason(err)})
			continue
		}
		// The default key format: two characters or more, one of them a
		// letter or digit.
		if utf8.RuneCountInString(k) < 2 {
			m.rejections = append(m.rejections, Rejection{Line: i + 1, Reason: "too_short"})
			continue
		}
		if !strings.ContainsFunc(k, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) {
			m.rejections = append(m.rejections, Rejection{Line: i + 1, Reason: "no_alnum"})
			continue
		}
		if seen[k] || known[k] {
			m.duplicates++
			continue
		}
		seen[k] = true
		m.fresh = append(m.fresh, k)
	}
	return m
}

func inStock(t *testing.T, sh *Shop, pid string) int {
	t.Helper()
	p, err := sh.Product(pid)
	if err != nil {
		t.Fatal(err)
	}
	return p.InStock
}
