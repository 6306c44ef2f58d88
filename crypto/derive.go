package crypto

import (
	"crypto/hkdf"
	"crypto/sha256"
)

// Every value derived from a token comes from HKDF-SHA256 with the token as
// input key material, no salt (the token is already uniformly random, so
// HKDF-Extract only needs to condense it) and one versioned label per use.
// Distinct labels make the outputs independent: knowing one (the stored
// lookup key, the shown reference, the stored recipient) reveals nothing about
// the token or the others.
const (
	labelLookup    = "veil/v1/lookup"
	labelRef       = "veil/v1/ref"
	labelIdentity  = "veil/v1/order-identity"
	labelRetrieval = "veil/v1/retrieval"
)

func (t Token) derive(label string, n int) []byte {
	// hkdf.Key only fails for lengths beyond 255 hash blocks or, in FIPS mode,
	// for inputs under 112 bits; neither applies here.
	k, err := hkdf.Key(sha256.New, t[:], nil, label, n)
	if err != nil {
		panic("crypto: hkdf: " + err.Error())
	}
	return k
}

func (t Token) derive32(label string) (k [32]byte) {
	copy(k[:], t.derive(label, 32))
	return k
}

// LookupKey returns the key under which the order record is stored. It is the
// only token-derived value kept in the store; it cannot be turned back into
// the token.
func (t Token) LookupKey() [32]byte { return t.derive32(labelLookup) }

// Ref returns the public order reference, "R-" followed by 8 Crockford
// symbols (40 bits). It is safe to show to staff and to log, and grants
// nothing. At 40 bits two orders share a reference with probability about
// n²/2^41, so it is a label for humans, not a unique key.
func (t Token) Ref() string {
	k := t.derive(labelRef, 5)
	var acc uint64
	for _, b := range k {
		acc = acc<<8 | uint64(b)
	}
	b := []byte("R-00000000")
	for i := range 8 {
		b[2+i] = crockford[(acc>>(35-5*i))&31]
	}
	return string(b)
}

// IdentitySeed returns the 32-byte seed of the order's age identity. The
// server stores the matching recipient and forgets the seed.
func (t Token) IdentitySeed() [32]byte { return t.derive32(labelIdentity) }

// Identity returns the order's age identity, IdentityFromSeed(kind,
// t.IdentitySeed()). The kind must match the one whose recipient was stored.
func (t Token) Identity(kind Kind) (*Identity, error) {
	return IdentityFromSeed(kind, t.IdentitySeed())
}

// RetrievalKey returns the key of the order's symmetric recipient (see
// [NewSymmetricRecipient]), used to re-seal a delivered payload on first
// retrieval so later retrievals skip the public-key decryption.
func (t Token) RetrievalKey() [32]byte { return t.derive32(labelRetrieval) }
