package shop

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"slices"
	"strings"
	"testing"
	"time"

	"veil/server/store"
)

// Tests of the merchant's own shop (issue 12): branding, categories,
// product status, search and images.

// exifMarker is text planted in uploads' metadata; a cleaned image must
// not contain it.
const exifMarker = "GPSLatitude 31.2304N SECRET-CAMERA-SERIAL"

func testPicture(w, h int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(40 * x), uint8(30 * y), 200, 255})
		}
	}
	return img
}

// jpegWithExif is a JPEG with an APP1 Exif segment holding exifMarker and
// a comment after the end of image.
func jpegWithExif(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, testPicture(6, 4), nil); err != nil {
		t.Fatal(err)
	}
	raw := b.Bytes()
	payload := append([]byte("Exif\x00\x00"), exifMarker...)
	seg := []byte{0xFF, 0xE1, 0, 0}
	binary.BigEndian.PutUint16(seg[2:], uint16(len(payload)+2))
	seg = append(seg, payload...)
	out := append([]byte{}, raw[:2]...) // SOI
	out = append(out, seg...)
	out = append(out, raw[2:]...)
	return append(out, exifMarker...)
}

// pngWithText is a PNG with a tEXt chunk holding exifMarker.
func pngWithText(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, testPicture(3, 3)); err != nil {
		t.Fatal(err)
	}
	raw := b.Bytes()
	// After the signature (8) and IHDR (8 + 13 + 4).
	at := 8 + 25
	data := append([]byte("Comment\x00"), exifMarker...)
	chunk := make([]byte, 4, 12+len(data))
	binary.BigEndian.PutUint32(chunk, uint32(len(data)))
	chunk = append(chunk, "tEXt"...)
	chunk = append(chunk, data...)
	chunk = binary.BigEndian.AppendUint32(chunk, crc32IEEE(chunk[4:]))
	return slices.Concat(raw[:at], chunk, raw[at:])
}

// webp1x1 is a lossless 1×1 WebP (VP8L with five one-symbol prefix codes)
// with an EXIF chunk holding exifMarker.
func webp1x1() []byte {
	var bits []bool
	put := func(v uint32, n int) {
		for i := range n {
			bits = append(bits, v>>i&1 == 1)
		}
	}
	put(0, 14)                                           // width - 1
	put(0, 14)                                           // height - 1
	put(1, 1)                                            // alpha used
	put(0, 3)                                            // version
	put(0, 1)                                            // no transform
	put(0, 1)                                            // no colour cache
	put(0, 1)                                            // no meta prefix codes
	for _, sym := range []uint32{120, 30, 200, 255, 0} { // green, red, blue, alpha, distance
		put(1, 1) // simple code
		put(0, 1) // one symbol
		put(1, 1) // eight-bit symbol
		put(sym, 8)
	}
	vp8l := []byte{0x2f}
	for i := 0; i < len(bits); i += 8 {
		var c byte
		for j := 0; j < 8 && i+j < len(bits); j++ {
			if bits[i+j] {
				c |= 1 << j
			}
		}
		vp8l = append(vp8l, c)
	}
	chunk := func(id string, data []byte) []byte {
		c := append([]byte(id), 0, 0, 0, 0)
		binary.LittleEndian.PutUint32(c[4:], uint32(len(data)))
		c = append(c, data...)
		if len(data)%2 == 1 {
			c = append(c, 0)
		}
		return c
	}
	body := append([]byte("WEBP"), chunk("VP8L", vp8l)...)
	body = append(body, chunk("EXIF", []byte(exifMarker))...)
	out := append([]byte("RIFF"), 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(out[4:], uint32(len(body)))
	return append(out, body...)
}

func crc32IEEE(b []byte) uint32 {
	crc := ^uint32(0)
	for _, c := range b {
		crc ^= uint32(c)
		for range 8 {
			if crc&1 == 1 {
				crc = crc>>1 ^ 0xEDB88320
			} else {
				crc >>= 1
			}
		}
	}
	return ^crc
}

func TestCleanImageStripsMetadata(t *testing.T) {
	for _, tc := range []struct {
		name, ctype string
		in          []byte
		w, h        int
	}{
		{"jpeg", "image/jpeg", jpegWithExif(t), 6, 4},
		{"png", "image/png", pngWithText(t), 3, 3},
		{"webp", "image/png", webp1x1(), 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !bytes.Contains(tc.in, []byte(exifMarker)) {
				t.Fatal("the upload lacks its metadata")
			}
			out, ctype, err := CleanImage(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if ctype != tc.ctype {
				t.Fatalf("content type %s, want %s", ctype, tc.ctype)
			}
			if bytes.Contains(out, []byte(exifMarker)) || bytes.Contains(out, []byte("Exif")) {
				t.Fatal("metadata survived the re-encoding")
			}
			img, _, err := image.Decode(bytes.NewReader(out))
			if err != nil {
				t.Fatal(err)
			}
			if b := img.Bounds(); b.Dx() != tc.w || b.Dy() != tc.h {
				t.Fatalf("size %v", b)
			}
		})
	}
}

func TestCleanImageRefuses(t *testing.T) {
	big := make([]byte, MaxImageBytes+1)
	copy(big, jpegWithExif(t))
	// A 3 KB PNG that claims 20000×20000 pixels: refused before decoding.
	var bomb bytes.Buffer
	_ = png.Encode(&bomb, image.NewGray(image.Rect(0, 0, 1, 1)))
	huge := bomb.Bytes()
	binary.BigEndian.PutUint32(huge[16:], 20000)
	binary.BigEndian.PutUint32(huge[20:], 20000)
	binary.BigEndian.PutUint32(huge[29:], crc32IEEE(huge[12:29]))
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"too large", big, ErrImageTooLarge},
		{"text", []byte("hello, not an image"), ErrImageInvalid},
		{"empty", nil, ErrImageInvalid},
		{"gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), ErrImageInvalid},
		{"truncated jpeg", jpegWithExif(t)[:60], ErrImageInvalid},
		{"pixel bomb", huge, ErrImageInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := CleanImage(tc.in); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestProductImages(t *testing.T) {
	e := newEnv(t)
	p := e.product("pic", Unique)
	q := e.product("pic2", Unique)
	if _, err := e.shop.AddProductImage(p.ID, []byte("not an image")); !errors.Is(err, ErrImageInvalid) {
		t.Fatalf("got %v", err)
	}
	if got, _ := e.shop.Product(p.ID); len(got.Images) != 0 {
		t.Fatalf("a refused upload left %v", got.Images)
	}
	got, err := e.shop.AddProductImage(p.ID, jpegWithExif(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Images) != 1 {
		t.Fatalf("images %v", got.Images)
	}
	name := got.Images[0]
	b, ctype, err := e.shop.Image(name)
	if err != nil || ctype != "image/jpeg" {
		t.Fatalf("%s %v", ctype, err)
	}
	if bytes.Contains(b, []byte(exifMarker)) {
		t.Fatal("stored image keeps its metadata")
	}
	// The same picture on another product is one stored image.
	if _, err := e.shop.AddProductImage(q.ID, jpegWithExif(t)); err != nil {
		t.Fatal(err)
	}
	// An edit of the product (either path) keeps its images, placement
	// and status, whatever the edit carries.
	cat, err := e.shop.SaveCategory(Category{Name: Text{"en": "Cards"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.shop.SetPlacement(p.ID, Placement{Category: cat.ID, Sort: 7}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.shop.SetProductStatus(p.ID, OffSale); err != nil {
		t.Fatal(err)
	}
	p2, _ := e.shop.Product(p.ID)
	p2.Name = Text{"en": "Renamed"}
	p2.Images, p2.Category, p2.Sort, p2.Status = nil, "", 0, OnSale
	u, err := e.shop.UpdateProduct(p2)
	if err != nil {
		t.Fatal(err)
	}
	u2, _, err := e.shop.UpdateDetails(p2)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []Product{u, u2} {
		if !slices.Equal(u.Images, []string{name}) || u.Category != cat.ID || u.Sort != 7 || u.Status != OffSale || u.Name.In("en") != "Renamed" {
			t.Fatalf("edit lost the catalogue fields: %+v", u)
		}
	}
	if _, err := e.shop.RemoveProductImage(p.ID, name); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.shop.Image(name); err != nil {
		t.Fatalf("image still shown by another product is gone: %v", err)
	}
	if _, err := e.shop.RemoveProductImage(q.ID, name); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.shop.Image(name); !errors.Is(err, ErrImageNotFound) {
		t.Fatalf("unused image kept: %v", err)
	}
	for _, bad := range []string{"", "../x", strings.Repeat("G", 64)} {
		if _, _, err := e.shop.Image(bad); !errors.Is(err, ErrImageNotFound) {
			t.Fatalf("%q: %v", bad, err)
		}
	}
	for i := range MaxProductImages + 1 {
		var b bytes.Buffer
		_ = png.Encode(&b, testPicture(i+1, 1)) // distinct pictures
		_, err := e.shop.AddProductImage(p.ID, b.Bytes())
		var ie *InputError
		if i < MaxProductImages && err != nil || i == MaxProductImages && !errors.As(err, &ie) {
			t.Fatalf("image %d: %v", i, err)
		}
	}
}

func TestCategoriesAndStorefront(t *testing.T) {
	e := newEnv(t)
	a := e.product("alpha-game", Unique)
	b := e.product("beta-card", Unique)
	c := e.product("gamma-vpn", Unique)
	games, err := e.shop.SaveCategory(Category{Name: Text{"en": "Games", "zh-CN": "游戏"}, Sort: 2})
	if err != nil {
		t.Fatal(err)
	}
	secret, err := e.shop.SaveCategory(Category{Name: Text{"en": "Secret"}, Sort: 1, Hidden: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.shop.SaveCategory(Category{Name: Text{"en": "  "}}); err == nil {
		t.Fatal("a category without a name")
	}
	if _, err := e.shop.SaveCategory(Category{ID: "c-nope", Name: Text{"en": "x"}}); !errors.Is(err, ErrCategoryNotFound) {
		t.Fatalf("got %v", err)
	}
	cats, _ := e.shop.Categories()
	if len(cats) != 2 || cats[0].ID != secret.ID || cats[1].ID != games.ID {
		t.Fatalf("categories %+v", cats)
	}
	if _, err := e.shop.SetPlacement(a.ID, Placement{Category: "c-nope"}); !errors.Is(err, ErrCategoryNotFound) {
		t.Fatalf("got %v", err)
	}
	must := func(_ Product, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(e.shop.SetPlacement(a.ID, Placement{Category: games.ID, Sort: 5}))
	must(e.shop.SetPlacement(b.ID, Placement{Category: games.ID, Sort: -1}))
	must(e.shop.SetPlacement(c.ID, Placement{Category: secret.ID}))
	slugs := func(cat, q string) []string {
		t.Helper()
		ps, err := e.shop.Storefront(cat, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range ps {
			out = append(out, p.Slug)
		}
		return out
	}
	if got := slugs("", ""); !slices.Equal(got, []string{"beta-card", "alpha-game"}) {
		t.Fatalf("storefront %v (sort order; the hidden category's product left out)", got)
	}
	if got := slugs(games.ID, ""); !slices.Equal(got, []string{"beta-card", "alpha-game"}) {
		t.Fatalf("games %v", got)
	}
	if got := slugs(secret.ID, ""); len(got) != 0 {
		t.Fatalf("hidden category listed %v", got)
	}
	// Search: every word, any language, any case.
	if got := slugs("", "ALPHA"); !slices.Equal(got, []string{"alpha-game"}) {
		t.Fatalf("search %v", got)
	}
	if got := slugs("", "测试 beta"); !slices.Equal(got, []string{"beta-card"}) {
		t.Fatalf("search %v", got)
	}
	if got := slugs("", "nothing-like-it"); len(got) != 0 {
		t.Fatalf("search %v", got)
	}
	if _, err := e.shop.Storefront("", strings.Repeat("x", MaxSearchBytes+1)); err == nil {
		t.Fatal("overlong query accepted")
	}
	// The hidden category shown again brings its product back.
	secret.Hidden = false
	if _, err := e.shop.SaveCategory(secret); err != nil {
		t.Fatal(err)
	}
	if got := slugs("", "vpn"); !slices.Equal(got, []string{"gamma-vpn"}) {
		t.Fatalf("search %v", got)
	}
	if err := e.shop.DeleteCategory(games.ID); !errors.Is(err, ErrCategoryInUse) {
		t.Fatalf("got %v", err)
	}
	must(e.shop.SetPlacement(a.ID, Placement{}))
	must(e.shop.SetPlacement(b.ID, Placement{}))
	if err := e.shop.DeleteCategory(games.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.shop.DeleteCategory(games.ID); !errors.Is(err, ErrCategoryNotFound) {
		t.Fatalf("got %v", err)
	}
}

func TestProductStatusAndDelete(t *testing.T) {
	e := newEnv(t)
	p := e.product("status", Unique)
	e.importKeys(p.ID, keyList("ST", 2))
	if _, err := e.shop.SetProductStatus(p.ID, OffSale); err != nil {
		t.Fatal(err)
	}
	if _, err := e.shop.PlaceOrder(p.ID, 1, nil); !errors.Is(err, ErrProductNotFound) {
		t.Fatalf("an off-sale product took an order: %v", err)
	}
	if ps, _ := e.shop.Storefront("", ""); len(ps) != 0 {
		t.Fatalf("off-sale product on the storefront")
	}
	if ps, _ := e.shop.Products(); len(ps) != 1 {
		t.Fatal("the console lost an off-sale product")
	}
	if _, err := e.shop.SetProductStatus(p.ID, "sold_out"); err == nil {
		t.Fatal("unknown status accepted")
	}
	if _, err := e.shop.SetProductStatus(p.ID, OnSale); err != nil {
		t.Fatal(err)
	}
	pl := e.buy(p.ID, 1)
	// Unpaid: the order may still be paid, so it counts as unsettled.
	if _, err := e.shop.DeleteProduct(p.ID); !errors.Is(err, ErrProductInUse) {
		t.Fatalf("deleted with an unpaid order: %v", err)
	}
	e.pay(pl.Order)
	if _, err := e.shop.DeleteProduct(p.ID); !errors.Is(err, ErrProductInUse) {
		t.Fatalf("deleted inside the after-sales window: %v", err)
	}
	e.clock.Add(73 * time.Hour)
	if r, err := e.shop.Sweep(); err != nil || r.Settled != 1 {
		t.Fatalf("%+v %v", r, err)
	}
	if _, err := e.shop.DeleteProduct(p.ID); !errors.Is(err, ErrProductHasStock) {
		t.Fatalf("deleted with a key in stock: %v", err)
	}
	if err := e.db.Update(func(tx *store.Txn) error {
		_, err := e.shop.DeleteKeysTx(tx, p.ID, "")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.shop.DeleteProduct(p.ID); err != nil {
		t.Fatal(err)
	}
	if ps, _ := e.shop.Products(); len(ps) != 0 {
		t.Fatal("a deleted product is still listed")
	}
	// The settled order still names its product.
	if got, err := e.shop.Product(p.ID); err != nil || got.Name.In("en") != "Test status" {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := e.shop.SetProductStatus(p.ID, OnSale); !errors.Is(err, ErrProductNotFound) {
		t.Fatalf("a deleted product came back: %v", err)
	}
	if _, err := e.shop.DeleteProduct(p.ID); !errors.Is(err, ErrProductNotFound) {
		t.Fatalf("deleted twice: %v", err)
	}
	// Across a restart.
	e.db.Close()
	e2 := openEnv(t, e.dir, e.clock)
	t.Cleanup(func() { e2.db.Close() })
	if ps, _ := e2.shop.Products(); len(ps) != 0 {
		t.Fatal("a deleted product is back after a restart")
	}
}

func TestBranding(t *testing.T) {
	e := newEnv(t)
	b, err := e.shop.Branding()
	if err != nil {
		t.Fatal(err)
	}
	if b.ShopName("en") != DefaultShopName || !strings.Contains(b.TermsIn("zh-CN"), "售后") || !strings.Contains(b.TermsIn("en"), "Remedies") {
		t.Fatalf("defaults: %q", b.ShopName("en"))
	}
	logo, err := e.shop.StoreLogo(pngWithText(t))
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now()
	want := Branding{
		Name:         Text{"en": " Moon Keys ", "zh-CN": "月亮卡铺"},
		Description:  Text{"en": "Game keys, delivered at once"},
		Logo:         logo,
		Announcement: Announcement{Text: Text{"en": "Holiday hours", "zh-CN": "假期安排"}, Ends: now.Add(time.Hour)},
		Contacts:     Contacts{Telegram: "https://t.me/moon_keys", QQ: "123456", WeChat: "moonkeys", Email: "help@moon.example", Other: Text{"en": "Replies within a day"}},
		Terms:        Text{"en": "Our rules", "zh-CN": ""},
		DefaultLang:  "en",
	}
	if err := e.db.Update(func(tx *store.Txn) error { return e.shop.SetBrandingTx(tx, want) }); err != nil {
		t.Fatal(err)
	}
	b, _ = e.shop.Branding()
	if b.ShopName("en") != "Moon Keys" || b.ShopName("zh-CN") != "月亮卡铺" || b.Contacts.Telegram != "moon_keys" || b.Logo != logo {
		t.Fatalf("%+v", b)
	}
	if b.TermsIn("en") != "Our rules" || b.TermsIn("zh-CN") != "Our rules" {
		t.Fatalf("terms %q / %q", b.TermsIn("en"), b.TermsIn("zh-CN"))
	}
	if b.AnnouncementAt(now, "zh-CN") != "假期安排" || b.AnnouncementAt(now.Add(time.Hour), "en") != "" {
		t.Fatal("announcement window")
	}
	// A new logo replaces the old, which goes.
	logo2, err := e.shop.StoreLogo(jpegWithExif(t))
	if err != nil {
		t.Fatal(err)
	}
	b.Logo = logo2
	if err := e.db.Update(func(tx *store.Txn) error { return e.shop.SetBrandingTx(tx, b) }); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.shop.Image(logo); !errors.Is(err, ErrImageNotFound) {
		t.Fatalf("replaced logo kept: %v", err)
	}
	for _, bad := range []Branding{
		{Name: Text{"en": strings.Repeat("n", 61)}},
		{Name: Text{"en": "two\nlines"}},
		{Name: Text{"fr": "Boutique"}},
		{Contacts: Contacts{Telegram: "no spaces"}},
		{Contacts: Contacts{QQ: "12ab"}},
		{Contacts: Contacts{WeChat: "1abcdef"}},
		{Contacts: Contacts{Email: "not-an-address"}},
		{Contacts: Contacts{Email: "Name <a@b.example>"}},
		{DefaultLang: "fr"},
		{Logo: "../etc/passwd"},
		{Logo: strings.Repeat("a", 64)}, // well formed, never uploaded
		{Terms: Text{"en": strings.Repeat("t", MaxTerms+1)}},
	} {
		err := e.db.Update(func(tx *store.Txn) error { return e.shop.SetBrandingTx(tx, bad) })
		var ie *InputError
		if !errors.As(err, &ie) {
			t.Fatalf("%+v: got %v", bad, err)
		}
	}
	if got, _ := e.shop.Branding(); got.Logo != logo2 || got.ShopName("en") != "Moon Keys" {
		t.Fatal("a refused change wrote something")
	}
}

func TestKeyFormatExample(t *testing.T) {
	e := newEnv(t)
	base := Product{Slug: "fmt", Name: Text{"en": "Format"}, PriceMinor: 100, Currency: "CNY"}
	for _, tc := range []struct {
		f  KeyFormat
		ok bool
	}{
		{KeyFormat{Pattern: `[A-Z]{4}-[0-9]{4}`, Example: "ABCD-1234"}, true},
		{KeyFormat{Example: "AB12"}, true},
		{KeyFormat{Pattern: `[A-Z]{4}-[0-9]{4}`, Example: "abcd-1234"}, false}, // pattern
		{KeyFormat{MinLength: 10, Example: "SHORT"}, false},                    // too short
		{KeyFormat{Example: "----"}, false},                                    // no letter or digit
		{KeyFormat{Example: strings.Repeat("A", 201)}, false},
	} {
		p := base
		p.Slug = "fmt-" + strings.ToLower(strings.ReplaceAll(tc.f.Example, "-", ""))
		if len(p.Slug) > 20 || p.Slug == "fmt-" {
			p.Slug = "fmt-x"
		}
		p.KeyFormat = tc.f
		_, err := e.shop.CreateProduct(p)
		var ie *InputError
		if tc.ok && err != nil || !tc.ok && !errors.As(err, &ie) {
			t.Fatalf("%+v: %v", tc.f, err)
		}
	}
}
