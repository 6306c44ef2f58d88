package crypto

import (
	"crypto/rand"
	"encoding/base32"
)

// idEncoding is lower-case Crockford base32 without padding: case-safe in
// URLs and file names and free of the confusables I, L, O, U.
var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// RandomID returns prefix followed by nbytes crypto/rand bytes in lower-case
// Crockford base32, for record IDs: RandomID("itm_", 16) gives "itm_" and 26
// symbols. nbytes below 1 means 16 (128 bits, enough never to collide).
func RandomID(prefix string, nbytes int) string {
	if nbytes < 1 {
		nbytes = 16
	}
	b := make([]byte, nbytes)
	// crypto/rand.Read never returns an error as of Go 1.24: it crashes the
	// program rather than return predictable bytes.
	_, _ = rand.Read(b)
	return prefix + idEncoding.EncodeToString(b)
}
