package console

import (
	"errors"
	"net/http"

	"veil/crypto"
	"veil/pages"
	"veil/server/shop"
	"veil/server/staff"
	"veil/server/web"
)

// Key rotation from the console (shop/rotation.go has the mechanics). Each
// action is the owner's, with a fresh TOTP code checked before anything
// else (so a passphrase cannot be guessed without a code each time) and the
// current vault passphrase; each is audited. They run at once rather than
// through the approvals queue because the passphrase (and the new 易支付
// key) must never be stored in an approval's parameters; the passphrase is
// the second factor a queued second approver would otherwise be.

var errRotationRunning = web.NewError(http.StatusConflict, "rotation_running", "a key rotation is still running; wait until it is done")

// rotationView is GET /api/v1/admin/rotation.
type rotationView struct {
	Rotation          *shop.Rotation `json:"rotation"` // null before the first rotation
	BackupFingerprint string         `json:"backup_fingerprint"`
	NoticeFingerprint string         `json:"notice_fingerprint"`
	EpayKey           bool           `json:"epay_key_rotatable"`
}

func (s *Server) rotationView() (rotationView, error) {
	v := rotationView{BackupFingerprint: s.Shop.BackupFingerprint(), NoticeFingerprint: s.Shop.NoticeFingerprint(),
		EpayKey: s.rotateEpayKey != nil}
	r, ok, err := s.Shop.Rotation()
	if ok {
		v.Rotation = &r
	}
	return v, err
}

// startRotation checks the owner, the code and the passphrase, and starts
// the rotation of which. For the backup identity it returns the new
// identity, to be shown once.
func (s *Server) startRotation(sess staff.Session, which, passphrase, totp string) (shop.Rotation, string, error) {
	if err := requireOwner(sess); err != nil {
		return shop.Rotation{}, "", err
	}
	switch which {
	case crypto.RotateInventory, crypto.RotateSupport, crypto.RotateBackup:
	default:
		return shop.Rotation{}, "", web.BadRequest("which: inventory, support or backup")
	}
	if passphrase == "" || len(passphrase) > 1024 {
		return shop.Rotation{}, "", web.BadRequest("passphrase: 1 to 1024 bytes")
	}
	if err := s.Staff.CheckTOTP(sess.User, totp); err != nil {
		return shop.Rotation{}, "", err
	}
	r, id, err := s.Shop.StartRotation(which, passphrase)
	if errors.Is(err, shop.ErrRotationRunning) {
		return shop.Rotation{}, "", errRotationRunning
	}
	if err != nil {
		if errors.Is(err, shop.ErrWrongPassphrase) {
			s.record(sess, "rotation.refused", which, "wrong_passphrase")
		}
		return shop.Rotation{}, "", err
	}
	s.record(sess, "rotation.start", which, "")
	s.Log.Info("key rotation started", "which", which, "staff", sess.User)
	if id == nil {
		return r, "", nil
	}
	return r, id.String(), nil
}

// changePassphrase re-seals the vault with a new passphrase.
func (s *Server) changePassphrase(sess staff.Session, old, passphrase, totp string) error {
	if err := requireOwner(sess); err != nil {
		return err
	}
	if old == "" || len(old) > 1024 {
		return web.BadRequest("passphrase: 1 to 1024 bytes")
	}
	if err := s.Staff.CheckTOTP(sess.User, totp); err != nil {
		return err
	}
	if err := s.Shop.ChangePassphrase(old, passphrase); err != nil {
		if errors.Is(err, shop.ErrWrongPassphrase) {
			s.record(sess, "vault.passphrase_refused", "vault", "wrong_passphrase")
		}
		return err
	}
	s.record(sess, "vault.passphrase", "vault", "the vault is sealed with a new passphrase")
	s.Log.Info("vault passphrase changed", "staff", sess.User)
	return nil
}

// rotateEpay swaps the 易支付 merchant key (the gateway's panel issues it;
// the merchant changes it there and here).
func (s *Server) rotateEpay(sess staff.Session, key, totp string) error {
	if err := requireOwner(sess); err != nil {
		return err
	}
	if s.rotateEpayKey == nil {
		return web.NewError(http.StatusNotFound, "not_found", "易支付 payments are not enabled")
	}
	if len(key) < 8 || len(key) > 256 {
		return web.BadRequest("key: 8 to 256 characters")
	}
	if err := s.Staff.CheckTOTP(sess.User, totp); err != nil {
		return err
	}
	if err := s.rotateEpayKey(key); err != nil {
		return err
	}
	s.record(sess, "epay.key_rotated", "epay", "the previous key is accepted for notifies for 24 hours")
	s.Log.Info("epay key rotated", "staff", sess.User)
	return nil
}

// apiRotation is GET /api/v1/admin/rotation.
func (s *Server) apiRotation(w http.ResponseWriter, r *http.Request, _ staff.Session) {
	v, err := s.rotationView()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, v)
}

// apiStartRotation is POST /api/v1/admin/rotation {"which","passphrase","totp"}.
func (s *Server) apiStartRotation(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	var req struct {
		Which      string `json:"which"`
		Passphrase string `json:"passphrase"`
		TOTP       string `json:"totp"`
	}
	if err := web.DecodeJSON(r, &req); err != nil {
		s.WriteError(w, r, err)
		return
	}
	rot, id, err := s.startRotation(sess, req.Which, req.Passphrase, req.TOTP)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	out := struct {
		Rotation       shop.Rotation `json:"rotation"`
		BackupIdentity string        `json:"backup_identity,omitempty"`
	}{rot, id}
	status := http.StatusOK
	if rot.State == shop.RotationRunning {
		status = http.StatusAccepted
	}
	web.WriteJSON(w, status, out)
}

// apiChangePassphrase is POST /api/v1/admin/vault/passphrase
// {"passphrase","new_passphrase","totp"}.
func (s *Server) apiChangePassphrase(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	var req struct {
		Passphrase    string `json:"passphrase"`
		NewPassphrase string `json:"new_passphrase"`
		TOTP          string `json:"totp"`
	}
	if err := web.DecodeJSON(r, &req); err != nil {
		s.WriteError(w, r, err)
		return
	}
	if err := s.changePassphrase(sess, req.Passphrase, req.NewPassphrase, req.TOTP); err != nil {
		s.WriteError(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, map[string]bool{"changed": true})
}

// apiRotateEpay is POST /api/v1/admin/epay/key {"key","totp"}.
func (s *Server) apiRotateEpay(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	var req struct {
		Key  string `json:"key"`
		TOTP string `json:"totp"`
	}
	if err := web.DecodeJSON(r, &req); err != nil {
		s.WriteError(w, r, err)
		return
	}
	if err := s.rotateEpay(sess, req.Key, req.TOTP); err != nil {
		s.WriteError(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, map[string]bool{"rotated": true})
}

// keysPage is GET /admin/keys: fingerprints, the rotation's progress and
// the owner's forms.
func (s *Server) keysPage(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	s.renderKeys(w, r, sess, "")
}

func (s *Server) renderKeys(w http.ResponseWriter, r *http.Request, sess staff.Session, backupIdentity string) {
	v, err := s.rotationView()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	p := &pages.AdminKeys{
		AdminBase:         s.adminBase(r, &sess, "vault", "/admin/keys"),
		Owner:             sess.Role == staff.RoleOwner,
		BackupFingerprint: v.BackupFingerprint,
		NoticeFingerprint: v.NoticeFingerprint,
		EpayKey:           v.EpayKey,
		BackupIdentity:    backupIdentity,
	}
	if rot := v.Rotation; rot != nil {
		p.Rotation = &pages.KeyRotation{Which: rot.Which, Running: rot.State == shop.RotationRunning,
			Done: rot.Done, Total: max(rot.Total, rot.Done), // items added during the rotation count too
			Started: rot.Started, Finished: rot.Finished}
	}
	s.Render(w, r, http.StatusOK, p)
}

func (s *Server) keysRotateSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	f := r.PostForm
	_, id, err := s.startRotation(sess, f.Get("which"), f.Get("passphrase"), f.Get("totp"))
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	if id != "" {
		// Shown once, on this answer (no-store): a redirect would lose it.
		s.renderKeys(w, r, sess, id)
		return
	}
	s.redirectNotice(w, r, "/admin/keys", "rotation_started")
}

func (s *Server) keysPassphraseSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	f := r.PostForm
	if f.Get("new_passphrase") != f.Get("new_passphrase2") {
		s.WriteError(w, r, web.BadRequest("the new passphrase and its repetition differ"))
		return
	}
	if err := s.changePassphrase(sess, f.Get("passphrase"), f.Get("new_passphrase"), f.Get("totp")); err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.redirectNotice(w, r, "/admin/keys", "passphrase_changed")
}

func (s *Server) keysEpaySubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	if err := s.rotateEpay(sess, r.PostForm.Get("key"), r.PostForm.Get("totp")); err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.redirectNotice(w, r, "/admin/keys", "epay_rotated")
}
