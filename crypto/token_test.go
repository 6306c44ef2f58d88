package crypto

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// katToken returns the known-answer token whose byte i is i^x.
func katToken(x byte) (t Token) {
	for i := range t {
		t[i] = byte(i) ^ x
	}
	return t
}

func hex32(s string) (k [32]byte) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		panic("bad hex32 " + s)
	}
	copy(k[:], b)
	return k
}

// The expected values were computed once by this package and cross-checked
// independently: the HKDF outputs and the Ref with Python's hmac/hashlib,
// the check symbols with a separate GF(32) implementation.
var tokenKATs = []struct {
	name      string
	tok       Token
	str       string
	lookup    string
	ref       string
	seed      string
	retrieval string
}{
	{
		name:      "bytes 00..13",
		tok:       katToken(0),
		str:       "000G-40R4-0M30-E209-185G-R38E-1W81-24GK-G",
		lookup:    "090e2f3eb9e3190e810f9e0f2dc299ea78230b51a5fa1286a22fefa314e60e80",
		ref:       "R-AP9CG67C",
		seed:      "3387268afb1a436a241ea6d2283dbd13472020b3b6cd1259f8d9298fae8cca1c",
		retrieval: "5054ee795e65a6cc2bc9779c0795c812d890648b5a9e5f4ac06f52291352fc88",
	},
	{
		name:      "bytes ff..ec",
		tok:       katToken(0xff),
		str:       "ZZZF-VZ7V-ZBWZ-HXZP-YQTF-7WQH-Y3QY-XVFC-3",
		lookup:    "68d9470584fe709332fa7770bbb772ee1c5556e73b1f1394c1f95c237687cf6b",
		ref:       "R-P857JM89",
		seed:      "e354953ad280dd91f1407c01898920f75c8231cfe74b29107f42e587d3a26966",
		retrieval: "cd541ca9ca070027c25ef758741e05d53fc7326600a6bc1a43fb37ba72ea2a3a",
	},
}

func TestTokenKnownAnswers(t *testing.T) {
	for _, tc := range tokenKATs {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.tok.String(); got != tc.str {
				t.Errorf("String = %s, want %s", got, tc.str)
			}
			if got := tc.tok.LookupKey(); got != hex32(tc.lookup) {
				t.Errorf("LookupKey = %x, want %s", got, tc.lookup)
			}
			if got := tc.tok.Ref(); got != tc.ref {
				t.Errorf("Ref = %s, want %s", got, tc.ref)
			}
			if got := tc.tok.IdentitySeed(); got != hex32(tc.seed) {
				t.Errorf("IdentitySeed = %x, want %s", got, tc.seed)
			}
			if got := tc.tok.RetrievalKey(); got != hex32(tc.retrieval) {
				t.Errorf("RetrievalKey = %x, want %s", got, tc.retrieval)
			}
			got, err := ParseToken(tc.str)
			if err != nil || got != tc.tok {
				t.Errorf("ParseToken(%s) = %x, %v", tc.str, got, err)
			}
		})
	}
}

func TestTokenZeroAndAllOnes(t *testing.T) {
	for _, tok := range []Token{{}, func() (t Token) {
		for i := range t {
			t[i] = 0xff
		}
		return t
	}()} {
		s := tok.String()
		if len(s) != 41 {
			t.Errorf("len(%q) = %d, want 41", s, len(s))
		}
		got, err := ParseToken(s)
		if err != nil || got != tok {
			t.Errorf("ParseToken(%q) = %x, %v", s, got, err)
		}
	}
}

func TestNewToken(t *testing.T) {
	a, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	if a == b || a == (Token{}) {
		t.Fatal("NewToken is not random")
	}
	if got, err := ParseToken(a.String()); err != nil || got != a {
		t.Fatalf("round trip: %v", err)
	}
}

func TestParseTokenNormalisation(t *testing.T) {
	const canon = "000G-40R4-0M30-E209-185G-R38E-1W81-24GK-G"
	want := katToken(0)
	tests := []struct {
		name string
		in   string
	}{
		{"canonical", canon},
		{"lower case", strings.ToLower(canon)},
		{"no dashes", strings.ReplaceAll(canon, "-", "")},
		{"spaces", strings.ReplaceAll(canon, "-", " ")},
		{"underscores", strings.ReplaceAll(canon, "-", "_")},
		{"surrounding whitespace", " \t" + canon + "\r\n"},
		{"O for 0", strings.ReplaceAll(canon, "0", "O")},
		{"o for 0", strings.ReplaceAll(canon, "0", "o")},
		{"I for 1", strings.ReplaceAll(canon, "1", "I")},
		{"L for 1", strings.ReplaceAll(canon, "1", "L")},
		{"l for 1", strings.ReplaceAll(canon, "1", "l")},
		{"odd grouping", "000G40R40M30-E209185G-R38E1W8124GKG"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseToken(tc.in)
			if err != nil || got != want {
				t.Errorf("ParseToken(%q) = %x, %v; want %x", tc.in, got, err, want)
			}
		})
	}
}

func TestParseTokenRejects(t *testing.T) {
	const canon = "000G-40R4-0M30-E209-185G-R38E-1W81-24GK-G"
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"dashes only", "----"},
		{"one short", canon[:len(canon)-1]},
		{"one long", canon + "0"},
		{"data only", canon[:len(canon)-2]},
		{"U", "U" + canon[1:]},
		{"crockford check *", canon[:len(canon)-1] + "*"},
		{"punctuation", canon[:len(canon)-1] + "."},
		{"non-ASCII", "０" + canon[1:]},
		{"NUL", canon + "\x00"},
		{"huge", strings.Repeat("0", 10000)},
		{"huge with separators", canon + strings.Repeat("-", 300)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseToken(tc.in); !errors.Is(err, ErrTokenMalformed) {
				t.Errorf("ParseToken(%q) error = %v, want ErrTokenMalformed", tc.in, err)
			}
		})
	}
}

// TestTokenTypos checks the check symbol's guarantees exhaustively over many
// tokens: every single-symbol substitution, every adjacent and every jump
// transposition is ErrTokenMalformed, and the only undetected swaps are the
// two documented position pairs.
func TestTokenTypos(t *testing.T) {
	toks := []Token{{}, katToken(0), katToken(0xff)}
	for range 300 {
		var tok Token
		rand.Read(tok[:])
		toks = append(toks, tok)
	}
	undetectable := map[[2]int]bool{{0, 31}: true, {29, 32}: true}
	for _, tok := range toks {
		s := []byte(strings.ReplaceAll(tok.String(), "-", ""))
		if len(s) != tokenTextLen {
			t.Fatalf("len = %d", len(s))
		}
		for i := range s {
			orig := s[i]
			for j := 0; j < len(crockford); j++ {
				if crockford[j] == orig {
					continue
				}
				s[i] = crockford[j]
				if _, err := ParseToken(string(s)); !errors.Is(err, ErrTokenMalformed) {
					t.Fatalf("substitution at %d in %s not detected", i, s)
				}
			}
			s[i] = orig
		}
		for i := range s {
			for j := i + 1; j < len(s); j++ {
				if s[i] == s[j] {
					continue
				}
				s[i], s[j] = s[j], s[i]
				_, err := ParseToken(string(s))
				s[i], s[j] = s[j], s[i]
				detected := errors.Is(err, ErrTokenMalformed)
				switch {
				case j-i <= 2 && !detected:
					t.Fatalf("transposition of %d and %d in %s not detected", i, j, s)
				case !undetectable[[2]int{i, j}] && !detected:
					t.Fatalf("swap of %d and %d in %s not detected", i, j, s)
				case undetectable[[2]int{i, j}] && detected:
					t.Fatalf("swap of %d and %d detected, so the doc comment is wrong", i, j)
				}
			}
		}
		// Deleting or inserting a symbol changes the length.
		if _, err := ParseToken(string(s[1:])); !errors.Is(err, ErrTokenMalformed) {
			t.Fatal("deletion not detected")
		}
		if _, err := ParseToken("0" + string(s)); !errors.Is(err, ErrTokenMalformed) {
			t.Fatal("insertion not detected")
		}
	}
}

func TestTokenDerivationsDiffer(t *testing.T) {
	tok := katToken(0)
	l, s, r := tok.LookupKey(), tok.IdentitySeed(), tok.RetrievalKey()
	if l == s || l == r || s == r {
		t.Fatal("derivations collide")
	}
	if bytes.Contains(l[:], tok[:8]) {
		t.Fatal("lookup key contains token bytes")
	}
	if !strings.HasPrefix(tok.Ref(), "R-") || len(tok.Ref()) != 10 {
		t.Fatalf("Ref = %q", tok.Ref())
	}
}

func FuzzParseToken(f *testing.F) {
	f.Add("000G-40R4-0M30-E209-185G-R38E-1W81-24GK-G")
	f.Add("zzzf vz7v zbwz hxzp yqtf 7wqh y3qy xvfc 3")
	f.Add("")
	f.Add("U")
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParseToken(s)
		if err != nil {
			if !errors.Is(err, ErrTokenMalformed) {
				t.Fatalf("error %v is not ErrTokenMalformed", err)
			}
			return
		}
		again, err := ParseToken(tok.String())
		if err != nil || again != tok {
			t.Fatalf("%q: re-parse of %s = %x, %v", s, tok, again, err)
		}
	})
}
