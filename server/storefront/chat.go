package storefront

import (
	"net/http"
	"veil/crypto"
	"veil/server/web"
)

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
		s.WriteError(w, r, web.ErrUnauthenticated)
		return
	}
	var req struct {
		End bool `json:"end"`
	}
	if err := web.DecodeOptionalJSON(r, &req); err != nil {
		s.WriteError(w, r, err)
		return
	}
	if s.Hub == nil {
		s.WriteError(w, r, web.ErrChatOff)
		return
	}
	tok, err := crypto.ParseToken(token)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	v, err := s.Shop.LookupToken(tok)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	o := v.Order
	if !supportOpen(o) {
		s.WriteError(w, r, errNotPaid)
		return
	}
	if req.End {
		if err := s.Hub.EndOrder(o.Ref); err != nil {
			s.WriteError(w, r, err)
			return
		}
		web.WriteJSON(w, http.StatusOK, struct {
			Ended bool `json:"ended"`
		}{true})
		return
	}
	rcpts, err := s.ThreadRecipients(o)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	room, err := s.Hub.Open(o.Ref, rcpts)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	web.NoStore(w)
	web.WriteJSON(w, http.StatusCreated, chatOpened{Room: room.ID, JoinSecret: room.BuyerSecret, WSPath: web.WSPath})
}

// chatWS is GET /chat/ws: the hub's WebSocket endpoint. The hub checks the
// origin and speaks the chat protocol; without a hub it is 404.
func (s *Server) chatWS(w http.ResponseWriter, r *http.Request) {
	if s.Hub == nil {
		s.WriteError(w, r, web.ErrChatOff)
		return
	}
	s.Hub.ServeWS(w, r)
}
