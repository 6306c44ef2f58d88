package msg

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"

	"filippo.io/age"

	"veil/crypto"
	"veil/server/store"
)

// Who a message is from.
const (
	FromBuyer  = "buyer"
	FromStaff  = "staff"
	FromSystem = "system" // the shop itself: ticket status changes, notices
	FromAuto   = "auto"   // an automatic answer, clearly marked as such
)

// Message is one message of a support thread.
type Message struct {
	// Seq numbers the thread's messages from 1; [Threads.Append] assigns it.
	Seq uint64 `json:"seq"`
	// From is FromBuyer, FromStaff, FromSystem or FromAuto.
	From string `json:"from"`
	// Staff names the staff member, for FromStaff only (may be empty).
	Staff string `json:"staff,omitempty"`
	// Text passed [CleanText].
	Text string `json:"text"`
	// At is UTC with second precision; Append fills a zero At with now.
	At time.Time `json:"at"`
}

// sealedMessage is the plaintext of a thread file. It names the thread and
// the position it was written for, so that a file moved to another thread
// or slot on disk is detected instead of shown.
type sealedMessage struct {
	V     int       `json:"v"`
	Ref   string    `json:"ref"`
	Seq   uint64    `json:"seq"`
	From  string    `json:"from"`
	Staff string    `json:"staff,omitempty"`
	Text  string    `json:"text"`
	At    time.Time `json:"at"`
}

// threadHead is the clear-text counter of a thread: how many messages it
// holds, nothing about them.
type threadHead struct {
	Seq uint64 `json:"seq"`
}

// Keyspace (under store.Version):
//
//	thread/<ref>            threadHead (JSON)
//	thread/<ref>/<seq:%020d> one age file per message, sealed to the order
//	                         recipient and the merchant's support recipient
func headKey(ref string) string            { return "thread/" + ref }
func msgPrefix(ref string) string          { return "thread/" + ref + "/" }
func msgKey(ref string, seq uint64) string { return fmt.Sprintf("thread/%s/%020d", ref, seq) }
func seqOfKey(ref, k string) (uint64, error) {
	return strconv.ParseUint(k[len(msgPrefix(ref)):], 10, 64)
}

// Read limits.
const (
	defaultReadLimit = 100
	maxReadLimit     = 1000
	maxStaffName     = 64
)

// Threads stores support threads, sealed, in the store.
type Threads struct {
	db  *store.DB
	now func() time.Time
}

// NewThreads returns the threads of db; now (nil for time.Now) stamps
// messages that come without a time.
func NewThreads(db *store.DB, now func() time.Time) *Threads {
	if now == nil {
		now = time.Now
	}
	return &Threads{db: db, now: now}
}

// ParseRecipients parses age recipient strings (the order's and the
// merchant's support recipient) once, for callers that append often.
func ParseRecipients(recipients []string) ([]age.Recipient, error) {
	if len(recipients) == 0 {
		return nil, ErrBadRecipient
	}
	out := make([]age.Recipient, 0, len(recipients))
	for _, s := range recipients {
		r, err := crypto.ParseRecipient(s)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadRecipient, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// Append seals m to every recipient (age recipient strings: the order's and
// the merchant's support recipient; all hybrid or all X25519) and stores it
// as the thread's next message, with the thread's counter, in one durable
// transaction. It returns the message's seq. m.Seq is ignored; m.Text must
// pass [CleanText] unchanged.
func (t *Threads) Append(ref string, recipients []string, m Message) (uint64, error) {
	rs, err := ParseRecipients(recipients)
	if err != nil {
		return 0, err
	}
	return t.appendSealed(ref, rs, m)
}

func (t *Threads) appendSealed(ref string, rs []age.Recipient, m Message) (uint64, error) {
	if err := checkRef(ref); err != nil {
		return 0, err
	}
	if len(rs) == 0 {
		return 0, ErrBadRecipient
	}
	if err := checkMessage(m); err != nil {
		return 0, err
	}
	if m.At.IsZero() {
		m.At = t.now()
	}
	m.At = m.At.UTC().Truncate(time.Second)
	var seq uint64
	err := t.db.Update(func(tx *store.Txn) error {
		var head threadHead
		if err := tx.GetJSON(headKey(ref), &head); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		seq = head.Seq + 1
		// Sealed inside the transaction because the plaintext names its seq;
		// a conflict (a concurrent append to the same thread) seals again.
		pt, err := json.Marshal(sealedMessage{V: 1, Ref: ref, Seq: seq, From: m.From, Staff: m.Staff, Text: m.Text, At: m.At})
		if err != nil {
			return err
		}
		ct, err := crypto.Seal(pt, rs...)
		clear(pt)
		if err != nil {
			return err
		}
		if err := tx.Set(msgKey(ref, seq), ct); err != nil {
			return err
		}
		return tx.SetJSON(headKey(ref), threadHead{Seq: seq})
	})
	if err != nil {
		return 0, fmt.Errorf("msg: append to thread of %s: %w", ref, err)
	}
	return seq, nil
}

// Read opens the thread's messages after seq "after" (0 for the start), at
// most limit of them (≤ 0 means 100; at most 1000), with id: the order
// identity or the merchant's support identity. next is the cursor for the
// following page (pass it as after), or 0 when the end was reached. A
// thread that does not exist reads as empty.
func (t *Threads) Read(ref string, id age.Identity, after uint64, limit int) (msgs []Message, next uint64, err error) {
	if err := checkRef(ref); err != nil {
		return nil, 0, err
	}
	if limit <= 0 {
		limit = defaultReadLimit
	}
	limit = min(limit, maxReadLimit)
	type file struct {
		seq uint64
		ct  []byte
	}
	var files []file
	more := false
	// Collect the ciphertexts first and decrypt outside the snapshot, so a
	// long read holds no transaction open.
	err = t.db.View(func(tx *store.Txn) error {
		return tx.Iterate(msgPrefix(ref), msgKey(ref, after+1), false, func(k string, v []byte) error {
			if len(files) == limit {
				more = true
				return store.ErrStop
			}
			seq, err := seqOfKey(ref, k)
			if err != nil {
				return fmt.Errorf("%w: key %q", ErrThreadCorrupt, k)
			}
			files = append(files, file{seq, v})
			return nil
		})
	})
	if err != nil {
		return nil, 0, fmt.Errorf("msg: read thread of %s: %w", ref, err)
	}
	msgs = make([]Message, 0, len(files))
	for _, f := range files {
		pt, err := crypto.Open(f.ct, id)
		if err != nil {
			return nil, 0, fmt.Errorf("msg: open message %d of %s: %w", f.seq, ref, err)
		}
		var sm sealedMessage
		err = json.Unmarshal(pt, &sm)
		clear(pt)
		if err != nil {
			return nil, 0, fmt.Errorf("msg: decode message %d of %s: %w", f.seq, ref, err)
		}
		if sm.Ref != ref || sm.Seq != f.seq {
			return nil, 0, fmt.Errorf("msg: message %d of %s: %w", f.seq, ref, ErrThreadCorrupt)
		}
		msgs = append(msgs, Message{Seq: sm.Seq, From: sm.From, Staff: sm.Staff, Text: sm.Text, At: sm.At.UTC()})
	}
	if more && len(msgs) > 0 {
		next = msgs[len(msgs)-1].Seq
	}
	return msgs, next, nil
}

// Count returns how many messages the thread holds (0 if none).
func (t *Threads) Count(ref string) (int, error) {
	if err := checkRef(ref); err != nil {
		return 0, err
	}
	var head threadHead
	err := t.db.View(func(tx *store.Txn) error { return tx.GetJSON(headKey(ref), &head) })
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("msg: count thread of %s: %w", ref, err)
	}
	return int(head.Seq), nil
}

// deleteChunk bounds one transaction of Delete, well under Badger's
// transaction size limit.
const deleteChunk = 1000

// Delete erases the thread (retention purge). The ciphertexts go, and with
// the order identity never stored, what compaction has not yet dropped
// cannot be opened without the merchant's support identity. Deleting a
// thread that does not exist is not an error.
func (t *Threads) Delete(ref string) error {
	if err := checkRef(ref); err != nil {
		return err
	}
	for {
		n := 0
		err := t.db.Update(func(tx *store.Txn) error {
			var keys []string
			err := tx.Iterate(msgPrefix(ref), "", true, func(k string, _ []byte) error {
				if len(keys) == deleteChunk {
					return store.ErrStop
				}
				keys = append(keys, k)
				return nil
			})
			if err != nil {
				return err
			}
			for _, k := range keys {
				if err := tx.Delete(k); err != nil {
					return err
				}
			}
			n = len(keys)
			if n < deleteChunk {
				return tx.Delete(headKey(ref))
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("msg: delete thread of %s: %w", ref, err)
		}
		if n < deleteChunk {
			return nil
		}
	}
}

// checkRef keeps refs to the characters of an order reference, so a ref can
// never reach outside its own keys.
func checkRef(ref string) error {
	if len(ref) == 0 || len(ref) > 64 {
		return ErrBadRef
	}
	for i := 0; i < len(ref); i++ {
		c := ref[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return ErrBadRef
		}
	}
	return nil
}

func checkMessage(m Message) error {
	switch m.From {
	case FromBuyer, FromSystem, FromAuto:
		if m.Staff != "" {
			return ErrBadStaff
		}
	case FromStaff:
		if err := checkStaffName(m.Staff, true); err != nil {
			return err
		}
	default:
		return ErrBadFrom
	}
	clean, err := CleanText(m.Text)
	if err != nil {
		return err
	}
	if clean != m.Text {
		return ErrTextInvalid
	}
	return nil
}

func checkStaffName(s string, emptyOK bool) error {
	if s == "" {
		if emptyOK {
			return nil
		}
		return ErrBadStaff
	}
	if len(s) > maxStaffName || !utf8.ValidString(s) {
		return ErrBadStaff
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return ErrBadStaff
		}
	}
	return nil
}
