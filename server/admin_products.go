package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"veil/pages"
	"veil/server/shop"
	"veil/server/staff"
)

// flexText is a text given either as one string (taken to be in the
// request's language) or as {"en": …, "zh-CN": …}.
type flexText struct {
	plain string
	text  shop.Text
	set   bool
}

func (t *flexText) UnmarshalJSON(b []byte) error {
	t.set = true
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, &t.plain)
	}
	return json.Unmarshal(b, &t.text)
}

func (t flexText) in(lang string) shop.Text {
	if t.text != nil {
		return t.text
	}
	if strings.TrimSpace(t.plain) == "" {
		return nil
	}
	return shop.Text{lang: t.plain}
}

// productRequest is the body of POST and PUT /api/v1/admin/products: slug,
// name, price_minor, currency and kind are required on create.
type productRequest struct {
	Slug        string   `json:"slug"`
	Name        flexText `json:"name"`
	Description flexText `json:"description"`
	PriceMinor  int64    `json:"price_minor"`
	Currency    string   `json:"currency"`
	Kind        string   `json:"kind"`
	MaxPerOrder int      `json:"max_per_order"`
	Disclosure  struct {
		Validity            flexText `json:"validity"`
		Regions             flexText `json:"regions"`
		Devices             flexText `json:"devices"`
		UsageGuide          flexText `json:"usage_guide"`
		FailureRatePermille int      `json:"failure_rate_permille"`
	} `json:"disclosure"`
	Policy shop.Policy `json:"policy"`
}

func (req productRequest) product(lang string) shop.Product {
	d := req.Disclosure
	return shop.Product{
		Slug: req.Slug, Name: req.Name.in(lang), Description: req.Description.in(lang),
		PriceMinor: req.PriceMinor, Currency: req.Currency, Kind: shop.Kind(req.Kind), MaxPerOrder: req.MaxPerOrder,
		Disclosure: shop.Disclosure{
			Validity: d.Validity.in(lang), Regions: d.Regions.in(lang), Devices: d.Devices.in(lang),
			UsageGuide: d.UsageGuide.in(lang), FailureRatePermille: d.FailureRatePermille,
		},
		Policy: req.Policy,
	}
}

// apiCreateProduct is POST /api/v1/admin/products: 201 {"id","slug"}.
func (s *Server) apiCreateProduct(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	if err := requireOwner(sess); err != nil {
		s.writeError(w, r, err)
		return
	}
	var req productRequest
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Kind == "" {
		s.writeError(w, r, badRequest("kind is required: unique or shared"))
		return
	}
	p, err := s.createProduct(sess, req.product(s.lang(r)))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, struct {
		ID   string `json:"id"`
		Slug string `json:"slug"`
	}{p.ID, p.Slug})
}

func (s *Server) createProduct(sess staff.Session, p shop.Product) (shop.Product, error) {
	p, err := s.shop.CreateProduct(p)
	if err != nil {
		return p, err
	}
	s.record(sess, "product.create", p.ID, "slug="+p.Slug)
	return p, nil
}

func (s *Server) updateProduct(sess staff.Session, p shop.Product) (shop.Product, error) {
	p, err := s.shop.UpdateProduct(p)
	if err != nil {
		return p, err
	}
	s.record(sess, "product.update", p.ID, "slug="+p.Slug)
	return p, nil
}

// apiUpdateProduct is PUT /api/v1/admin/products/:id: the whole product
// again (the kind cannot change); 200 with the product.
func (s *Server) apiUpdateProduct(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	if err := requireOwner(sess); err != nil {
		s.writeError(w, r, err)
		return
	}
	var req productRequest
	if err := decodeJSON(r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	p := req.product(s.lang(r))
	p.ID = param(r, "id")
	p, err := s.updateProduct(sess, p)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, productToJSON(p, s.lang(r)))
}

// apiAdminProducts is GET /api/v1/admin/products.
func (s *Server) apiAdminProducts(w http.ResponseWriter, r *http.Request, _ staff.Session) {
	s.apiProducts(w, r)
}

// productsPage is GET /admin/products.
func (s *Server) productsPage(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	ps, err := s.shop.Products()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	lang := s.lang(r)
	page := &pages.AdminProducts{AdminBase: s.adminBase(r, &sess, "products", "")}
	for _, p := range ps {
		base := "/admin/products/" + url.PathEscape(p.ID)
		page.Products = append(page.Products, pages.AdminProductRow{
			ID: p.ID, Slug: p.Slug, Name: p.Name.In(lang), Price: pages.Money(p.PriceMinor, p.Currency),
			Kind: s.pages.T(lang, "admin.product.kind_"+string(p.Kind)), InStock: p.InStock, Low: p.InStock < shop.LowStock,
			EditURL: page.URL(base + "/edit"), StockURL: page.URL(base + "/stock"), KeysURL: page.URL(base + "/import"),
		})
	}
	s.render(w, r, http.StatusOK, page)
}

// productForm fills the form from a product.
func productForm(p shop.Product) pages.ProductForm {
	d := p.Disclosure
	f := pages.ProductForm{
		Slug: p.Slug, NameEN: p.Name["en"], NameZH: p.Name["zh-CN"], DescEN: p.Description["en"], DescZH: p.Description["zh-CN"],
		Price: formatMajor(p.PriceMinor, p.Currency), Currency: p.Currency, Kind: string(p.Kind),
		MaxPerOrder: strconv.Itoa(p.MaxPerOrder),
		ValidityEN:  d.Validity["en"], ValidityZH: d.Validity["zh-CN"], RegionsEN: d.Regions["en"], RegionsZH: d.Regions["zh-CN"],
		DevicesEN: d.Devices["en"], DevicesZH: d.Devices["zh-CN"], GuideEN: d.UsageGuide["en"], GuideZH: d.UsageGuide["zh-CN"],
		FailureRate: strconv.Itoa(d.FailureRatePermille), WindowHours: strconv.Itoa(p.Policy.WindowHours),
		CoolingOff: strconv.Itoa(p.Policy.CoolingOffMinutes), AutoApprove: strconv.Itoa(p.Policy.AutoApproveTier),
	}
	if p.PriceMinor == 0 {
		f.Price = ""
	}
	f.RemedyReplace = slices.Contains(p.Policy.Remedies, shop.RemedyReplace)
	f.RemedyPartial = slices.Contains(p.Policy.Remedies, shop.RemedyPartialRefund)
	f.RemedyRefund = slices.Contains(p.Policy.Remedies, shop.RemedyRefund)
	return f
}

// formProduct reads the posted product form; the form is echoed back on
// an error.
func formProduct(f url.Values) (pages.ProductForm, shop.Product, error) {
	pf := pages.ProductForm{
		Slug: f.Get("slug"), NameEN: f.Get("name_en"), NameZH: f.Get("name_zh"), DescEN: f.Get("desc_en"), DescZH: f.Get("desc_zh"),
		Price: f.Get("price"), Currency: strings.ToUpper(strings.TrimSpace(f.Get("currency"))), Kind: f.Get("kind"),
		MaxPerOrder: f.Get("max_per_order"),
		ValidityEN:  f.Get("validity_en"), ValidityZH: f.Get("validity_zh"), RegionsEN: f.Get("regions_en"), RegionsZH: f.Get("regions_zh"),
		DevicesEN: f.Get("devices_en"), DevicesZH: f.Get("devices_zh"), GuideEN: f.Get("guide_en"), GuideZH: f.Get("guide_zh"),
		FailureRate: f.Get("failure_rate"), WindowHours: f.Get("window_hours"), CoolingOff: f.Get("cooling_off"),
		AutoApprove: f.Get("auto_approve"),
	}
	remedies := f["remedy"]
	pf.RemedyReplace = slices.Contains(remedies, string(shop.RemedyReplace))
	pf.RemedyPartial = slices.Contains(remedies, string(shop.RemedyPartialRefund))
	pf.RemedyRefund = slices.Contains(remedies, string(shop.RemedyRefund))
	text := func(en, zh string) shop.Text {
		t := shop.Text{}
		if strings.TrimSpace(en) != "" {
			t["en"] = strings.TrimSpace(en)
		}
		if strings.TrimSpace(zh) != "" {
			t["zh-CN"] = strings.TrimSpace(zh)
		}
		if len(t) == 0 {
			return nil
		}
		return t
	}
	num := func(field, v string) (int, error) {
		v = strings.TrimSpace(v)
		if v == "" {
			return 0, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return 0, badRequest("%s: a whole number", field)
		}
		return n, nil
	}
	p := shop.Product{
		Slug: strings.TrimSpace(pf.Slug), Name: text(pf.NameEN, pf.NameZH), Description: text(pf.DescEN, pf.DescZH),
		Currency: pf.Currency, Kind: shop.Kind(pf.Kind),
		Disclosure: shop.Disclosure{
			Validity: text(pf.ValidityEN, pf.ValidityZH), Regions: text(pf.RegionsEN, pf.RegionsZH),
			Devices: text(pf.DevicesEN, pf.DevicesZH), UsageGuide: text(pf.GuideEN, pf.GuideZH),
		},
	}
	for _, rem := range []shop.Remedy{shop.RemedyReplace, shop.RemedyPartialRefund, shop.RemedyRefund} {
		if slices.Contains(remedies, string(rem)) {
			p.Policy.Remedies = append(p.Policy.Remedies, rem)
		}
	}
	var err error
	if p.PriceMinor, err = parseMoney(pf.Price, pf.Currency); err != nil {
		return pf, p, err
	}
	for _, n := range []struct {
		field string
		v     string
		dst   *int
	}{
		{"max_per_order", pf.MaxPerOrder, &p.MaxPerOrder},
		{"failure_rate", pf.FailureRate, &p.Disclosure.FailureRatePermille},
		{"window_hours", pf.WindowHours, &p.Policy.WindowHours},
		{"cooling_off", pf.CoolingOff, &p.Policy.CoolingOffMinutes},
		{"auto_approve", pf.AutoApprove, &p.Policy.AutoApproveTier},
	} {
		if *n.dst, err = num(n.field, n.v); err != nil {
			return pf, p, err
		}
	}
	return pf, p, nil
}

// newProductPage is GET /admin/new-product.
func (s *Server) newProductPage(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	page := &pages.AdminProductForm{AdminBase: s.adminBase(r, &sess, "products", "")}
	page.Action = page.URL("/admin/new-product")
	page.Form = pages.ProductForm{Currency: "CNY", Kind: string(shop.Unique), MaxPerOrder: "10", WindowHours: "72",
		FailureRate: "0", CoolingOff: "0", AutoApprove: "0", RemedyReplace: true, RemedyRefund: true}
	s.render(w, r, http.StatusOK, page)
}

// editProductPage is GET /admin/products/:id/edit.
func (s *Server) editProductPage(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	p, err := s.shop.Product(param(r, "id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page := &pages.AdminProductForm{AdminBase: s.adminBase(r, &sess, "products", ""), ID: p.ID, Form: productForm(p)}
	page.Action = page.URL("/admin/products/" + url.PathEscape(p.ID) + "/edit")
	s.render(w, r, http.StatusOK, page)
}

// productSubmit is POST /admin/new-product and POST
// /admin/products/:id/edit: an input error shows the form again with the
// shop's message.
func (s *Server) productSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	if err := requireOwner(sess); err != nil {
		s.writeError(w, r, err)
		return
	}
	id := param(r, "id")
	here := "/admin/new-product"
	if id != "" {
		here = "/admin/products/" + url.PathEscape(id) + "/edit"
	}
	pf, p, err := formProduct(r.PostForm)
	if err == nil {
		if id == "" {
			_, err = s.createProduct(sess, p)
		} else {
			p.ID = id
			_, err = s.updateProduct(sess, p)
		}
	}
	if err == nil {
		s.redirectNotice(w, r, "/admin/products", "product_saved")
		return
	}
	prob := classify(err)
	if prob.status >= 500 || prob.code == "product_not_found" {
		s.writeError(w, r, err)
		return
	}
	page := &pages.AdminProductForm{AdminBase: s.adminBase(r, &sess, "products", here), ID: id, Form: pf}
	page.Action = page.URL(here)
	var input *shop.InputError
	var he *httpError
	switch {
	case errors.As(err, &input):
		page.Error = input.Message
	case errors.As(err, &he) && he.code == "bad_request":
		page.Error = he.message
	default:
		page.Error = s.problemText(s.lang(r), prob)
	}
	s.render(w, r, prob.status, page)
}
