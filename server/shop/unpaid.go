package shop

import (
	"sync"
	"time"
)

// onHold counts, per product, the keys (or seats) unpaid orders hold:
// what the hoarding guard weighs against the stock. Memory only: after a
// restart the orders placed before it are not counted until they end.
type onHold struct {
	mu     sync.Mutex
	byRef  map[string]holdOf
	byProd map[string]map[string]bool // product -> refs
	units  map[string]int             // product -> keys held unpaid
}

type holdOf struct {
	product string
	qty     int
	exp     time.Time
}

func (u *onHold) add(product, ref string, qty int, exp time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.byRef == nil {
		u.byRef, u.byProd, u.units = map[string]holdOf{}, map[string]map[string]bool{}, map[string]int{}
	}
	if _, ok := u.byRef[ref]; ok {
		return
	}
	u.byRef[ref] = holdOf{product, qty, exp}
	if u.byProd[product] == nil {
		u.byProd[product] = map[string]bool{}
	}
	u.byProd[product][ref] = true
	u.units[product] += qty
}

func (u *onHold) done(ref string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.drop(ref)
}

func (u *onHold) drop(ref string) {
	h, ok := u.byRef[ref]
	if !ok {
		return
	}
	delete(u.byRef, ref)
	delete(u.byProd[h.product], ref)
	if u.units[h.product] -= h.qty; u.units[h.product] <= 0 {
		delete(u.units, h.product)
		delete(u.byProd, h.product)
	}
}

// held is what unpaid orders hold of product now; holds past their expiry
// (the sweep has not run yet) no longer count.
func (u *onHold) held(product string, now time.Time) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.units[product] == 0 {
		return 0
	}
	for ref := range u.byProd[product] {
		if !u.byRef[ref].exp.After(now) {
			u.drop(ref)
		}
	}
	return u.units[product]
}

// UnpaidHeld is how many keys (or seats) of a product orders hold unpaid,
// as this process saw them placed: the hoarding guard's load.
func (s *Shop) UnpaidHeld(productID string) int { return s.unpaid.held(productID, s.now()) }

// orderEnded forgets an order as an unpaid hold (paid, held for staff,
// expired or abandoned).
func (s *Shop) orderEnded(ref string) {
	s.holders.done(ref)
	s.unpaid.done(ref)
}
