package server

import (
	"bytes"
	"errors"
	"io"
	"net/http"
)

// wsPath is where the chat hub is mounted (API.md: the answer's ws_path).
const wsPath = "/chat/ws"

type chatOpened struct {
	Room       string `json:"room"`
	JoinSecret string `json:"join_secret"`
	WSPath     string `json:"ws_path"`
}

// apiChat is POST /api/v1/order/chat (Bearer): it opens the order's
// one-time chat room and answers 201 {"room","join_secret","ws_path"}.
// With {"end":true} it ends the order's open room instead (a buyer who lost
// the connection, answered 409 room_open on the next try), answering 200
// {"ended":true}. Only a paid order has support.
func (s *Server) apiChat(w http.ResponseWriter, r *http.Request) {
	token, ok := bearer(r)
	if !ok {
		s.writeError(w, r, errUnauthenticated)
		return
	}
	var req struct {
		End bool `json:"end"`
	}
	if err := decodeOptionalJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if s.hub == nil {
		s.writeError(w, r, errChatOff)
		return
	}
	v, err := s.shop.Lookup(token)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	o := v.Order
	if !supportOpen(o) {
		s.writeError(w, r, errNotPaid)
		return
	}
	if req.End {
		if err := s.hub.EndOrder(o.Ref); err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, struct {
			Ended bool `json:"ended"`
		}{true})
		return
	}
	rcpts, err := s.threadRecipients(o)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	room, err := s.hub.Open(o.Ref, rcpts)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	noStore(w)
	writeJSON(w, http.StatusCreated, chatOpened{Room: room.ID, JoinSecret: room.BuyerSecret, WSPath: wsPath})
}

// chatWS is GET /chat/ws: the hub's WebSocket endpoint. The hub checks the
// origin and speaks the chat protocol; without a hub it is 404.
func (s *Server) chatWS(w http.ResponseWriter, r *http.Request) {
	if s.hub == nil {
		s.writeError(w, r, errChatOff)
		return
	}
	s.hub.ServeWS(w, r)
}

// decodeOptionalJSON is decodeJSON for a body that may be empty.
func decodeOptionalJSON(r *http.Request, v any) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return badRequest("unreadable body")
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return decodeJSON(r, v)
}
