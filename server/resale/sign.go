// Package resale is veil's reseller API (对接): the request signatures
// shared by the server and the client, the server's handler for
// /api/v1/reseller/…, a Go client, and the approvals that manage reseller
// accounts. The domain (accounts, balances, orders) is server/shop's.
//
// A request is signed with HMAC-SHA256 under the account's API secret over
// a canonical string (see [Canonical]); the signature, key id, timestamp
// and nonce travel in headers. Server/API.md documents it with a worked
// example that TestSignatureWorkedExample checks.
package resale

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Header names of a signed request.
const (
	HeaderKey         = "X-Veil-Key"       // the account's key id (rk_…)
	HeaderTimestamp   = "X-Veil-Timestamp" // Unix seconds, decimal
	HeaderNonce       = "X-Veil-Nonce"     // 16–64 of A–Z a–z 0–9 _ -, never reused
	HeaderSignature   = "X-Veil-Signature" // lowercase hex HMAC-SHA256
	HeaderIdempotency = "Idempotency-Key"  // 1–128 printable ASCII, every POST
	// HeaderReplayed is set on an answer that repeats the first answer to
	// an Idempotency-Key.
	HeaderReplayed = "Idempotent-Replayed"
)

// Window is how far a request's timestamp may be from the server's clock.
const Window = 5 * time.Minute

// Scheme starts every canonical string (and versions it).
const Scheme = "VEIL-HMAC-SHA256"

var (
	nonceRE = regexp.MustCompile(`^[A-Za-z0-9_-]{16,64}$`)
	idemRE  = regexp.MustCompile(`^[\x21-\x7e]{1,128}$`)
)

// Canonical is the string a request's signature covers, seven lines joined
// by "\n" (no trailing newline):
//
//	VEIL-HMAC-SHA256
//	<method, upper case>
//	<path with its query, exactly as sent: URL.RequestURI()>
//	<timestamp>
//	<nonce>
//	<Idempotency-Key, or empty>
//	<lowercase hex SHA-256 of the body (of nothing for an empty body)>
func Canonical(method, requestURI, timestamp, nonce, idemKey string, body []byte) string {
	h := sha256.Sum256(body)
	return strings.Join([]string{Scheme, strings.ToUpper(method), requestURI, timestamp, nonce, idemKey,
		hex.EncodeToString(h[:])}, "\n")
}

// Sign returns the lowercase hex HMAC-SHA256 of canonical under secret (the
// API secret exactly as shown, "rs_…", as bytes).
func Sign(secret, canonical string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(canonical))
	return hex.EncodeToString(m.Sum(nil))
}

// SignRequest sets the signature headers of r (whose body is body) for
// the account keyID at time now with a fresh nonce. idemKey, for a POST,
// is set as the Idempotency-Key.
func SignRequest(r *http.Request, keyID, secret string, body []byte, now time.Time, nonce, idemKey string) {
	ts := strconv.FormatInt(now.Unix(), 10)
	r.Header.Set(HeaderKey, keyID)
	r.Header.Set(HeaderTimestamp, ts)
	r.Header.Set(HeaderNonce, nonce)
	if idemKey != "" {
		r.Header.Set(HeaderIdempotency, idemKey)
	}
	r.Header.Set(HeaderSignature, Sign(secret, Canonical(r.Method, r.URL.RequestURI(), ts, nonce, idemKey, body)))
}

// Signed is what a request's headers claim, parsed.
type Signed struct {
	KeyID, Timestamp, Nonce, IdemKey, Signature string
	At                                          time.Time
}

// Errors of parsing and checking a signature; the handler maps each to its
// code.
var (
	ErrUnsigned       = errors.New("resale: signature headers missing")       // 401 unauthenticated
	ErrBadSignature   = errors.New("resale: bad signature")                   // 401 bad_signature
	ErrStaleTimestamp = errors.New("resale: timestamp outside the window")    // 401 stale_timestamp
	ErrNonceReused    = errors.New("resale: nonce reused")                    // 401 nonce_reused
	ErrIdemMissing    = errors.New("resale: Idempotency-Key missing")         // 400 idempotency_key_required
	ErrIdemMalformed  = errors.New("resale: Idempotency-Key malformed")       // 400 bad_request
	ErrNonceMalformed = errors.New("resale: nonce or timestamp is malformed") // 400 bad_request
)

// ParseSigned reads the signature headers of r.
func ParseSigned(r *http.Request) (Signed, error) {
	s := Signed{KeyID: r.Header.Get(HeaderKey), Timestamp: r.Header.Get(HeaderTimestamp),
		Nonce: r.Header.Get(HeaderNonce), IdemKey: r.Header.Get(HeaderIdempotency), Signature: r.Header.Get(HeaderSignature)}
	if s.KeyID == "" || s.Timestamp == "" || s.Nonce == "" || s.Signature == "" {
		return s, ErrUnsigned
	}
	sec, err := strconv.ParseInt(s.Timestamp, 10, 64)
	if err != nil || sec <= 0 || strconv.FormatInt(sec, 10) != s.Timestamp || !nonceRE.MatchString(s.Nonce) {
		return s, ErrNonceMalformed
	}
	if s.IdemKey != "" && !idemRE.MatchString(s.IdemKey) {
		return s, ErrIdemMalformed
	}
	s.At = time.Unix(sec, 0)
	return s, nil
}

// Verify checks the signature of r (with its body) under secret, in
// constant time.
func (s Signed) Verify(r *http.Request, secret string, body []byte) bool {
	want := Sign(secret, Canonical(r.Method, r.URL.RequestURI(), s.Timestamp, s.Nonce, s.IdemKey, body))
	got, err := hex.DecodeString(s.Signature)
	if err != nil {
		return false
	}
	w, _ := hex.DecodeString(want)
	return hmac.Equal(got, w)
}
