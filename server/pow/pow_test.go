package pow

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func testGuard(maxSeen int) (*Guard, *clock) {
	c := &clock{t: time.Unix(1_800_000_000, 0)}
	return NewWith([]byte("0123456789abcdef0123456789abcdef"), c.now, maxSeen), c
}

func solve(t testing.TB, ch string, bits int) string {
	t.Helper()
	n, err := Solve(context.Background(), ch, bits)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestSolveKnownAnswer: the first decimal nonces that pay "veil" at 12
// and 16 bits, found with Python's hashlib.
func TestSolveKnownAnswer(t *testing.T) {
	if n := solve(t, "veil", 12); n != "6767" {
		t.Errorf("12 bits: %s", n)
	}
	if n := solve(t, "veil", 16); n != "163167" {
		t.Errorf("16 bits: %s", n)
	}
	if !Check("veil", "163167", 16) || Check("veil", "163167", 17) || Check("veil", "163166", 16) {
		t.Error("Check")
	}
	var z [32]byte
	if zeroBits(z) != 256 || zeroBits([32]byte{0, 0x01}) != 15 || zeroBits([32]byte{0x80}) != 0 || zeroBits([32]byte{0, 0, 0x10}) != 19 {
		t.Error("zeroBits")
	}
}

func TestIssueVerify(t *testing.T) {
	g, c := testGuard(DefaultMaxSeen)
	ch := g.Issue(10, "order:p1")
	if len(ch) > maxChallenge || !strings.HasPrefix(ch, "1.10.1800000000.1800000120.") {
		t.Fatalf("challenge %q", ch)
	}
	nonce := solve(t, ch, 10)
	c.add(TTL - time.Second)
	got, err := g.Verify(ch, nonce, "order:p1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Bits != 10 || !got.Expires.Equal(time.Unix(1_800_000_120, 0)) || !got.NotBefore.Equal(time.Unix(1_800_000_000, 0)) {
		t.Fatalf("challenge said %+v", got)
	}
	// Single use, whatever the nonce.
	if _, err := g.Verify(ch, nonce, "order:p1"); !errors.Is(err, ErrReused) {
		t.Fatalf("replay: %v", err)
	}
	other := nonce
	for n := 0; ; n++ {
		if s := strconv.Itoa(n); s != nonce && Check(ch, s, 10) {
			other = s
			break
		}
	}
	if _, err := g.Verify(ch, other, "order:p1"); !errors.Is(err, ErrReused) {
		t.Fatalf("replay with another nonce: %v", err)
	}
	// Clamped bits.
	if !strings.HasPrefix(g.Issue(99, "s"), "1.24.") || !strings.HasPrefix(g.Issue(-3, "s"), "1.0.") {
		t.Error("bits not clamped")
	}
}

func TestVerifyRefusals(t *testing.T) {
	g, c := testGuard(DefaultMaxSeen)
	ch := g.Issue(8, "order:p1")
	nonce := solve(t, ch, 8)
	weak := ""
	for n := 0; ; n++ {
		if !Check(ch, strconv.Itoa(n), 8) {
			weak = strconv.Itoa(n)
			break
		}
	}
	f := strings.Split(ch, ".")
	with := func(i int, v string) string {
		g := append([]string{}, f...)
		g[i] = v
		return strings.Join(g, ".")
	}
	foreign := NewWith([]byte("another key, 32 bytes long......"), c.now, 10)
	for _, tc := range []struct {
		name             string
		ch, nonce, scope string
		want             error
	}{
		{"other scope", ch, nonce, "order:p2", ErrForged},
		{"fewer bits claimed", with(1, "0"), nonce, "order:p1", ErrForged},
		{"later expiry claimed", with(3, "1900000000"), nonce, "order:p1", ErrForged},
		{"other id", with(4, "AAAAAAAAAAAAAAAAAAAAAA"), nonce, "order:p1", ErrForged},
		{"another guard's", foreign.Issue(8, "order:p1"), nonce, "order:p1", ErrForged},
		{"not enough work", ch, weak, "order:p1", ErrWork},
		{"empty", "", nonce, "order:p1", ErrMalformed},
		{"version 2", with(0, "2"), nonce, "order:p1", ErrMalformed},
		{"bits 25", with(1, "25"), nonce, "order:p1", ErrMalformed},
		{"bits with leading zero", with(1, "08"), nonce, "order:p1", ErrMalformed},
		{"negative time", with(2, "-1"), nonce, "order:p1", ErrMalformed},
		{"padded base64", with(4, f[4]+"=="), nonce, "order:p1", ErrMalformed},
		{"short id", with(4, "AAAA"), nonce, "order:p1", ErrMalformed},
		{"seventh field", ch + ".x", nonce, "order:p1", ErrMalformed},
		{"too long", ch + strings.Repeat("A", maxChallenge), nonce, "order:p1", ErrMalformed},
		{"empty nonce", ch, "", "order:p1", ErrMalformed},
		{"nonce with a space", ch, "1 2", "order:p1", ErrMalformed},
		{"nonce with a colon", ch, nonce + ":", "order:p1", ErrMalformed},
		{"long nonce", ch, strings.Repeat("1", MaxNonce+1), "order:p1", ErrMalformed},
		{"non-ASCII nonce", ch, "é", "order:p1", ErrMalformed},
	} {
		if _, err := g.Verify(tc.ch, tc.nonce, tc.scope); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	// None of those used the challenge up.
	c.add(TTL)
	if _, err := g.Verify(ch, nonce, "order:p1"); !errors.Is(err, ErrExpired) {
		t.Fatalf("at expiry: %v", err)
	}
	c.add(-TTL)
	if _, err := g.Verify(ch, nonce, "order:p1"); err != nil {
		t.Fatalf("the good one after the refusals: %v", err)
	}
	if g.InFlight() != 1 {
		t.Fatalf("%d in flight", g.InFlight())
	}
}

// TestDelayTicket: a ticket costs time, not work.
func TestDelayTicket(t *testing.T) {
	g, c := testGuard(DefaultMaxSeen)
	ch := g.IssueDelay(10*time.Second, "order:p1")
	if _, err := g.Verify(ch, "0", "order:p1"); !errors.Is(err, ErrEarly) {
		t.Fatalf("at once: %v", err)
	}
	c.add(9 * time.Second)
	if _, err := g.Verify(ch, "0", "order:p1"); !errors.Is(err, ErrEarly) {
		t.Fatalf("after 9 s: %v", err)
	}
	c.add(time.Second)
	got, err := g.Verify(ch, "0", "order:p1")
	if err != nil || got.Bits != 0 {
		t.Fatalf("after 10 s: %+v %v", got, err)
	}
	if _, err := g.Verify(ch, "1", "order:p1"); !errors.Is(err, ErrReused) {
		t.Fatalf("reused: %v", err)
	}
	late := g.IssueDelay(time.Hour, "s")
	p, err := g.Peek(late, "s")
	if err != nil || p.NotBefore.Sub(c.now()) != MaxDelay || p.Expires.Sub(p.NotBefore) != TTL {
		t.Fatalf("capped delay: %+v %v", p, err)
	}
	c.add(MaxDelay + TTL)
	if _, err := g.Verify(late, "0", "s"); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired ticket: %v", err)
	}
}

// TestSeenSetBounded: the used set never grows past its bound; when full
// of live ids it refuses rather than forgets, and expired ids make room.
func TestSeenSetBounded(t *testing.T) {
	g, c := testGuard(3)
	var chs []string
	for range 4 {
		chs = append(chs, g.Issue(0, "s"))
	}
	for i, ch := range chs[:3] {
		if _, err := g.Verify(ch, "0", "s"); err != nil {
			t.Fatalf("%d: %v", i, err)
		}
	}
	if _, err := g.Verify(chs[3], "0", "s"); !errors.Is(err, ErrBusy) {
		t.Fatalf("full: %v", err)
	}
	// Still remembered: no replay got through the full set.
	if _, err := g.Verify(chs[0], "0", "s"); !errors.Is(err, ErrReused) {
		t.Fatalf("replay while full: %v", err)
	}
	// Once the first three expire, new ones fit again; many rounds keep
	// both the map and the queue bounded.
	for round := range 50 {
		c.add(TTL)
		for i := range 3 {
			if _, err := g.Verify(g.Issue(0, "s"), "0", "s"); err != nil {
				t.Fatalf("round %d, %d: %v", round, i, err)
			}
		}
		if g.InFlight() > 3 || len(g.queue)-g.head > 3 || cap(g.queue) > 16 {
			t.Fatalf("round %d: %d in flight, queue %d/%d", round, g.InFlight(), len(g.queue)-g.head, cap(g.queue))
		}
	}
}

// TestVerifyConcurrent: one challenge sent many times at once is accepted
// exactly once.
func TestVerifyConcurrent(t *testing.T) {
	g, _ := testGuard(DefaultMaxSeen)
	ch := g.Issue(4, "s")
	nonce := solve(t, ch, 4)
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if _, err := g.Verify(ch, nonce, "s"); err == nil {
				ok.Add(1)
			} else if !errors.Is(err, ErrReused) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 1 {
		t.Fatalf("accepted %d times", ok.Load())
	}
}

func TestSolveStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Solve(ctx, "x", 64); !errors.Is(err, context.Canceled) {
		t.Fatalf("%v", err)
	}
}

func TestHoldBits(t *testing.T) {
	for _, tc := range []struct {
		held, stock int64
		want        int
	}{
		{0, 20, 0}, {10, 20, 0}, {11, 20, 16}, {15, 20, 19}, {19, 20, 23}, {20, 20, 24}, {25, 20, 24},
		{1, 1, 24}, {1, 2, 0}, {2, 3, 16}, {3, 3, 24}, {5, 0, 0}, {0, 0, 0},
	} {
		if got := HoldBits(tc.held, tc.stock); got != tc.want {
			t.Errorf("HoldBits(%d, %d) = %d, want %d", tc.held, tc.stock, got, tc.want)
		}
	}
	for stock := int64(1); stock <= 200; stock++ {
		prev := 0
		for held := int64(0); held <= stock+2; held++ {
			b := HoldBits(held, stock)
			if b < prev || b > MaxBits || (2*held <= stock) != (b == 0) {
				t.Fatalf("HoldBits(%d, %d) = %d after %d", held, stock, b, prev)
			}
			prev = b
		}
	}
	if b := (Curve{Start: 10, Full: 20, Min: 12, Max: 40}).Bits(100); b != MaxBits {
		t.Errorf("curve max not capped: %d", b)
	}
	if b := (Curve{Start: 10, Full: 10, Min: 12, Max: 20}).Bits(10); b != 20 {
		t.Errorf("degenerate curve: %d", b)
	}
}

func BenchmarkVerify(b *testing.B) {
	g, _ := testGuard(b.N + 1)
	chs := make([]string, b.N)
	for i := range chs {
		chs[i] = g.Issue(0, "order:p1")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := g.Verify(chs[i], "12345", "order:p1"); err != nil {
			b.Fatal(err)
		}
	}
}

func benchSolve(b *testing.B, bits int) {
	g, _ := testGuard(DefaultMaxSeen)
	var hashes uint64
	b.ResetTimer()
	for range b.N {
		ch := g.Issue(bits, "order:p1")
		n, err := Solve(context.Background(), ch, bits)
		if err != nil {
			b.Fatal(err)
		}
		v, _ := strconv.ParseUint(n, 10, 64)
		hashes += v + 1
	}
	b.ReportMetric(float64(hashes)/b.Elapsed().Seconds(), "hashes/s")
	b.ReportMetric(float64(hashes)/float64(b.N), "hashes/op")
}

func BenchmarkSolve16(b *testing.B) { benchSolve(b, 16) }
func BenchmarkSolve20(b *testing.B) { benchSolve(b, 20) }
