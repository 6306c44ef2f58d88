package resale

import (
	"sync"
	"time"
)

// nonces remembers the nonces of accepted requests for the window, in
// memory. A restart forgets them; what keeps a captured request from being
// replayed after a restart is the floor: the server refuses every request
// whose timestamp is before the moment it started (stale_timestamp), so a
// nonce seen by the previous process can never come back within its window.
// The cost: a client whose clock runs behind the server's is refused for
// that lag right after a restart (it re-signs with a fresh timestamp).
type nonces struct {
	mu    sync.Mutex
	floor time.Time
	seen  map[string]time.Time // key id + "/" + nonce -> when it may be forgotten
	swept time.Time
}

func newNonces(start time.Time) *nonces {
	return &nonces{floor: start.Truncate(time.Second), seen: map[string]time.Time{}}
}

// check reports whether a request of keyID signed at ts with nonce is
// fresh, and if so remembers the nonce. ErrStaleTimestamp,
// ErrNonceReused.
func (n *nonces) check(keyID, nonce string, ts, now time.Time) error {
	if ts.Before(n.floor) || ts.Before(now.Add(-Window)) || ts.After(now.Add(Window)) {
		return ErrStaleTimestamp
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if now.Sub(n.swept) > time.Minute {
		for k, until := range n.seen {
			if now.After(until) {
				delete(n.seen, k)
			}
		}
		n.swept = now
	}
	k := keyID + "/" + nonce
	if _, ok := n.seen[k]; ok {
		return ErrNonceReused
	}
	// A request is only ever accepted within Window of now, so after
	// ts+Window its nonce cannot be presented again with a fresh timestamp
	// (the timestamp is signed).
	n.seen[k] = ts.Add(Window)
	return nil
}

// limiter is a token bucket per account: rate calls a minute, bursting to
// rate. Memory only.
type limiter struct {
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter() *limiter { return &limiter{buckets: map[string]*bucket{}} }

// allow takes one token of key's bucket, or says how long until one is
// there.
func (l *limiter) allow(key string, perMinute int, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	capacity := float64(perMinute)
	if b == nil {
		b = &bucket{tokens: capacity, last: now}
		l.buckets[key] = b
	}
	b.tokens = min(capacity, b.tokens+now.Sub(b.last).Minutes()*capacity)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / capacity * float64(time.Minute))
}
