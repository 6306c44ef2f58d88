package storefront

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"veil/pages"
	"veil/static"

	"veil/server/pow"
	"veil/server/shop"
	"veil/server/web"
)

// The hoarding guard (issue 11): needs no client address, so it works
// behind Tor where every buyer shares one. Unpaid orders may hold up to
// half a product's stock (available plus held unpaid) for free; an order
// that would hold more must carry proof of work (pow.HoldBits: 16 bits
// just past half, rising to 24 as the holds reach the whole stock). The
// check runs before the reservation and again after it (two orders racing
// past the line both see it), so nobody who skips the work holds more than
// half, whatever the concurrency. A lone unit is never asked for work, so
// a product with one key in stock still sells to a buyer without
// JavaScript; a buyer who pays leaves the count at once.

// powRequiredError is 428 pow_required with a fresh challenge.
type powRequiredError struct {
	challenge string
	bits      int
	early     string // a delay ticket sent before its time, to show again
}

func (e *powRequiredError) Error() string { return "server: proof of work required" }

// Unwrap makes the error answer 428 pow_required (web.Classify).
func (e *powRequiredError) Unwrap() error { return errPowRequired }

// powAnswer is the 428 body: the error and the challenge to pay.
type powAnswer struct {
	Error web.ErrorDetail `json:"error"`
	Pow   struct {
		Challenge string `json:"challenge"`
		Bits      int    `json:"bits"`
	} `json:"pow"`
}

// holdBits is the work one more unpaid hold of qty units of p asks for:
// 0 while the unpaid holds, this one included, stay within half the stock.
func (s *Server) holdBits(p shop.Product, qty int) int {
	held := s.Shop.UnpaidHeld(p.ID)
	if held+qty <= 1 {
		return 0
	}
	return pow.HoldBits(int64(held+qty), int64(p.InStock+held))
}

// powScope binds a challenge to one product.
func powScope(p shop.Product) string { return "order:" + p.ID }

// checkWork verifies the proof of work an order carries, if any. paid
// reports a valid, unused one; an invalid one is refused with a fresh
// challenge at least as hard as the guard asks now.
func (s *Server) checkWork(p shop.Product, qty int, challenge, nonce string) (paid bool, err error) {
	if s.guard == nil {
		return false, nil
	}
	if challenge == "" && nonce == "" {
		if bits := s.holdBits(p, qty); bits > 0 {
			return false, s.powRequired(bits, p)
		}
		return false, nil
	}
	if _, err := s.guard.Verify(challenge, nonce, powScope(p)); err != nil {
		bits := max(s.holdBits(p, qty), pow.HoldMinBits)
		if errors.Is(err, pow.ErrBusy) {
			bits = pow.MaxBits
		}
		e := s.powRequired(bits, p)
		if errors.Is(err, pow.ErrEarly) {
			e.early = challenge
		}
		return false, e
	}
	return true, nil
}

// recheck runs after an order without work was placed: if it took the
// unpaid holds past half the stock (a race with other orders), the order
// is abandoned at once and the buyer asked for work.
func (s *Server) recheck(p shop.Product, o shop.Order) error {
	if s.guard == nil {
		return nil
	}
	held := s.Shop.UnpaidHeld(p.ID)
	if held <= 1 {
		return nil
	}
	now, err := s.Shop.Product(p.ID)
	if err != nil {
		return err
	}
	bits := pow.HoldBits(int64(held), int64(now.InStock+held))
	if bits == 0 {
		return nil
	}
	if err := s.Shop.Abandon(o.Ref); err != nil {
		return err
	}
	return s.powRequired(bits, p)
}

func (s *Server) powRequired(bits int, p shop.Product) *powRequiredError {
	return &powRequiredError{challenge: s.guard.Issue(bits, powScope(p)), bits: bits}
}

// writePowRequired answers 428 with the challenge (API).
func writePowRequired(w http.ResponseWriter, e *powRequiredError) {
	var a powAnswer
	a.Error = web.ErrorDetail{Code: "pow_required", Message: "many orders of this product are waiting for payment: repeat the request with proof of work (pow)"}
	a.Pow.Challenge, a.Pow.Bits = e.challenge, e.bits
	web.NoStore(w)
	web.WriteJSON(w, http.StatusPreconditionRequired, a)
}

// maxDelayTickets bounds the delay tickets out at once (issued within the
// last pow.TTL + pow.MaxDelay): a ticket costs its holder nothing to ask
// for, so past this the page without JavaScript says "try again later".
const maxDelayTickets = 256

// delayTickets counts the delay tickets out.
type delayTickets struct {
	mu  sync.Mutex
	out []time.Time // expiry of each ticket handed out, oldest first
}

// take reserves a ticket slot until exp; false when maxDelayTickets are out.
func (d *delayTickets) take(now, exp time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	i := 0
	for i < len(d.out) && !d.out[i].After(now) {
		i++
	}
	d.out = d.out[i:]
	if len(d.out) >= maxDelayTickets {
		return false
	}
	d.out = append(d.out, exp)
	return true
}

// delayFor is the wait that stands in for bits of work without
// JavaScript: 5 s at the first bits asked, up to pow.MaxDelay at MaxBits.
func delayFor(bits int) time.Duration {
	span := pow.MaxBits - pow.HoldMinBits
	extra := max(0, min(bits-pow.HoldMinBits, span))
	return 5*time.Second + time.Duration(extra)*(pow.MaxDelay-5*time.Second)/time.Duration(span)
}

// renderPow is the checkout's 428 page: the order's fields again, with
// the challenge for the Web Worker and a delay ticket for the form
// without JavaScript.
func (s *Server) renderPow(w http.ResponseWriter, r *http.Request, e *powRequiredError, p shop.Product) {
	lang := s.Lang(r)
	page := &pages.PowPage{Base: s.Base(r, lang), Challenge: e.challenge, Bits: e.bits, WorkerURL: static.Path("pow-worker.js")}
	for _, name := range []string{"product", "quantity", "proofs", "discount", "coupon", "pay_with", "nonce"} {
		if v := r.PostForm.Get(name); v != "" {
			page.Fields = append(page.Fields, pages.Field{Name: name, Value: v})
		}
	}
	wait := delayFor(e.bits)
	if e.early != "" {
		if c, err := s.guard.Peek(e.early, powScope(p)); err == nil {
			page.Ticket, page.NotYet = e.early, true
			wait = max(c.NotBefore.Sub(s.Now()), time.Second)
		}
	}
	if page.Ticket == "" {
		now := s.Now()
		if s.delays.take(now, now.Add(wait+pow.TTL+time.Second)) {
			page.Ticket = s.guard.IssueDelay(wait, powScope(p))
			if c, err := s.guard.Peek(page.Ticket, powScope(p)); err == nil {
				wait = c.NotBefore.Sub(now) // rounded up to the second
			}
		}
	}
	page.WaitSeconds = int((wait + time.Second - 1) / time.Second)
	page.Scripts = []string{static.Path("pow.js")}
	web.NoStore(w)
	s.Render(w, r, http.StatusPreconditionRequired, page)
}
