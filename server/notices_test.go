package server_test

import (
	"html"
	"io"
	"net/http"
	"strings"
	"testing"

	"veil/crypto"
)

func TestNoticesPageAndFooter(t *testing.T) {
	e := startShop(t, t.TempDir(), &syncBuffer{}, true)
	defer e.stop(t)
	fp := e.shop.NoticeFingerprint()
	get := func(path string) string {
		resp, err := http.Get(e.ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if home := get("/?lang=en"); !strings.Contains(home, fp) {
		t.Fatal("the footer does not show the notice key")
	}
	if page := get("/notices?lang=zh-CN"); !strings.Contains(page, "暂无公告") {
		t.Fatal("empty notices page")
	}
	block, err := e.shop.PublishNotice("We moved to http://new.example/ & more")
	if err != nil {
		t.Fatal(err)
	}
	page := get("/notices?lang=en")
	start := strings.Index(page, "-----BEGIN VEIL NOTICE-----")
	end := strings.Index(page, "-----END VEIL NOTICE-----")
	if start < 0 || end < start {
		t.Fatal("the notice is not on the page")
	}
	// What a person copies from the rendered page is the unescaped text.
	shown := html.UnescapeString(page[start : end+len("-----END VEIL NOTICE-----")])
	n, err := crypto.VerifyNotice(shown)
	if err != nil || n.Fingerprint != fp || !strings.Contains(block, "new.example") {
		t.Fatalf("the notice copied from the page does not verify: %v", err)
	}
}
