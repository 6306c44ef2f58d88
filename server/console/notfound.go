package console

import (
	"net/http"

	"veil/pages"
	"veil/server/staff"
	"veil/server/web"
)

// NotFound answers a console address that matches no route: the API in its
// JSON shape, a page in the console's layout — with the navigation for a
// signed-in member, bare otherwise (it names no route and shows nothing).
func (s *Server) NotFound(w http.ResponseWriter, r *http.Request) {
	web.NoStore(w)
	if web.IsAPI(r) {
		s.WriteError(w, r, web.ErrNotFound)
		return
	}
	var sp *staff.Session
	if sess, err := s.staffSession(r); err == nil && !sess.Reenrol {
		sp = &sess
	}
	lang := s.Lang(r)
	s.Render(w, r, http.StatusNotFound, &pages.AdminError{
		AdminBase: s.adminBase(r, sp, "", ""),
		Status:    http.StatusNotFound,
		Code:      "not_found",
		Title:     s.Pages.T(lang, "err.not_found.title"),
		Message:   s.Pages.T(lang, "err.not_found.message"),
	})
}
