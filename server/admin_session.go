package server

import (
	"encoding/base64"
	"html/template"
	"net/http"

	"veil/pages"
	"veil/server/staff"
)

// apiAdminLogin is POST /api/v1/admin/session {"user","password","totp"}:
// 200 {"csrf"} and the session cookie.
func (s *Server) apiAdminLogin(w http.ResponseWriter, r *http.Request) {
	var req struct {
		User     string `json:"user"`
		Password string `json:"password"`
		TOTP     string `json:"totp"`
	}
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	sess, err := s.staff.Login(req.User, req.Password, req.TOTP)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.setSessionCookie(w, r, sess.ID, false)
	s.log.Info("staff signed in", "staff", sess.User)
	writeJSON(w, http.StatusOK, struct {
		CSRF string `json:"csrf"`
		User string `json:"user"`
		Role string `json:"role"`
	}{sess.CSRF, sess.User, string(sess.Role)})
}

// apiAdminLogout is DELETE /api/v1/admin/session: the session ends on the
// server, and the cookie is cleared.
func (s *Server) apiAdminLogout(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	if err := s.staff.Logout(sess.ID); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.setSessionCookie(w, r, "", true)
	writeJSON(w, http.StatusOK, struct {
		Status string `json:"status"`
	}{"logged_out"})
}

// loginPage is GET /admin/login. A signed-in member goes to the dashboard.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, err := s.staffSession(r); err == nil {
		http.Redirect(w, r, "/admin?lang="+s.lang(r), http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, &pages.AdminLogin{AdminBase: s.adminBase(r, nil, "", "")})
}

// loginSubmit is POST /admin/login (user, password, code).
func (s *Server) loginSubmit(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	name := r.PostForm.Get("user")
	sess, err := s.staff.Login(name, r.PostForm.Get("password"), r.PostForm.Get("code"))
	if err != nil {
		page := &pages.AdminLogin{AdminBase: s.adminBase(r, nil, "", "/admin/login"), Name: name}
		s.refuseForm(w, r, err, page, &page.Error)
		return
	}
	s.setSessionCookie(w, r, sess.ID, false)
	s.log.Info("staff signed in", "staff", sess.User)
	s.redirectNotice(w, r, "/admin", "")
}

// logoutSubmit is POST /admin/logout (csrf).
func (s *Server) logoutSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	if err := s.staff.Logout(sess.ID); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.setSessionCookie(w, r, "", true)
	s.redirectNotice(w, r, "/admin/login", "logged_out")
}

// problemText is the translated message of a problem, for forms that show
// it inline.
func (s *Server) problemText(lang string, p problem) string {
	if s.pages.Has("err." + p.code + ".message") {
		msg := s.pages.T(lang, "err."+p.code+".message")
		if p.detail {
			msg += " (" + p.message + ")"
		}
		return msg
	}
	return s.pages.T(lang, "err.internal.message")
}

// enrolPage is GET /admin/enrol: name and password of a staff member whose
// account was approved but not yet enrolled.
func (s *Server) enrolPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, &pages.AdminEnrol{AdminBase: s.adminBase(r, nil, "", ""), Step: "start"})
}

// enrolShow is POST /admin/enrol (user, password): the QR code (a PNG in a
// data: URL, which the CSP allows for images), the secret and the otpauth
// URL, and the field for the first code. Nothing of it is stored by the
// page; a reload asks for the password again.
func (s *Server) enrolShow(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	name := r.PostForm.Get("user")
	page := &pages.AdminEnrol{AdminBase: s.adminBase(r, nil, "", "/admin/enrol"), Step: "start", Name: name}
	e, err := s.staff.PendingEnrolment(name, r.PostForm.Get("password"))
	if err != nil {
		s.refuseForm(w, r, err, page, &page.Error)
		return
	}
	page.Step, page.Name, page.Secret, page.OTPURL = "scan", e.Name, e.Secret, e.URL
	// Safe as a URL: a fixed scheme and base64 of the PNG, nothing else.
	page.QR = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(e.PNG))
	s.render(w, r, http.StatusOK, page)
}

// enrolFinish is POST /admin/enrol/finish (user, code): the first code
// finishes enrolment, and the recovery codes are shown, once.
func (s *Server) enrolFinish(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	name := r.PostForm.Get("user")
	page := &pages.AdminEnrol{AdminBase: s.adminBase(r, nil, "", "/admin/enrol"), Step: "start", Name: name}
	codes, err := s.staff.FinishEnrolment(name, r.PostForm.Get("code"))
	if err != nil {
		// Start again: showing the QR code needs the password.
		s.refuseForm(w, r, err, page, &page.Error)
		return
	}
	s.log.Info("staff enrolled", "staff", name)
	page.Step, page.Recovery = "done", codes
	s.render(w, r, http.StatusOK, page)
}

// refuseForm answers a refused form: the page again with the refusal in
// the reader's language and its status, or the error page when the cause
// is ours (5xx).
func (s *Server) refuseForm(w http.ResponseWriter, r *http.Request, err error, page pages.Page, msg *string) {
	p := classify(err)
	if p.status >= 500 {
		s.writeError(w, r, err)
		return
	}
	*msg = s.problemText(s.lang(r), p)
	s.render(w, r, p.status, page)
}
