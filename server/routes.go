package server

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/julienschmidt/httprouter"

	"veil/server/web"
	"veil/static"
)

// routes builds the one router: the storefront's routes
// (storefront/routes.go), the console's when there is one
// (console/routes.go), and the static assets. A miss answers in the
// buyer's shapes (logged, rate limited, body limited).
func (s *Server) routes() http.Handler {
	r := httprouter.New()
	r.NotFound = s.site.Buyer("(not found)", func(w http.ResponseWriter, r *http.Request) {
		if s.console != nil && (r.URL.Path == "/admin" || strings.HasPrefix(r.URL.Path, "/admin/")) {
			s.console.NotFound(w, r) // in the console's layout
			return
		}
		s.site.WriteError(w, r, web.ErrNotFound)
	})
	r.MethodNotAllowed = s.site.Buyer("(method not allowed)", func(w http.ResponseWriter, r *http.Request) {
		s.site.WriteError(w, r, web.ErrMethodNotAllowed)
	})
	r.PanicHandler = func(w http.ResponseWriter, r *http.Request, v any) {
		s.site.Log.Error("panic in handler", "method", r.Method, "route", web.RouteOf(r), "panic", fmt.Sprint(v))
		s.site.WriteError(w, r, errors.New("panic"))
	}

	s.store.Routes(r)
	if s.console != nil {
		s.console.Routes(r)
	}
	if s.resale != nil { // the reseller API signs its own requests (resale/api.go)
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			r.Handler(m, "/api/v1/reseller/*path", s.site.Logged("/api/v1/reseller/*path", s.resale))
		}
	}

	// Static assets: content-hashed, cached for a year, not rate limited
	// (a page load fetches two of them).
	assets := s.site.Logged(static.Prefix+"*file", static.Handler())
	r.Handler(http.MethodGet, static.Prefix+"*file", assets)
	r.Handler(http.MethodHead, static.Prefix+"*file", assets)
	return r
}
