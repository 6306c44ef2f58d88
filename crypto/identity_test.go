package crypto

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"filippo.io/age"
	"golang.org/x/crypto/curve25519"
)

// Recipients of the known-answer tokens' order identities. Hybrid recipients
// are 1,959 characters, so they are pinned by prefix and SHA-256.
var identityKATs = []struct {
	tok        Token
	kind       Kind
	recipient  string // prefix for hybrid, whole for X25519
	sha256     string // of the whole recipient string
	secretHead string
}{
	{katToken(0), X25519, "age1vn30qd29yuhme3atqwny62xkjxte6lrkem6t460esdjpd0rv2fgstsdsk5",
		"396663c54c0a114b12c7f125f29701f3431447fe6acdde2763e30f9c5398e0e7", "AGE-SECRET-KEY-1XWRJDZHMRF"},
	{katToken(0), Hybrid, "age1pq1z0qugva5nj6k2lpr79d6yryfjq55zfhcx",
		"38b604ba7de23a193cabafeebd64f0311dfda69e39ed08c1712795a703276f24", "AGE-SECRET-KEY-PQ-1XWRJDZHMRF"},
	{katToken(0xff), X25519, "age1355sh4y3lkkjz7l380zh42yn4pp7njca3qxtn3t3dyfpwnzexuxq2sf90z",
		"3ad4b9da865985c79e69a7a67460dcb933653022e77a3fe09d4a0c1ec412da6e", "AGE-SECRET-KEY-1UD2F2WKJSR"},
	{katToken(0xff), Hybrid, "age1pq1wp7q8srmkh0f29m9yj0x9x9ytnw2ezdyg",
		"363965941cb95c271b1f4384a5c8d670f284a1d1f153fb59bbb73ee378f790eb", "AGE-SECRET-KEY-PQ-1UD2F2WKJSR"},
}

func TestIdentityKnownAnswers(t *testing.T) {
	for _, tc := range identityKATs {
		t.Run(tc.kind.String()+"/"+tc.recipient[:12], func(t *testing.T) {
			id, err := tc.tok.Identity(tc.kind)
			if err != nil {
				t.Fatal(err)
			}
			if id.Kind() != tc.kind {
				t.Errorf("Kind = %v", id.Kind())
			}
			r := id.Recipient()
			if !strings.HasPrefix(r, tc.recipient) {
				t.Errorf("Recipient = %.60s…, want prefix %s", r, tc.recipient)
			}
			if sum := sha256.Sum256([]byte(r)); hex.EncodeToString(sum[:]) != tc.sha256 {
				t.Errorf("Recipient SHA-256 = %x, want %s", sum, tc.sha256)
			}
			if !strings.HasPrefix(id.String(), tc.secretHead) {
				t.Errorf("String has the wrong prefix")
			}
			assertAgeParses(t, id)
		})
	}
}

// assertAgeParses checks the identity's encodings round-trip through age's
// own parsers to the same keys.
func assertAgeParses(t *testing.T, id *Identity) {
	t.Helper()
	switch id.Kind() {
	case X25519:
		a, err := age.ParseX25519Identity(id.String())
		if err != nil {
			t.Fatalf("age.ParseX25519Identity: %v", err)
		}
		if a.String() != id.String() || a.Recipient().String() != id.Recipient() {
			t.Fatal("age disagrees on the X25519 key")
		}
		if _, err := age.ParseX25519Recipient(id.Recipient()); err != nil {
			t.Fatal(err)
		}
	case Hybrid:
		a, err := age.ParseHybridIdentity(id.String())
		if err != nil {
			t.Fatalf("age.ParseHybridIdentity: %v", err)
		}
		if a.String() != id.String() || a.Recipient().String() != id.Recipient() {
			t.Fatal("age disagrees on the hybrid key")
		}
		if _, err := age.ParseHybridRecipient(id.Recipient()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestX25519SeedIsScalar checks independently of age that the seed is used
// as the X25519 scalar, by comparing public keys.
func TestX25519SeedIsScalar(t *testing.T) {
	seed := katToken(0).IdentitySeed()
	id, err := IdentityFromSeed(X25519, seed)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := curve25519.X25519(seed[:], curve25519.Basepoint)
	if err != nil {
		t.Fatal(err)
	}
	if want := bech32Encode("age", pub, false); id.Recipient() != want {
		t.Fatalf("Recipient = %s, want %s", id.Recipient(), want)
	}
}

func TestIdentityFromSeedDeterministic(t *testing.T) {
	for _, kind := range []Kind{Hybrid, X25519} {
		t.Run(kind.String(), func(t *testing.T) {
			var seed [32]byte
			seed[0] = 7
			a, err := IdentityFromSeed(kind, seed)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := IdentityFromSeed(kind, seed)
			if a.String() != b.String() || a.Recipient() != b.Recipient() {
				t.Fatal("not deterministic")
			}
			seed[0] = 8
			c, _ := IdentityFromSeed(kind, seed)
			if c.Recipient() == a.Recipient() {
				t.Fatal("different seeds, same key")
			}
		})
	}
}

func TestNewIdentityAndParse(t *testing.T) {
	for _, kind := range []Kind{Hybrid, X25519} {
		t.Run(kind.String(), func(t *testing.T) {
			id, err := NewIdentity(kind)
			if err != nil {
				t.Fatal(err)
			}
			assertAgeParses(t, id)
			for _, s := range []string{id.String(), " " + id.String() + "\n"} {
				p, err := ParseIdentity(s)
				if err != nil {
					t.Fatal(err)
				}
				if p.Kind() != kind || p.String() != id.String() || p.Recipient() != id.Recipient() {
					t.Fatal("ParseIdentity round trip differs")
				}
			}
			r, err := ParseRecipient(id.Recipient())
			if err != nil {
				t.Fatal(err)
			}
			ct, err := Seal([]byte("x"), r)
			if err != nil {
				t.Fatal(err)
			}
			if pt, err := Open(ct, id.Age()); err != nil || string(pt) != "x" {
				t.Fatalf("Open = %q, %v", pt, err)
			}
		})
	}
}

func TestParseIdentityRejects(t *testing.T) {
	id, _ := NewIdentity(X25519)
	s := id.String()
	last := "Q"
	if s[len(s)-1] == 'Q' {
		last = "P"
	}
	bad := []string{
		"",
		"AGE-SECRET-KEY-1",
		s[:len(s)-1] + last, // checksum
		s[:len(s)-2],        // truncated
		"age1" + s[15:],     // a recipient-ish thing
		"AGE-SECRET-KEY-PQ-" + s[15:],
	}
	for _, in := range bad {
		_, err := ParseIdentity(in)
		if !errors.Is(err, ErrIdentityMalformed) {
			t.Errorf("ParseIdentity(%.20q…) error = %v", in, err)
		}
		if err != nil && strings.Contains(err.Error(), s[16:26]) {
			t.Errorf("error quotes the secret key: %v", err)
		}
	}
	if _, err := IdentityFromSeed(Kind(9), [32]byte{}); !errors.Is(err, ErrUnknownKind) {
		t.Errorf("IdentityFromSeed(9) error = %v", err)
	}
}

func TestParseRecipientRejects(t *testing.T) {
	for _, in := range []string{"", "age", "age1", "age1pq1", "age1qqqq", "ssh-ed25519 AAAA", "AGE1PQ1ZZZ"} {
		if _, err := ParseRecipient(in); err == nil {
			t.Errorf("ParseRecipient(%q) succeeded", in)
		}
	}
}
