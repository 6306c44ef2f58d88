package console

import (
	"encoding/base64"
	"html/template"
	"net/http"
	"strings"

	"veil/pages"
	"veil/server/staff"
	"veil/server/web"
)

// apiAdminLogin is POST /api/v1/admin/session {"user","password","totp"}
// or {"user","password","recovery_code"}: 200 {"csrf","user","role",
// "reenrol"} and the session cookie. Any refused pair is 401
// bad_credentials (staff.Login says why); a session opened with a
// recovery code has "reenrol": true and may only re-enrol TOTP.
func (s *Server) apiAdminLogin(w http.ResponseWriter, r *http.Request) {
	var req struct {
		User         string `json:"user"`
		Password     string `json:"password"`
		TOTP         string `json:"totp"`
		RecoveryCode string `json:"recovery_code"`
	}
	if err := web.DecodeJSON(r, &req); err != nil {
		s.WriteError(w, r, err)
		return
	}
	sess, err := s.signIn(req.User, req.Password, req.TOTP, req.RecoveryCode)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.setSessionCookie(w, r, sess.ID, false)
	s.Log.Info("staff signed in", "staff", sess.User, "reenrol", sess.Reenrol)
	web.WriteJSON(w, http.StatusOK, struct {
		CSRF    string `json:"csrf"`
		User    string `json:"user"`
		Role    string `json:"role"`
		Reenrol bool   `json:"reenrol"`
	}{sess.CSRF, sess.User, string(sess.Role), sess.Reenrol})
}

// signIn signs in with a TOTP code or, instead, a recovery code; both at
// once is a malformed request.
func (s *Server) signIn(user, password, code, recovery string) (staff.Session, error) {
	if strings.TrimSpace(recovery) == "" {
		return s.Staff.Login(user, password, code)
	}
	if strings.TrimSpace(code) != "" {
		return staff.Session{}, web.BadRequest("give totp or recovery_code, not both")
	}
	return s.Staff.LoginRecovery(user, password, recovery)
}

// apiAdminLogout is DELETE /api/v1/admin/session: the session ends on the
// server, and the cookie is cleared.
func (s *Server) apiAdminLogout(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	if err := s.Staff.Logout(sess.ID); err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.setSessionCookie(w, r, "", true)
	web.WriteJSON(w, http.StatusOK, struct {
		Status string `json:"status"`
	}{"logged_out"})
}

// loginPage is GET /admin/login. A signed-in member goes to the dashboard.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, err := s.staffSession(r); err == nil {
		http.Redirect(w, r, "/admin?lang="+s.Lang(r), http.StatusSeeOther)
		return
	}
	s.Render(w, r, http.StatusOK, &pages.AdminLogin{AdminBase: s.adminBase(r, nil, "", "")})
}

// loginSubmit is POST /admin/login (user, password, code or recovery).
// A recovery code leads to re-enrolment.
func (s *Server) loginSubmit(w http.ResponseWriter, r *http.Request) {
	if err := web.ParseForm(r); err != nil {
		s.WriteError(w, r, err)
		return
	}
	name := r.PostForm.Get("user")
	sess, err := s.signIn(name, r.PostForm.Get("password"), r.PostForm.Get("code"), r.PostForm.Get("recovery"))
	if err != nil {
		page := &pages.AdminLogin{AdminBase: s.adminBase(r, nil, "", "/admin/login"), Name: name}
		s.refuseForm(w, r, err, page, &page.Error)
		return
	}
	s.setSessionCookie(w, r, sess.ID, false)
	s.Log.Info("staff signed in", "staff", sess.User, "reenrol", sess.Reenrol)
	if sess.Reenrol {
		s.redirectNotice(w, r, "/admin/reenrol", "")
		return
	}
	s.redirectNotice(w, r, "/admin", "")
}

// logoutSubmit is POST /admin/logout (csrf).
func (s *Server) logoutSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	if err := s.Staff.Logout(sess.ID); err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.setSessionCookie(w, r, "", true)
	s.redirectNotice(w, r, "/admin/login", "logged_out")
}

// enrolPage is GET /admin/enrol: name and enrolment secret of a staff
// member whose account was approved but not yet enrolled.
func (s *Server) enrolPage(w http.ResponseWriter, r *http.Request) {
	s.Render(w, r, http.StatusOK, &pages.AdminEnrol{AdminBase: s.adminBase(r, nil, "", ""), Step: "start"})
}

// enrolShow is POST /admin/enrol (user, secret: the one-time enrolment
// secret the approver handed over): the QR code (a PNG in a data: URL,
// which the CSP allows for images), the TOTP secret and the otpauth URL,
// and the form that sets the member's own password with a first code.
// Nothing of it is stored by the page; a reload asks again.
func (s *Server) enrolShow(w http.ResponseWriter, r *http.Request) {
	if err := web.ParseForm(r); err != nil {
		s.WriteError(w, r, err)
		return
	}
	name := r.PostForm.Get("user")
	page := &pages.AdminEnrol{AdminBase: s.adminBase(r, nil, "", "/admin/enrol"), Step: "start", Name: name}
	e, err := s.Staff.PendingEnrolment(name, r.PostForm.Get("secret"))
	if err != nil {
		s.refuseForm(w, r, err, page, &page.Error)
		return
	}
	s.showEnrolment(page, e, "/admin/enrol/finish")
	page.EnrolSecret = r.PostForm.Get("secret")
	s.Render(w, r, http.StatusOK, page)
}

// showEnrolment fills the "scan" step of an enrolment page.
func (s *Server) showEnrolment(page *pages.AdminEnrol, e staff.Enrolment, action string) {
	page.Step, page.Name, page.Secret, page.OTPURL = "scan", e.Name, e.Secret, e.URL
	page.Action = page.URL(action)
	// Safe as a URL: a fixed scheme and base64 of the PNG, nothing else.
	page.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(e.PNG))
}

// enrolFinish is POST /admin/enrol/finish (user, secret, password,
// password2, code): the member's own password and first code finish
// enrolment, and the recovery codes are shown, once.
func (s *Server) enrolFinish(w http.ResponseWriter, r *http.Request) {
	if err := web.ParseForm(r); err != nil {
		s.WriteError(w, r, err)
		return
	}
	f := r.PostForm
	name := f.Get("user")
	page := &pages.AdminEnrol{AdminBase: s.adminBase(r, nil, "", "/admin/enrol"), Step: "start", Name: name}
	if f.Get("password") != f.Get("password2") {
		page.Error = s.Pages.T(s.Lang(r), "admin.enrol.password_mismatch")
		s.Render(w, r, http.StatusBadRequest, page)
		return
	}
	codes, err := s.Staff.FinishEnrolment(name, f.Get("secret"), f.Get("password"), f.Get("code"))
	if err != nil {
		// Start again: showing the QR code needs the enrolment secret.
		s.refuseForm(w, r, err, page, &page.Error)
		return
	}
	s.Log.Info("staff enrolled", "staff", name)
	page.Step, page.Recovery = "done", codes
	s.Render(w, r, http.StatusOK, page)
}

// reenrolPage is GET /admin/reenrol: after signing in with a recovery
// code, the new TOTP secret to scan and the field for its first code.
func (s *Server) reenrolPage(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	page := &pages.AdminEnrol{AdminBase: s.adminBase(r, &sess, "", "/admin/reenrol"), Reenrol: true}
	if !sess.Reenrol {
		s.redirectNotice(w, r, "/admin", "")
		return
	}
	e, err := s.Staff.BeginReenrol(sess.ID)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.showEnrolment(page, e, "/admin/reenrol")
	s.Render(w, r, http.StatusOK, page)
}

// reenrolSubmit is POST /admin/reenrol (csrf, code): a code from the new
// secret confirms it; the new recovery codes are shown once.
func (s *Server) reenrolSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	codes, err := s.Staff.FinishReenrol(sess.ID, r.PostForm.Get("code"))
	if err != nil {
		page := &pages.AdminEnrol{AdminBase: s.adminBase(r, &sess, "", "/admin/reenrol"), Reenrol: true}
		if e, berr := s.Staff.BeginReenrol(sess.ID); berr == nil {
			s.showEnrolment(page, e, "/admin/reenrol")
		}
		s.refuseForm(w, r, err, page, &page.Error)
		return
	}
	s.Log.Info("staff re-enrolled", "staff", sess.User)
	page := &pages.AdminEnrol{AdminBase: s.adminBase(r, &sess, "", "/admin/reenrol"), Reenrol: true, Step: "done", Recovery: codes}
	s.Render(w, r, http.StatusOK, page)
}

// apiReenrol is GET /api/v1/admin/reenrol: for a session opened with a
// recovery code, the new TOTP secret {"name","totp_secret","otpauth_url"}
// (the same until confirmed).
func (s *Server) apiReenrol(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	e, err := s.Staff.BeginReenrol(sess.ID)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, struct {
		Name       string `json:"name"`
		TOTPSecret string `json:"totp_secret"`
		OTPAuthURL string `json:"otpauth_url"`
	}{e.Name, e.Secret, e.URL})
}

// apiReenrolFinish is POST /api/v1/admin/reenrol {"totp"}: a code from the
// new secret confirms it; 200 {"recovery_codes"}, shown once, and the
// session becomes a full one.
func (s *Server) apiReenrolFinish(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	var req struct {
		TOTP string `json:"totp"`
	}
	if err := web.DecodeJSON(r, &req); err != nil {
		s.WriteError(w, r, err)
		return
	}
	codes, err := s.Staff.FinishReenrol(sess.ID, req.TOTP)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.Log.Info("staff re-enrolled", "staff", sess.User)
	web.WriteJSON(w, http.StatusOK, struct {
		RecoveryCodes []string `json:"recovery_codes"`
	}{codes})
}

// refuseForm answers a refused form: the page again with the refusal in
// the reader's language and its status, or the error page when the cause
// is ours (5xx).
func (s *Server) refuseForm(w http.ResponseWriter, r *http.Request, err error, page pages.Page, msg *string) {
	p := web.Classify(err)
	if p.Status >= 500 {
		s.WriteError(w, r, err)
		return
	}
	*msg = s.ProblemText(s.Lang(r), p)
	s.Render(w, r, p.Status, page)
}
