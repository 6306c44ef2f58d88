package crypto

import (
	"crypto/hkdf"
	"crypto/sha256"
)

// labelResellerSecret derives reseller API secrets from the vault (see
// [Vault.ResellerSecret]).
const labelResellerSecret = "veil/v1/reseller-secret/"

// ResellerSecret returns the 32-byte API secret of the reseller key keyID:
// HKDF-SHA256 with the vault's FingerprintKey as input key material, salt as
// the salt and "veil/v1/reseller-secret/"+keyID as the label.
//
// Why derive rather than store: the server must hold the secret itself to
// check a request's HMAC, so a stored hash would not do, and a secret kept in
// the store would let whoever copies the data directory sign requests. The
// derived secret is never stored: the store keeps keyID and the random salt,
// and only an unlocked vault turns them back into the secret. A new salt
// replaces the secret (the old one stops working at once). The label is
// distinct from every other use of FingerprintKey (an HMAC over a normalised
// licence key, which never starts with this label's bytes as HKDF input), so
// neither output tells anything about the other.
func (v *Vault) ResellerSecret(keyID string, salt []byte) [32]byte {
	k, err := hkdf.Key(sha256.New, v.FingerprintKey[:], salt, labelResellerSecret+keyID, 32)
	if err != nil {
		panic("crypto: hkdf: " + err.Error())
	}
	var out [32]byte
	copy(out[:], k)
	return out
}

// labelUpstream keys the sealing of upstream credentials (see
// [Vault.UpstreamKey]).
const labelUpstream = "veil/v1/upstream-credentials"

// UpstreamKey returns the symmetric key that seals a downstream shop's
// credentials at its upstream suppliers (their API secret, the age identity
// their keys are sealed to): HKDF-SHA256 of the vault's FingerprintKey with
// its own label. Derived from the one vault secret that never rotates, so
// the sealed credentials outlive a rotation of the inventory identity, and
// only an unlocked vault opens them.
func (v *Vault) UpstreamKey() [32]byte {
	k, err := hkdf.Key(sha256.New, v.FingerprintKey[:], nil, labelUpstream, 32)
	if err != nil {
		panic("crypto: hkdf: " + err.Error())
	}
	var out [32]byte
	copy(out[:], k)
	return out
}
