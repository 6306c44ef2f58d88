package server

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"veil/server/shop"
	"veil/server/staff"
	"veil/server/store"
)

// HTTP tests of the merchant's own shop (issue 12): shop settings through
// the approval flow, the storefront showing them, catalogue writes, image
// uploads and the abuse around them.

const brandExif = "GPSLatitude 31.2304N BRAND-SECRET-SERIAL"

// brandJPEG is a small JPEG with an APP1 Exif segment carrying brandExif.
func brandJPEG(t testing.TB) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range 8 {
		img.Set(i, i, color.RGBA{200, 40, 40, 255})
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	payload := append([]byte("Exif\x00\x00"), brandExif...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	raw := b.Bytes()
	out := append(append(append([]byte{}, raw[:2]...), seg...), payload...)
	return append(out, raw[2:]...)
}

// upload sends an image as the raw body of a console API route.
func (e *consoleEnv) upload(sess session, target string, body []byte, csrf bool) *httptest.ResponseRecorder {
	e.t.Helper()
	h := map[string]string{"Cookie": staffCookie + "=" + sess.cookie}
	if csrf {
		h["X-CSRF-Token"] = sess.csrf
	}
	return e.do(e.t, req{method: http.MethodPost, target: target, body: string(body), ctype: "image/jpeg", header: h})
}

// multipartForm POSTs fields and one file as a console page form.
func (e *consoleEnv) multipartForm(sess session, target string, fields url.Values, file string, data []byte) *httptest.ResponseRecorder {
	e.t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	fields.Set("csrf", sess.csrf)
	for k, vs := range fields {
		for _, v := range vs {
			_ = mw.WriteField(k, v)
		}
	}
	if file != "" {
		fw, _ := mw.CreateFormFile(file, "upload.jpg")
		_, _ = fw.Write(data)
	}
	_ = mw.Close()
	return e.do(e.t, req{method: http.MethodPost, target: target, body: b.String(), ctype: mw.FormDataContentType(),
		header: map[string]string{"Cookie": staffCookie + "=" + sess.cookie}})
}

func TestShopSettingsThroughApproval(t *testing.T) {
	e := newConsoleEnv(t)
	e.addProduct(t, "moon-card", "MOON-0001-AAAA")
	owner := e.login("olga")

	w := e.upload(owner, "/api/v1/admin/shop/logo", brandJPEG(t), true)
	if w.Code != http.StatusCreated {
		t.Fatalf("logo: %d %s", w.Code, w.Body)
	}
	var logo struct{ Logo, URL string }
	decode(t, w, &logo)
	if logo.URL != "/img/"+logo.Logo || len(logo.Logo) != 64 {
		t.Fatalf("logo answer %+v", logo)
	}

	body := `{"shop":{"name":{"en":"Moon Keys","zh-CN":"月亮卡铺"},"logo":"` + logo.Logo + `",` +
		`"announcement":{"text":{"en":"Holiday hours","zh-CN":"假期安排"}},` +
		`"contacts":{"telegram":"@moon_keys","email":"help@moon.example","qq":"123456"}}}`
	w = e.api(owner, http.MethodPost, "/api/v1/admin/settings", body)
	if w.Code != http.StatusAccepted {
		t.Fatalf("propose: %d %s", w.Code, w.Body)
	}
	var prop struct {
		ApprovalID string `json:"approval_id"`
	}
	decode(t, w, &prop)
	// Buyers see nothing before the approval.
	if page := e.get(t, "/?lang=en", nil).Body.String(); strings.Contains(page, "Moon Keys") || strings.Contains(page, logo.URL) {
		t.Fatal("the storefront shows an unapproved change")
	}
	e.next()
	w = e.api(owner, http.MethodPost, "/api/v1/admin/approvals/"+prop.ApprovalID, `{"decision":"approve","totp":"`+e.code("olga")+`"}`)
	if w.Code != http.StatusOK {
		t.Fatalf("approve: %d %s", w.Code, w.Body)
	}
	for _, tc := range []struct{ lang, name, ann string }{{"en", "Moon Keys", "Holiday hours"}, {"zh-CN", "月亮卡铺", "假期安排"}} {
		page := e.get(t, "/?lang="+tc.lang, nil).Body.String()
		for _, want := range []string{"<title>", "· " + tc.name + "</title>", `class="brand"`, tc.name, tc.ann,
			`src="` + logo.URL + `"`, "https://t.me/moon_keys", "mailto:help@moon.example", "123456", `href="/terms?lang=` + tc.lang + `"`} {
			if !strings.Contains(page, want) {
				t.Errorf("%s storefront lacks %q", tc.lang, want)
			}
		}
		if strings.Contains(page, "· veil</title>") {
			t.Errorf("%s: the title still says veil", tc.lang)
		}
	}
	// The order lookup page carries the contacts too.
	if page := e.get(t, "/order?lang=en", nil).Body.String(); !strings.Contains(page, "https://t.me/moon_keys") {
		t.Error("the order page lacks the contacts")
	}
	// The logo is served under its hash, cached for good, its metadata gone.
	w = e.get(t, logo.URL, nil)
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "image/jpeg" ||
		!strings.Contains(w.Header().Get("Cache-Control"), "immutable") {
		t.Fatalf("logo: %d %v", w.Code, w.Header())
	}
	if bytes.Contains(w.Body.Bytes(), []byte(brandExif)) || bytes.Contains(w.Body.Bytes(), []byte("Exif")) {
		t.Fatal("the served logo keeps its EXIF segment")
	}
	if _, _, err := image.Decode(bytes.NewReader(w.Body.Bytes())); err != nil {
		t.Fatalf("served logo does not decode: %v", err)
	}
	// The settings answer it; the terms page starts from the template.
	var got struct {
		Shop shop.Branding `json:"shop"`
	}
	decode(t, e.api(owner, http.MethodGet, "/api/v1/admin/settings", ""), &got)
	if got.Shop.Name["en"] != "Moon Keys" || got.Shop.Contacts.Telegram != "moon_keys" || got.Shop.Logo != logo.Logo {
		t.Fatalf("settings %+v", got.Shop)
	}
	if page := e.get(t, "/terms?lang=zh-CN", nil).Body.String(); !strings.Contains(page, "售后服务规则") || !strings.Contains(page, "适用范围") {
		t.Fatal("terms page lacks the template")
	}
	// An announcement's end passes: it goes.
	if n := e.auditCount("shop.logo_upload", ""); n != 1 {
		t.Fatalf("logo uploads audited: %d", n)
	}
}

func TestShopSettingsAbuse(t *testing.T) {
	e := newConsoleEnv(t)
	owner := e.login("olga")
	e.member("sam", staff.RoleSupport)
	e.next()
	support := e.login("sam")

	big := make([]byte, shop.MaxImageBytes+1)
	copy(big, brandJPEG(t))
	wantErrorJSON(t, e.upload(owner, "/api/v1/admin/shop/logo", big, true), http.StatusRequestEntityTooLarge, "image_too_large")
	wantErrorJSON(t, e.upload(owner, "/api/v1/admin/shop/logo", []byte("just text, not an image"), true), http.StatusBadRequest, "image_invalid")
	wantErrorJSON(t, e.upload(owner, "/api/v1/admin/shop/logo", brandJPEG(t), false), http.StatusForbidden, "csrf")
	wantErrorJSON(t, e.upload(support, "/api/v1/admin/shop/logo", brandJPEG(t), true), http.StatusForbidden, "forbidden")
	wantErrorJSON(t, e.do(t, req{method: http.MethodPost, target: "/api/v1/admin/shop/logo", body: "x", ctype: "image/png"}),
		http.StatusUnauthorized, "unauthenticated")
	// Nothing of the refused uploads was stored.
	n := 0
	if err := e.db.View(func(tx *store.Txn) error {
		return tx.Iterate("img/", "", true, func(string, []byte) error { n++; return nil })
	}); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d images stored by refused uploads", n)
	}
	for _, bad := range []string{
		`{"shop":{"contacts":{"telegram":"no spaces here"}}}`,
		`{"shop":{"name":{"en":"` + strings.Repeat("n", 61) + `"}}}`,
		`{"shop":{"logo":"` + strings.Repeat("a", 64) + `"}}`,
		`{"shop":{"default_lang":"fr"}}`,
		`{"shop":{"nmae":{"en":"typo"}}}`,
	} {
		wantErrorJSON(t, e.api(owner, http.MethodPost, "/api/v1/admin/settings", bad), http.StatusBadRequest, "bad_request")
	}
	// Support staff cannot approve it: a proposal waits, a code is refused.
	e.next()
	w := e.api(support, http.MethodPost, "/api/v1/admin/settings", `{"shop":{"name":{"en":"Pirate"}},"totp":"`+e.code("sam")+`"}`)
	if w.Code == http.StatusOK {
		t.Fatalf("support changed the shop: %s", w.Body)
	}
	if page := e.get(t, "/?lang=en", nil).Body.String(); strings.Contains(page, "Pirate") {
		t.Fatal("a refused change shows")
	}
	// A page form without its CSRF token is refused.
	w = e.do(t, req{method: http.MethodPost, target: "/admin/shop", body: "name_en=X", ctype: "application/x-www-form-urlencoded",
		header: map[string]string{"Cookie": staffCookie + "=" + owner.cookie}})
	if w.Code != http.StatusForbidden {
		t.Fatalf("form without csrf: %d", w.Code)
	}
}

func TestCatalogueHTTP(t *testing.T) {
	e := newConsoleEnv(t)
	alpha := e.addProduct(t, "alpha-game", "ALPHA-0001-AAAA", "ALPHA-0002-AAAA")
	beta := e.addProduct(t, "beta-card", "BETA-0001-BBBB")
	owner := e.login("olga")

	w := e.api(owner, http.MethodPost, "/api/v1/admin/categories", `{"name":{"en":"Games","zh-CN":"游戏"},"sort":1}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("category: %d %s", w.Code, w.Body)
	}
	var cat shop.Category
	decode(t, w, &cat)
	if w := e.api(owner, http.MethodPut, "/api/v1/admin/products/"+alpha.ID+"/placement", `{"category":"`+cat.ID+`","sort":2}`); w.Code != http.StatusOK {
		t.Fatalf("placement: %d %s", w.Code, w.Body)
	}
	wantErrorJSON(t, e.api(owner, http.MethodPut, "/api/v1/admin/products/"+alpha.ID+"/placement", `{"category":"c-nope"}`), http.StatusNotFound, "category_not_found")

	// Search and categories on the storefront, as plain GET pages.
	page := e.get(t, "/?lang=en&q=alpha", nil).Body.String()
	if !strings.Contains(page, "/p/alpha-game") || strings.Contains(page, "/p/beta-card") {
		t.Fatal("search for alpha")
	}
	if !strings.Contains(page, `value="alpha"`) {
		t.Fatal("the search box lost the query")
	}
	page = e.get(t, "/?lang=zh-CN&cat="+cat.ID, nil).Body.String()
	if !strings.Contains(page, "/p/alpha-game") || strings.Contains(page, "/p/beta-card") || !strings.Contains(page, "游戏") {
		t.Fatal("category filter")
	}
	if page := e.get(t, "/?lang=en&q=nothing-matches", nil).Body.String(); !strings.Contains(page, "Nothing found") {
		t.Fatal("empty search state")
	}
	wantErrorJSON(t, e.get(t, "/api/v1/products?q="+strings.Repeat("x", 101), nil), http.StatusBadRequest, "bad_request")

	// Off sale: gone from the storefront and the API, no orders.
	if w := e.api(owner, http.MethodPost, "/api/v1/admin/products/"+beta.ID+"/status", `{"status":"off_sale"}`); w.Code != http.StatusOK {
		t.Fatalf("status: %d %s", w.Code, w.Body)
	}
	if w := e.get(t, "/p/beta-card?lang=en", nil); w.Code != http.StatusNotFound {
		t.Fatalf("off-sale product page: %d", w.Code)
	}
	if body := e.get(t, "/api/v1/products", nil).Body.String(); strings.Contains(body, "beta-card") {
		t.Fatal("off-sale product in the API")
	}
	wantErrorJSON(t, e.postJSON(t, "/api/v1/orders", `{"product":"beta-card","quantity":1}`), http.StatusNotFound, "product_not_found")
	wantErrorJSON(t, e.api(owner, http.MethodPost, "/api/v1/admin/products/"+beta.ID+"/status", `{"status":"gone"}`), http.StatusBadRequest, "bad_request")

	// Delete: refused with an unsettled order, then with stock.
	e.paidOrder(alpha)
	wantErrorJSON(t, e.api(owner, http.MethodDelete, "/api/v1/admin/products/"+alpha.ID, ""), http.StatusConflict, "product_in_use")
	wantErrorJSON(t, e.api(owner, http.MethodDelete, "/api/v1/admin/products/"+beta.ID, ""), http.StatusConflict, "product_has_stock")
	wantErrorJSON(t, e.api(owner, http.MethodDelete, "/api/v1/admin/categories/"+cat.ID, ""), http.StatusConflict, "category_in_use")

	// Images: upload (metadata stripped), serve, remove.
	w = e.upload(owner, "/api/v1/admin/products/"+alpha.ID+"/images", brandJPEG(t), true)
	if w.Code != http.StatusCreated {
		t.Fatalf("image: %d %s", w.Code, w.Body)
	}
	var imgs struct{ Images []string }
	decode(t, w, &imgs)
	if len(imgs.Images) != 1 {
		t.Fatalf("images %v", imgs.Images)
	}
	served := e.get(t, imgs.Images[0], nil)
	if served.Code != http.StatusOK || bytes.Contains(served.Body.Bytes(), []byte(brandExif)) {
		t.Fatalf("served image: %d, metadata kept %t", served.Code, bytes.Contains(served.Body.Bytes(), []byte(brandExif)))
	}
	if page := e.get(t, "/p/alpha-game?lang=en", nil).Body.String(); !strings.Contains(page, `src="`+imgs.Images[0]+`"`) {
		t.Fatal("the product page lacks its image")
	}
	wantErrorJSON(t, e.upload(owner, "/api/v1/admin/products/"+alpha.ID+"/images", []byte("<svg/>"), true), http.StatusBadRequest, "image_invalid")
	name := strings.TrimPrefix(imgs.Images[0], "/img/")
	if w := e.api(owner, http.MethodDelete, "/api/v1/admin/products/"+alpha.ID+"/images/"+name, ""); w.Code != http.StatusOK {
		t.Fatalf("remove: %d %s", w.Code, w.Body)
	}
	if w := e.get(t, imgs.Images[0], nil); w.Code != http.StatusNotFound {
		t.Fatalf("removed image still served: %d", w.Code)
	}

	// The console pages, with JavaScript off: forms and redirects.
	if w := e.page(owner, "/admin/catalogue?lang=zh-CN"); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "游戏") {
		t.Fatalf("catalogue page: %d", w.Code)
	}
	w = e.form(owner, "/admin/categories", url.Values{"name_en": {"Cards"}, "name_zh": {"点卡"}, "sort": {"3"}, "hidden": {"1"}})
	if w.Code != http.StatusSeeOther {
		t.Fatalf("category form: %d %s", w.Code, w.Body)
	}
	w = e.multipartForm(owner, "/admin/products/"+alpha.ID+"/images", url.Values{}, "image", brandJPEG(t))
	if w.Code != http.StatusSeeOther {
		t.Fatalf("image form: %d %s", w.Code, w.Body)
	}
	if w := e.page(owner, "/admin/products/"+alpha.ID+"/images?lang=en"); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "/img/") {
		t.Fatalf("images page: %d", w.Code)
	}
	for _, a := range []string{"category.save", "product.placement", "product.status", "product.image_add", "product.image_remove"} {
		if e.auditCount(a, "") == 0 {
			t.Errorf("no audit entry %s", a)
		}
	}
	var list struct{ Categories []shop.Category }
	if err := json.Unmarshal(e.api(owner, http.MethodGet, "/api/v1/admin/categories", "").Body.Bytes(), &list); err != nil || len(list.Categories) != 2 {
		t.Fatalf("categories %+v %v", list, err)
	}
}

func TestShopDefaultLanguageAndAnnouncementEnd(t *testing.T) {
	e := newConsoleEnv(t)
	owner := e.login("olga")
	set := func(body string) {
		t.Helper()
		e.next()
		w := e.api(owner, http.MethodPost, "/api/v1/admin/settings", `{"shop":`+body+`,"totp":"`+e.code("olga")+`"}`)
		if w.Code != http.StatusOK {
			t.Fatalf("settings %s: %d %s", body, w.Code, w.Body)
		}
	}
	if page := e.get(t, "/", nil).Body.String(); !strings.Contains(page, `<html lang="zh-CN">`) {
		t.Fatal("the default language is not zh-CN before the merchant sets one")
	}
	soon := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	set(`{"default_lang":"en","announcement":{"text":{"en":"Spring sale","zh-CN":"春季促销"},"ends":"` + soon + `"}}`)
	page := e.get(t, "/", nil).Body.String()
	if !strings.Contains(page, `<html lang="en">`) || !strings.Contains(page, "Spring sale") {
		t.Fatal("no Accept-Language: the shop's default language (en) with its announcement")
	}
	// The buyer's browser still wins over the default, and ?lang over both.
	if page := e.get(t, "/", map[string]string{"Accept-Language": "zh-CN,zh;q=0.9"}).Body.String(); !strings.Contains(page, `<html lang="zh-CN">`) || !strings.Contains(page, "春季促销") {
		t.Fatal("Accept-Language zh lost to the default")
	}
	if page := e.get(t, "/?lang=zh-CN", map[string]string{"Accept-Language": "en"}).Body.String(); !strings.Contains(page, `<html lang="zh-CN">`) {
		t.Fatal("?lang lost")
	}
	// Other fields are kept when one is changed; an announcement whose end
	// has passed is not shown.
	past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	set(`{"announcement":{"text":{"en":"Spring sale"},"ends":"` + past + `"}}`)
	page = e.get(t, "/", nil).Body.String()
	if strings.Contains(page, "Spring sale") || !strings.Contains(page, `<html lang="en">`) {
		t.Fatal("an ended announcement shows, or the default language was lost")
	}
}

func TestKeyFormatExampleOnImportPage(t *testing.T) {
	e := newConsoleEnv(t)
	owner := e.login("olga")
	w := e.api(owner, http.MethodPost, "/api/v1/admin/products", `{"slug":"fmt-card","name":"Format card","price_minor":500,"currency":"CNY","kind":"unique",`+
		`"key_format":{"pattern":"[A-Z]{4}-[0-9]{4}","example":"WXYZ-2468"}}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	var p struct{ ID string }
	decode(t, w, &p)
	for _, lang := range []string{"en", "zh-CN"} {
		if page := e.page(owner, "/admin/products/"+p.ID+"/import?lang="+lang).Body.String(); !strings.Contains(page, "WXYZ-2468") {
			t.Errorf("%s import page lacks the example key", lang)
		}
		if page := e.page(owner, "/admin/products/"+p.ID+"/edit?lang="+lang).Body.String(); !strings.Contains(page, `value="WXYZ-2468"`) {
			t.Errorf("%s product form lacks the example key", lang)
		}
	}
	wantErrorJSON(t, e.api(owner, http.MethodPost, "/api/v1/admin/products", `{"slug":"fmt-bad","name":"Bad","price_minor":500,"currency":"CNY","kind":"unique",`+
		`"key_format":{"pattern":"[A-Z]{4}-[0-9]{4}","example":"nope"}}`), http.StatusBadRequest, "bad_request")
}
