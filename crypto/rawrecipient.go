package crypto

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"filippo.io/age"
	"filippo.io/hpke"
)

// Raw recipients: an age recipient stored as its kind byte ([Hybrid] or
// [X25519]) followed by the raw public key (1,216 bytes for hybrid,
// ML-KEM-768 then X25519; 32 for X25519), instead of its ~2 KB Bech32
// string. The Bech32 string is decoded once (RecipientBytes) when the key is
// stored; sealing to the stored key (ParseRecipientBytes) then skips Bech32
// altogether.

// ErrRecipientMalformed is returned for bytes or a string that are not an
// age recipient of a known kind.
var ErrRecipientMalformed = errors.New("crypto: malformed age recipient")

const hybridPublicKeySize = 1184 + 32 // ML-KEM-768 encapsulation key + X25519 point

// RecipientBytes returns the raw form of an age recipient string of either
// kind ("age1pq1…" or "age1…").
func RecipientBytes(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	hrp, data, err := bech32Decode(s)
	if err != nil {
		return nil, ErrRecipientMalformed
	}
	var out []byte
	switch {
	case hrp == "age1pq" && len(data) == hybridPublicKeySize:
		out = append([]byte{byte(Hybrid)}, data...)
	case hrp == "age" && len(data) == 32:
		out = append([]byte{byte(X25519)}, data...)
	default:
		return nil, ErrRecipientMalformed
	}
	if _, err := ParseRecipientBytes(out); err != nil {
		return nil, err
	}
	return out, nil
}

// FormatRecipient returns the age string of a raw recipient.
func FormatRecipient(raw []byte) (string, error) {
	switch {
	case len(raw) == 1+hybridPublicKeySize && raw[0] == byte(Hybrid):
		return bech32Encode("age1pq", raw[1:], false), nil
	case len(raw) == 1+32 && raw[0] == byte(X25519):
		return bech32Encode("age", raw[1:], false), nil
	}
	return "", ErrRecipientMalformed
}

// RecipientKind returns the kind of a raw recipient, 0 if it is none.
func RecipientKind(raw []byte) Kind {
	if len(raw) == 0 {
		return 0
	}
	switch k := Kind(raw[0]); k {
	case Hybrid, X25519:
		return k
	}
	return 0
}

// ParseRecipientBytes returns the age recipient of a raw recipient. A hybrid
// key is parsed straight into an HPKE public key; files sealed to it are
// the same age files age's own HybridRecipient makes (the
// mlkem768x25519 stanza of the age specification), which age's
// HybridIdentity opens.
func ParseRecipientBytes(raw []byte) (age.Recipient, error) {
	switch {
	case len(raw) == 1+hybridPublicKeySize && raw[0] == byte(Hybrid):
		pk, err := hpke.MLKEM768X25519().NewPublicKey(raw[1:])
		if err != nil {
			return nil, ErrRecipientMalformed
		}
		return &hybridRecipient{pk: pk}, nil
	case len(raw) == 1+32 && raw[0] == byte(X25519):
		r, err := age.ParseX25519Recipient(bech32Encode("age", raw[1:], false))
		if err != nil {
			return nil, ErrRecipientMalformed
		}
		return r, nil
	}
	return nil, ErrRecipientMalformed
}

// hybridRecipient wraps a file key in age's mlkem768x25519 stanza: HPKE
// base mode with the ML-KEM-768+X25519 KEM, HKDF-SHA256 and
// ChaCha20-Poly1305, info "age-encryption.org/mlkem768x25519"; the
// encapsulated key is the stanza's one argument (unpadded base64), the
// sealed file key its body. Like age's, it carries the "postquantum" label
// so that it cannot share a file with a classic recipient.
type hybridRecipient struct{ pk hpke.PublicKey }

var _ age.RecipientWithLabels = (*hybridRecipient)(nil)

const hybridStanza, hybridInfo = "mlkem768x25519", "age-encryption.org/mlkem768x25519"

func (r *hybridRecipient) Wrap(fileKey []byte) ([]*age.Stanza, error) {
	s, _, err := r.WrapWithLabels(fileKey)
	return s, err
}

func (r *hybridRecipient) WrapWithLabels(fileKey []byte) ([]*age.Stanza, []string, error) {
	enc, snd, err := hpke.NewSender(r.pk, hpke.HKDFSHA256(), hpke.ChaCha20Poly1305(), []byte(hybridInfo))
	if err != nil {
		return nil, nil, fmt.Errorf("crypto: hybrid wrap: %w", err)
	}
	ct, err := snd.Seal(nil, fileKey)
	if err != nil {
		return nil, nil, fmt.Errorf("crypto: hybrid wrap: %w", err)
	}
	st := &age.Stanza{Type: hybridStanza, Args: []string{base64.RawStdEncoding.EncodeToString(enc)}, Body: ct}
	return []*age.Stanza{st}, []string{"postquantum"}, nil
}

// String returns the recipient's age encoding, "age1pq1…".
func (r *hybridRecipient) String() string { return bech32Encode("age1pq", r.pk.Bytes(), false) }

// hybridIdentity unwraps age's mlkem768x25519 stanzas (see hybridRecipient)
// with a key pair built from its 32-byte seed: the same identity as age's
// HybridIdentity for that seed, without a Bech32 round trip to build it.
type hybridIdentity struct {
	k    hpke.PrivateKey
	seed [32]byte
}

var _ age.Identity = (*hybridIdentity)(nil)

// hybridFileKeyBody is a sealed file key: 16 bytes and the AEAD's tag.
const hybridFileKeyBody = 16 + 16

// Unwrap returns the file key of the first mlkem768x25519 stanza that opens
// with this key, age.ErrIncorrectIdentity when none does, and an error for
// a malformed one of ours.
func (i *hybridIdentity) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	for _, st := range stanzas {
		if st.Type != hybridStanza {
			continue
		}
		if len(st.Args) != 1 || len(st.Body) != hybridFileKeyBody {
			return nil, errors.New("crypto: malformed mlkem768x25519 stanza")
		}
		enc, err := base64.RawStdEncoding.Strict().DecodeString(st.Args[0])
		if err != nil {
			return nil, errors.New("crypto: malformed mlkem768x25519 stanza")
		}
		rcv, err := hpke.NewRecipient(enc, i.k, hpke.HKDFSHA256(), hpke.ChaCha20Poly1305(), []byte(hybridInfo))
		if err != nil {
			return nil, errors.New("crypto: malformed mlkem768x25519 stanza")
		}
		// ML-KEM rejects implicitly: another key's stanza decapsulates to
		// a wrong secret and fails here, so go on to the next stanza.
		if fileKey, err := rcv.Open(nil, st.Body); err == nil {
			return fileKey, nil
		}
	}
	return nil, age.ErrIncorrectIdentity
}

// String returns the secret key in age's encoding, "AGE-SECRET-KEY-PQ-1…".
func (i *hybridIdentity) String() string { return bech32Encode("AGE-SECRET-KEY-PQ-", i.seed[:], true) }

// bech32Decode decodes a lower-case Bech32 string of any length (age's
// hybrid keys are far longer than BIP 173 allows), checking its checksum.
func bech32Decode(s string) (string, []byte, error) {
	if s != strings.ToLower(s) {
		return "", nil, errors.New("bech32: not lower case")
	}
	pos := strings.LastIndexByte(s, '1')
	if pos < 1 || pos+7 > len(s) {
		return "", nil, errors.New("bech32: bad separator")
	}
	hrp := s[:pos]
	values := make([]byte, 0, 2*len(hrp)+1+len(s)-pos-1)
	for i := 0; i < len(hrp); i++ {
		if hrp[i] < 33 || hrp[i] > 126 {
			return "", nil, errors.New("bech32: bad prefix")
		}
		values = append(values, hrp[i]>>5)
	}
	values = append(values, 0)
	for i := 0; i < len(hrp); i++ {
		values = append(values, hrp[i]&31)
	}
	start := len(values)
	for i := pos + 1; i < len(s); i++ {
		v := strings.IndexByte(bech32Charset, s[i])
		if v < 0 {
			return "", nil, errors.New("bech32: bad character")
		}
		values = append(values, byte(v))
	}
	if bech32Polymod(values) != 1 {
		return "", nil, errors.New("bech32: bad checksum")
	}
	data := values[start : len(values)-6]
	out := make([]byte, 0, len(data)*5/8)
	var acc uint32
	var bits uint
	for _, v := range data {
		acc = acc<<5 | uint32(v)
		bits += 5
		if bits >= 8 {
			bits -= 8
			out = append(out, byte(acc>>bits))
		}
	}
	if bits >= 5 || acc&(1<<bits-1) != 0 {
		return "", nil, errors.New("bech32: bad padding")
	}
	return hrp, out, nil
}
