package storefront

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"regexp"
	"sync"
	"time"
	"veil/server/web"
)

// A reload of the "save your token" page re-sends POST /checkout. The
// token cannot go into a URL or a cookie, so the page cannot be shown
// again by a redirect; instead the product form carries a one-time
// checkout nonce, and the first POST with it places the order. A second
// POST with the same nonce (a reload, a double click, the back button)
// places nothing and says the token was shown already: the buyer finds the
// order with the token they saved. Nonces live in memory only, for
// checkoutNonceTTL, and say nothing about the order they placed.

const (
	checkoutNonceTTL = 2 * time.Hour
	// maxCheckoutNonces bounds the memory; when full, the oldest go first
	// (a reload that late places a second order, as before).
	maxCheckoutNonces = 100_000
)

var checkoutNonceRE = regexp.MustCompile(`^[0-9a-f]{32}$`)

var errAlreadyShown = web.NewError(http.StatusConflict, "already_shown",
	"this order was placed and its token shown already; look the order up with the token you saved")

// checkoutNonces remembers the nonces of checkouts already made.
type checkoutNonces struct {
	mu    sync.Mutex
	used  map[string]time.Time
	order []string // insertion order, for pruning
}

func newCheckoutNonces() *checkoutNonces {
	return &checkoutNonces{used: map[string]time.Time{}}
}

// newCheckoutNonce is a fresh nonce for a product form.
func newCheckoutNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails as of Go 1.24
	return hex.EncodeToString(b[:])
}

// claim marks nonce used at now; false if it was used already.
func (c *checkoutNonces) claim(nonce string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.prune(now)
	if _, ok := c.used[nonce]; ok {
		return false
	}
	c.used[nonce] = now
	c.order = append(c.order, nonce)
	return true
}

// release forgets nonce: its checkout failed and placed nothing, so the
// same form may be sent again.
func (c *checkoutNonces) release(nonce string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.used, nonce)
}

func (c *checkoutNonces) prune(now time.Time) {
	i := 0
	for ; i < len(c.order); i++ {
		n := c.order[i]
		at, ok := c.used[n]
		if ok && now.Sub(at) < checkoutNonceTTL && len(c.used) < maxCheckoutNonces {
			break
		}
		if ok && (now.Sub(at) >= checkoutNonceTTL || len(c.used) >= maxCheckoutNonces) {
			delete(c.used, n)
		}
	}
	if i > 0 {
		c.order = append(c.order[:0], c.order[i:]...)
	}
}
