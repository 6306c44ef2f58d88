package server_test

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// brandExifMarker is planted in the uploaded pictures' EXIF segment; the
// bytes the shop serves must not carry it.
const brandExifMarker = "GPSLatitude 31.2304N BROWSER-CAMERA-SERIAL"

// exifJPEG writes a small JPEG with an APP1 Exif segment to a temp file.
func exifJPEG(t *testing.T, name string, c color.RGBA) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 48, 48))
	for y := range 48 {
		for x := range 48 {
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	payload := append([]byte("Exif\x00\x00"), brandExifMarker...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	raw := b.Bytes()
	out := append(append(append([]byte{}, raw[:2]...), seg...), payload...)
	out = append(out, raw[2:]...)
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// shopIsTheirsJourney: the owner names the shop, uploads a logo, writes
// an announcement and contacts, and makes a category in the console; the
// storefront shows them in English and Chinese, with JavaScript on and
// off, on a 390 px phone and a 1280 px screen, nothing wider than the
// screen; search finds the product; its image is served without the
// EXIF segment it was uploaded with.
func shopIsTheirsJourney(t *testing.T, b *browser) {
	s := newBrowserShop(t)
	p := s.product("moon-card", "MOON-7Q2M-0001", "MOON-7Q2M-0002")
	s.product("sun-card", "SUN-7Q2M-0001")
	st := b.newTab(t, "owner", s.ts.URL, "en", true)
	staffLogin(t, st, s)

	// A category, and the product in it.
	wantStatus(t, "catalogue", st.open("/admin/catalogue?lang=en"), http.StatusOK)
	st.typeIn("#new_en", "Moon games")
	st.typeIn("#new_zh", "月亮游戏")
	wantStatus(t, "add category", st.submit(`form[action^="/admin/categories"] button[type="submit"]`), http.StatusOK)
	catID := eval[string](st, `document.querySelector('#pc-`+p.ID+` option:nth-child(2)').value`)
	if catID == "" {
		t.Fatal("the new category is not offered")
	}
	if err := chromedp.Do(st.ctx, chromedp.SetValue("#pc-"+p.ID, catID)); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "place product", st.submit(`form[action^="/admin/catalogue/`+p.ID+`?"] button[type="submit"]`), http.StatusOK)

	// A product image.
	wantStatus(t, "images", st.open("/admin/products/"+p.ID+"/images?lang=en"), http.StatusOK)
	if err := chromedp.Do(st.ctx, chromedp.SetUploadFiles("#image", []string{exifJPEG(t, "card.jpg", color.RGBA{30, 90, 200, 255})})); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "upload image", st.submit(`form[enctype="multipart/form-data"] button[type="submit"]`), http.StatusOK)

	// The shop settings, carried out at once with a fresh code.
	wantStatus(t, "shop page", st.open("/admin/shop?lang=en"), http.StatusOK)
	st.typeIn("#name_en", "Moon Keys")
	st.typeIn("#name_zh", "月亮卡铺")
	st.typeIn("#ann_en", "Holiday hours: answers within a day")
	st.typeIn("#ann_zh", "假期期间一天内回复")
	st.typeIn("#telegram", "@moon_keys")
	st.typeIn("#email", "help@moon.example")
	st.typeIn("#wechat", "moonkeys88")
	if err := chromedp.Do(st.ctx, chromedp.SetUploadFiles("#logo", []string{exifJPEG(t, "logo.jpg", color.RGBA{220, 180, 20, 255})})); err != nil {
		t.Fatal(err)
	}
	s.clock.Add(30 * time.Second)
	st.typeIn(`input[name="totp"]`, s.code())
	wantStatus(t, "save shop", st.submit(`form[action^="/admin/shop"] button[type="submit"]`), http.StatusOK)
	if !strings.Contains(st.text(".notice"), s.T("en", "admin.notice.done")) {
		t.Fatalf("shop settings not carried out: %q", st.text(".notice"))
	}

	for _, lang := range []string{"en", "zh-CN"} {
		name, ann, cat := "Moon Keys", "Holiday hours", "Moon games"
		if lang == "zh-CN" {
			name, ann, cat = "月亮卡铺", "假期期间", "月亮游戏"
		}
		for _, js := range []bool{true, false} {
			for _, width := range []int64{390, 1280} {
				bt := b.newTab(t, "buyer", s.ts.URL, lang, js)
				if _, err := chromedp.Call(bt.ctx, emulation.SetDeviceMetricsOverride,
					emulation.SetDeviceMetricsOverrideParams{Width: width, Height: 900, DeviceScaleFactor: 1, Mobile: width < 500}); err != nil {
					t.Fatal(err)
				}
				where := lang + " js=" + map[bool]string{true: "on", false: "off"}[js] + " " + map[int64]string{390: "390px", 1280: "1280px"}[width]
				wantStatus(t, where+" catalog", bt.open("/?lang="+lang), http.StatusOK)
				if title := eval[string](bt, `document.title`); !strings.HasSuffix(title, "· "+name) {
					t.Errorf("%s: title %q", where, title)
				}
				if got := bt.text("a.brand"); got != name {
					t.Errorf("%s: header %q", where, got)
				}
				if got := bt.text(".notice.announce"); !strings.Contains(got, ann) {
					t.Errorf("%s: announcement %q", where, got)
				}
				if got := bt.text("ul.contact-list"); !strings.Contains(got, "@moon_keys") || !strings.Contains(got, "help@moon.example") || !strings.Contains(got, "moonkeys88") {
					t.Errorf("%s: contacts %q", where, got)
				}
				if got := bt.text("nav.cats"); !strings.Contains(got, cat) {
					t.Errorf("%s: categories %q", where, got)
				}
				for _, img := range []string{"a.brand img.logo", ".product-card .thumb img"} {
					if w := eval[int](bt, `(document.querySelector('`+img+`')||{}).naturalWidth||0`); w != 48 {
						t.Errorf("%s: %s not shown (natural width %d)", where, img, w)
					}
				}
				if w := eval[int](bt, `document.documentElement.scrollWidth - document.documentElement.clientWidth`); w > 0 {
					t.Errorf("%s: the page is %d px wider than the screen", where, w)
				}
				// Search with the plain form.
				bt.typeIn("#q", "moon")
				wantStatus(t, where+" search", bt.submit(`form.search button[type="submit"]`), http.StatusOK)
				if !strings.Contains(bt.location(), "q=moon") {
					t.Errorf("%s: search went to %s", where, bt.location())
				}
				if got := bt.texts(".product-card .name"); len(got) != 1 || !strings.Contains(got[0], "moon-card") {
					t.Errorf("%s: search found %v", where, got)
				}
				wantStatus(t, where+" terms", bt.open("/terms?lang="+lang), http.StatusOK)
				if got := bt.text(".terms"); len(got) < 200 {
					t.Errorf("%s: terms %q", where, got)
				}
				if w := eval[int](bt, `document.documentElement.scrollWidth - document.documentElement.clientWidth`); w > 0 {
					t.Errorf("%s: the terms page is %d px wider than the screen", where, w)
				}
				bt.wantCleanConsole()
			}
		}
	}

	// The bytes served for both pictures carry no EXIF segment.
	bt := b.newTab(t, "bytes", s.ts.URL, "en", true)
	wantStatus(t, "catalog", bt.open("/?lang=en"), http.StatusOK)
	for _, sel := range []string{"a.brand img.logo", ".product-card .thumb img"} {
		src := eval[string](bt, `document.querySelector('`+sel+`').getAttribute('src')`)
		if !strings.HasPrefix(src, "/img/") || len(src) != len("/img/")+64 {
			t.Fatalf("%s: src %q is not content-hashed", sel, src)
		}
		resp, err := http.Get(s.ts.URL + src)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/jpeg" {
			t.Fatalf("%s: %d %s", src, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if bytes.Contains(body, []byte(brandExifMarker)) || bytes.Contains(body, []byte("Exif\x00")) {
			t.Fatalf("%s: the served image keeps its EXIF segment", src)
		}
	}
}
