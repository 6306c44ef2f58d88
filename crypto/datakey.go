package crypto

import (
	"crypto/rand"
	"errors"
	"fmt"

	"filippo.io/age"
	"golang.org/x/crypto/chacha20poly1305"
)

// DataKey is a 32-byte symmetric key for envelope encryption of inventory.
//
// Sealing each of 100,000 imported licence keys to a public recipient would
// cost one KEM operation and ~1.5 KiB per key. Instead an import makes one
// DataKey, stores it sealed to the inventory recipient with [DataKey.Seal],
// and encrypts every item with [DataKey.SealItem] — an AEAD call of about a
// microsecond and 41 bytes of overhead. A DataKey must not be copied; pass
// the pointer.
type DataKey struct {
	k     [chacha20poly1305.KeySize]byte
	wiped bool
}

// ErrDataKeyWiped is returned when a wiped [DataKey] is used.
var ErrDataKeyWiped = errors.New("crypto: data key wiped")

// ErrItemOpen is returned by [DataKey.OpenItem] when a ciphertext does not
// authenticate: wrong data key, wrong item ID, or altered bytes.
var ErrItemOpen = errors.New("crypto: item does not authenticate")

// itemVersion prefixes every item ciphertext so the format can change later.
const itemVersion = 1

// NewDataKey returns a fresh random data key.
func NewDataKey() (*DataKey, error) {
	dk := new(DataKey)
	if _, err := rand.Read(dk.k[:]); err != nil {
		return nil, err
	}
	return dk, nil
}

// Seal returns the data key sealed to r as an age file, for storage next to
// the items it encrypts.
func (dk *DataKey) Seal(r age.Recipient) ([]byte, error) {
	if dk.wiped {
		return nil, ErrDataKeyWiped
	}
	return Seal(dk.k[:], r)
}

// OpenDataKey opens a data key sealed with [DataKey.Seal].
func OpenDataKey(sealed []byte, id age.Identity) (*DataKey, error) {
	pt, err := Open(sealed, id)
	if err != nil {
		return nil, fmt.Errorf("crypto: open data key: %w", err)
	}
	defer clear(pt)
	if len(pt) != chacha20poly1305.KeySize {
		return nil, errors.New("crypto: open data key: wrong length")
	}
	dk := new(DataKey)
	copy(dk.k[:], pt)
	return dk, nil
}

// SealItem encrypts one item with XChaCha20-Poly1305 and returns
// version(1) || nonce(24) || ciphertext || tag(16).
//
// The nonce is 24 fresh random bytes. At 192 bits, random nonces never
// realistically collide: after n items under one key the chance is about
// n²/2^193, below 2^-120 even for 2^36 items. That spares us a counter, which
// would have to survive restarts and concurrent imports without ever
// repeating. (With ChaCha20-Poly1305's 96-bit nonce, random nonces would be
// uncomfortable past about 2^32 items.)
//
// itemID is the additional data: the ciphertext authenticates only under its
// own ID, so swapping ciphertexts between items in the store is detected.
func (dk *DataKey) SealItem(itemID string, plaintext []byte) ([]byte, error) {
	if dk.wiped {
		return nil, ErrDataKeyWiped
	}
	aead, err := chacha20poly1305.NewX(dk.k[:])
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+chacha20poly1305.NonceSizeX, 1+chacha20poly1305.NonceSizeX+len(plaintext)+aead.Overhead())
	out[0] = itemVersion
	nonce := out[1:]
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(out, nonce, plaintext, []byte(itemID)), nil
}

// OpenItem decrypts a ciphertext from [DataKey.SealItem] made for the same
// itemID. Any mismatch is [ErrItemOpen].
func (dk *DataKey) OpenItem(itemID string, ciphertext []byte) ([]byte, error) {
	if dk.wiped {
		return nil, ErrDataKeyWiped
	}
	const hdr = 1 + chacha20poly1305.NonceSizeX
	if len(ciphertext) < hdr+chacha20poly1305.Overhead || ciphertext[0] != itemVersion {
		return nil, ErrItemOpen
	}
	aead, err := chacha20poly1305.NewX(dk.k[:])
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(nil, ciphertext[1:hdr], ciphertext[hdr:], []byte(itemID))
	if err != nil {
		return nil, ErrItemOpen
	}
	return pt, nil
}

// Wipe zeroes the key bytes; the DataKey is unusable afterwards. It is best
// effort: Go may have copied the key elsewhere (AEAD instances, the sealed
// form's plaintext buffer, a moved stack).
func (dk *DataKey) Wipe() {
	clear(dk.k[:])
	dk.wiped = true
}

// String redacts the key, so printing a DataKey does not leak it.
func (dk *DataKey) String() string { return "crypto.DataKey[redacted]" }
