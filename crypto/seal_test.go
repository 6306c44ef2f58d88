package crypto

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"filippo.io/age"
)

func mustIdentity(t testing.TB, kind Kind) *Identity {
	t.Helper()
	id, err := NewIdentity(kind)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestSealOpen(t *testing.T) {
	sizes := []int{0, 1, 100, 64 << 10, 64<<10 + 1, 1 << 20}
	for _, kind := range []Kind{Hybrid, X25519} {
		a, b, other := mustIdentity(t, kind), mustIdentity(t, kind), mustIdentity(t, kind)
		for _, n := range sizes {
			pt := bytes.Repeat([]byte{'k'}, n)
			ct, err := Seal(pt, a.AgeRecipient(), b.AgeRecipient())
			if err != nil {
				t.Fatalf("%v/%d: %v", kind, n, err)
			}
			if n >= 16 && bytes.Contains(ct, pt[:16]) {
				t.Fatalf("%v/%d: plaintext visible in ciphertext", kind, n)
			}
			for _, id := range []*Identity{a, b} {
				got, err := Open(ct, other.Age(), id.Age())
				if err != nil || !bytes.Equal(got, pt) {
					t.Fatalf("%v/%d: Open = %d bytes, %v", kind, n, len(got), err)
				}
			}
			if _, err := Open(ct, other.Age()); !errors.Is(err, ErrWrongIdentity) {
				t.Fatalf("%v/%d: wrong identity error = %v", kind, n, err)
			}
		}
	}
}

func TestSealRefusesMixedKinds(t *testing.T) {
	h, x := mustIdentity(t, Hybrid), mustIdentity(t, X25519)
	if _, err := Seal([]byte("x"), h.AgeRecipient(), x.AgeRecipient()); err == nil {
		t.Fatal("mixing hybrid and X25519 recipients succeeded")
	}
	if _, err := Seal([]byte("x")); err == nil {
		t.Fatal("Seal with no recipients succeeded")
	}
}

func TestOpenTampered(t *testing.T) {
	id := mustIdentity(t, X25519)
	ct, err := Seal([]byte("licence key"), id.AgeRecipient())
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{len(ct) - 1, len(ct) - 20, len(ct) / 2} {
		bad := bytes.Clone(ct)
		bad[i] ^= 1
		if _, err := Open(bad, id.Age()); err == nil {
			t.Errorf("flipped byte %d: Open succeeded", i)
		}
	}
	if _, err := Open(ct[:len(ct)-1], id.Age()); err == nil {
		t.Error("truncated: Open succeeded")
	}
	if _, err := Open([]byte("not age"), id.Age()); err == nil {
		t.Error("garbage: Open succeeded")
	}
}

func TestOpenTooLarge(t *testing.T) {
	id := mustIdentity(t, X25519)
	ct, err := Seal(make([]byte, MaxPlaintextSize+1), id.AgeRecipient())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ct, id.Age()); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("error = %v, want ErrTooLarge", err)
	}
}

func TestSymmetricRecipient(t *testing.T) {
	tok := katToken(0)
	key := tok.RetrievalKey()
	pt := []byte("ABCD-EFGH-IJKL")
	ct, err := Seal(pt, NewSymmetricRecipient(key))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(ct, []byte("\n-> veil-token ")) {
		t.Fatal("no veil-token stanza")
	}
	got, err := Open(ct, NewSymmetricIdentity(key))
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("Open = %q, %v", got, err)
	}

	wrong := katToken(1).RetrievalKey()
	if _, err := Open(ct, NewSymmetricIdentity(wrong)); !errors.Is(err, ErrWrongIdentity) {
		t.Fatalf("wrong key: error = %v, want ErrWrongIdentity", err)
	}
	// Also still a valid age file for age.Decrypt.
	if _, err := age.Decrypt(bytes.NewReader(ct), NewSymmetricIdentity(key)); err != nil {
		t.Fatal(err)
	}
}

func TestSymmetricWithHybrid(t *testing.T) {
	tok := katToken(0)
	order, err := tok.Identity(Hybrid)
	if err != nil {
		t.Fatal(err)
	}
	key := tok.RetrievalKey()
	ct, err := Seal([]byte("k"), order.AgeRecipient(), NewSymmetricRecipient(key))
	if err != nil {
		t.Fatalf("post-quantum recipients should mix: %v", err)
	}
	for _, id := range []age.Identity{order.Age(), NewSymmetricIdentity(key)} {
		if got, err := Open(ct, id); err != nil || string(got) != "k" {
			t.Fatalf("Open = %q, %v", got, err)
		}
	}
	// The symmetric identity skips the hybrid stanza, and vice versa.
	if _, err := Open(ct, mustIdentity(t, Hybrid).Age()); !errors.Is(err, ErrWrongIdentity) {
		t.Fatalf("error = %v", err)
	}
	x := mustIdentity(t, X25519)
	if _, err := Seal([]byte("k"), x.AgeRecipient(), NewSymmetricRecipient(key)); err == nil {
		t.Fatal("symmetric recipient mixed with X25519")
	}
}

func TestSymmetricMalformedStanza(t *testing.T) {
	key := katToken(0).RetrievalKey()
	id := NewSymmetricIdentity(key)
	good, err := NewSymmetricRecipient(key).Wrap(make([]byte, 16))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		s    age.Stanza
	}{
		{"no args", age.Stanza{Type: "veil-token", Body: good[0].Body}},
		{"bad salt", age.Stanza{Type: "veil-token", Args: []string{"!!"}, Body: good[0].Body}},
		{"short salt", age.Stanza{Type: "veil-token", Args: []string{"AAAA"}, Body: good[0].Body}},
		{"short body", age.Stanza{Type: "veil-token", Args: good[0].Args, Body: good[0].Body[:31]}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := id.Unwrap([]*age.Stanza{&tc.s}); err == nil || errors.Is(err, age.ErrIncorrectIdentity) {
				t.Fatalf("error = %v, want a malformed-stanza error", err)
			}
		})
	}
	if fk, err := id.Unwrap(good); err != nil || len(fk) != 16 {
		t.Fatalf("good stanza: %v", err)
	}
	if !strings.Contains(good[0].Type, "veil") {
		t.Fatal("type")
	}
}
