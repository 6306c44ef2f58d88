package console

import (
	"net/http"
	"veil/server/staff"
	"veil/server/web"
)

// apiPublishNotice is POST /api/v1/admin/notices {"text","totp"}: an owner
// signs a notice with the vault's notice key; it needs a fresh TOTP code
// and an unlocked vault, and is audited.
func (s *Server) apiPublishNotice(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	var req struct {
		Text string `json:"text"`
		TOTP string `json:"totp"`
	}
	if err := web.DecodeJSON(r, &req); err != nil {
		s.WriteError(w, r, err)
		return
	}
	if sess.Role != staff.RoleOwner {
		s.WriteError(w, r, staff.ErrForbidden)
		return
	}
	if err := s.Staff.CheckTOTP(sess.User, req.TOTP); err != nil {
		s.WriteError(w, r, err)
		return
	}
	block, err := s.Shop.PublishNotice(req.Text)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	if err := s.Staff.Record(staff.StaffActor(sess.User), "notice.publish", "", "fingerprint="+s.Shop.NoticeFingerprint()); err != nil {
		s.Log.Error("audit notice", "err", err)
	}
	web.WriteJSON(w, http.StatusCreated, map[string]string{"notice": block, "fingerprint": s.Shop.NoticeFingerprint()})
}
