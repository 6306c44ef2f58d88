package web

import (
	"hash/maphash"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Limiter is a token bucket per client address. Addresses live only in this
// map, and only as a keyed hash (the key is random per process), so even a
// memory dump does not list them plainly; an entry goes once its bucket has
// refilled, so an idle address is forgotten within a minute or two.
type Limiter struct {
	mu        sync.Mutex
	seed      maphash.Seed
	rate      float64 // tokens per second
	burst     float64 // bucket size: one minute's budget
	buckets   map[uint64]*bucket
	lastSweep time.Time
	now       func() time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// NewLimiter allows perMinute requests a minute per address, in bursts of
// up to a minute's budget.
func NewLimiter(perMinute int, now func() time.Time) *Limiter {
	return &Limiter{
		seed:      maphash.MakeSeed(),
		rate:      float64(perMinute) / 60,
		burst:     float64(perMinute),
		buckets:   map[uint64]*bucket{},
		lastSweep: now(),
		now:       now,
	}
}

// allow takes one token for addr, or says how long until one is there.
func (l *Limiter) allow(addr string) (bool, time.Duration) {
	key := maphash.String(l.seed, addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.sweep(now)
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	} else {
		b.tokens = math.Min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	return false, wait
}

// sweep drops, at most once a minute, the buckets that have refilled: they
// are indistinguishable from a new one.
func (l *Limiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < time.Minute {
		return
	}
	l.lastSweep = now
	full := time.Duration(l.burst / l.rate * float64(time.Second))
	for k, b := range l.buckets {
		if now.Sub(b.last) >= full {
			delete(l.buckets, k)
		}
	}
}

// size is the number of tracked addresses (for tests).
func (l *Limiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// ClientAddr is the address the rate Limiter counts: RemoteAddr, or with
// TrustProxy the last X-Forwarded-For entry (the one our proxy appended;
// earlier entries are the client's to forge). IPv6 addresses count per /64,
// which is what one subscriber usually holds.
func (s *Site) ClientAddr(r *http.Request) string {
	if s.Tor {
		// One address for everyone: the Limiter is a global budget.
		return "onion"
	}
	addr := ""
	if s.Proxy {
		if vs := r.Header.Values("X-Forwarded-For"); len(vs) > 0 {
			parts := strings.Split(vs[len(vs)-1], ",")
			addr = strings.TrimSpace(parts[len(parts)-1])
		}
		if addr == "" {
			addr = strings.TrimSpace(r.Header.Get("X-Real-Ip"))
		}
	}
	if addr == "" {
		addr = r.RemoteAddr
		if host, _, err := net.SplitHostPort(addr); err == nil {
			addr = host
		}
	}
	if ip, err := netip.ParseAddr(addr); err == nil {
		ip = ip.Unmap()
		if ip.Is6() {
			if p, err := ip.Prefix(64); err == nil {
				return p.String()
			}
		}
		return ip.String()
	}
	return addr
}
