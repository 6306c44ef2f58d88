package shop

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"veil/server/store"
)

// pool is the in-memory list of a unique product's available keys. The
// store's avail/ index is the durable truth; the pool mirrors it so that a
// reservation picks its keys under a short mutex and then commits without
// holding any lock. That keeps a flash sale free of transaction conflicts
// while many commits share one fsync.
//
// The pool never holds a key the store does not have available: keys leave
// it before the reserving transaction commits (and come back if the commit
// fails) and enter it only after a releasing or importing commit.
//
// A key id is "<batch id>-<line>"; the pool keeps each as one uint64
// (batch index << 32 | line) to stay small with a million keys in stock.
type pool struct {
	mu      sync.Mutex
	batches []string          // index -> batch id
	index   map[string]uint32 // batch id -> index
	avail   []uint64          // sorted: older batches first, then by line
}

func newPool() *pool { return &pool{index: map[string]uint32{}} }

func (p *pool) encode(kid string) (uint64, bool) {
	i := strings.LastIndexByte(kid, '-')
	if i < 0 {
		return 0, false
	}
	line, err := strconv.ParseUint(kid[i+1:], 10, 32)
	if err != nil {
		return 0, false
	}
	b := kid[:i]
	bi, ok := p.index[b]
	if !ok {
		bi = uint32(len(p.batches))
		p.batches = append(p.batches, b)
		p.index[b] = bi
	}
	return uint64(bi)<<32 | line, true
}

func (p *pool) decode(v uint64) string {
	return fmt.Sprintf("%s-%06d", p.batches[v>>32], uint32(v))
}

// take removes and returns the n oldest keys, or nil if fewer are left.
func (p *pool) take(n int) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.avail) < n {
		return nil
	}
	kids := make([]string, n)
	for i, v := range p.avail[:n] {
		kids[i] = p.decode(v)
	}
	p.avail = slices.Delete(p.avail, 0, n)
	return kids
}

// put adds keys that the store now holds available.
func (p *pool) put(kids []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, kid := range kids {
		v, ok := p.encode(kid)
		if !ok {
			continue
		}
		if i, found := slices.BinarySearch(p.avail, v); !found {
			p.avail = slices.Insert(p.avail, i, v)
		}
	}
}

// remove drops keys (an import being rolled back) and reports how many it
// held.
func (p *pool) remove(kids []string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, kid := range kids {
		if v, ok := p.encode(kid); ok {
			if i, found := slices.BinarySearch(p.avail, v); found {
				p.avail = slices.Delete(p.avail, i, i+1)
				n++
			}
		}
	}
	return n
}

func (p *pool) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.avail)
}

// poolOf returns a product's pool (empty for a product never stocked).
func (s *Shop) poolOf(pid string) *pool {
	if p, ok := s.pools.Load(pid); ok {
		return p.(*pool)
	}
	p, _ := s.pools.LoadOrStore(pid, newPool())
	return p.(*pool)
}

// Reconcile rebuilds a unique product's pool from the store's avail/ index.
// Approvals that withdraw or return keys inside a transaction the shop does
// not own (export, deletion, refunds) leave the pool stale until then; a
// stale entry is harmless (reservation re-checks each key and skips it) but
// makes the stock count wrong.
//
// It also reloads the product itself into the catalog, for an approval
// that changed its price or policy (ChangePolicyTx).
func (s *Shop) Reconcile(productID string) error {
	if err := s.reloadProduct(productID); err != nil {
		return fmt.Errorf("shop: reconcile %s: %w", productID, err)
	}
	prefix := pAvail + productID + "/"
	var kids []string
	err := s.db.View(func(tx *store.Txn) error {
		return tx.Iterate(prefix, "", true, func(k string, _ []byte) error {
			kids = append(kids, strings.TrimPrefix(k, prefix))
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("shop: reconcile %s: %w", productID, err)
	}
	p := newPool()
	p.put(kids)
	s.pools.Store(productID, p)
	return nil
}

// loadPools reads every available key id at start-up, before the shop
// serves anything, so pools and store agree from the first request.
func (s *Shop) loadPools() error {
	byProduct := map[string][]string{}
	err := s.db.View(func(tx *store.Txn) error {
		return tx.Iterate(pAvail, "", true, func(k string, _ []byte) error {
			pid, kid, ok := strings.Cut(strings.TrimPrefix(k, pAvail), "/")
			if ok {
				byProduct[pid] = append(byProduct[pid], kid)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("shop: load stock: %w", err)
	}
	for pid, kids := range byProduct {
		s.poolOf(pid).put(kids)
	}
	return nil
}
