package msg

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"veil/crypto"
	"veil/server/store"
)

// FuzzFrame sends one arbitrary client frame over a real WebSocket to a
// real hub (thread on a real Badger): as the first frame of a connection
// (where only a join is valid) or as the first frame after a join. Every
// answer must be a well-formed server frame; the room must answer exactly
// as the protocol says for what the frame decodes to (a message relayed
// and sealed into the thread only when CleanText accepts its text; an
// error frame with the right code otherwise); and the connection must end
// once the buyer ends the room. The frame parser itself (readFrame) runs
// on a live connection, so this is the smallest honest harness for it.
func FuzzFrame(f *testing.F) {
	db, err := store.Open(f.TempDir(), store.Options{})
	if err != nil {
		f.Fatal(err)
	}
	threads := NewThreads(db, nil)
	hub := NewHub(HubConfig{
		Threads:             threads,
		Logger:              slog.New(slog.DiscardHandler),
		RoomsPerOrderPerDay: 1 << 30,
		JoinTimeout:         wait,
	})
	mux := http.NewServeMux()
	mux.Handle("/chat/ws", hub)
	srv := httptest.NewServer(mux)
	f.Cleanup(func() {
		hub.Close()
		srv.CloseClientConnections()
		srv.Close()
		db.Close()
	})
	// X25519 keeps each sealed message cheap; the kind is not under test.
	order, err := crypto.NewIdentity(crypto.X25519)
	if err != nil {
		f.Fatal(err)
	}
	support, err := crypto.NewIdentity(crypto.X25519)
	if err != nil {
		f.Fatal(err)
	}
	recipients := []string{order.Recipient(), support.Recipient()}
	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http") + "/chat/ws"
	limit := MaxTextBytes + frameOverhead
	var rooms atomic.Int64

	f.Add([]byte(`{"type":"msg","text":"hello"}`), false, false)
	f.Add([]byte(`{"type":"join","secret":"x"}`), false, true)
	f.Fuzz(func(t *testing.T, data []byte, binary, asJoin bool) {
		ref := fmt.Sprintf("R-FZ%08d", rooms.Add(1))
		rm, err := hub.Open(ref, recipients)
		if err != nil {
			t.Fatal(err)
		}
		d := websocket.Dialer{HandshakeTimeout: wait}
		ws, resp, err := d.Dial(wsURL, http.Header{"Origin": {srv.URL}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		defer ws.Close()
		_ = ws.SetWriteDeadline(time.Now().Add(wait))
		_ = ws.SetReadDeadline(time.Now().Add(wait))
		read := func() (frame, error) {
			_, b, err := ws.ReadMessage()
			if err != nil {
				return frame{}, err
			}
			var fr frame
			if err := json.Unmarshal(b, &fr); err != nil {
				t.Fatalf("server frame is not JSON: %q", b)
			}
			return fr, nil
		}
		if !asJoin {
			if err := ws.WriteJSON(map[string]string{"type": "join", "secret": rm.BuyerSecret}); err != nil {
				t.Fatal(err)
			}
			if fr, err := read(); err != nil || fr.Type != "joined" || fr.Role != RoleBuyer {
				t.Fatalf("join: %+v, %v", fr, err)
			}
		}
		mt := websocket.TextMessage
		if binary {
			mt = websocket.BinaryMessage
		}
		if err := ws.WriteMessage(mt, data); err != nil {
			t.Fatal(err)
		}
		// Whatever data did, the buyer then ends the room (ignored, or
		// failing to write, if the connection is over already).
		_ = ws.WriteJSON(map[string]string{"type": "end"})

		var got []frame
		for {
			fr, err := read()
			if err != nil {
				var ne interface{ Timeout() bool }
				if errors.As(err, &ne) && ne.Timeout() {
					t.Fatalf("connection still open after %v; frames %+v", wait, got)
				}
				break
			}
			got = append(got, fr)
		}
		for _, fr := range got {
			switch fr.Type {
			case "msg", "closed":
			case "error":
				if fr.Code == "" || fr.Code == "internal" || fr.Message == "" {
					t.Fatalf("error frame %+v", fr)
				}
			default:
				t.Fatalf("unexpected frame %+v", fr)
			}
		}

		want := expectFrames(data, binary, asJoin)
		if len(data) > limit {
			// Over the limit: a too_large error if it reaches the client
			// before the connection ends, and nothing else.
			for _, fr := range got {
				if fr.Type != "error" || fr.Code != "too_large" {
					t.Fatalf("%d-byte frame answered %+v", len(data), got)
				}
			}
		} else if !sameFrames(got, want) {
			t.Fatalf("frame %q (binary %v, as join %v) answered %+v, want %+v", data, binary, asJoin, got, want)
		}
		if asJoin {
			hub.EndOrder(ref) // the room never had a member
		}
		n, err := threads.Count(ref)
		if err != nil {
			t.Fatal(err)
		}
		relayed := 0
		for _, fr := range got {
			if fr.Type == "msg" {
				relayed++
			}
		}
		if n != relayed {
			t.Fatalf("thread holds %d messages, %d relayed", n, relayed)
		}
		if relayed == 1 {
			msgs, _, err := threads.Read(ref, order.Age(), 0, 10)
			if err != nil || len(msgs) != 1 || msgs[0].Text != got[0].Text || msgs[0].From != FromBuyer {
				t.Fatalf("thread = %+v, %v; relayed %+v", msgs, err, got[0])
			}
		}
	})
}

// expectFrames is the protocol's answer to one client frame within the
// size limit, followed by the buyer's "end".
func expectFrames(data []byte, binary, asJoin bool) []frame {
	var in inFrame
	ok := !binary && json.Unmarshal(data, &in) == nil
	errFrame := func(e *Error) frame { return frame{Type: "error", Code: e.code, Message: e.msg} }
	closed := frame{Type: "closed", Reason: ReasonEndedByBuyer}
	if asJoin {
		switch {
		case !ok || in.Type != "join":
			return []frame{errFrame(ErrBadFrame)}
		default:
			// A secret nobody issued: the fuzzer cannot guess 256 bits.
			return []frame{errFrame(ErrBadSecret)}
		}
	}
	switch {
	case !ok:
		return []frame{errFrame(ErrBadFrame), closed}
	case in.Type == "end":
		return []frame{closed}
	case in.Type == "msg":
		text, err := CleanText(in.Text)
		if err != nil {
			var e *Error
			errors.As(err, &e)
			return []frame{errFrame(e), closed}
		}
		return []frame{{Type: "msg", From: FromBuyer, Text: text}, closed}
	}
	return []frame{errFrame(ErrBadFrame), closed}
}

// sameFrames compares frames, ignoring the time of messages (checked to
// be RFC 3339).
func sameFrames(got, want []frame) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		g := got[i]
		if g.Type == "msg" {
			if _, err := time.Parse(time.RFC3339, g.At); err != nil {
				return false
			}
			g.At = ""
		}
		if g != want[i] {
			return false
		}
	}
	return true
}
