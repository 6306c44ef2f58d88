package console

import (
	"net/http"

	"veil/pages"
	"veil/server/staff"
	"veil/server/web"
)

// record audits a direct console action (vault lock and unlock, catalog
// edits, imports, export downloads) in its own transaction. A failure is
// logged, not shown: the action itself has happened.
func (s *Server) record(sess staff.Session, action, ref, detail string) {
	if err := s.Staff.Record(staff.StaffActor(sess.User), action, ref, detail); err != nil {
		s.Log.Error("audit append failed", "action", action, "staff", sess.User, "err", err)
	}
}

// unlockVault checks the TOTP code first (so a passphrase cannot be guessed
// without a fresh code each time, and guesses count toward the lockout
// only through wrong codes), then opens the vault; the shop flushes the
// deliveries that queued while it was locked. Owners only.
func (s *Server) unlockVault(sess staff.Session, passphrase, totp string) error {
	if err := requireOwner(sess); err != nil {
		return err
	}
	if passphrase == "" || len(passphrase) > 1024 {
		return web.BadRequest("passphrase: 1 to 1024 bytes")
	}
	if err := s.Staff.CheckTOTP(sess.User, totp); err != nil {
		return err
	}
	if err := s.Shop.Unlock(passphrase); err != nil {
		s.record(sess, "vault.unlock_failed", "vault", web.Classify(err).Code)
		return err
	}
	s.record(sess, "vault.unlock", "vault", "")
	s.Log.Info("vault unlocked", "staff", sess.User)
	return nil
}

// lockVault forgets the vault's keys; any staff member may, with a code.
func (s *Server) lockVault(sess staff.Session, totp string) error {
	if err := s.Staff.CheckTOTP(sess.User, totp); err != nil {
		return err
	}
	s.Shop.Lock()
	s.record(sess, "vault.lock", "vault", "")
	s.Log.Info("vault locked", "staff", sess.User)
	return nil
}

type vaultState struct {
	Locked bool `json:"locked"`
}

// apiVaultUnlock is POST /api/v1/admin/vault/unlock {"passphrase","totp"}.
func (s *Server) apiVaultUnlock(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	var req struct {
		Passphrase string `json:"passphrase"`
		TOTP       string `json:"totp"`
	}
	if err := web.DecodeJSON(r, &req); err != nil {
		s.WriteError(w, r, err)
		return
	}
	if err := s.unlockVault(sess, req.Passphrase, req.TOTP); err != nil {
		s.WriteError(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, vaultState{Locked: s.Shop.Locked()})
}

// apiVaultLock is POST /api/v1/admin/vault/lock {"totp"}.
func (s *Server) apiVaultLock(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	var req struct {
		TOTP string `json:"totp"`
	}
	if err := web.DecodeJSON(r, &req); err != nil {
		s.WriteError(w, r, err)
		return
	}
	if err := s.lockVault(sess, req.TOTP); err != nil {
		s.WriteError(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, vaultState{Locked: s.Shop.Locked()})
}

// apiVault is GET /api/v1/admin/vault.
func (s *Server) apiVault(w http.ResponseWriter, r *http.Request, _ staff.Session) {
	web.WriteJSON(w, http.StatusOK, vaultState{Locked: s.Shop.Locked()})
}

// vaultPage is GET /admin/vault.
func (s *Server) vaultPage(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	s.Render(w, r, http.StatusOK, &pages.AdminVault{
		AdminBase:   s.adminBase(r, &sess, "vault", ""),
		Initialized: s.Shop.Initialized(),
	})
}

func (s *Server) vaultUnlockSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	if err := s.unlockVault(sess, r.PostForm.Get("passphrase"), r.PostForm.Get("totp")); err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.redirectNotice(w, r, "/admin/vault", "unlocked")
}

func (s *Server) vaultLockSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	if err := s.lockVault(sess, r.PostForm.Get("totp")); err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.redirectNotice(w, r, "/admin/vault", "locked")
}
