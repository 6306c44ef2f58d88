package shop

import (
	"slices"
	"strings"
	"time"

	"veil/server/store"
)

// What the console shows of a sourced product (issue 14): the upstream's
// cached stock, its last failure and the orders still waiting for it. All
// of it but the waiting orders is memory only: a restart forgets it.

// upError is an upstream's last failure. The text is what the log line
// carries too: the upstream's code and message or a transport error, never
// a credential (the secret is in no error) nor a buyer's anything.
type upError struct {
	msg string
	at  time.Time
}

func (s *Shop) noteUpstreamError(pid string, err error) {
	msg := err.Error()
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	s.up.mu.Lock()
	defer s.up.mu.Unlock()
	s.up.init()
	s.up.lastErr[pid] = upError{msg: msg, at: s.now()}
}

// UpstreamView is a sourced product's upstream as the console shows it.
type UpstreamView struct {
	// Available is the cached stock, asked at CheckedAt (zero: not yet).
	Available int
	CheckedAt time.Time
	// LastError is the upstream's last failure since start-up, at
	// LastErrorAt ("" if none).
	LastError   string
	LastErrorAt time.Time
	// Waiting are the product's paid orders not yet delivered, oldest
	// first (at most 200).
	Waiting []Order
}

// UpstreamStatus returns what the console shows of product pid's upstream.
func (s *Shop) UpstreamStatus(pid string) (UpstreamView, error) {
	var v UpstreamView
	s.up.mu.Lock()
	s.up.init()
	a, e := s.up.avail[pid], s.up.lastErr[pid]
	s.up.mu.Unlock()
	v.Available, v.CheckedAt, v.LastError, v.LastErrorAt = a.n, a.at, e.msg, e.at
	err := s.db.View(func(tx *store.Txn) error {
		return tx.Iterate(pDeliver, "", false, func(k string, _ []byte) error {
			o, _, err := getOrderByRef(tx, strings.TrimPrefix(k, pDeliver))
			if err != nil {
				return nil // purged meanwhile
			}
			if o.ProductID == pid && o.Status == StatusPaid {
				o.Payloads, o.Recipient, o.rcpt = nil, "", nil
				v.Waiting = append(v.Waiting, o)
				if len(v.Waiting) == 200 {
					return store.ErrStop
				}
			}
			return nil
		})
	})
	slices.SortFunc(v.Waiting, func(a, b Order) int { return a.PaidAt.Compare(b.PaidAt) })
	return v, err
}
