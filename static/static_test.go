package static

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestPathIsHashed(t *testing.T) {
	re := regexp.MustCompile(`^/static/veil\.[0-9a-f]{8}\.(css|js)$`)
	for _, name := range []string{"veil.css", "veil.js"} {
		if p := Path(name); !re.MatchString(p) {
			t.Errorf("Path(%s) = %q", name, p)
		}
	}
	for _, name := range []string{"chat.js", "wallet.js"} {
		if p := Path(name); !regexp.MustCompile(`^/static/` + strings.TrimSuffix(name, ".js") + `\.[0-9a-f]{8}\.js$`).MatchString(p) {
			t.Errorf("Path(%s) = %q", name, p)
		}
	}
	if Path("nope.css") != "" {
		t.Error("unknown file has a path")
	}
	if len(Names()) < 2 {
		t.Errorf("names %v", Names())
	}
}

func TestHandler(t *testing.T) {
	h := Handler()
	for _, c := range []struct {
		method, target string
		status         int
		ctype          string
	}{
		{"GET", Path("veil.css"), 200, "text/css; charset=utf-8"},
		{"GET", Path("veil.js"), 200, "text/javascript; charset=utf-8"},
		{"HEAD", Path("veil.css"), 200, "text/css; charset=utf-8"},
		{"GET", "/static/veil.css", 404, ""},
		{"GET", "/static/veil.00000000.css", 404, ""},
		{"GET", "/static/../static.go", 404, ""},
		{"POST", Path("veil.css"), 405, ""},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(c.method, c.target, nil))
		if w.Code != c.status {
			t.Errorf("%s %s: %d, want %d", c.method, c.target, w.Code, c.status)
			continue
		}
		if c.status != http.StatusOK {
			continue
		}
		if got := w.Header().Get("Content-Type"); got != c.ctype {
			t.Errorf("%s: Content-Type %q", c.target, got)
		}
		if got := w.Header().Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
			t.Errorf("%s: Cache-Control %q", c.target, got)
		}
		if c.method == "GET" && w.Body.Len() == 0 {
			t.Errorf("%s: empty body", c.target)
		}
	}
}

// TestNoThirdParty: the assets load nothing from elsewhere.
func TestNoThirdParty(t *testing.T) {
	for _, name := range Names() {
		b, err := files.ReadFile("files/" + name)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		for _, bad := range []string{"http://", "https://", "@import", "url(", "//cdn"} {
			if strings.Contains(s, bad) {
				t.Errorf("%s contains %q", name, bad)
			}
		}
	}
}
