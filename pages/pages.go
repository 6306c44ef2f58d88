// Package pages renders veil's HTML for buyers: html/template files and
// translations embedded in the binary, parsed once at start-up, and one typed
// data struct per page. Pages never carry inline script or style, so they
// work under a strict CSP and with JavaScript off.
package pages

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"slices"
	"strings"
)

//go:embed templates/*.html
var templateFS embed.FS

// Translations: i18n/<lang>.json, plus any i18n/<lang>/*.json (one file
// per feature, so features add strings without touching one shared file).
// A key defined twice for one language is an error.
//
//go:embed i18n
var i18nFS embed.FS

// DefaultLang is the language a buyer sees when nothing asks for another.
const DefaultLang = "zh-CN"

// Languages returns the supported languages, the default first.
func Languages() []string { return []string{"zh-CN", "en"} }

// pageNames lists every page template; New fails unless each parses and
// defines "title" and "content".
var pageNames = []string{"catalog", "product", "token", "paydemo", "lookup", "order", "error", "notices", "pow"}

// Page is the data of one page: each page's struct names its template and
// embeds Base.
type Page interface {
	page() string
	base() *Base
}

// Templates holds the parsed pages and the translations.
type Templates struct {
	pages map[string]*template.Template
	tr    map[string]map[string]string
}

// New parses every template and loads every translation. Anything missing
// or malformed is an error here, never at request time.
func New() (*Templates, error) {
	t := &Templates{pages: map[string]*template.Template{}, tr: map[string]map[string]string{}}
	for _, lang := range Languages() {
		m, err := loadLang(i18nFS, lang)
		if err != nil {
			return nil, err
		}
		t.tr[lang] = m
	}
	if missing := missingKeys(t.tr); len(missing) > 0 {
		return nil, fmt.Errorf("pages: translation keys missing: %s", strings.Join(missing, ", "))
	}
	for _, name := range append(slices.Clone(pageNames), adminPageNames...) {
		layout := "templates/layout.html"
		if strings.HasPrefix(name, "admin_") {
			layout = "templates/admin_layout.html" // the console's own navigation
		}
		tpl, err := template.New(name).ParseFS(templateFS, layout, "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("pages: parse %s: %w", name, err)
		}
		for _, def := range []string{"layout", "title", "content"} {
			if tpl.Lookup(def) == nil {
				return nil, fmt.Errorf("pages: %s does not define %q", name, def)
			}
		}
		t.pages[name] = tpl
	}
	return t, nil
}

// loadLang reads i18n/<lang>.json and every i18n/<lang>/*.json into one
// map, refusing a key defined in two files.
func loadLang(fsys fs.FS, lang string) (map[string]string, error) {
	files := []string{"i18n/" + lang + ".json"}
	more, err := fs.Glob(fsys, "i18n/"+lang+"/*.json")
	if err != nil {
		return nil, fmt.Errorf("pages: translations for %s: %w", lang, err)
	}
	files = append(files, more...)
	m := map[string]string{}
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, fmt.Errorf("pages: translations for %s: %w", lang, err)
		}
		part := map[string]string{}
		if err := json.Unmarshal(b, &part); err != nil {
			return nil, fmt.Errorf("pages: translations %s: %w", f, err)
		}
		for k, v := range part {
			if _, dup := m[k]; dup {
				return nil, fmt.Errorf("pages: translation key %q defined twice for %s (%s)", k, lang, f)
			}
			m[k] = v
		}
	}
	return m, nil
}

// missingKeys lists "lang:key" for every key that one language has and
// another lacks (or leaves empty).
func missingKeys(tr map[string]map[string]string) []string {
	all := map[string]bool{}
	for _, m := range tr {
		for k := range m {
			all[k] = true
		}
	}
	var missing []string
	for lang, m := range tr {
		for k := range all {
			if m[k] == "" {
				missing = append(missing, lang+":"+k)
			}
		}
	}
	slices.Sort(missing)
	return missing
}

// Base returns the common page data for lang (DefaultLang if unsupported).
// The caller fills in the asset URLs and the language switch.
func (t *Templates) Base(lang string) Base {
	if _, ok := t.tr[lang]; !ok {
		lang = DefaultLang
	}
	return Base{Lang: lang, tr: t.tr[lang]}
}

// T translates key into lang.
func (t *Templates) T(lang, key string) string {
	return t.Base(lang).T(key)
}

// Has reports whether key is translated (in every language, as New checks).
func (t *Templates) Has(key string) bool {
	_, ok := t.tr[DefaultLang][key]
	return ok
}

// Render executes p's template into w. The page is rendered into a buffer
// first so that a failure yields an error, not half a page.
func (t *Templates) Render(w io.Writer, p Page) error {
	tpl, ok := t.pages[p.page()]
	if !ok {
		return fmt.Errorf("pages: no template %q", p.page())
	}
	if p.base().tr == nil {
		return fmt.Errorf("pages: %s rendered without Base", p.page())
	}
	var buf bytes.Buffer
	if err := tpl.ExecuteTemplate(&buf, "layout", p); err != nil {
		return fmt.Errorf("pages: render %s: %w", p.page(), err)
	}
	_, err := buf.WriteTo(w)
	return err
}

// templateKeys returns every translation key the templates name literally
// through .T, $.T, .Tf or $.Tf (for the test that they all exist).
func templateKeys() ([]string, error) {
	var keys []string
	err := fs.WalkDir(templateFS, "templates", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := templateFS.ReadFile(path)
		if err != nil {
			return err
		}
		s := string(b)
		for _, marker := range []string{`.T "`, `.Tf "`} {
			rest := s
			for {
				i := strings.Index(rest, marker)
				if i < 0 {
					break
				}
				rest = rest[i+len(marker):]
				j := strings.IndexByte(rest, '"')
				if j < 0 {
					break
				}
				keys = append(keys, rest[:j])
				rest = rest[j:]
			}
		}
		return nil
	})
	return keys, err
}
