// Package pow is veil's proof of work for the hoarding guard: when unpaid
// holds press on a product, placing an order costs the client some
// hashing instead of costing every buyer behind the same address (on an
// onion service that is all of them) a rate limit.
//
// Use a Guard: Issue a challenge string for N bits, send it to the
// client, and Verify the (challenge, nonce) it sends back. A nonce is
// good when SHA-256(challenge + ":" + nonce) begins with N zero bits.
// Challenges are stateless — the bits, validity window and a random id
// are carried in the string and authenticated with HMAC-SHA256 under a
// key made at start-up and never stored — and single use: Verify
// remembers the ids it accepted until they expire, in a set of bounded
// size. A restart forgets nothing that matters: the new key refuses every
// old challenge.
//
// Bits turns pressure into difficulty; Solve pays a challenge (tests,
// veil bench). The browser pays it in static/files/pow-worker.js.
package pow

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// TTL is how long a challenge stays valid after it becomes valid.
	TTL = 2 * time.Minute
	// MaxBits caps the difficulty: 2^24 hashes, seconds on a phone.
	MaxBits = 24
	// MaxDelay caps the wait of a delay ticket (IssueDelay).
	MaxDelay = time.Minute
	// DefaultMaxSeen bounds the set of used challenges: 131,072 ids of
	// 16 bytes with their expiry, about 12 MiB at worst. An id leaves the
	// set when its challenge expires, so the set holds at most the
	// challenges accepted in the last TTL (+ MaxDelay).
	DefaultMaxSeen = 1 << 17
	// MaxNonce bounds a nonce: 1–64 characters of [0-9A-Za-z_-].
	MaxNonce = 64
	// maxChallenge bounds a challenge string before it is parsed.
	maxChallenge = 160
)

// Errors of Verify. All but ErrBusy mean the client did not pay.
var (
	ErrMalformed = errors.New("pow: malformed challenge or nonce")
	ErrForged    = errors.New("pow: challenge not issued here")
	ErrEarly     = errors.New("pow: challenge not valid yet")
	ErrExpired   = errors.New("pow: challenge expired")
	ErrWork      = errors.New("pow: not enough work")
	ErrReused    = errors.New("pow: challenge already used")
	// ErrBusy: the set of used challenges is full of unexpired ids, so
	// this one cannot be remembered and is refused (forgetting one instead
	// would allow its replay). The caller should raise the difficulty.
	ErrBusy = errors.New("pow: too many challenges in flight")
)

// Guard issues and verifies challenges. Its zero value is not usable;
// make one with New. Safe for concurrent use.
type Guard struct {
	key     [32]byte
	now     func() time.Time
	maxSeen int

	mu    sync.Mutex
	seen  map[[16]byte]int64 // id → expiry (Unix seconds)
	queue []seenEntry        // ids in the order they were accepted
	head  int
}

type seenEntry struct {
	id  [16]byte
	exp int64
}

// New returns a Guard with a fresh random key, the wall clock and
// DefaultMaxSeen.
func New() *Guard {
	g := &Guard{now: time.Now, maxSeen: DefaultMaxSeen, seen: map[[16]byte]int64{}}
	if _, err := rand.Read(g.key[:]); err != nil {
		panic("pow: no randomness: " + err.Error())
	}
	return g
}

// NewWith returns a Guard with the given key (32 bytes), clock and bound
// on the used-challenge set; for tests and benchmarks.
func NewWith(key []byte, now func() time.Time, maxSeen int) *Guard {
	g := &Guard{now: now, maxSeen: maxSeen, seen: map[[16]byte]int64{}}
	copy(g.key[:], key)
	return g
}

// Challenge is what a verified challenge said.
type Challenge struct {
	Bits      int
	NotBefore time.Time
	Expires   time.Time
}

// Issue returns a challenge for bits (clamped to 0…MaxBits) bound to
// scope: a challenge verifies only with the same scope (say, "order:" +
// product id), so one paid for a cheap scope cannot be spent on another.
// It is valid at once, for TTL.
//
// Format: "1.<bits>.<not-before>.<expires>.<id>.<mac>", times in Unix
// seconds, id 16 random bytes and mac the HMAC-SHA256 of the rest and the
// scope, both base64url without padding: about 110 ASCII characters.
func (g *Guard) Issue(bits int, scope string) string {
	now := g.now().Unix()
	return g.issue(min(max(bits, 0), MaxBits), now, now+int64(TTL/time.Second), scope)
}

// IssueDelay returns a ticket that costs time instead of work: zero bits,
// valid only from delay (capped at MaxDelay) after now, for TTL. It is
// for clients without JavaScript, which can wait but not hash. Tickets
// cost nothing to ask for, so the caller must bound how many it hands out.
func (g *Guard) IssueDelay(delay time.Duration, scope string) string {
	delay = min(max(delay, 0), MaxDelay)
	nbf := g.now().Add(delay + time.Second - 1).Unix() // round up: never early
	return g.issue(0, nbf, nbf+int64(TTL/time.Second), scope)
}

func (g *Guard) issue(bits int, nbf, exp int64, scope string) string {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		panic("pow: no randomness: " + err.Error())
	}
	body := "1." + strconv.Itoa(bits) + "." + strconv.FormatInt(nbf, 10) + "." + strconv.FormatInt(exp, 10) + "." +
		base64.RawURLEncoding.EncodeToString(id[:])
	return body + "." + base64.RawURLEncoding.EncodeToString(g.mac(body, scope))
}

func (g *Guard) mac(body, scope string) []byte {
	m := hmac.New(sha256.New, g.key[:])
	m.Write([]byte("veil/pow/v1\x00"))
	m.Write([]byte(scope))
	m.Write([]byte{0})
	m.Write([]byte(body))
	return m.Sum(nil)
}

// Verify checks that nonce pays challenge under scope and, if so, marks
// the challenge used. The checks, cheapest first: the form of both
// strings; the MAC (constant time); the validity window; the work; and
// that the challenge was not used before. It returns what the challenge
// said; any error means the request must be refused as unpaid.
func (g *Guard) Verify(challenge, nonce, scope string) (Challenge, error) {
	c, id, err := g.parse(challenge, scope)
	if err != nil {
		return Challenge{}, err
	}
	if !validNonce(nonce) {
		return Challenge{}, fmt.Errorf("%w: nonce", ErrMalformed)
	}
	now := g.now()
	if now.Before(c.NotBefore) {
		return Challenge{}, ErrEarly
	}
	if !now.Before(c.Expires) {
		return Challenge{}, ErrExpired
	}
	if !Check(challenge, nonce, c.Bits) {
		return Challenge{}, ErrWork
	}
	if err := g.remember(id, c.Expires.Unix(), now.Unix()); err != nil {
		return Challenge{}, err
	}
	return c, nil
}

// Peek parses and authenticates challenge without verifying work or
// marking it used: what it asks for, e.g. to repeat it in a page.
func (g *Guard) Peek(challenge, scope string) (Challenge, error) {
	c, _, err := g.parse(challenge, scope)
	return c, err
}

func (g *Guard) parse(challenge, scope string) (Challenge, [16]byte, error) {
	var id [16]byte
	if len(challenge) > maxChallenge {
		return Challenge{}, id, fmt.Errorf("%w: too long", ErrMalformed)
	}
	f := strings.Split(challenge, ".")
	if len(f) != 6 || f[0] != "1" {
		return Challenge{}, id, fmt.Errorf("%w: fields", ErrMalformed)
	}
	b, ok1 := canonicalUint(f[1], 2)
	nbf, ok2 := canonicalUint(f[2], 12)
	exp, ok3 := canonicalUint(f[3], 12)
	rawID, err1 := base64.RawURLEncoding.Strict().DecodeString(f[4])
	mac, err2 := base64.RawURLEncoding.Strict().DecodeString(f[5])
	if !ok1 || !ok2 || !ok3 || err1 != nil || err2 != nil || len(rawID) != 16 || len(mac) != sha256.Size || b > MaxBits {
		return Challenge{}, id, fmt.Errorf("%w: fields", ErrMalformed)
	}
	body := challenge[:len(challenge)-len(f[5])-1]
	if !hmac.Equal(mac, g.mac(body, scope)) {
		return Challenge{}, id, ErrForged
	}
	copy(id[:], rawID)
	return Challenge{Bits: int(b), NotBefore: time.Unix(int64(nbf), 0), Expires: time.Unix(int64(exp), 0)}, id, nil
}

// remember adds id to the used set, dropping expired ids from the front
// of the queue first. Ids in the queue are in acceptance order, not
// expiry order, so an expired id may wait behind a live one; it still
// leaves within one TTL (+ MaxDelay), which is what bounds the set.
func (g *Guard) remember(id [16]byte, exp, now int64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, used := g.seen[id]; used {
		return ErrReused
	}
	for g.head < len(g.queue) && g.queue[g.head].exp <= now {
		delete(g.seen, g.queue[g.head].id)
		g.head++
	}
	if g.head > len(g.queue)/2 { // compact the drained front
		g.queue = append(g.queue[:0], g.queue[g.head:]...)
		g.head = 0
	}
	if len(g.seen) >= g.maxSeen {
		return ErrBusy
	}
	g.seen[id] = exp
	g.queue = append(g.queue, seenEntry{id, exp})
	return nil
}

// InFlight is the number of used challenges remembered: a measure of
// pressure on the guard itself.
func (g *Guard) InFlight() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.seen)
}

// canonicalUint parses a decimal of at most n digits with no sign and no
// leading zero (but "0"), so that each value has one spelling.
func canonicalUint(s string, n int) (uint64, bool) {
	if s == "" || len(s) > n || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(s, 10, 64)
	return v, err == nil
}

func validNonce(s string) bool {
	if s == "" || len(s) > MaxNonce {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Check reports whether SHA-256(challenge + ":" + nonce) begins with
// bits zero bits. It checks the work only; Verify checks everything.
func Check(challenge, nonce string, bits int) bool {
	buf := make([]byte, 0, len(challenge)+1+len(nonce))
	buf = append(append(append(buf, challenge...), ':'), nonce...)
	return zeroBits(sha256.Sum256(buf)) >= bits
}

// zeroBits counts the leading zero bits of a digest.
func zeroBits(sum [32]byte) int {
	n := 0
	for _, b := range sum {
		if b != 0 {
			return n + bits.LeadingZeros8(b)
		}
		n += 8
	}
	return n
}

// Solve finds a nonce that pays challenge at bits: decimal counters from
// 0, about 2^bits hashes on average. It stops with ctx's error when ctx
// ends first.
func Solve(ctx context.Context, challenge string, bits int) (string, error) {
	buf := append([]byte(challenge), ':')
	prefix := len(buf)
	for n := uint64(0); ; n++ {
		if n&0xffff == 0 && ctx.Err() != nil {
			return "", ctx.Err()
		}
		buf = strconv.AppendUint(buf[:prefix], n, 10)
		if zeroBits(sha256.Sum256(buf)) >= bits {
			return string(buf[prefix:]), nil
		}
	}
}

// Curve maps a load to a difficulty: no work below Start; Min bits at
// Start, rising in equal steps to Max at Full and beyond. Max is capped
// at MaxBits.
type Curve struct {
	Start, Full int64
	Min, Max    int
}

// Bits is the difficulty at load.
func (c Curve) Bits(load int64) int {
	hi := min(c.Max, MaxBits)
	switch {
	case load < c.Start:
		return 0
	case load >= c.Full || c.Full <= c.Start:
		return hi
	}
	lo := min(c.Min, hi)
	return lo + int((load-c.Start)*int64(hi-lo)/(c.Full-c.Start))
}

// HoldMinBits is the work asked at the first hold past half a product's
// stock.
const HoldMinBits = 16

// HoldBits is the hoarding guard's difficulty for one more unpaid hold on
// a product: held is what unpaid orders hold of it (this order
// included), stock what it has in all (available and held). Up to half
// the stock held, no work (honest buyers at normal load never see a
// challenge); past half, HoldMinBits rising to MaxBits as the holds reach
// the whole stock.
func HoldBits(held, stock int64) int {
	if stock <= 0 {
		return 0
	}
	// 2*held > stock, i.e. more than half held: past Start = stock/2
	// exactly, in doubled units so odd stocks need no rounding.
	return Curve{Start: stock + 1, Full: 2 * stock, Min: HoldMinBits, Max: MaxBits}.Bits(2 * held)
}
