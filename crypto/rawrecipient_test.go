package crypto

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	"filippo.io/age"
)

// TestRawRecipient: the raw form of a recipient of either kind formats back
// to the same string, and what is sealed to the parsed raw form opens with
// the identity (TestHybridIdentityFromSeedIsAges checks it against age's own).
func TestRawRecipient(t *testing.T) {
	for _, kind := range []Kind{Hybrid, X25519} {
		id, err := NewIdentity(kind)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := RecipientBytes(id.Recipient())
		if err != nil {
			t.Fatalf("%v: %v", kind, err)
		}
		if RecipientKind(raw) != kind {
			t.Fatalf("%v: kind %v", kind, RecipientKind(raw))
		}
		s, err := FormatRecipient(raw)
		if err != nil || s != id.Recipient() {
			t.Fatalf("%v: format = %q, %v", kind, s, err)
		}
		r, err := ParseRecipientBytes(raw)
		if err != nil {
			t.Fatal(err)
		}
		sealed, err := Seal([]byte("KEY-1234"), r)
		if err != nil {
			t.Fatal(err)
		}
		pt, err := Open(sealed, id.Age())
		if err != nil || !bytes.Equal(pt, []byte("KEY-1234")) {
			t.Fatalf("%v: open = %q, %v", kind, pt, err)
		}
		// A hybrid recipient may not share a file with a classic one.
		if kind == Hybrid {
			x, _ := NewIdentity(X25519)
			if _, err := Seal([]byte("x"), r, x.AgeRecipient()); err == nil {
				t.Fatal("hybrid and X25519 recipients mixed in one file")
			}
		}
	}
}

// TestRawRecipientMalformed: damaged strings and bytes are refused.
func TestRawRecipientMalformed(t *testing.T) {
	id, _ := NewIdentity(Hybrid)
	s := id.Recipient()
	bad := []string{"", "age1", s[:len(s)-1] + "q", s[:100], "AGE1PQ1" + s[7:], "age1xyz"}
	for _, b := range bad {
		if _, err := RecipientBytes(b); err == nil {
			t.Fatalf("RecipientBytes accepted %.20q…", b)
		}
	}
	raw, _ := RecipientBytes(s)
	for _, b := range [][]byte{nil, {1}, raw[:100], append([]byte{2}, raw[1:]...), append([]byte{9}, raw[1:]...)} {
		if _, err := ParseRecipientBytes(b); err == nil {
			t.Fatalf("ParseRecipientBytes accepted %d bytes", len(b))
		}
		if _, err := FormatRecipient(b); err == nil {
			t.Fatalf("FormatRecipient accepted %d bytes", len(b))
		}
	}
}

// FuzzRecipientBytes: never panics; whatever it accepts formats back to
// the input and parses.
func FuzzRecipientBytes(f *testing.F) {
	for _, k := range []Kind{Hybrid, X25519} {
		id, _ := NewIdentity(k)
		f.Add(id.Recipient())
	}
	f.Add("age1")
	f.Add("age1qqqqqqqq")
	f.Fuzz(func(t *testing.T, s string) {
		raw, err := RecipientBytes(s)
		if err != nil {
			return
		}
		back, err := FormatRecipient(raw)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseRecipient(back); err != nil {
			t.Fatalf("accepted %q, age refuses %q: %v", s, back, err)
		}
	})
}

// TestHybridIdentityFromSeedIsAges: the hybrid identity built from a seed
// without age's parser is age's identity for that seed — the same secret
// and recipient strings, and files sealed by either side open on the other;
// a file for another key is age.ErrIncorrectIdentity, and a file with
// another recipient's stanza first still opens.
func TestHybridIdentityFromSeedIsAges(t *testing.T) {
	for range 3 {
		var seed [32]byte
		if _, err := rand.Read(seed[:]); err != nil {
			t.Fatal(err)
		}
		ours, err := IdentityFromSeed(Hybrid, seed)
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := age.ParseHybridIdentity(bech32Encode("AGE-SECRET-KEY-PQ-", seed[:], true))
		if err != nil {
			t.Fatal(err)
		}
		if ours.String() != theirs.String() || ours.Recipient() != theirs.Recipient().String() {
			t.Fatal("the seed gives another key than age's")
		}
		raw, err := RecipientBytes(theirs.Recipient().String())
		if err != nil || !bytes.Equal(raw, ours.RecipientBytes()) {
			t.Fatalf("raw recipient differs from age's: %v", err)
		}
		for _, c := range []struct {
			name string
			to   age.Recipient
			open age.Identity
		}{{"ours → age", ours.AgeRecipient(), theirs}, {"age → ours", theirs.Recipient(), ours.Age()}} {
			sealed, err := Seal([]byte("KEY-PQ"), c.to)
			if err != nil {
				t.Fatal(err)
			}
			if pt, err := Open(sealed, c.open); err != nil || string(pt) != "KEY-PQ" {
				t.Fatalf("%s: %q, %v", c.name, pt, err)
			}
		}
		other, _ := NewIdentity(Hybrid)
		sealed, err := Seal([]byte("KEY-PQ"), other.AgeRecipient())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := age.Decrypt(bytes.NewReader(sealed), ours.Age()); !errors.As(err, new(*age.NoIdentityMatchError)) {
			t.Fatalf("another key's file: %v", err)
		}
		both, err := Seal([]byte("KEY-PQ"), other.AgeRecipient(), ours.AgeRecipient())
		if err != nil {
			t.Fatal(err)
		}
		if pt, err := Open(both, ours.Age()); err != nil || string(pt) != "KEY-PQ" {
			t.Fatalf("second stanza: %q, %v", pt, err)
		}
	}
}
