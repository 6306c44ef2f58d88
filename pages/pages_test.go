package pages

import (
	"bytes"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

func TestNewParsesEverything(t *testing.T) {
	tpl, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range pageNames {
		if tpl.pages[name] == nil {
			t.Errorf("page %s not parsed", name)
		}
	}
}

// TestTranslationsComplete: every key exists in both languages, and every
// key a template names exists.
func TestTranslationsComplete(t *testing.T) {
	tpl, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if len(tpl.tr) != len(Languages()) {
		t.Fatalf("%d languages loaded", len(tpl.tr))
	}
	if m := missingKeys(tpl.tr); len(m) > 0 {
		t.Errorf("missing: %v", m)
	}
	for _, lang := range Languages() {
		if len(tpl.tr[lang]) != len(tpl.tr[DefaultLang]) {
			t.Errorf("%s has %d keys, %s %d", lang, len(tpl.tr[lang]), DefaultLang, len(tpl.tr[DefaultLang]))
		}
	}
	keys, err := templateKeys()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) < 50 {
		t.Fatalf("only %d keys found in templates: the scanner is broken", len(keys))
	}
	for _, k := range keys {
		for _, lang := range Languages() {
			if _, ok := tpl.tr[lang][k]; !ok {
				t.Errorf("template key %q missing in %s", k, lang)
			}
		}
	}
	// Format verbs must agree, or one language prints %!d(MISSING).
	for k, en := range tpl.tr["en"] {
		if strings.Count(en, "%") != strings.Count(tpl.tr["zh-CN"][k], "%") {
			t.Errorf("%s: format verbs differ between languages", k)
		}
	}
}

func TestMissingKeys(t *testing.T) {
	got := missingKeys(map[string]map[string]string{
		"en":    {"a": "A", "b": "B"},
		"zh-CN": {"a": "甲", "c": "丙", "b": ""},
	})
	want := "en:c zh-CN:b"
	if strings.Join(got, " ") != want {
		t.Errorf("got %v, want %s", got, want)
	}
}

func TestMoney(t *testing.T) {
	for _, c := range []struct {
		minor int64
		cur   string
		want  string
	}{
		{990, "CNY", "¥9.90"},
		{5, "CNY", "¥0.05"},
		{0, "CNY", "¥0.00"},
		{123456, "USD", "$1234.56"},
		{-250, "EUR", "-€2.50"},
		{500, "JPY", "JP¥500"},
		{1250, "XYZ", "12.50 XYZ"},
	} {
		if got := Money(c.minor, c.cur); got != c.want {
			t.Errorf("Money(%d, %s) = %q, want %q", c.minor, c.cur, got, c.want)
		}
	}
	if got := Permille(15); got != "1.5%" {
		t.Errorf("Permille(15) = %s", got)
	}
	if got := Permille(0); got != "0.0%" {
		t.Errorf("Permille(0) = %s", got)
	}
}

func TestRel(t *testing.T) {
	tpl, err := New()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		lang string
		d    time.Duration
		want string
	}{
		{"en", 14*time.Minute + 30*time.Second, "in 14 minutes"},
		{"en", -time.Minute, "1 minute ago"},
		{"en", 3 * time.Hour, "in 3 hours"},
		{"en", 72 * time.Hour, "in 3 days"},
		{"en", 10 * time.Second, "just now"},
		{"zh-CN", 15 * time.Minute, "15 分钟后"},
		{"zh-CN", -49 * time.Hour, "2 天前"},
	} {
		b := tpl.Base(c.lang)
		b.Now = now
		if got := b.Rel(now.Add(c.d)); got != c.want {
			t.Errorf("%s %v: %q, want %q", c.lang, c.d, got, c.want)
		}
	}
	b := tpl.Base("en")
	if got := b.When(time.Date(2026, 3, 1, 20, 5, 0, 0, time.FixedZone("CST", 8*3600))); got != "2026-03-01 12:05 UTC" {
		t.Errorf("When: %s", got)
	}
}

func TestRenderNeedsBase(t *testing.T) {
	tpl, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if err := tpl.Render(&bytes.Buffer{}, &Catalog{}); err == nil {
		t.Error("rendering without Base succeeded")
	}
	var buf bytes.Buffer
	if err := tpl.Render(&buf, &Catalog{Base: tpl.Base("en")}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "No products yet") {
		t.Error("empty catalog shows no empty state")
	}
	if b := tpl.Base("fr"); b.Lang != DefaultLang {
		t.Errorf("unsupported language gives %s", b.Lang)
	}
}

// Feature files add keys beside the main file; a key defined twice is
// refused at start-up, not silently overwritten.
func TestLoadLangMergesFeatureFiles(t *testing.T) {
	fsys := fstest.MapFS{
		"i18n/en.json":         {Data: []byte(`{"a":"A"}`)},
		"i18n/en/shop.json":    {Data: []byte(`{"b":"B"}`)},
		"i18n/en/coupons.json": {Data: []byte(`{"c":"C"}`)},
	}
	m, err := loadLang(fsys, "en")
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 3 || m["a"] != "A" || m["b"] != "B" || m["c"] != "C" {
		t.Fatalf("merged %v", m)
	}
	fsys["i18n/en/dup.json"] = &fstest.MapFile{Data: []byte(`{"a":"again"}`)}
	if _, err := loadLang(fsys, "en"); err == nil || !strings.Contains(err.Error(), `"a"`) {
		t.Fatalf("duplicate key: err = %v", err)
	}
}
