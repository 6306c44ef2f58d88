package console

import (
	"errors"
	"net/http"
	"net/url"

	"veil/msg"
	"veil/pages"
	"veil/server/shop"
	"veil/server/staff"
	"veil/server/web"
	"veil/static"
)

// Live chat for staff: the open rooms (msg.Hub.Waiting), and joining one
// with a staff member's own single-use secret. The chat itself needs
// JavaScript (admin_chat.js); without it, the ticket page's answer form
// writes to the same thread.

type roomJSON struct {
	ID           string `json:"id"`
	Ref          string `json:"ref"`
	OpenedAt     string `json:"opened_at"`
	BuyerJoined  bool   `json:"buyer_joined"`
	StaffJoined  bool   `json:"staff_joined"`
	LastActivity string `json:"last_activity"`
}

// apiRooms is GET /api/v1/admin/rooms: open rooms, oldest first.
func (s *Server) apiRooms(w http.ResponseWriter, r *http.Request, _ staff.Session) {
	if s.Hub == nil {
		s.WriteError(w, r, web.ErrChatOff)
		return
	}
	out := []roomJSON{}
	for _, ri := range s.Hub.Waiting() {
		out = append(out, roomJSON{ID: ri.ID, Ref: ri.Ref, OpenedAt: web.RFC3339(ri.OpenedAt), BuyerJoined: ri.BuyerJoined,
			StaffJoined: ri.StaffJoined, LastActivity: web.RFC3339(ri.LastActivity)})
	}
	web.WriteJSON(w, http.StatusOK, struct {
		Rooms []roomJSON `json:"rooms"`
	}{out})
}

// joinRoom issues sess's single-use secret for a room.
func (s *Server) joinRoom(sess staff.Session, roomID string) (msg.RoomInfo, string, error) {
	if s.Hub == nil {
		return msg.RoomInfo{}, "", web.ErrChatOff
	}
	if roomID == "" || len(roomID) > 64 {
		return msg.RoomInfo{}, "", errRoomNotFound
	}
	var info msg.RoomInfo
	for _, ri := range s.Hub.Waiting() {
		if ri.ID == roomID {
			info = ri
		}
	}
	secret, err := s.Hub.StaffSecret(roomID, sess.User)
	switch {
	case errors.Is(err, msg.ErrRoomNotFound):
		return info, "", errRoomNotFound
	case errors.Is(err, msg.ErrRoomClosed):
		return info, "", errRoomClosed
	case err != nil:
		return info, "", err
	}
	s.Log.Info("staff joining chat", "room", roomID, "ref", info.Ref, "staff", sess.User)
	return info, secret, nil
}

var (
	errRoomNotFound = web.NewError(http.StatusNotFound, "room_not_found", "no such chat room")
	errRoomClosed   = web.NewError(http.StatusConflict, "room_closed", "the chat room is closed")
)

// apiRoomJoin is POST /api/v1/admin/rooms/:id/join: 200
// {"room","join_secret","ws_path"}; the secret joins once.
func (s *Server) apiRoomJoin(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	info, secret, err := s.joinRoom(sess, param(r, "id"))
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, struct {
		Room       string `json:"room"`
		Ref        string `json:"ref"`
		JoinSecret string `json:"join_secret"`
		WSPath     string `json:"ws_path"`
	}{param(r, "id"), info.Ref, secret, web.WSPath})
}

// roomsPage is GET /admin/rooms: the open rooms, refreshed by
// admin_chat.js every few seconds.
func (s *Server) roomsPage(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	page := &pages.AdminRooms{AdminBase: s.adminBase(r, &sess, "rooms", ""), ChatOff: s.Hub == nil, ChatJS: static.Path("admin_chat.js")}
	if s.Hub != nil {
		for _, ri := range s.Hub.Waiting() {
			page.Rooms = append(page.Rooms, pages.AdminRoom{ID: ri.ID, Ref: ri.Ref, OpenedAt: ri.OpenedAt, BuyerJoined: ri.BuyerJoined,
				StaffJoined: ri.StaffJoined, LastActivity: ri.LastActivity,
				JoinURL: page.URL("/admin/rooms/" + url.PathEscape(ri.ID) + "/join")})
		}
	}
	s.Render(w, r, http.StatusOK, page)
}

// roomJoinSubmit is POST /admin/rooms/:id/join: the chat page, holding the
// staff member's single-use secret (the page is no-store, like every
// console page).
func (s *Server) roomJoinSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	info, secret, err := s.joinRoom(sess, param(r, "id"))
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	lang := s.Lang(r)
	page := &pages.AdminChat{AdminBase: s.adminBase(r, &sess, "rooms", "/admin/rooms"), Room: param(r, "id"), Ref: info.Ref,
		Secret: secret, WSPath: web.WSPath, ChatJS: static.Path("admin_chat.js")}
	page.RoomsURL = page.URL("/admin/rooms")
	if info.Ref != "" {
		if ts, err := s.Shop.TicketsOf(info.Ref); err == nil {
			for _, t := range ts {
				page.Tickets = append(page.Tickets, s.ticketRow(lang, sess, page.URL, t))
			}
		}
		ms, err := s.staffThread(info.Ref)
		switch {
		case errors.Is(err, shop.ErrLocked):
			page.ThreadLocked = true
		case err != nil:
			s.WriteError(w, r, err)
			return
		}
		for _, m := range ms {
			page.Thread = append(page.Thread, pages.AdminMessage{From: m.From, FromText: s.Pages.T(lang, "admin.thread.from_"+threadFrom(m.From)),
				Staff: m.Staff, Text: s.ThreadText(lang, m.Text), At: m.At})
		}
	}
	s.Render(w, r, http.StatusOK, page)
}
