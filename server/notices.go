package server

import (
	"net/http"

	"veil/pages"
	"veil/server/staff"
)

// noticesPage is GET /notices: the merchant's signed notices and the key
// that signs them (the same fingerprint as every footer).
func (s *Server) noticesPage(w http.ResponseWriter, r *http.Request) {
	items, err := s.shop.Notices()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page := &pages.Notices{Base: s.base(r, s.lang(r)), Items: items}
	s.render(w, r, http.StatusOK, page)
}

// apiPublishNotice is POST /api/v1/admin/notices {"text","totp"}: an owner
// signs a notice with the vault's notice key; it needs a fresh TOTP code
// and an unlocked vault, and is audited.
func (s *Server) apiPublishNotice(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	var req struct {
		Text string `json:"text"`
		TOTP string `json:"totp"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if sess.Role != staff.RoleOwner {
		s.writeError(w, r, staff.ErrForbidden)
		return
	}
	if err := s.staff.CheckTOTP(sess.User, req.TOTP); err != nil {
		s.writeError(w, r, err)
		return
	}
	block, err := s.shop.PublishNotice(req.Text)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := s.staff.Record(staff.StaffActor(sess.User), "notice.publish", "", "fingerprint="+s.shop.NoticeFingerprint()); err != nil {
		s.log.Error("audit notice", "err", err)
	}
	writeJSON(w, http.StatusCreated, map[string]string{"notice": block, "fingerprint": s.shop.NoticeFingerprint()})
}
