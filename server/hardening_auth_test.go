package server

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"veil/server/shop"
	"veil/server/staff"
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

// Issue 10 item 5: a mask shows at most a quarter of a key and never more
// than four characters, and only owners see the masks of unsold keys (API
// and stock page); support sees ids and states.
func TestKeyMasksOwnersOnly(t *testing.T) {
	e := newConsoleEnv(t)
	const key = "Q7XK-8D2P-M9PZ" // the example shape
	p := e.addProduct(t, "masked", key, "A1B2C3D4E")
	e.member("sam", staff.RoleSupport)
	e.next()
	olga, sam := e.login("olga"), e.login("sam")

	var list struct {
		Keys []struct {
			ID, Mask string
		} `json:"keys"`
	}
	decode(t, e.api(olga, "GET", "/api/v1/admin/products/"+p.ID+"/keys", ""), &list)
	masks := map[string]bool{}
	for _, k := range list.Keys {
		masks[k.Mask] = true
	}
	// 14 and 9 characters: three and two shown.
	if len(list.Keys) != 2 || !masks["…9PZ"] || !masks["…4E"] {
		t.Fatalf("owner's masks: %+v", list.Keys)
	}
	page := e.page(olga, "/admin/products/"+p.ID+"/stock?lang=en").Body.String()
	if !strings.Contains(page, "…9PZ") || strings.Contains(page, "M9PZ") || strings.Contains(page, "Q7XK") {
		t.Fatal("owner's stock page: mask missing or too long")
	}

	w := e.api(sam, "GET", "/api/v1/admin/products/"+p.ID+"/keys", "")
	decode(t, w, &list)
	if w.Code != http.StatusOK || len(list.Keys) != 2 {
		t.Fatalf("support's list: %d %s", w.Code, w.Body)
	}
	for _, k := range list.Keys {
		if k.Mask != "" {
			t.Fatalf("support sees mask %q", k.Mask)
		}
	}
	page = e.page(sam, "/admin/products/"+p.ID+"/stock?lang=en").Body.String()
	if strings.Contains(page, "9PZ") || strings.Contains(page, "…4E") {
		t.Fatal("support's stock page shows masks")
	}
}

func TestMaskKey(t *testing.T) {
	for key, want := range map[string]string{
		"Q7XKAM9PZ":                  "…PZ", // 9 characters: two
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ": "…WXYZ",
		"ABCDEFGHIJKLMNOP":           "…MNOP",
		"ABCDEFG":                    "…G",
		"ABC":                        "•••",
		"":                           "•••",
		"卡密卡密卡密卡密":                   "…卡密",
	} {
		got := shop.MaskKey(key)
		if got != want {
			t.Errorf("MaskKey(%q) = %q, want %q", key, got, want)
		}
		shown := utf8.RuneCountInString(strings.TrimLeft(got, "…•"))
		if n := utf8.RuneCountInString(key); shown > 4 || shown*4 > n {
			t.Errorf("MaskKey(%q) shows %d of %d characters", key, shown, n)
		}
	}
}
