package console

import (
	"bufio"
	"net/http"
	"time"

	"veil/server/shop"
	"veil/server/staff"
	"veil/server/web"
)

// apiBackup is POST /api/v1/admin/backup {"totp"}: an online backup of the
// whole store, streamed as an age file sealed to the vault's backup
// recipient and signed with its backup-signing key (`veil restore` opens it
// with the backup identity and refuses a forgery). Owners only, with a
// fresh TOTP code, while the vault is unlocked (503 vault_locked); audited.
func (s *Server) apiBackup(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	var req struct {
		TOTP string `json:"totp"`
	}
	if err := web.DecodeJSON(r, &req); err != nil {
		s.WriteError(w, r, err)
		return
	}
	if err := requireOwner(sess); err != nil {
		s.WriteError(w, r, err)
		return
	}
	if s.DB == nil {
		s.WriteError(w, r, web.NewError(http.StatusServiceUnavailable, "backup_unavailable", "this server has no store handle"))
		return
	}
	if err := s.Staff.CheckTOTP(sess.User, req.TOTP); err != nil {
		s.WriteError(w, r, err)
		return
	}
	// Signing needs the vault's backup-signing key: refuse before the
	// stream starts, while an error can still be an answer.
	if s.Shop.Locked() {
		s.WriteError(w, r, shop.ErrLocked)
		return
	}
	// A large store takes longer than the server's write timeout.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(time.Hour))
	s.record(sess, "backup.download", "", "signed by "+s.Shop.BackupFingerprint())
	name := "veil-" + time.Now().UTC().Format("2006-01-02T150405Z") + ".age"
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	// Once the stream has started, an error can only cut it short: age's
	// authenticated chunks and the trailing signature make a truncated file
	// fail to restore, never restore half a store silently.
	bw := bufio.NewWriterSize(w, 1<<20)
	if err := s.Shop.WriteBackup(bw); err != nil {
		s.Log.Error("backup", "err", err)
		return
	}
	if err := bw.Flush(); err != nil {
		s.Log.Error("backup", "err", err)
	}
}
