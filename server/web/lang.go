package web

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"veil/pages"
)

// langLabels names each language in itself, for the switch.
var langLabels = map[string]string{"zh-CN": "简体中文", "en": "English"}

// Lang picks the page language: ?lang= when it names one we have, else the
// best of Accept-Language, else the shop's default language (zh-CN unless
// the merchant set another). No cookie remembers it: every link
// and form carries ?lang= instead.
func (s *Site) Lang(r *http.Request) string {
	if l, ok := matchLang(r.URL.Query().Get("lang")); ok {
		return l
	}
	if l, ok := acceptLanguageOf(r.Header.Get("Accept-Language")); ok {
		return l
	}
	return s.defaultLang()
}

// matchLang maps a language tag to a supported language. Every Chinese
// variant gets zh-CN: simplified is nearer to a zh-TW reader than English.
func matchLang(tag string) (string, bool) {
	tag = strings.ToLower(strings.TrimSpace(tag))
	switch {
	case tag == "zh" || strings.HasPrefix(tag, "zh-") || strings.HasPrefix(tag, "zh_"):
		return "zh-CN", true
	case tag == "en" || strings.HasPrefix(tag, "en-") || strings.HasPrefix(tag, "en_"):
		return "en", true
	}
	return "", false
}

// acceptLanguage returns the supported language the header likes best,
// zh-CN when it names none.
func acceptLanguage(header string) string {
	l, _ := acceptLanguageOf(header)
	return l
}

// acceptLanguageOf is acceptLanguage, and whether the header named a
// supported language at all.
func acceptLanguageOf(header string) (string, bool) {
	type choice struct {
		lang string
		q    float64
	}
	var choices []choice
	for part := range strings.SplitSeq(header, ",") {
		tag, params, _ := strings.Cut(part, ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				continue
			}
			q = f
		}
		if l, ok := matchLang(tag); ok && q > 0 {
			choices = append(choices, choice{l, q})
		}
	}
	slices.SortStableFunc(choices, func(a, b choice) int {
		switch {
		case a.q > b.q:
			return -1
		case a.q < b.q:
			return 1
		}
		return 0
	})
	if len(choices) > 0 {
		return choices[0].lang, true
	}
	return pages.DefaultLang, false
}

// Base is the common page data with a language switch that links to this
// page (GET) or, after a POST, to the page a buyer can come back to.
func (s *Site) Base(r *http.Request, lang string) pages.Base {
	path, q := SitePath(r.URL.Path), url.Values{}
	if r.Method == http.MethodGet {
		q = r.URL.Query()
	} else {
		switch r.URL.Path {
		case "/pay/demo":
			q.Set("ref", r.PostForm.Get("ref"))
		case "/order", "/order/saved", "/order/token.txt":
			path = "/order"
		default:
			path = "/"
		}
	}
	b := s.NewBase(lang)
	b.Langs = LangSwitch(lang, path, q)
	return b
}

// LangSwitch is a page's language switch: for each language a link to
// path with the query q (which it changes) and ?lang= that language.
func LangSwitch(lang, path string, q url.Values) []pages.LangOption {
	var out []pages.LangOption
	for _, l := range pages.Languages() {
		q.Set("lang", l)
		out = append(out, pages.LangOption{
			Code: l, Label: langLabels[l], URL: path + "?" + q.Encode(), Current: l == lang,
		})
	}
	return out
}

// SitePath makes a request path safe to link to: a path the client sent
// may begin with "//" or "/\" ("GET //evil.example/x"), which a browser
// reads as another site. Leading slashes and backslashes collapse into one,
// and the path is escaped again so that a decoded "?" or "#" stays part of
// it. The result always begins with exactly one "/".
func SitePath(p string) string {
	p = "/" + strings.TrimLeft(p, "/\\")
	return (&url.URL{Path: p}).EscapedPath()
}

// TokenBase is the page data for a page that shows what a token opens: its
// language switch posts the token back to action, never putting it in a URL.
func (s *Site) TokenBase(lang, action, token string) pages.Base {
	b := s.NewBase(lang)
	b.SwitchToken = token
	b.Langs = LangSwitch(lang, action, url.Values{})
	return b
}

// NewBase is the page data every page starts from (layout, clock, assets,
// notice key, time zone), without a language switch.
func (s *Site) NewBase(lang string) pages.Base {
	b := s.Pages.Base(lang)
	b.Now = s.Now()
	b.CSS, b.JS = s.CSS, s.JS
	b.NoticeKey = s.Shop.NoticeFingerprint()
	b.Zone = s.Shop.Location()
	b.Brand = s.BrandOf(lang)
	return b
}
