package crypto

import (
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
)

// labelNotify derives the seed of the notifications identity from the
// vault's fingerprint key.
const labelNotify = "veil/v1/notify-secrets"

// NotifyIdentity returns the identity that seals the merchant's
// notification secrets (a Telegram bot token, a webhook signing secret):
// [IdentityFromSeed] of kind with HKDF-SHA256(FingerprintKey, no salt,
// "veil/v1/notify-secrets") as the seed. Store its recipient in the clear so
// that a new secret can be sealed while the vault is locked; only an
// unlocked vault opens them.
//
// Derived rather than stored: the vault file keeps its layout, and the
// fingerprint key is the one vault secret that is never rotated (every
// stored fingerprint depends on it), so sealed notification secrets outlive
// a rotation of the inventory or support identity. The distinct HKDF label
// makes the seed independent of the fingerprints the key also makes.
func (v *Vault) NotifyIdentity(kind Kind) (*Identity, error) {
	k, err := hkdf.Key(sha256.New, v.FingerprintKey[:], nil, labelNotify, 32)
	if err != nil {
		return nil, fmt.Errorf("crypto: notify identity: %w", err)
	}
	var seed [32]byte
	copy(seed[:], k)
	clear(k)
	return IdentityFromSeed(kind, seed)
}
