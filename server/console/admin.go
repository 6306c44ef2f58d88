package console

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/julienschmidt/httprouter"

	"veil/pages"
	"veil/server/shop"
	"veil/server/staff"
	"veil/server/web"
	"veil/static"
)

// The merchant console: its JSON API under /api/v1/admin and its pages
// under /admin. Every console answer is no-store. Every route but sign-in
// and enrolment needs a staff session (cookie) and, for anything but GET,
// the session's CSRF token (X-CSRF-Token, or a csrf form field on pages);
// Go's CrossOriginProtection refuses cross-origin browser writes first.

const (
	// staffCookie holds the session id. Buyers never get a cookie; only a
	// successful staff sign-in sets this one.
	staffCookie = "veil_staff"
	// MaxBody caps console request bodies but key imports: the largest is
	// a product with every disclosure text in both languages.
	MaxBody = 256 << 10
	// importBody caps a key import: the shop's own limit plus room for the
	// multipart or JSON envelope.
	importBody = shop.MaxImportBytes + 1<<20
	// pageSize is the length of every console list page.
	pageSize = 50
)

var (
	errCSRF        = web.NewError(http.StatusForbidden, "csrf", "missing or wrong CSRF token: send X-CSRF-Token")
	errCrossOrigin = web.NewError(http.StatusForbidden, "cross_origin", "cross-origin request refused")
	errNoExport    = web.NewError(http.StatusNotFound, "not_found", "no such export, or it was downloaded already")
)

// adminHandler is a console handler with its staff session.
type adminHandler func(w http.ResponseWriter, r *http.Request, sess staff.Session)

// declarer declares console routes on the one router; see routes.go.
type declarer struct {
	s   *Server
	r   web.Router
	cop *http.CrossOriginProtection
}

func (s *Server) declarer(r web.Router) declarer {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.WriteError(w, r, errCrossOrigin)
	}))
	return declarer{s: s, r: r, cop: cop}
}

// open routes a handler that needs no session (sign-in, enrolment); it is
// rate limited per address like buyer routes, since it checks passwords.
func (c declarer) open(method, pattern string, h http.HandlerFunc) {
	web.Route(c.r, method, pattern, c.wrap(pattern, MaxBody, c.s.RateLimited(h)))
}

// staff routes a handler that needs a full session and, unless it is a
// GET, the CSRF token.
func (c declarer) staff(method, pattern string, h adminHandler) {
	web.Route(c.r, method, pattern, c.wrap(pattern, MaxBody, c.s.withStaff(h, true, false)))
}

// reenrol routes a handler that a session opened with a recovery code may
// reach too (re-enrolment and sign-out); it needs the CSRF token likewise.
func (c declarer) reenrol(method, pattern string, h adminHandler) {
	web.Route(c.r, method, pattern, c.wrap(pattern, MaxBody, c.s.withStaff(h, true, true)))
}

// upload routes a key import: the large body limit, and a session whose
// CSRF token the handler checks itself (a multipart form carries it in the
// body ahead of the keys; the script sends the header).
func (c declarer) upload(method, pattern string, h adminHandler) {
	c.r.Handler(method, pattern, c.wrap(pattern, importBody, c.s.withStaff(h, false, false)))
}

func (c declarer) wrap(pattern string, limit int64, h http.Handler) http.Handler {
	return c.s.Logged(pattern, consoleHeaders(c.cop.Handler(web.LimitBody(limit, h))))
}

// consoleHeaders marks every console answer no-store: pages show orders,
// masked keys, enrolment secrets and recovery codes.
func consoleHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		web.NoStore(w)
		next.ServeHTTP(w, r)
	})
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// withStaff authenticates the session cookie and checks the CSRF token of
// writes. A page request without a session goes to the sign-in page; the
// API answers 401 unauthenticated, a missing or wrong token 403 csrf. A
// session opened with a recovery code reaches only the routes that allow
// it (reenrolOK): pages send it to re-enrolment, the rest is 403
// reenrol_required.
func (s *Server) withStaff(h adminHandler, checkCSRF, reenrolOK bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, err := s.staffSession(r)
		if err != nil {
			if !web.IsAPI(r) && safeMethod(r.Method) && staff.Code(err) == "unauthenticated" {
				http.Redirect(w, r, "/admin/login?lang="+s.Lang(r), http.StatusSeeOther)
				return
			}
			s.WriteError(w, r, err)
			return
		}
		if sess.Reenrol && !reenrolOK {
			if !web.IsAPI(r) && safeMethod(r.Method) {
				http.Redirect(w, r, "/admin/reenrol?lang="+s.Lang(r), http.StatusSeeOther)
				return
			}
			s.WriteError(w, r, staff.ErrReenrolRequired)
			return
		}
		if checkCSRF && !safeMethod(r.Method) {
			token := r.Header.Get("X-CSRF-Token")
			if token == "" && !web.IsAPI(r) {
				if err := web.ParseForm(r); err != nil {
					s.WriteError(w, r, err)
					return
				}
				token = r.PostForm.Get("csrf")
			}
			if !sess.CheckCSRF(token) {
				s.WriteError(w, r, errCSRF)
				return
			}
		}
		h(w, r, sess)
	}
}

// staffSession returns the session named by the cookie; its ID is set.
func (s *Server) staffSession(r *http.Request) (staff.Session, error) {
	c, err := r.Cookie(staffCookie)
	if err != nil || c.Value == "" {
		return staff.Session{}, staff.ErrUnauthenticated
	}
	sess, err := s.Staff.Authenticate(c.Value)
	if err != nil {
		return staff.Session{}, err
	}
	sess.ID = c.Value
	return sess, nil
}

// setSessionCookie hands the browser its session: HttpOnly, SameSite=Strict,
// Secure over TLS (or behind a TLS proxy), for the whole site so that the
// console's API and pages both see it. No Max-Age: the server ends it.
func (s *Server) setSessionCookie(w http.ResponseWriter, r *http.Request, value string, clear bool) {
	c := &http.Cookie{
		Name:     staffCookie,
		Value:    value,
		Path:     "/",
		HttpOnly: true,
		Secure:   s.TLS || r.TLS != nil,
		SameSite: http.SameSiteStrictMode,
	}
	if clear {
		c.Value, c.MaxAge = "", -1
	}
	http.SetCookie(w, c)
}

// requireOwner refuses staff below owner for direct catalog and inventory
// writes (the approval kinds carry their own role floors).
func requireOwner(sess staff.Session) error {
	if sess.Role != staff.RoleOwner {
		return staff.ErrForbidden
	}
	return nil
}

// adminBase is the common data of a console page. here is the GET page a
// language switch leads to (the current URL for a GET).
func (s *Server) adminBase(r *http.Request, sess *staff.Session, section, here string) pages.AdminBase {
	lang := s.Lang(r)
	b := pages.AdminBase{
		Base:     s.NewBase(lang),
		Section:  section,
		AdminCSS: static.Path("admin.css"),
		AdminJS:  static.Path("admin.js"),
		Locked:   s.Shop.Locked(),
	}
	q := url.Values{}
	path := here
	if r.Method == http.MethodGet && here == "" {
		path, q = web.SitePath(r.URL.Path), r.URL.Query()
		q.Del("notice")
	}
	if path == "" {
		path = "/admin"
	}
	b.Langs = web.LangSwitch(lang, path, q)
	if sess != nil {
		b.User, b.Role, b.CSRF = sess.User, string(sess.Role), sess.CSRF
		if pend, _, err := s.Staff.List(staff.Filter{Status: staff.StatusPending}, "", 200); err == nil {
			b.Pending = len(pend)
		}
	}
	if n := r.URL.Query().Get("notice"); n != "" && s.Pages.Has("admin.notice."+n) {
		b.Notice = s.Pages.T(lang, "admin.notice."+n)
	}
	return b
}

// redirectNotice answers a console form with 303 to path, naming the
// outcome (a key of admin.notice.*) for the page to show.
func (s *Server) redirectNotice(w http.ResponseWriter, r *http.Request, path, notice string) {
	q := url.Values{"lang": {s.Lang(r)}}
	if notice != "" {
		q.Set("notice", notice)
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	http.Redirect(w, r, path+sep+q.Encode(), http.StatusSeeOther)
}

// langURL returns path with the request's language and the extra query.
func (s *Server) langURL(r *http.Request, path string, q url.Values) string {
	v := url.Values{}
	for k, vs := range q {
		if len(vs) > 0 && vs[0] != "" {
			v.Set(k, vs[0])
		}
	}
	v.Set("lang", s.Lang(r))
	return path + "?" + v.Encode()
}

// pager builds the next and first links of a list page.
func (s *Server) pager(r *http.Request, next string, q url.Values) pages.Pager {
	var p pages.Pager
	if next != "" {
		nq := url.Values{}
		for k, vs := range q {
			nq[k] = vs
		}
		nq.Set("cursor", next)
		p.Next = s.langURL(r, web.SitePath(r.URL.Path), nq)
	}
	if r.URL.Query().Get("cursor") != "" {
		p.First = s.langURL(r, web.SitePath(r.URL.Path), q)
	}
	return p
}

// cursorParam reads ?cursor=, bounded.
func cursorParam(r *http.Request) (string, error) {
	c := r.URL.Query().Get("cursor")
	if len(c) > 256 {
		return "", web.BadRequest("cursor too long")
	}
	return c, nil
}

// limitParam reads ?limit= (1–200, default pageSize).
func limitParam(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return pageSize, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 200 {
		return 0, web.BadRequest("limit: between 1 and 200")
	}
	return n, nil
}

// pageParams reads ?cursor= and ?limit= of a JSON list.
func pageParams(r *http.Request) (string, int, error) {
	c, err := cursorParam(r)
	if err != nil {
		return "", 0, err
	}
	n, err := limitParam(r)
	return c, n, err
}

// param is a route parameter.
func param(r *http.Request, name string) string {
	return httprouter.ParamsFromContext(r.Context()).ByName(name)
}

// parseMoney reads an amount typed in major units ("9.90") into minor
// units for currency; "" is 0.
func parseMoney(s, currency string) (int64, error) {
	s = strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(s), "¥$€£"))
	if s == "" {
		return 0, nil
	}
	digits := pages.Digits(currency)
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > digits || strings.Trim(whole+frac, "0123456789") != "" || len(whole) > 10 {
		return 0, web.BadRequest("amount: a number like 9.90")
	}
	for len(frac) < digits {
		frac += "0"
	}
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		return 0, web.BadRequest("amount: a number like 9.90")
	}
	return n, nil
}

// formatMajor is parseMoney's inverse, for form values.
func formatMajor(minor int64, currency string) string {
	digits := pages.Digits(currency)
	s := strconv.FormatInt(minor, 10)
	if digits == 0 {
		return s
	}
	for len(s) <= digits {
		s = "0" + s
	}
	return s[:len(s)-digits] + "." + s[len(s)-digits:]
}
