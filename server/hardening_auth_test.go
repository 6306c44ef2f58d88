package server

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// Issue 10 item 7: a request path that begins with two slashes (or a slash
// and a backslash) must not become a scheme-relative link: every href and
// action on the page stays on the site.
func TestLinksStayOnSite(t *testing.T) {
	e := newConsoleEnv(t)
	olga := e.login("olga")
	attr := regexp.MustCompile(`(?:href|action|src)="([^"]*)"`)
	for _, target := range []string{
		"//evil.example/x", "/\\evil.example/x", "///evil.example/x", "//evil.example/x?lang=en",
		"/%2F%2Fevil.example/x", "//evil.example/admin", "//evil.example/admin/approvals?cursor=1",
	} {
		for _, who := range []string{"buyer", "staff"} {
			var w = e.get(t, target, nil)
			if who == "staff" {
				w = e.page(olga, target)
			}
			if w.Code == http.StatusMovedPermanently || w.Code == http.StatusSeeOther || w.Code == http.StatusFound ||
				w.Code == http.StatusPermanentRedirect || w.Code == http.StatusTemporaryRedirect {
				loc := w.Header().Get("Location")
				if !localLink(loc) {
					t.Errorf("%s %s: redirect to %q", who, target, loc)
				}
				continue
			}
			for _, m := range attr.FindAllStringSubmatch(w.Body.String(), -1) {
				if !localLink(m[1]) {
					t.Errorf("%s %s (%d): link %q leaves the site", who, target, w.Code, m[1])
				}
			}
		}
	}
}

// localLink reports whether a link is a path on this site (or a data: URL
// of an image, or a fragment).
func localLink(u string) bool {
	u = strings.ReplaceAll(u, "&amp;", "&")
	switch {
	case strings.HasPrefix(u, "data:image/"), u == "data:,", strings.HasPrefix(u, "#"):
		return true
	case strings.HasPrefix(u, "//"), strings.HasPrefix(u, "/\\"), strings.HasPrefix(u, "\\"):
		return false
	case strings.HasPrefix(u, "/"):
		return true
	}
	return false
}
