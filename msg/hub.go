package msg

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"veil/crypto"
)

// HubConfig configures a [Hub]. Zero values pick the defaults given.
type HubConfig struct {
	// Threads stores every message said in a room. Required.
	Threads *Threads
	// Origin reports whether a WebSocket request comes from the site. nil
	// compares the Origin header's host with r.Host and refuses a request
	// without an Origin header ([SameHost]); a shop that knows its public
	// URL should use [PublicOrigin], which also checks the scheme and does
	// not trust the Host header.
	Origin func(r *http.Request) bool
	// IdleTimeout closes a room ("idle") after this long without a message
	// or a join; 15 minutes.
	IdleTimeout time.Duration
	// MaxLifetime closes a room ("expired") this long after it opened; 2 hours.
	MaxLifetime time.Duration
	// MaxMessageBytes bounds a message's text; 4096 (and never more than
	// [MaxTextBytes]). A frame may be 1 KiB larger, for the JSON around it.
	MaxMessageBytes int
	// MessagesPerMinute bounds the messages of a room, both sides together,
	// in any minute; 30. Automatic answers do not count.
	MessagesPerMinute int
	// RoomsPerOrderPerDay bounds how many rooms an order may open in any
	// 24 hours; 5.
	RoomsPerOrderPerDay int
	// SendBuffer is how many outgoing frames a connection may have queued
	// before it counts as slow and is dropped; 32.
	SendBuffer int
	// PongWait is how long a connection may stay silent (no frame, no pong);
	// 60 s. PingInterval must be shorter; 9/10 of PongWait.
	PingInterval time.Duration
	PongWait     time.Duration
	// WriteTimeout bounds one write to a connection; 10 s.
	WriteTimeout time.Duration
	// JoinTimeout is how long a new connection has to send its join frame;
	// 10 s.
	JoinTimeout time.Duration
	// Now is the clock for message times and rate limits; time.Now.
	Now func() time.Time
	// Logger gets room events, named by room id and order reference only;
	// slog.Default().
	Logger *slog.Logger
	// AutoAnswer, if set, may answer a buyer's message while no staff member
	// has joined the room yet: it returns the answer and true. The answer
	// (From "auto") goes to the room and the thread. It runs on the room's
	// goroutine, so it must be quick; an answer that fails [CleanText] is
	// dropped.
	AutoAnswer func(ref, text string) (string, bool)
	// OnOpen, if set, runs after a buyer's room opened, with the order ref
	// (merchant notifications, issue 12). It runs on the caller's goroutine.
	OnOpen func(ref string)
}

func (c *HubConfig) setDefaults() {
	if c.Origin == nil {
		c.Origin = SameHost
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 15 * time.Minute
	}
	if c.MaxLifetime <= 0 {
		c.MaxLifetime = 2 * time.Hour
	}
	if c.MaxMessageBytes <= 0 || c.MaxMessageBytes > MaxTextBytes {
		c.MaxMessageBytes = MaxTextBytes
	}
	if c.MessagesPerMinute <= 0 {
		c.MessagesPerMinute = 30
	}
	if c.RoomsPerOrderPerDay <= 0 {
		c.RoomsPerOrderPerDay = 5
	}
	if c.SendBuffer <= 0 {
		c.SendBuffer = 32
	}
	if c.PongWait <= 0 {
		c.PongWait = 60 * time.Second
	}
	if c.PingInterval <= 0 || c.PingInterval >= c.PongWait {
		c.PingInterval = c.PongWait * 9 / 10
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.JoinTimeout <= 0 {
		c.JoinTimeout = 10 * time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// SameHost is the default origin check: the request's Origin header names
// an http(s) origin whose host (and port) is the request's Host. A request
// without an Origin header is refused: browsers always send one on a
// WebSocket handshake, so its absence means a non-browser client.
func SameHost(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return false
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

// PublicOrigin returns the origin check for a shop whose public base URL
// is publicURL (veil serve --public-url): the Origin header must name the
// same scheme and host (and port, a default port being the same as none),
// whatever Host the request carries. http://shop.example is not
// https://shop.example: a page served over plain HTTP (say, by someone on
// the path) must not reach the chat of the TLS site. A request without an
// Origin header is refused, as by [SameHost].
func PublicOrigin(publicURL string) (func(r *http.Request) bool, error) {
	want, ok := originOf(publicURL)
	if !ok {
		return nil, fmt.Errorf("msg: public URL %q is not an absolute http(s) URL", publicURL)
	}
	return func(r *http.Request) bool {
		got, ok := originOf(r.Header.Get("Origin"))
		return ok && got == want
	}, nil
}

// originOf returns the serialised origin (scheme://host[:port], lowercase,
// default port dropped) of an absolute http(s) URL.
func originOf(raw string) (string, bool) {
	if raw == "" || len(raw) > 2048 {
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, true
}

// Room is what [Hub.Open] gives the buyer: the room id and the buyer's
// single-use join secret (shown once, never stored in the clear).
type Room struct {
	ID          string
	BuyerSecret string
}

// RoomInfo describes an open room for the console.
type RoomInfo struct {
	ID       string
	Ref      string
	OpenedAt time.Time
	// BuyerJoined and StaffJoined tell whether a buyer and at least one
	// staff member are connected right now.
	BuyerJoined  bool
	StaffJoined  bool
	LastActivity time.Time
}

// Roles in a room.
const (
	RoleBuyer = "buyer"
	RoleStaff = "staff"
)

// Close reasons sent in {"type":"closed","reason"}.
const (
	ReasonEndedByBuyer = "ended_by_buyer"
	ReasonEndedByStaff = "ended_by_staff"
	ReasonIdle         = "idle"
	ReasonExpired      = "expired"
	ReasonShutdown     = "shutdown"
)

// closedTTL is how long a closed room's id (and its unused secrets) is
// remembered, so that a late join says "room_closed" rather than
// "bad_secret". Room ids are 128 random bits and never repeat, so a room
// cannot reopen after that either.
const closedTTL = 24 * time.Hour

// Hub runs the one-time chat rooms. Its registry (open and recently closed
// rooms, join secrets, per-order counters) is owned by one goroutine; the
// exported methods send it work and wait for the answer.
type Hub struct {
	cfg     HubConfig
	log     *slog.Logger
	ops     chan func()
	ended   chan *room
	quit    chan struct{}
	done    chan struct{}
	closing sync.Once
	rooms   sync.WaitGroup
	// writePool shares write buffers between connections, so an idle
	// connection holds none.
	writePool *sync.Pool

	// Owned by the hub goroutine.
	open    map[string]*room // by room id
	byRef   map[string]*room
	closed  map[string]time.Time // room id → when it closed
	secrets map[[32]byte]grant   // SHA-256 of a join secret → what it grants
	opened  map[string][]time.Time
}

// grant is what a join secret admits to.
type grant struct {
	roomID string
	role   string
	staff  string
}

// NewHub starts a hub. cfg.Threads is required.
func NewHub(cfg HubConfig) *Hub {
	if cfg.Threads == nil {
		panic("msg: NewHub without Threads")
	}
	cfg.setDefaults()
	h := &Hub{
		cfg:     cfg,
		log:     cfg.Logger,
		ops:     make(chan func()),
		ended:   make(chan *room),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
		open:    make(map[string]*room),
		byRef:   make(map[string]*room),
		closed:  make(map[string]time.Time),
		secrets: make(map[[32]byte]grant),
		opened:  make(map[string][]time.Time),

		writePool: &sync.Pool{},
	}
	go h.run()
	return h
}

func (h *Hub) run() {
	defer close(h.done)
	prune := time.NewTicker(time.Minute)
	defer prune.Stop()
	for {
		select {
		case fn := <-h.ops:
			fn()
		case r := <-h.ended:
			h.roomEnded(r)
		case <-prune.C:
			h.prune()
		case <-h.quit:
			for _, r := range h.open {
				r.stopWith(ReasonShutdown)
			}
			// Rooms do not wait on the hub once quit is closed.
			h.rooms.Wait()
			return
		}
	}
}

// call runs fn on the hub goroutine and waits for it.
func (h *Hub) call(fn func()) error {
	done := make(chan struct{})
	select {
	case h.ops <- func() { fn(); close(done) }:
		<-done
		return nil
	case <-h.quit:
		return ErrHubClosed
	}
}

// Close closes every room with reason "shutdown" and stops the hub. Open
// and joins fail afterwards.
func (h *Hub) Close() {
	h.closing.Do(func() { close(h.quit) })
	<-h.done
}

// Open opens the order's chat room. recipients are the age recipients its
// thread is sealed to (the order's and the merchant's support recipient).
//
// An order has at most one open room: while one is open, Open returns
// [ErrRoomOpen] with that room's ID but no BuyerSecret. A buyer's secret is
// issued once per room; a buyer who lost the connection ends the room
// ([Hub.EndOrder]) and opens a new one, within [HubConfig.RoomsPerOrderPerDay]
// rooms in any 24 hours ([ErrTooManyRooms]).
func (h *Hub) Open(ref string, recipients []string) (Room, error) {
	if err := checkRef(ref); err != nil {
		return Room{}, err
	}
	rs, err := ParseRecipients(recipients)
	if err != nil {
		return Room{}, err
	}
	var (
		out  Room
		oerr error
	)
	err = h.call(func() {
		if r := h.byRef[ref]; r != nil {
			out, oerr = Room{ID: r.id}, ErrRoomOpen
			return
		}
		now := h.cfg.Now()
		recent := pruneTimes(h.opened[ref], now.Add(-24*time.Hour))
		if len(recent) >= h.cfg.RoomsPerOrderPerDay {
			h.opened[ref] = recent
			oerr = ErrTooManyRooms
			return
		}
		h.opened[ref] = append(recent, now)
		r := newRoom(h, crypto.RandomID("room_", 16), ref, rs, now)
		h.open[r.id] = r
		h.byRef[ref] = r
		out = Room{ID: r.id, BuyerSecret: h.issue(grant{roomID: r.id, role: RoleBuyer})}
		h.rooms.Add(1)
		go r.run()
		h.log.Info("chat: room opened", "room", r.id, "ref", ref)
	})
	if err != nil {
		return Room{}, err
	}
	if oerr == nil && h.cfg.OnOpen != nil {
		h.cfg.OnOpen(ref)
	}
	return out, oerr
}

// StaffSecret issues a single-use secret for staffName to join the room.
// It fails with [ErrRoomClosed] for a room that has closed and
// [ErrRoomNotFound] for an unknown one.
func (h *Hub) StaffSecret(roomID, staffName string) (string, error) {
	if err := checkStaffName(staffName, false); err != nil {
		return "", err
	}
	var (
		secret string
		serr   error
	)
	err := h.call(func() {
		if _, ok := h.open[roomID]; !ok {
			if _, ok := h.closed[roomID]; ok {
				serr = ErrRoomClosed
			} else {
				serr = ErrRoomNotFound
			}
			return
		}
		secret = h.issue(grant{roomID: roomID, role: RoleStaff, staff: staffName})
	})
	if err != nil {
		return "", err
	}
	return secret, serr
}

// Waiting lists every open room, oldest first, for the console; rooms with
// StaffJoined false are the ones waiting for staff.
func (h *Hub) Waiting() []RoomInfo {
	var out []RoomInfo
	_ = h.call(func() {
		out = make([]RoomInfo, 0, len(h.open))
		for _, r := range h.open {
			out = append(out, *r.info.Load())
		}
	})
	slices.SortFunc(out, func(a, b RoomInfo) int {
		if c := a.OpenedAt.Compare(b.OpenedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// EndOrder ends the order's open room, if any, as if the buyer had ended
// it, and returns once it is closed. It is the buyer's way out of a room
// whose connection was lost (see [Hub.Open]).
func (h *Hub) EndOrder(ref string) error {
	var r *room
	if err := h.call(func() {
		if r = h.byRef[ref]; r != nil {
			r.stopWith(ReasonEndedByBuyer)
		}
	}); err != nil {
		return err
	}
	if r != nil {
		<-r.done
	}
	return nil
}

// issue makes a join secret for g: 256 bits from crypto/rand, base64url.
// Only its SHA-256 is kept. Runs on the hub goroutine.
func (h *Hub) issue(g grant) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails as of Go 1.24
	s := base64.RawURLEncoding.EncodeToString(b)
	h.secrets[sha256.Sum256([]byte(s))] = g
	return s
}

// maxSecretLen refuses obviously wrong secrets before hashing them.
const maxSecretLen = 128

// consume spends a join secret and returns the room it admits to.
func (h *Hub) consume(secret string) (*room, grant, error) {
	if secret == "" || len(secret) > maxSecretLen {
		return nil, grant{}, ErrBadSecret
	}
	sum := sha256.Sum256([]byte(secret))
	var (
		r    *room
		g    grant
		cerr error
	)
	err := h.call(func() {
		var ok bool
		if g, ok = h.secrets[sum]; !ok {
			cerr = ErrBadSecret
			return
		}
		delete(h.secrets, sum)
		if r = h.open[g.roomID]; r == nil {
			cerr = ErrRoomClosed
		}
	})
	if err != nil {
		return nil, grant{}, err
	}
	return r, g, cerr
}

// roomEnded forgets an ended room, remembering its id as closed.
func (h *Hub) roomEnded(r *room) {
	delete(h.open, r.id)
	if h.byRef[r.ref] == r {
		delete(h.byRef, r.ref)
	}
	h.closed[r.id] = h.cfg.Now()
}

// prune drops what no longer matters: old closed rooms, their secrets and
// old open counts.
func (h *Hub) prune() {
	now := h.cfg.Now()
	for id, at := range h.closed {
		if now.Sub(at) > closedTTL {
			delete(h.closed, id)
		}
	}
	for sum, g := range h.secrets {
		_, open := h.open[g.roomID]
		_, closed := h.closed[g.roomID]
		if !open && !closed {
			delete(h.secrets, sum)
		}
	}
	for ref, ts := range h.opened {
		if ts = pruneTimes(ts, now.Add(-24*time.Hour)); len(ts) == 0 {
			delete(h.opened, ref)
		} else {
			h.opened[ref] = ts
		}
	}
}

// pruneTimes drops the times before cut from an ascending list.
func pruneTimes(ts []time.Time, cut time.Time) []time.Time {
	i := 0
	for i < len(ts) && ts[i].Before(cut) {
		i++
	}
	return ts[i:]
}
