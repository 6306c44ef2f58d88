package crypto

import (
	"bytes"
	"errors"
	"io"
	"runtime"
	"testing"

	"filippo.io/age"
)

// ageRecipients returns recipient sets of every kind Seal is used with and
// an identity that opens each.
func ageRecipients(t testing.TB) []struct {
	name string
	to   []age.Recipient
	id   age.Identity
} {
	t.Helper()
	hy, err := NewIdentity(Hybrid)
	if err != nil {
		t.Fatal(err)
	}
	hy2, _ := NewIdentity(Hybrid)
	x, _ := NewIdentity(X25519)
	x2, _ := NewIdentity(X25519)
	var sym [32]byte
	sym[0] = 7
	return []struct {
		name string
		to   []age.Recipient
		id   age.Identity
	}{
		{"hybrid", []age.Recipient{hy.AgeRecipient()}, hy.Age()},
		{"x25519", []age.Recipient{x.AgeRecipient()}, x.Age()},
		{"symmetric", []age.Recipient{NewSymmetricRecipient(sym)}, NewSymmetricIdentity(sym)},
		{"two hybrid, second opens", []age.Recipient{hy2.AgeRecipient(), hy.AgeRecipient()}, hy.Age()},
		{"two x25519", []age.Recipient{x2.AgeRecipient(), x.AgeRecipient()}, x.Age()},
	}
}

var ageSizes = []int{0, 1, 300, ageChunk - 1, ageChunk, ageChunk + 1, 2*ageChunk + 17}

// TestAgeFileInterop: what Seal writes, age itself reads (and its header is
// canonical, so openFile never needs age's reader for it); what age writes,
// openFile reads without falling back; for every recipient kind and sizes
// around the 64 KiB chunk boundary, the empty file included.
func TestAgeFileInterop(t *testing.T) {
	for _, rc := range ageRecipients(t) {
		for _, n := range ageSizes {
			pt := bytes.Repeat([]byte{byte(n)}, n)
			ours, err := Seal(pt, rc.to...)
			if err != nil {
				t.Fatalf("%s/%d: seal: %v", rc.name, n, err)
			}
			r, err := age.Decrypt(bytes.NewReader(ours), rc.id)
			if err != nil {
				t.Fatalf("%s/%d: age cannot open ours: %v", rc.name, n, err)
			}
			if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("%s/%d: age read %d bytes, %v", rc.name, n, len(got), err)
			}
			if got, err := openFile(ours, []age.Identity{rc.id}); err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("%s/%d: openFile(ours): %d bytes, %v", rc.name, n, len(got), err)
			}

			var theirs bytes.Buffer
			w, err := age.Encrypt(&theirs, rc.to...)
			if err != nil {
				t.Fatal(err)
			}
			w.Write(pt)
			w.Close()
			if got, err := openFile(theirs.Bytes(), []age.Identity{rc.id}); err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("%s/%d: openFile(age's): %d bytes, %v", rc.name, n, len(got), err)
			}
		}
	}
}

// TestAgeFileRefusals: a tampered, truncated or extended file is an error
// (never a panic, never plaintext), a file for another key is
// ErrWrongIdentity, and a post-quantum recipient does not share a file
// with a classic one.
func TestAgeFileRefusals(t *testing.T) {
	id, _ := NewIdentity(Hybrid)
	other, _ := NewIdentity(Hybrid)
	x, _ := NewIdentity(X25519)
	for _, n := range []int{0, 40, ageChunk, ageChunk + 5} {
		sealed, err := Seal(bytes.Repeat([]byte("k"), n), id.AgeRecipient())
		if err != nil {
			t.Fatal(err)
		}
		header, _ := age.ExtractHeader(bytes.NewReader(sealed))
		cases := map[string][]byte{
			"header MAC":     flip(sealed, len(header)-5),
			"stanza body":    flip(sealed, len(ageIntro)+40),
			"payload nonce":  flip(sealed, len(header)+3),
			"first chunk":    flip(sealed, len(header)+ageNonce+1),
			"last byte":      flip(sealed, len(sealed)-1),
			"truncated":      sealed[:len(sealed)-1],
			"no last chunk":  sealed[:len(header)+ageNonce],
			"extra byte":     append(bytes.Clone(sealed), 0),
			"extra chunk":    append(bytes.Clone(sealed), make([]byte, 16)...),
			"header only":    header,
			"not a file":     []byte("hello"),
			"empty":          nil,
			"another intro ": append([]byte("age-encryption.org/v2\n"), sealed[len(ageIntro):]...),
		}
		for name, c := range cases {
			if pt, err := Open(c, id.Age()); err == nil {
				t.Errorf("%d bytes, %s: opened (%d bytes)", n, name, len(pt))
			} else if errors.Is(err, ErrWrongIdentity) && name != "stanza body" {
				// (ML-KEM rejects implicitly: a damaged stanza looks
				// like one for another key.)
				t.Errorf("%d bytes, %s: reported as a wrong identity: %v", n, name, err)
			}
		}
		if _, err := Open(sealed, other.Age()); !errors.Is(err, ErrWrongIdentity) {
			t.Errorf("%d bytes, another key: %v", n, err)
		}
	}
	if _, err := Seal([]byte("k"), id.AgeRecipient(), x.AgeRecipient()); err == nil {
		t.Error("a hybrid and an X25519 recipient shared a file")
	}
}

// TestSmallFilesAllocateLittle: sealing and opening a licence key's worth
// of bytes allocates less than one of age's 64 KiB stream buffers (its
// streaming writer and reader took 159 KB for this; ≈ 16 KB is left, most
// of it age's header parser). Bytes allocated are counted, not timed.
func TestSmallFilesAllocateLittle(t *testing.T) {
	var sym [32]byte
	pt := []byte(`[{"id":"k1","key":"ABCD-EFGH-IJKL-MNOP"}]`)
	const runs = 50
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		sealed, err := Seal(pt, NewSymmetricRecipient(sym))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Open(sealed, NewSymmetricIdentity(sym)); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / runs; per >= 64<<10 {
		t.Fatalf("seal + open of %d bytes allocated %d bytes", len(pt), per)
	}
}

func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x40
	return c
}

// FuzzOpenFile: Open never panics on any bytes, and whatever it opens,
// age's own reader opens to the same plaintext.
func FuzzOpenFile(f *testing.F) {
	var sym [32]byte
	sym[1] = 9
	id := NewSymmetricIdentity(sym)
	for _, n := range []int{0, 20, ageChunk} {
		s, err := Seal(make([]byte, n), NewSymmetricRecipient(sym))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(s)
	}
	f.Add([]byte(ageIntro + "---\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := Open(b, id)
		if err != nil {
			return
		}
		r, err := age.Decrypt(bytes.NewReader(b), id)
		if err != nil {
			t.Fatalf("Open accepted what age refuses: %v", err)
		}
		want, err := io.ReadAll(r)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("Open and age disagree: %d vs %d bytes, %v", len(got), len(want), err)
		}
	})
}
