package console

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"veil/pages"
	"veil/server/shop"
	"veil/server/staff"
	"veil/server/web"
)

// The merchant's own shop in the console (issue 12): shop settings (a
// settings approval), categories, product placement and status, product
// images and the logo upload.

// imageBody caps an image upload: the image itself (shop.MaxImageBytes)
// and a multipart form's fields around it.
const imageBody = shop.MaxImageBytes + 64<<10

// Image and catalogue refusals (API.md).
var (
	errImageTooLarge = web.NewError(http.StatusRequestEntityTooLarge, "image_too_large",
		fmt.Sprintf("the image is over %d MB", shop.MaxImageBytes>>20))
	errImageInvalid = web.NewError(http.StatusBadRequest, "image_invalid",
		"not a PNG, JPEG or WebP image (or too many pixels)")
	errProductInUse = web.NewError(http.StatusConflict, "product_in_use",
		"the product has orders that are not settled yet; take it off sale and delete it once they settle")
	errProductHasStock = web.NewError(http.StatusConflict, "product_has_stock",
		"the product still has unsold keys; delete or export them first")
	errCategoryInUse = web.NewError(http.StatusConflict, "category_in_use",
		"the category still holds products; move them first")
	errCategoryNotFound = web.NewError(http.StatusNotFound, "category_not_found", "no such category")
	errImageNotFound    = web.NewError(http.StatusNotFound, "not_found", "no such image")
)

// brandError maps the shop's catalogue errors to their answers.
func brandError(err error) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, shop.ErrImageTooLarge), errors.As(err, &mbe):
		return errImageTooLarge
	case errors.Is(err, shop.ErrImageInvalid):
		return errImageInvalid
	case errors.Is(err, shop.ErrProductInUse):
		return errProductInUse
	case errors.Is(err, shop.ErrProductHasStock):
		return errProductHasStock
	case errors.Is(err, shop.ErrCategoryInUse):
		return errCategoryInUse
	case errors.Is(err, shop.ErrCategoryNotFound):
		return errCategoryNotFound
	case errors.Is(err, shop.ErrImageNotFound):
		return errImageNotFound
	}
	return err
}

// brandRoutes declares the shop settings and catalogue routes.
func (s *Server) brandRoutes(c declarer) {
	img := func(method, pattern string, h adminHandler) {
		c.r.Handler(method, pattern, c.wrap(pattern, imageBody, c.s.withStaff(h, false, false)))
	}
	img(http.MethodPost, "/api/v1/admin/shop/logo", s.apiUploadLogo)
	c.staff(http.MethodGet, "/api/v1/admin/categories", s.apiCategories)
	c.staff(http.MethodPost, "/api/v1/admin/categories", s.apiSaveCategory)
	c.staff(http.MethodPut, "/api/v1/admin/categories/:id", s.apiSaveCategory)
	c.staff(http.MethodDelete, "/api/v1/admin/categories/:id", s.apiDeleteCategory)
	c.staff(http.MethodPut, "/api/v1/admin/products/:id/placement", s.apiPlacement)
	c.staff(http.MethodPost, "/api/v1/admin/products/:id/status", s.apiProductStatus)
	c.staff(http.MethodDelete, "/api/v1/admin/products/:id", s.apiDeleteProduct)
	img(http.MethodPost, "/api/v1/admin/products/:id/images", s.apiAddImage)
	c.staff(http.MethodDelete, "/api/v1/admin/products/:id/images/:name", s.apiRemoveImage)

	c.staff(http.MethodGet, "/admin/shop", s.shopPage)
	img(http.MethodPost, "/admin/shop", s.shopSubmit)
	c.staff(http.MethodGet, "/admin/catalogue", s.cataloguePage)
	c.staff(http.MethodPost, "/admin/categories", s.categorySubmit)
	c.staff(http.MethodPost, "/admin/categories/:id", s.categorySubmit)
	c.staff(http.MethodPost, "/admin/categories/:id/delete", s.categoryDeleteSubmit)
	c.staff(http.MethodPost, "/admin/catalogue/:id", s.placementSubmit)
	c.staff(http.MethodPost, "/admin/catalogue/:id/status", s.statusSubmit)
	c.staff(http.MethodPost, "/admin/catalogue/:id/delete", s.productDeleteSubmit)
	c.staff(http.MethodGet, "/admin/products/:id/images", s.imagesPage)
	img(http.MethodPost, "/admin/products/:id/images", s.imageSubmit)
	c.staff(http.MethodPost, "/admin/products/:id/images/:name/delete", s.imageDeleteSubmit)
}

// ---- shop settings -------------------------------------------------------

// brandingRequest is the "shop" section of POST /api/v1/admin/settings:
// the fields given replace the ones in force, the rest are kept.
type brandingRequest struct {
	Name         *shop.Text         `json:"name"`
	Description  *shop.Text         `json:"description"`
	Logo         *string            `json:"logo"`
	Announcement *shop.Announcement `json:"announcement"`
	Contacts     *shop.Contacts     `json:"contacts"`
	Terms        *shop.Text         `json:"terms"`
	DefaultLang  *string            `json:"default_lang"`
}

// brandingOf merges req into the branding in force and checks the result
// (a logo must have been uploaded).
func (s *Server) brandingOf(req brandingRequest) (*shop.Branding, error) {
	b, err := s.Shop.Branding()
	if err != nil {
		return nil, err
	}
	if req.Name != nil {
		b.Name = *req.Name
	}
	if req.Description != nil {
		b.Description = *req.Description
	}
	if req.Logo != nil {
		b.Logo = *req.Logo
	}
	if req.Announcement != nil {
		b.Announcement = *req.Announcement
	}
	if req.Contacts != nil {
		b.Contacts = *req.Contacts
	}
	if req.Terms != nil {
		b.Terms = *req.Terms
	}
	if req.DefaultLang != nil {
		b.DefaultLang = *req.DefaultLang
	}
	if err := b.Normalize(); err != nil {
		return nil, err
	}
	if b.Logo != "" {
		if _, _, err := s.Shop.Image(b.Logo); err != nil {
			return nil, web.BadRequest("shop.logo: no such image (upload it with POST /api/v1/admin/shop/logo)")
		}
	}
	return &b, nil
}

func brandingSummary(b shop.Branding) string {
	parts := []string{fmt.Sprintf("name %q/%q", b.Name["zh-CN"], b.Name["en"])}
	if b.Logo != "" {
		parts = append(parts, "logo "+b.Logo[:12])
	} else {
		parts = append(parts, "no logo")
	}
	if b.Announcement.Text.In("en") != "" {
		a := "announcement"
		if !b.Announcement.Ends.IsZero() {
			a += " until " + web.RFC3339(b.Announcement.Ends)
		}
		parts = append(parts, a)
	}
	var cs []string
	for k, v := range map[string]string{"telegram": b.Contacts.Telegram, "qq": b.Contacts.QQ, "wechat": b.Contacts.WeChat, "email": b.Contacts.Email} {
		if v != "" {
			cs = append(cs, k)
		}
	}
	if len(cs) > 0 {
		slices.Sort(cs)
		parts = append(parts, "contacts "+strings.Join(cs, ","))
	}
	if len(b.Terms) > 0 {
		parts = append(parts, "own terms")
	}
	if b.DefaultLang != "" {
		parts = append(parts, "default language "+b.DefaultLang)
	}
	return "shop: " + strings.Join(parts, ", ")
}

// apiUploadLogo is POST /api/v1/admin/shop/logo: the image as the body
// (PNG, JPEG or WebP, at most 2 MB). It is cleaned and stored; a settings
// approval {"shop":{"logo":NAME}} puts it in force.
func (s *Server) apiUploadLogo(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	if err := s.imageWrite(r, sess); err != nil {
		s.WriteError(w, r, err)
		return
	}
	data, err := io.ReadAll(r.Body)
	if err != nil {
		s.WriteError(w, r, brandError(err))
		return
	}
	name, err := s.Shop.StoreLogo(data)
	if err != nil {
		s.WriteError(w, r, brandError(err))
		return
	}
	s.record(sess, "shop.logo_upload", name[:12], "")
	web.WriteJSON(w, http.StatusCreated, map[string]string{"logo": name, "url": web.ImageURL(name)})
}

// imageWrite checks an image route's session: owners only, and the CSRF
// token in the header (the JSON API) or the multipart form (pages).
func (s *Server) imageWrite(r *http.Request, sess staff.Session) error {
	if err := requireOwner(sess); err != nil {
		return err
	}
	token := r.Header.Get("X-CSRF-Token")
	if token == "" && strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		if err := r.ParseMultipartForm(imageBody); err != nil {
			return brandError(err)
		}
		token = r.PostForm.Get("csrf")
	}
	if !sess.CheckCSRF(token) {
		return errCSRF
	}
	return nil
}

// shopPage is GET /admin/shop.
func (s *Server) shopPage(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	b, err := s.Shop.Branding()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	page := &pages.AdminShop{AdminBase: s.adminBase(r, &sess, "shop", "/admin/shop"),
		NameEn: b.Name["en"], NameZh: b.Name["zh-CN"], DescEn: b.Description["en"], DescZh: b.Description["zh-CN"],
		AnnEn: b.Announcement.Text["en"], AnnZh: b.Announcement.Text["zh-CN"],
		AnnEnds:    pages.ShopTime(b.Announcement.Ends, s.Shop.Location()),
		AnnRunning: b.AnnouncementAt(s.Now(), "en") != "",
		Telegram:   b.Contacts.Telegram, QQ: b.Contacts.QQ, WeChat: b.Contacts.WeChat, Email: b.Contacts.Email,
		OtherEn: b.Contacts.Other["en"], OtherZh: b.Contacts.Other["zh-CN"],
		TermsEn: b.TermsIn("en"), TermsZh: b.TermsIn("zh-CN"),
		DefaultLang: b.DefaultLang, TimeZone: s.Shop.TimeZone()}
	if b.Terms["en"] == "" {
		page.TermsEn = shop.DefaultTerms["en"]
	}
	if b.Terms["zh-CN"] == "" {
		page.TermsZh = shop.DefaultTerms["zh-CN"]
	}
	if b.Logo != "" {
		page.LogoURL = web.ImageURL(b.Logo)
	}
	if pend, _, err := s.Staff.List(staff.Filter{Status: staff.StatusPending, Kind: staff.KindSettings}, "", 50); err == nil {
		for _, a := range pend {
			if a.Ref == "branding" {
				page.Pending = append(page.Pending, a.ID)
			}
		}
	}
	s.Render(w, r, http.StatusOK, page)
}

// shopSubmit is POST /admin/shop (multipart): every field of the page, an
// optional new logo, and the code. It proposes one settings approval.
func (s *Server) shopSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	if err := s.imageWrite(r, sess); err != nil {
		s.WriteError(w, r, err)
		return
	}
	f := r.PostForm
	two := func(en, zh string) *shop.Text {
		return &shop.Text{"en": f.Get(en), "zh-CN": f.Get(zh)}
	}
	req := brandingRequest{Name: two("name_en", "name_zh"), Description: two("desc_en", "desc_zh"),
		Terms: two("terms_en", "terms_zh")}
	// Terms left as the template are not stored: the page keeps
	// following the template.
	for l, t := range *req.Terms {
		if strings.TrimSpace(strings.ReplaceAll(t, "\r\n", "\n")) == strings.TrimSpace(shop.DefaultTerms[l]) {
			(*req.Terms)[l] = ""
		}
	}
	ann := shop.Announcement{Text: *two("ann_en", "ann_zh")}
	if v := strings.TrimSpace(f.Get("ann_ends")); v != "" {
		t, err := time.ParseInLocation("2006-01-02T15:04", v, s.Shop.Location())
		if err != nil {
			s.WriteError(w, r, web.BadRequest("shop.announcement.ends: a date and time"))
			return
		}
		ann.Ends = t
	}
	req.Announcement = &ann
	req.Contacts = &shop.Contacts{Telegram: f.Get("telegram"), QQ: f.Get("qq"), WeChat: f.Get("wechat"),
		Email: f.Get("email"), Other: *two("other_en", "other_zh")}
	lang := f.Get("default_lang")
	req.DefaultLang = &lang
	if f.Get("logo_remove") != "" {
		none := ""
		req.Logo = &none
	}
	if r.MultipartForm != nil {
		if fh := r.MultipartForm.File["logo"]; len(fh) > 0 && fh[0].Size > 0 {
			file, err := fh[0].Open()
			if err != nil {
				s.WriteError(w, r, err)
				return
			}
			data, err := io.ReadAll(io.LimitReader(file, shop.MaxImageBytes+1))
			file.Close()
			if err != nil {
				s.WriteError(w, r, err)
				return
			}
			name, err := s.Shop.StoreLogo(data)
			if err != nil {
				s.WriteError(w, r, brandError(err))
				return
			}
			s.record(sess, "shop.logo_upload", name[:12], "")
			req.Logo = &name
		}
	}
	a, err := s.proposeSettings(sess, settingsRequest{Shop: &req, TOTP: f.Get("totp")})
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.opRedirect(w, r, a, "/admin/shop")
}

// ---- categories ----------------------------------------------------------

type categoryRequest struct {
	Name   shop.Text `json:"name"`
	Sort   int       `json:"sort"`
	Hidden bool      `json:"hidden"`
}

// apiCategories is GET /api/v1/admin/categories.
func (s *Server) apiCategories(w http.ResponseWriter, r *http.Request, _ staff.Session) {
	cs, err := s.Shop.Categories()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	if cs == nil {
		cs = []shop.Category{}
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"categories": cs})
}

// apiSaveCategory is POST /api/v1/admin/categories (201) and PUT
// /api/v1/admin/categories/:id (200).
func (s *Server) apiSaveCategory(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	var req categoryRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		s.WriteError(w, r, err)
		return
	}
	c, err := s.saveCategory(sess, shop.Category{ID: param(r, "id"), Name: req.Name, Sort: req.Sort, Hidden: req.Hidden})
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	status := http.StatusOK
	if param(r, "id") == "" {
		status = http.StatusCreated
	}
	web.WriteJSON(w, status, c)
}

func (s *Server) saveCategory(sess staff.Session, c shop.Category) (shop.Category, error) {
	if err := requireOwner(sess); err != nil {
		return c, err
	}
	c, err := s.Shop.SaveCategory(c)
	if err != nil {
		return c, brandError(err)
	}
	s.record(sess, "category.save", c.ID, fmt.Sprintf("sort=%d hidden=%t", c.Sort, c.Hidden))
	return c, nil
}

func (s *Server) deleteCategory(sess staff.Session, id string) error {
	if err := requireOwner(sess); err != nil {
		return err
	}
	if err := s.Shop.DeleteCategory(id); err != nil {
		return brandError(err)
	}
	s.record(sess, "category.delete", id, "")
	return nil
}

// apiDeleteCategory is DELETE /api/v1/admin/categories/:id.
func (s *Server) apiDeleteCategory(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	if err := s.deleteCategory(sess, param(r, "id")); err != nil {
		s.WriteError(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, map[string]bool{"deleted": true})
}

// ---- products: placement, status, delete, images -------------------------

func (s *Server) place(sess staff.Session, id string, pl shop.Placement) (shop.Product, error) {
	if err := requireOwner(sess); err != nil {
		return shop.Product{}, err
	}
	p, err := s.Shop.SetPlacement(id, pl)
	if err != nil {
		return p, brandError(err)
	}
	s.record(sess, "product.placement", p.ID, fmt.Sprintf("category=%s sort=%d", p.Category, p.Sort))
	return p, nil
}

func (s *Server) setStatus(sess staff.Session, id string, st shop.ProductStatus) (shop.Product, error) {
	if err := requireOwner(sess); err != nil {
		return shop.Product{}, err
	}
	p, err := s.Shop.SetProductStatus(id, st)
	if err != nil {
		return p, brandError(err)
	}
	s.record(sess, "product.status", p.ID, "status="+string(st))
	return p, nil
}

func (s *Server) deleteProduct(sess staff.Session, id string) error {
	if err := requireOwner(sess); err != nil {
		return err
	}
	p, err := s.Shop.DeleteProduct(id)
	if err != nil {
		return brandError(err)
	}
	s.record(sess, "product.delete", p.ID, "slug="+p.Slug)
	return nil
}

// apiPlacement is PUT /api/v1/admin/products/:id/placement
// {"category","sort"}.
func (s *Server) apiPlacement(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	var pl shop.Placement
	if err := web.DecodeJSON(r, &pl); err != nil {
		s.WriteError(w, r, err)
		return
	}
	p, err := s.place(sess, param(r, "id"), pl)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, p)
}

// apiProductStatus is POST /api/v1/admin/products/:id/status {"status"}.
func (s *Server) apiProductStatus(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	var req struct {
		Status shop.ProductStatus `json:"status"`
	}
	if err := web.DecodeJSON(r, &req); err != nil {
		s.WriteError(w, r, err)
		return
	}
	p, err := s.setStatus(sess, param(r, "id"), req.Status)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, p)
}

// apiDeleteProduct is DELETE /api/v1/admin/products/:id.
func (s *Server) apiDeleteProduct(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	if err := s.deleteProduct(sess, param(r, "id")); err != nil {
		s.WriteError(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, map[string]bool{"deleted": true})
}

// readImage reads an upload: the body (API) or the multipart field
// "image" (pages).
func readImage(r *http.Request, field string) ([]byte, error) {
	if r.MultipartForm != nil {
		fh := r.MultipartForm.File[field]
		if len(fh) == 0 {
			return nil, shop.ErrImageInvalid
		}
		f, err := fh[0].Open()
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return io.ReadAll(io.LimitReader(f, shop.MaxImageBytes+1))
	}
	return io.ReadAll(r.Body)
}

func (s *Server) addImage(r *http.Request, sess staff.Session, field string) (shop.Product, error) {
	if err := s.imageWrite(r, sess); err != nil {
		return shop.Product{}, err
	}
	data, err := readImage(r, field)
	if err != nil {
		return shop.Product{}, brandError(err)
	}
	p, err := s.Shop.AddProductImage(param(r, "id"), data)
	if err != nil {
		return p, brandError(err)
	}
	s.record(sess, "product.image_add", p.ID, p.Images[len(p.Images)-1][:12])
	return p, nil
}

func (s *Server) removeImage(sess staff.Session, id, name string) (shop.Product, error) {
	if err := requireOwner(sess); err != nil {
		return shop.Product{}, err
	}
	p, err := s.Shop.RemoveProductImage(id, name)
	if err != nil {
		return p, brandError(err)
	}
	s.record(sess, "product.image_remove", p.ID, shortName(name))
	return p, nil
}

func shortName(n string) string {
	if len(n) > 12 {
		return n[:12]
	}
	return n
}

// apiAddImage is POST /api/v1/admin/products/:id/images: the image as the
// body. 201 {"images": [URL…]}.
func (s *Server) apiAddImage(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	p, err := s.addImage(r, sess, "image")
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusCreated, map[string]any{"images": imageURLs(p)})
}

// apiRemoveImage is DELETE /api/v1/admin/products/:id/images/:name.
func (s *Server) apiRemoveImage(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	p, err := s.removeImage(sess, param(r, "id"), param(r, "name"))
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"images": imageURLs(p)})
}

func imageURLs(p shop.Product) []string {
	out := make([]string, len(p.Images))
	for i, n := range p.Images {
		out[i] = web.ImageURL(n)
	}
	return out
}

// ---- pages ---------------------------------------------------------------

// cataloguePage is GET /admin/catalogue.
func (s *Server) cataloguePage(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	cats, err := s.Shop.Categories()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	ps, err := s.Shop.Products()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	lang := s.Lang(r)
	page := &pages.AdminCatalogue{AdminBase: s.adminBase(r, &sess, "catalogue", "/admin/catalogue")}
	count := map[string]int{}
	for _, p := range ps {
		count[p.Category]++
		row := pages.AdminShelfProduct{ID: p.ID, Name: p.Name.In(lang), Slug: p.Slug, Category: p.Category,
			Sort: p.Sort, Status: string(p.Status.Normal()), InStock: p.InStock, Images: len(p.Images),
			ImagesURL: page.URL("/admin/products/" + url.PathEscape(p.ID) + "/images")}
		if p.Status == shop.Archived {
			page.Archived = append(page.Archived, row)
		} else {
			page.Products = append(page.Products, row)
		}
	}
	for _, c := range cats {
		page.Categories = append(page.Categories, pages.AdminCategory{ID: c.ID, NameEn: c.Name["en"], NameZh: c.Name["zh-CN"],
			Sort: c.Sort, Hidden: c.Hidden, Products: count[c.ID]})
	}
	s.Render(w, r, http.StatusOK, page)
}

func formInt(v string) (int, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, web.BadRequest("sort: a whole number")
	}
	return n, nil
}

// categorySubmit is POST /admin/categories and /admin/categories/:id.
func (s *Server) categorySubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	f := r.PostForm
	sort, err := formInt(f.Get("sort"))
	if err == nil {
		_, err = s.saveCategory(sess, shop.Category{ID: param(r, "id"),
			Name: shop.Text{"en": strings.TrimSpace(f.Get("name_en")), "zh-CN": strings.TrimSpace(f.Get("name_zh"))},
			Sort: sort, Hidden: f.Get("hidden") != ""})
	}
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.redirectNotice(w, r, "/admin/catalogue", "category_saved")
}

// categoryDeleteSubmit is POST /admin/categories/:id/delete.
func (s *Server) categoryDeleteSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	if err := s.deleteCategory(sess, param(r, "id")); err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.redirectNotice(w, r, "/admin/catalogue", "category_deleted")
}

// placementSubmit is POST /admin/catalogue/:id: category and sort.
func (s *Server) placementSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	sort, err := formInt(r.PostForm.Get("sort"))
	if err == nil {
		_, err = s.place(sess, param(r, "id"), shop.Placement{Category: r.PostForm.Get("category"), Sort: sort})
	}
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.redirectNotice(w, r, "/admin/catalogue", "product_placed")
}

// statusSubmit is POST /admin/catalogue/:id/status.
func (s *Server) statusSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	if _, err := s.setStatus(sess, param(r, "id"), shop.ProductStatus(r.PostForm.Get("status"))); err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.redirectNotice(w, r, "/admin/catalogue", "status_changed")
}

// productDeleteSubmit is POST /admin/catalogue/:id/delete.
func (s *Server) productDeleteSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	if err := s.deleteProduct(sess, param(r, "id")); err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.redirectNotice(w, r, "/admin/catalogue", "product_deleted")
}

// imagesPage is GET /admin/products/:id/images.
func (s *Server) imagesPage(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	p, err := s.Shop.Product(param(r, "id"))
	if err != nil || p.Status == shop.Deleted {
		s.WriteError(w, r, shop.ErrProductNotFound)
		return
	}
	page := &pages.AdminProductImages{AdminBase: s.adminBase(r, &sess, "catalogue", "/admin/products/"+url.PathEscape(p.ID)+"/images"),
		ProductID: p.ID, ProductName: p.Name.In(s.Lang(r)), Max: shop.MaxProductImages, MaxMB: shop.MaxImageBytes >> 20}
	for _, n := range p.Images {
		page.Images = append(page.Images, pages.AdminImage{Name: n, URL: web.ImageURL(n)})
	}
	s.Render(w, r, http.StatusOK, page)
}

// imageSubmit is POST /admin/products/:id/images (multipart, field image).
func (s *Server) imageSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	p, err := s.addImage(r, sess, "image")
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.redirectNotice(w, r, "/admin/products/"+url.PathEscape(p.ID)+"/images", "image_added")
}

// imageDeleteSubmit is POST /admin/products/:id/images/:name/delete.
func (s *Server) imageDeleteSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	p, err := s.removeImage(sess, param(r, "id"), param(r, "name"))
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.redirectNotice(w, r, "/admin/products/"+url.PathEscape(p.ID)+"/images", "image_removed")
}
