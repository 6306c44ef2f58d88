// Package notify tells the merchant what happened in the shop: a Telegram
// bot message (Bot API sendMessage to a chat id) and a signed JSON webhook,
// per event kind and channel as the merchant chose.
//
// Events are written to a durable queue in the store, in the transaction of
// the state change that causes them wherever the caller has one (Enqueue),
// so a crash neither loses nor invents one. One sender goroutine (Run)
// drains the queue with bounded, exponentially spaced retries; a delivery
// is recorded sent in the commit that takes it off the queue, so a restart
// resends nothing recorded sent, and one marked failed stays visible
// (Deliveries).
//
// An event carries references and amounts only: order refs, product slugs,
// quantities, amounts, reason and kind codes, ids. It has no field for free
// text, and Enqueue refuses values outside each field's shape, so no token,
// key, chat text or address can travel in one.
//
// The bot token and the webhook secret are sealed (age) to an identity
// derived from the vault ([crypto.Vault.NotifyIdentity]); the sender opens
// them once the vault has been unlocked and keeps them in memory until the
// process ends, so the alert "delivery queued, vault locked" still goes out
// after a lock. After a restart with the vault locked, events wait in the
// queue until the first unlock.
package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"veil/crypto"
	"veil/server/store"
)

// Kind is what happened.
type Kind string

// Event kinds a merchant may subscribe a channel to.
const (
	OrderPaid       Kind = "order_paid"       // a payment paid an order
	DeliveryQueued  Kind = "delivery_queued"  // paid while the vault is locked: waits for an unlock
	DeliveryFailed  Kind = "delivery_failed"  // delivery failed (queued for retry) or missed its deadline (refund due)
	PaymentHeld     Kind = "payment_held"     // a payment of another amount waits for staff
	TicketOpened    Kind = "ticket_opened"    // a buyer filed a ticket
	TicketReply     Kind = "ticket_reply"     // a buyer wrote on an order's support thread
	ChatOpened      Kind = "chat_opened"      // a buyer opened a chat room
	StockLow        Kind = "stock_low"        // a product's stock fell below its threshold
	ApprovalWaiting Kind = "approval_waiting" // an operation waits in the approvals queue
	// After-sales (issue 13): a supplier batch froze automatically; a
	// buyer's chat question the automatic answers could not answer.
	BatchFrozen  Kind = "batch_frozen"
	ChatQuestion Kind = "chat_question"
	// Test is the console's "send test"; no channel subscribes to it.
	Test Kind = "test"
)

// Kinds lists the kinds a channel can subscribe to, in display order.
func Kinds() []Kind {
	return []Kind{OrderPaid, DeliveryQueued, DeliveryFailed, PaymentHeld, TicketOpened, TicketReply,
		ChatOpened, StockLow, ApprovalWaiting, BatchFrozen, ChatQuestion}
}

func (k Kind) valid() bool { return k == Test || slices.Contains(Kinds(), k) }

// Event is one notification. Every field is a reference, a number or a
// code; Enqueue checks each against its shape.
type Event struct {
	ID          string    `json:"id"`    // unique; a receiver may drop repeats by it
	Kind        Kind      `json:"event"` // what happened
	At          time.Time `json:"at"`    // when, UTC, to the second
	Ref         string    `json:"ref,omitempty"`
	Product     string    `json:"product,omitempty"` // slug
	Quantity    int       `json:"quantity,omitempty"`
	AmountMinor int64     `json:"amount_minor,omitempty"`
	Currency    string    `json:"currency,omitempty"`
	// Reason is a code: a ticket's reason, a held payment's reason.
	Reason string `json:"reason,omitempty"`
	Ticket string `json:"ticket,omitempty"` // ticket id
	// Stock and Threshold: stock_low.
	Stock     *int `json:"stock,omitempty"`
	Threshold int  `json:"threshold,omitempty"`
	// Approval and ApprovalKind: approval_waiting.
	Approval     string `json:"approval,omitempty"`
	ApprovalKind string `json:"approval_kind,omitempty"`
}

var (
	reRef   = regexp.MustCompile(`^R-[0-9A-Z]{8}$`)
	reSlug  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)
	reCode  = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)
	reCur   = regexp.MustCompile(`^[A-Z]{3,4}$`)
	reID    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	reEvent = regexp.MustCompile(`^[0-9a-f]{16}-[0-9a-f]{8}$`)
)

// ErrBadEvent: a field of an event is outside its shape (a bug in the
// caller, never the buyer's doing).
var ErrBadEvent = errors.New("notify: malformed event")

// Check reports whether every field of e has its shape (ErrBadEvent
// otherwise). ID must be set.
func (e *Event) Check() error {
	bad := func(field string) error { return fmt.Errorf("%w: %s", ErrBadEvent, field) }
	switch {
	case !e.Kind.valid():
		return bad("event")
	case !reEvent.MatchString(e.ID):
		return bad("id")
	case e.Ref != "" && !reRef.MatchString(e.Ref):
		return bad("ref")
	case e.Product != "" && !reSlug.MatchString(e.Product):
		return bad("product")
	case e.Currency != "" && !reCur.MatchString(e.Currency):
		return bad("currency")
	case e.Reason != "" && !reCode.MatchString(e.Reason):
		return bad("reason")
	case e.ApprovalKind != "" && !reCode.MatchString(e.ApprovalKind):
		return bad("approval_kind")
	case e.Ticket != "" && !reID.MatchString(e.Ticket):
		return bad("ticket")
	case e.Approval != "" && !reID.MatchString(e.Approval):
		return bad("approval")
	case e.Quantity < 0 || e.AmountMinor < 0 || e.Threshold < 0 || (e.Stock != nil && *e.Stock < 0):
		return bad("number")
	}
	return nil
}

// Options configure a Notifier; zero values pick defaults.
type Options struct {
	// Identity returns the notifications identity of the unlocked vault
	// (the shop's NotifyIdentity); an error while locked.
	Identity func() (*crypto.Identity, error)
	// TelegramAPI is the Bot API's base URL, https://api.telegram.org
	// (tests point it at a fake).
	TelegramAPI string
	// Client sends the requests (a 10 s timeout).
	Client *http.Client
	// MaxAttempts bounds the tries of one delivery before it is marked
	// failed (8); Backoff is the wait after the first failure (5 s),
	// doubled after each, at most MaxBackoff (1 h).
	MaxAttempts int
	Backoff     time.Duration
	MaxBackoff  time.Duration
	// Poll is how often the sender looks at the queue when not woken (1 s).
	Poll time.Duration
	// Keep is how many finished deliveries are kept for the console (200).
	Keep   int
	Now    func() time.Time
	Logger *slog.Logger
}

// Notifier queues and sends notifications. A nil *Notifier queues
// nothing, so callers need no check.
type Notifier struct {
	db   *store.DB
	opt  Options
	log  *slog.Logger
	kick chan struct{}

	mu      sync.Mutex
	secrets map[string]string // sealed secret (as stored) -> plaintext, once opened
}

// New returns a notifier over db. Start its sender with Run.
func New(db *store.DB, opt Options) *Notifier {
	if opt.TelegramAPI == "" {
		opt.TelegramAPI = "https://api.telegram.org"
	}
	if opt.Client == nil {
		opt.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if opt.MaxAttempts <= 0 {
		opt.MaxAttempts = 8
	}
	if opt.Backoff <= 0 {
		opt.Backoff = 5 * time.Second
	}
	if opt.MaxBackoff <= 0 {
		opt.MaxBackoff = time.Hour
	}
	if opt.Poll <= 0 {
		opt.Poll = time.Second
	}
	if opt.Keep <= 0 {
		opt.Keep = 200
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Identity == nil {
		opt.Identity = func() (*crypto.Identity, error) { return nil, ErrLocked }
	}
	return &Notifier{db: db, opt: opt, log: opt.Logger, kick: make(chan struct{}, 1), secrets: map[string]string{}}
}

// ErrLocked: the vault is locked and was not unlocked since start-up, so a
// sealed secret cannot be opened (or, before the first unlock ever, no
// secret can be sealed).
var ErrLocked = errors.New("notify: vault locked")

func (n *Notifier) now() time.Time { return n.opt.Now().UTC() }

// Store keys (under store.Version).
const (
	kSettings = "notify/settings"
	kRcpt     = "notify/rcpt"    // the notifications recipient, in the clear
	pQueue    = "notify/q/"      // notify/q/<event id>/<channel> -> Delivery while pending
	pLog      = "notify/log/"    // notify/log/<event id>/<channel> -> Delivery once sent or failed
	pLow      = "notify/low/"    // notify/low/<product id> -> "" while stock_low was told
	pSealed   = "notify/sealed/" // notify/sealed/<id> -> a secret sealed for a pending approval
)

// eventSeq orders events queued within one clock tick.
var eventSeq atomic.Uint32

// newEventID is the time and a counter, so that the queue (ordered by key)
// is in the order events happened.
func newEventID(now time.Time) string {
	return fmt.Sprintf("%016x-%08x", uint64(now.UnixNano()), eventSeq.Add(1))
}

// Enqueue queues e for every channel subscribed to its kind, inside tx (the
// transaction of the state change it reports), so it commits with it or
// not at all. ID and At are filled in. It may run more than once (store
// retries): each run writes the same keys' worth of work afresh.
//
// A malformed event (see Check) is dropped with a log line naming the
// field, never the value: a notification must not stop the payment or
// ticket it reports. Only store errors are returned.
func (n *Notifier) Enqueue(tx *store.Txn, e Event) error {
	if n == nil {
		return nil
	}
	now := n.now()
	e.ID, e.At = newEventID(now), now.Truncate(time.Second)
	if err := e.Check(); err != nil {
		n.log.Error("notify: event dropped", "event", string(e.Kind), "err", err)
		return nil
	}
	set, err := getSettings(tx)
	if err != nil {
		return err
	}
	var chans []string
	for _, c := range channelNames {
		if cs := set.channel(c); cs.configured() && slices.Contains(cs.Events, e.Kind) {
			chans = append(chans, c)
		}
	}
	if len(chans) == 0 {
		return nil
	}
	return n.enqueueTo(tx, e, chans...)
}

func (n *Notifier) enqueueTo(tx *store.Txn, e Event, chans ...string) error {
	for _, c := range chans {
		d := Delivery{Event: e, Channel: c, State: StatePending, NextAt: e.At}
		if err := tx.SetJSON(pQueue+e.ID+"/"+c, d); err != nil {
			return err
		}
	}
	n.wake()
	return nil
}

// Emit is Enqueue in a transaction of its own, for events that change no
// stored state (a chat room lives in memory).
func (n *Notifier) Emit(e Event) error {
	if n == nil {
		return nil
	}
	return n.db.Update(func(tx *store.Txn) error { return n.Enqueue(tx, e) })
}

// StockTx reports a product's stock after a sale, inside the sale's
// transaction: when it is below the product's threshold and was not
// already told, a stock_low event is queued; at or above it again, the
// next fall is told anew.
func (n *Notifier) StockTx(tx *store.Txn, productID, slug string, stock int) error {
	if n == nil {
		return nil
	}
	set, err := getSettings(tx)
	if err != nil {
		return err
	}
	th, ok := set.Thresholds[productID]
	if !ok || th <= 0 {
		return nil
	}
	told, err := tx.Has(pLow + productID)
	if err != nil {
		return err
	}
	switch {
	case stock < th && !told:
		if err := tx.Set(pLow+productID, nil); err != nil {
			return err
		}
		return n.Enqueue(tx, Event{Kind: StockLow, Product: slug, Stock: &stock, Threshold: th})
	case stock >= th && told:
		return tx.Delete(pLow + productID)
	}
	return nil
}

func (n *Notifier) wake() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// Delivery states.
const (
	StatePending = "pending"
	StateSent    = "sent"
	StateFailed  = "failed"
)

// Delivery is one event on its way to one channel.
type Delivery struct {
	Event    Event     `json:"event"`
	Channel  string    `json:"channel"`
	State    string    `json:"state"`
	Attempts int       `json:"attempts"`
	NextAt   time.Time `json:"next_at,omitzero"`
	DoneAt   time.Time `json:"done_at,omitzero"`
	// LastError says why the last attempt failed, with no secret, URL
	// path or body in it.
	LastError string `json:"last_error,omitempty"`
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// ApprovalEvent is approval_waiting for approval id of kind; ref is kept
// only when it is an order ref (a staff name or a batch is not sent).
func ApprovalEvent(id, kind, ref string) Event {
	e := Event{Kind: ApprovalWaiting, Approval: id, ApprovalKind: kind}
	if reRef.MatchString(ref) {
		e.Ref = ref
	}
	return e
}
