package crypto

import (
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"filippo.io/age"
	"filippo.io/hpke"
)

// Kind selects the age key type of an [Identity].
type Kind uint8

const (
	// Hybrid is age's post-quantum hybrid key (age v1.3): ML-KEM-768 combined
	// with X25519 through HPKE. Recipients read "age1pq1…", identities
	// "AGE-SECRET-KEY-PQ-1…". Its files stay confidential even against a
	// future quantum computer, which matters for keys sold today.
	Hybrid Kind = 1
	// X25519 is age's classic key: "age1…" / "AGE-SECRET-KEY-1…". Smaller
	// and faster, but not post-quantum.
	X25519 Kind = 2
)

// DefaultKind is the kind used for new order, inventory, support and backup
// identities.
//
// Hybrid, because the benchmarks show its cost does not matter for veil. On
// the 2-vCPU development VM (go test -bench, noisy), hybrid versus X25519:
// IdentityFromSeed ~0.2 ms vs ~0.15 ms, Seal ~0.25–0.3 ms vs ~0.25–0.35 ms,
// Open ~0.25–0.35 ms vs ~0.2 ms. ML-KEM-768 is about as fast as the X25519
// half it is paired with, so the hybrid premium is well under 2x, paid once
// per order identity, per delivery and per first retrieval — far below
// network and storage costs. Bulk imports pay one age operation per
// [DataKey], not per key, and repeat retrievals use the symmetric recipient.
// The real price is size: a hybrid recipient string is 1,959 characters and a
// hybrid stanza adds about 1.5 KiB to every sealed file (1,688 vs 229 bytes
// for a licence key), acceptable for our records. In exchange, everything
// sealed today stays secret against "harvest now, decrypt later".
const DefaultKind = Hybrid

// String returns "hybrid" or "x25519".
func (k Kind) String() string {
	switch k {
	case Hybrid:
		return "hybrid"
	case X25519:
		return "x25519"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// ErrUnknownKind is returned for a [Kind] other than [Hybrid] and [X25519].
var ErrUnknownKind = errors.New("crypto: unknown key kind")

// ErrIdentityMalformed is returned by [ParseIdentity]. It deliberately carries
// no detail from the parser, which could quote part of a secret key.
var ErrIdentityMalformed = errors.New("crypto: malformed age identity")

// Identity is an age secret key of either [Kind], with its recipient.
// Its String method returns the secret key; treat it as a secret.
type Identity struct {
	kind      Kind
	id        age.Identity
	rcpt      age.Recipient
	secret    func() string
	recipient func() string
	raw       func() []byte
}

// NewIdentity returns a fresh random identity of the given kind.
func NewIdentity(kind Kind) (*Identity, error) {
	// Both age key types are a uniformly random 32-byte string: a Curve25519
	// scalar, or the seed that ML-KEM-768+X25519 expands with SHAKE256.
	var seed [32]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, err
	}
	return IdentityFromSeed(kind, seed)
}

// IdentityFromSeed returns the identity whose 32-byte secret is seed. The same
// seed always gives the same identity; this is how an order identity is
// rebuilt from its token (see [Token.Identity]).
//
// The seed is encoded exactly as age encodes its own secret keys and parsed
// with age's parser, so the result is an ordinary age key that age's tools
// accept.
func IdentityFromSeed(kind Kind, seed [32]byte) (*Identity, error) {
	switch kind {
	case Hybrid:
		// The key pair straight from the seed, without age's Bech32 round
		// trip: an order identity is built at every placement and first
		// retrieval, and its raw public key is what the order stores
		// (RecipientBytes). The files are age's mlkem768x25519 stanzas
		// either way (hybridRecipient, hybridIdentity).
		k, err := hpke.MLKEM768X25519().NewPrivateKey(seed[:])
		if err != nil {
			return nil, fmt.Errorf("crypto: hybrid identity from seed: %w", err)
		}
		return newIdentity(Hybrid, &hybridIdentity{k: k, seed: seed}, &hybridRecipient{pk: k.PublicKey()}), nil
	case X25519:
		id, err := age.ParseX25519Identity(bech32Encode("AGE-SECRET-KEY-", seed[:], true))
		if err != nil {
			return nil, fmt.Errorf("crypto: x25519 identity from seed: %w", err)
		}
		return newIdentity(X25519, id, id.Recipient()), nil
	}
	return nil, ErrUnknownKind
}

type ageKey interface {
	age.Identity
	String() string
}

type ageRecipient interface {
	age.Recipient
	String() string
}

func newIdentity(kind Kind, id ageKey, r ageRecipient) *Identity {
	i := &Identity{
		kind: kind,
		id:   id,
		rcpt: r,
		// A hybrid recipient string is ~2 KB of Bech32; build it only if
		// asked, since opening a file does not need it.
		secret:    id.String,
		recipient: sync.OnceValue(r.String),
	}
	i.raw = sync.OnceValue(func() []byte {
		if h, ok := r.(*hybridRecipient); ok {
			return append([]byte{byte(Hybrid)}, h.pk.Bytes()...)
		}
		raw, _ := RecipientBytes(i.recipient()) // X25519: 62 characters
		return raw
	})
	return i
}

// ParseIdentity parses an age secret key of either kind ("AGE-SECRET-KEY-1…"
// or "AGE-SECRET-KEY-PQ-1…"), ignoring surrounding whitespace. Any failure is
// [ErrIdentityMalformed].
func ParseIdentity(s string) (*Identity, error) {
	s = strings.TrimSpace(s)
	u := strings.ToUpper(s)
	switch {
	case strings.HasPrefix(u, "AGE-SECRET-KEY-PQ-1"):
		id, err := age.ParseHybridIdentity(s)
		if err != nil {
			return nil, ErrIdentityMalformed
		}
		return newIdentity(Hybrid, id, id.Recipient()), nil
	case strings.HasPrefix(u, "AGE-SECRET-KEY-1"):
		id, err := age.ParseX25519Identity(s)
		if err != nil {
			return nil, ErrIdentityMalformed
		}
		return newIdentity(X25519, id, id.Recipient()), nil
	}
	return nil, ErrIdentityMalformed
}

// Kind returns the key type of i.
func (i *Identity) Kind() Kind { return i.kind }

// String returns the secret key in age's encoding, "AGE-SECRET-KEY-…".
// It is a secret: store it only sealed (see [Vault]).
func (i *Identity) String() string { return i.secret() }

// LogValue implements [slog.LogValuer]: a logged identity shows only its kind.
func (i *Identity) LogValue() slog.Value {
	return slog.StringValue("[" + i.kind.String() + " identity redacted]")
}

// Recipient returns the public key in age's encoding, "age1…" or "age1pq1…".
// It is safe to store and show.
func (i *Identity) Recipient() string { return i.recipient() }

// RecipientBytes returns the public key in the raw form [ParseRecipientBytes]
// reads (a kind byte, then the key), without building its Bech32 string.
// The caller must not modify it.
func (i *Identity) RecipientBytes() []byte { return i.raw() }

// Age returns i as an age.Identity, for [Open] or age.Decrypt.
func (i *Identity) Age() age.Identity { return i.id }

// AgeRecipient returns the public key of i as an age.Recipient, for [Seal].
func (i *Identity) AgeRecipient() age.Recipient { return i.rcpt }

// ParseRecipient parses an age recipient of either kind, "age1pq1…" (hybrid)
// or "age1…" (X25519), ignoring surrounding whitespace.
func ParseRecipient(s string) (age.Recipient, error) {
	s = strings.TrimSpace(s)
	var (
		r   age.Recipient
		err error
	)
	switch {
	case strings.HasPrefix(s, "age1pq1"):
		r, err = age.ParseHybridRecipient(s)
	case strings.HasPrefix(s, "age1"):
		r, err = age.ParseX25519Recipient(s)
	default:
		err = errors.New("not an age recipient")
	}
	if err != nil {
		return nil, fmt.Errorf("crypto: parse recipient: %w", err)
	}
	return r, nil
}
