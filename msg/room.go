package msg

import (
	"sync/atomic"
	"time"

	"filippo.io/age"
	"github.com/gorilla/websocket"
)

// historyLimit bounds the messages a room keeps in memory to replay to a
// side that joins later (staff joining a waiting room); the full record is
// the thread.
const historyLimit = 100

type eventKind uint8

const (
	evJoin  eventKind = iota // c joins; the room now owns c.send
	evFrame                  // c sent f (or a malformed frame: err)
	evLeave                  // c's reader stopped
	evFatal                  // c broke a limit: send err, then drop c
)

type roomEvent struct {
	kind eventKind
	c    *conn
	f    inFrame
	err  *Error
}

// room is one chat room. Everything below "owned by run" is touched only by
// the room's goroutine; others talk to it through events and stop.
type room struct {
	hub      *Hub
	id, ref  string
	rcpts    []age.Recipient
	openedAt time.Time
	events   chan roomEvent
	stop     chan string // buffered: the first stop reason wins, senders never wait
	done     chan struct{}
	info     atomic.Pointer[RoomInfo] // snapshot for Hub.Waiting

	// Owned by run.
	members   map[*conn]struct{}
	history   [][]byte
	sent      []time.Time // message times of the last minute, for the rate limit
	staffSeen bool        // a staff member has joined at some point
	lastAct   time.Time
}

func newRoom(h *Hub, id, ref string, rcpts []age.Recipient, now time.Time) *room {
	r := &room{
		hub:      h,
		id:       id,
		ref:      ref,
		rcpts:    rcpts,
		openedAt: now,
		events:   make(chan roomEvent),
		stop:     make(chan string, 1),
		done:     make(chan struct{}),
		members:  make(map[*conn]struct{}),
		lastAct:  now,
	}
	r.publish()
	return r
}

// stopWith asks the room to close with reason, without waiting.
func (r *room) stopWith(reason string) {
	select {
	case r.stop <- reason:
	default:
	}
}

// deliver hands ev to the room, or drops it if the room has ended.
func (r *room) deliver(ev roomEvent) bool {
	select {
	case r.events <- ev:
		return true
	case <-r.done:
		return false
	}
}

func (r *room) run() {
	cfg := &r.hub.cfg
	idle := time.NewTimer(cfg.IdleTimeout)
	life := time.NewTimer(cfg.MaxLifetime)
	defer idle.Stop()
	defer life.Stop()
	var reason string
	for reason == "" {
		select {
		case ev := <-r.events:
			reason = r.handle(ev, idle)
		case <-idle.C:
			reason = ReasonIdle
		case <-life.C:
			reason = ReasonExpired
		case reason = <-r.stop:
		}
	}
	r.end(reason)
}

// end closes the room for good: everyone gets the reason, every connection
// is closed after its queued frames, and the hub forgets the room.
func (r *room) end(reason string) {
	code := websocket.CloseNormalClosure
	if reason == ReasonShutdown {
		code = websocket.CloseGoingAway
	}
	// The hub first, so that whoever reads "closed" finds the room closed.
	select {
	case r.hub.ended <- r:
	case <-r.hub.quit:
	}
	r.broadcast(closedFrame(reason))
	for c := range r.members {
		r.release(c, code)
	}
	r.history = nil // what was said lives on only in the sealed thread
	r.hub.log.Info("chat: room closed", "room", r.id, "ref", r.ref, "reason", reason)
	close(r.done)
	r.hub.rooms.Done()
}

// handle applies one event and returns a close reason if it ends the room.
func (r *room) handle(ev roomEvent, idle *time.Timer) string {
	c := ev.c
	if ev.kind == evJoin {
		r.members[c] = struct{}{}
		if c.role == RoleStaff {
			r.staffSeen = true
		}
		r.touch(idle)
		batch := append([][]byte{joinedFrame(r.id, c.role)}, r.history...)
		r.sendTo(c, batch)
		return ""
	}
	if _, ok := r.members[c]; !ok {
		return "" // dropped or left already
	}
	switch ev.kind {
	case evLeave:
		r.release(c, websocket.CloseNormalClosure)
	case evFatal:
		r.sendTo(c, [][]byte{errorFrame(ev.err)})
		if _, ok := r.members[c]; ok {
			r.release(c, websocket.CloseMessageTooBig)
		}
	case evFrame:
		if ev.err != nil {
			r.sendTo(c, [][]byte{errorFrame(ev.err)})
			return ""
		}
		switch ev.f.Type {
		case "msg":
			r.say(c, ev.f.Text, idle)
		case "end":
			if c.role == RoleStaff {
				return ReasonEndedByStaff
			}
			return ReasonEndedByBuyer
		default: // including a second "join"
			r.sendTo(c, [][]byte{errorFrame(ErrBadFrame)})
		}
	}
	return ""
}

// say relays a message from c after it is sealed into the thread, then
// gives the automatic answer, if any.
func (r *room) say(c *conn, text string, idle *time.Timer) {
	cfg := &r.hub.cfg
	text, err := CleanText(text)
	if err == nil && len(text) > cfg.MaxMessageBytes {
		err = ErrTextTooLong
	}
	if err != nil {
		r.sendTo(c, [][]byte{errorFrame(err)})
		return
	}
	now := cfg.Now()
	if !r.allow(now) {
		r.sendTo(c, [][]byte{errorFrame(ErrRateLimited)})
		return
	}
	r.touch(idle)
	m := Message{From: c.role, Staff: c.staff, Text: text, At: now}
	if !r.record(m) {
		r.sendTo(c, [][]byte{errorFrame(ErrNotSaved)})
		return
	}
	if c.role != RoleBuyer || r.staffSeen || cfg.AutoAnswer == nil {
		return
	}
	ans, ok := cfg.AutoAnswer(r.ref, text)
	if !ok {
		return
	}
	if ans, err = CleanText(ans); err != nil {
		r.hub.log.Warn("chat: automatic answer refused", "room", r.id, "ref", r.ref, "err", err)
		return
	}
	r.record(Message{From: FromAuto, Text: ans, At: cfg.Now()})
}

// record appends m to the thread and, once it is durable, relays it. A
// message that could not be saved is not relayed: what the room shows is
// what the thread holds.
func (r *room) record(m Message) bool {
	m.At = m.At.UTC().Truncate(time.Second)
	if _, err := r.hub.cfg.Threads.appendSealed(r.ref, r.rcpts, m); err != nil {
		r.hub.log.Error("chat: message not saved", "room", r.id, "ref", r.ref, "err", err)
		return false
	}
	f := msgFrame(m)
	r.history = append(r.history, f)
	if len(r.history) > historyLimit {
		r.history = r.history[len(r.history)-historyLimit:]
	}
	r.broadcast(f)
	return true
}

// allow applies the room's messages-per-minute limit.
func (r *room) allow(now time.Time) bool {
	cut := now.Add(-time.Minute)
	i := 0
	for i < len(r.sent) && !r.sent[i].After(cut) {
		i++
	}
	r.sent = r.sent[i:]
	if len(r.sent) >= r.hub.cfg.MessagesPerMinute {
		return false
	}
	r.sent = append(r.sent, now)
	return true
}

func (r *room) touch(idle *time.Timer) {
	r.lastAct = r.hub.cfg.Now()
	idle.Reset(r.hub.cfg.IdleTimeout)
	r.publish()
}

func (r *room) broadcast(f []byte) {
	for c := range r.members {
		r.sendTo(c, [][]byte{f})
	}
}

// sendTo queues frames for c without ever waiting: a connection whose
// buffer is full is too slow and is dropped.
func (r *room) sendTo(c *conn, frames [][]byte) {
	select {
	case c.send <- frames:
	default:
		r.hub.log.Info("chat: slow connection dropped", "room", r.id, "ref", r.ref, "role", c.role)
		r.release(c, websocket.ClosePolicyViolation)
		c.reset() // its writer may be stuck in a write; do not wait for the deadline
	}
}

// release removes c from the room and lets its writer close it once its
// queue is flushed.
func (r *room) release(c *conn, code int) {
	delete(r.members, c)
	c.closeCode = code
	close(c.send)
	r.publish()
}

// publish stores a fresh snapshot for Hub.Waiting.
func (r *room) publish() {
	info := RoomInfo{ID: r.id, Ref: r.ref, OpenedAt: r.openedAt, LastActivity: r.lastAct}
	for c := range r.members {
		switch c.role {
		case RoleBuyer:
			info.BuyerJoined = true
		case RoleStaff:
			info.StaffJoined = true
		}
	}
	r.info.Store(&info)
}
