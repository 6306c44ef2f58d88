package msg

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Frame size limits. The text limit (HubConfig.MaxMessageBytes) applies to
// the decoded text; the frame carrying it may be frameOverhead larger, for
// the JSON around it and escapes. A frame over that gets a too_large error
// frame and its connection is closed (after the rest of the frame is read
// and dropped, so the error frame is not lost to a TCP reset). Past
// hardLimitFactor times that, gorilla's own read limit closes the
// connection at once, without reading the frame.
const (
	frameOverhead   = 1024
	hardLimitFactor = 4
	// closeGrace is how long a closing connection waits for the peer's
	// close frame before the TCP connection is closed.
	closeGrace = time.Second
)

// inFrame is a client frame: {"type":"join","secret"}, {"type":"msg","text"}
// or {"type":"end"}.
type inFrame struct {
	Type   string `json:"type"`
	Secret string `json:"secret,omitempty"`
	Text   string `json:"text,omitempty"`
}

// outFrame is a server frame; which fields are set depends on Type.
type outFrame struct {
	Type    string `json:"type"`
	Room    string `json:"room,omitempty"`
	Role    string `json:"role,omitempty"`
	From    string `json:"from,omitempty"`
	Text    string `json:"text,omitempty"`
	At      string `json:"at,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
}

func encode(f outFrame) []byte {
	b, err := json.Marshal(f)
	if err != nil {
		panic("msg: encode frame: " + err.Error()) // strings only: cannot fail
	}
	return b
}

func joinedFrame(roomID, role string) []byte {
	return encode(outFrame{Type: "joined", Room: roomID, Role: role})
}

func msgFrame(m Message) []byte {
	return encode(outFrame{Type: "msg", From: m.From, Text: m.Text, At: m.At.UTC().Format(time.RFC3339)})
}

func closedFrame(reason string) []byte { return encode(outFrame{Type: "closed", Reason: reason}) }

// errorFrame reports err; errors not of this package show as "internal"
// with nothing of their text.
func errorFrame(err error) []byte {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{"internal", "something went wrong"}
	}
	return encode(outFrame{Type: "error", Code: e.code, Message: e.msg})
}

// conn is one WebSocket connection. Its send channel is owned (written and
// closed) first by the connection's handler goroutine and, once it has
// joined, by its room; writePump is its only writer.
type conn struct {
	hub       *Hub
	ws        *websocket.Conn
	send      chan [][]byte
	closeCode int // set by send's owner before it closes send
	readDone  chan struct{}
	abortOnce sync.Once

	role, staff string // set before the join is handed to the room
}

// ServeHTTP is [Hub.ServeWS], so that the hub is an http.Handler.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.ServeWS(w, r) }

var _ http.Handler = (*Hub)(nil)

// ServeWS is the chat's WebSocket endpoint (mounted at ws_path,
// "/chat/ws"). A request whose Origin is not the site's is refused with
// 403 before any upgrade. The connection then speaks the chat protocol of
// API.md until its room closes or it is dropped.
func (h *Hub) ServeWS(w http.ResponseWriter, r *http.Request) {
	if !h.cfg.Origin(r) {
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
		return
	}
	select {
	case <-h.quit:
		http.Error(w, "chat is shutting down", http.StatusServiceUnavailable)
		return
	default:
	}
	up := websocket.Upgrader{
		HandshakeTimeout: h.cfg.JoinTimeout,
		WriteBufferPool:  h.writePool,
		CheckOrigin:      h.cfg.Origin,
	}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade has answered
	}
	c := &conn{
		hub:      h,
		ws:       ws,
		send:     make(chan [][]byte, h.cfg.SendBuffer),
		readDone: make(chan struct{}),
	}
	go c.writePump()
	c.serve()
}

func (c *conn) frameLimit() int { return c.hub.cfg.MaxMessageBytes + frameOverhead }

// serve is the connection's reader: the join, then frames to the room.
func (c *conn) serve() {
	defer close(c.readDone)
	cfg := &c.hub.cfg
	c.ws.SetReadLimit(int64(c.frameLimit() * hardLimitFactor))
	_ = c.ws.SetReadDeadline(time.Now().Add(cfg.JoinTimeout))

	f, err := c.readFrame()
	var r *room
	switch {
	case err != nil:
		var me *Error
		if !errors.As(err, &me) {
			c.failJoin(nil) // timeout or gone
			return
		}
		c.failJoin(me)
		return
	case f.Type != "join":
		c.failJoin(ErrBadFrame)
		return
	}
	r, g, err := c.hub.consume(f.Secret)
	if err != nil {
		var me *Error
		if !errors.As(err, &me) {
			me = ErrHubClosed
		}
		c.failJoin(me)
		return
	}
	c.role, c.staff = g.role, g.staff
	if !r.deliver(roomEvent{kind: evJoin, c: c}) {
		c.failJoin(ErrRoomClosed)
		return
	}
	// From here on the room owns c.send.

	_ = c.ws.SetReadDeadline(time.Now().Add(cfg.PongWait))
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(cfg.PongWait))
	})
	for {
		f, err := c.readFrame()
		var me *Error
		switch {
		case err == nil:
			_ = c.ws.SetReadDeadline(time.Now().Add(cfg.PongWait))
			r.deliver(roomEvent{kind: evFrame, c: c, f: f})
		case errors.Is(err, ErrFrameLarge):
			r.deliver(roomEvent{kind: evFatal, c: c, err: ErrFrameLarge})
			c.drain()
			return
		case errors.As(err, &me):
			r.deliver(roomEvent{kind: evFrame, c: c, err: me})
		default:
			r.deliver(roomEvent{kind: evLeave, c: c})
			return
		}
	}
}

// failJoin ends a connection that never joined a room, with e's error
// frame first if e is set. The handler goroutine still owns c.send here.
func (c *conn) failJoin(e *Error) {
	c.closeCode = websocket.ClosePolicyViolation
	if e != nil {
		if e == ErrFrameLarge {
			c.closeCode = websocket.CloseMessageTooBig
		}
		c.send <- [][]byte{errorFrame(e)} // the buffer is empty: never blocks
	}
	close(c.send)
	c.drain()
}

// drain reads and drops frames until the peer answers the close frame or
// the connection is closed, so that the writer's last frames are not lost
// to a TCP reset.
func (c *conn) drain() {
	_ = c.ws.SetReadDeadline(time.Now().Add(c.hub.cfg.WriteTimeout + closeGrace))
	for {
		_, rd, err := c.ws.NextReader()
		if err != nil {
			return
		}
		if _, err := io.Copy(io.Discard, rd); err != nil {
			return
		}
	}
}

// readFrame reads one client frame. It returns ErrFrameLarge for a frame
// over the limit (fatal), ErrBadFrame for a frame that is not a JSON object
// in a text message (not fatal), and other errors when the connection is
// gone.
func (c *conn) readFrame() (inFrame, error) {
	mt, rd, err := c.ws.NextReader()
	if err != nil {
		if errors.Is(err, websocket.ErrReadLimit) {
			return inFrame{}, ErrFrameLarge
		}
		return inFrame{}, err
	}
	limit := c.frameLimit()
	data, err := io.ReadAll(io.LimitReader(rd, int64(limit)+1))
	if err == nil && len(data) > limit {
		_, err = io.Copy(io.Discard, rd)
		if err == nil {
			return inFrame{}, ErrFrameLarge
		}
	}
	if err != nil {
		if errors.Is(err, websocket.ErrReadLimit) {
			return inFrame{}, ErrFrameLarge
		}
		return inFrame{}, err
	}
	var f inFrame
	if mt != websocket.TextMessage || json.Unmarshal(data, &f) != nil {
		return inFrame{}, ErrBadFrame
	}
	return f, nil
}

// writePump is the connection's only writer. It ends when its send channel
// is closed (after a close frame and a short wait for the peer's answer) or
// a write fails, and it closes the connection.
func (c *conn) writePump() {
	cfg := &c.hub.cfg
	ping := time.NewTicker(cfg.PingInterval)
	defer ping.Stop()
	defer c.abort()
	for {
		select {
		case frames, ok := <-c.send:
			if !ok {
				msg := websocket.FormatCloseMessage(c.closeCode, "")
				if c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(cfg.WriteTimeout)) == nil {
					t := time.NewTimer(closeGrace)
					select {
					case <-c.readDone:
					case <-t.C:
					}
					t.Stop()
				}
				return
			}
			_ = c.ws.SetWriteDeadline(time.Now().Add(cfg.WriteTimeout))
			for _, f := range frames {
				if err := c.ws.WriteMessage(websocket.TextMessage, f); err != nil {
					return
				}
			}
		case <-ping.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(cfg.WriteTimeout)); err != nil {
				return
			}
		}
	}
}

// abort closes the TCP connection at once; safe from any goroutine.
func (c *conn) abort() {
	c.abortOnce.Do(func() { _ = c.ws.Close() })
}

// reset drops a slow peer: the connection is reset rather than closed, so
// the kernel does not keep its unsent backlog around for a peer that is not
// reading.
func (c *conn) reset() {
	if tc, ok := c.ws.NetConn().(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	c.abort()
}
