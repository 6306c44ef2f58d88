package storefront

import (
	"sync"
	"time"

	"veil/server/answers"
)

// Automatic first answers in the chat, while no staff member has joined
// (issue 13 §6): package answers matches the buyer's question to an intent
// and answers from the product's own data and the order's state and
// window. The hub marks them From "auto"; the text says so too, and says
// that a person follows. A question no intent covers gets "a person will
// answer" — once per order every ten minutes, so a buyer who keeps typing
// is not answered by a machine each time — and staff are told (the log's
// "chat question for a person" line, and Config.AskStaff when set).

// AutoAnswer is autoAnswer for msg.HubConfig.AutoAnswer, which cmd wires
// when it builds the hub (before the server: a closure over the server
// variable).
func (s *Server) AutoAnswer(ref, text string) (string, bool) { return s.autoAnswer(ref, text) }

// autoAnswer is msg.HubConfig.AutoAnswer: an answer to a buyer's message,
// or false for an unknown order (or a repeat "a person will answer").
func (s *Server) autoAnswer(ref, text string) (string, bool) {
	o, err := s.Shop.OrderByRef(ref)
	if err != nil {
		return "", false
	}
	p, err := s.Shop.Product(o.ProductID)
	if err != nil {
		return "", false
	}
	r := answers.Answer(text, answers.Facts{
		Order: o, Product: p, Now: s.Now(), Loc: s.Shop.Location(), CoolingOff: s.Shop.CoolingOffOK(o, p),
	}, s.Pages.T)
	if r.Unsure {
		if !s.unsure.first(ref, s.Now()) {
			return "", false
		}
		s.Log.Info("chat question for a person", "ref", ref)
		if s.askStaff != nil {
			go s.askStaff(ref) // off the room's goroutine: it writes to the store
		}
	}
	return r.Text, r.Text != ""
}

// unsureWindow is how long one "a person will answer" covers an order.
const unsureWindow = 10 * time.Minute

// unsureLog remembers, in memory only, which orders were told "a person
// will answer" in the last unsureWindow. Its zero value is ready.
type unsureLog struct {
	mu   sync.Mutex
	last map[string]time.Time
}

// first reports whether ref was not told so within the window, and notes
// that it is now.
func (u *unsureLog) first(ref string, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.last == nil {
		u.last = map[string]time.Time{}
	}
	if t, ok := u.last[ref]; ok && now.Sub(t) < unsureWindow {
		return false
	}
	if len(u.last) > 1000 {
		for k, t := range u.last {
			if now.Sub(t) >= unsureWindow {
				delete(u.last, k)
			}
		}
	}
	u.last[ref] = now
	return true
}
