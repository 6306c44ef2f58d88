package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"veil/pages"
	"veil/server/shop"
	"veil/server/staff"
	"veil/server/store"
	"veil/server/web"
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
	Policy    shop.Policy    `json:"policy"`
	KeyFormat shop.KeyFormat `json:"key_format"`
	// PriceBreaks are quantity prices (commerce; a price change).
	PriceBreaks []shop.PriceBreak `json:"price_breaks"`
	// TOTP, on an update, carries out a price or policy change at once
	// for someone who may approve it alone.
	TOTP string `json:"totp"`
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
		Policy: req.Policy, KeyFormat: req.KeyFormat, PriceBreaks: req.PriceBreaks,
	}
}

// apiCreateProduct is POST /api/v1/admin/products: 201 {"id","slug"}.
func (s *Server) apiCreateProduct(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	if err := requireOwner(sess); err != nil {
		s.WriteError(w, r, err)
		return
	}
	var req productRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		s.WriteError(w, r, err)
		return
	}
	if req.Kind == "" {
		s.WriteError(w, r, web.BadRequest("kind is required: unique or shared"))
		return
	}
	p, err := s.createProduct(sess, req.product(s.Lang(r)))
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusCreated, struct {
		ID   string `json:"id"`
		Slug string `json:"slug"`
	}{p.ID, p.Slug})
}

func (s *Server) createProduct(sess staff.Session, p shop.Product) (shop.Product, error) {
	p, err := s.Shop.CreateProduct(p)
	if err != nil {
		return p, err
	}
	s.record(sess, "product.create", p.ID, "slug="+p.Slug)
	return p, nil
}

// updateProduct saves an existing product. Names, texts and limits
// change at once; a change of its price or after-sales policy (window,
// remedies, cooling-off, fast-track tier) is a sensitive operation: it
// becomes a product_policy approval, carried out at once only with a
// valid code from someone who may approve it alone. The approval is
// proposed before anything is written, so a refused code changes nothing.
// a is the zero Approval when the price and policy stay as they are.
func (s *Server) updateProduct(sess staff.Session, p shop.Product, totp string) (shop.Product, staff.Approval, error) {
	old, change, err := s.Shop.PlanUpdate(p)
	if err != nil {
		return p, staff.Approval{}, err
	}
	var a staff.Approval
	if !change.Empty() {
		a, err = s.proposeOp(sess, staff.KindProductPolicy, old.ID,
			fmt.Sprintf("change %s: %s", old.Slug, change.Summary(old)), change, totp)
		if err != nil {
			return p, a, err
		}
	}
	p, _, err = s.Shop.UpdateDetails(p)
	if err != nil {
		return p, a, err
	}
	s.record(sess, "product.update", p.ID, "slug="+p.Slug)
	return p, a, nil
}

// registerProductExecutors plugs in product_policy: the change is applied
// inside the approving transaction; afterApproval's Reconcile reloads the
// product into the catalog once it committed.
func (s *Server) registerProductExecutors() {
	s.Staff.RegisterExecutor(staff.KindProductPolicy, staff.RoleOwner, func(tx *store.Txn, a staff.Approval) (string, error) {
		var c shop.PolicyChange
		if err := json.Unmarshal(a.Params, &c); err != nil {
			return "", fmt.Errorf("%w: params: %v", staff.ErrExecFailed, err)
		}
		p, err := s.Shop.ChangePolicyTx(tx, c)
		if err != nil {
			return "", permanent(err)
		}
		return fmt.Sprintf("%s: price %s, window %d h, remedies %s, cooling-off %d min, fast-track tier %d",
			p.Slug, pages.Money(p.PriceMinor, p.Currency), p.Policy.WindowHours, remedyNames(p.Policy.Remedies),
			p.Policy.CoolingOffMinutes, p.Policy.AutoApproveTier), nil
	})
}

func remedyNames(rs []shop.Remedy) string {
	if len(rs) == 0 {
		return "none"
	}
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = string(r)
	}
	return strings.Join(names, "+")
}

// apiUpdateProduct is PUT /api/v1/admin/products/:id: the whole product
// again (the kind cannot change). 200 with the product when its price and
// policy stay, or change at once (a valid "totp" from someone who may
// approve alone); 202 {"approval_id","status":"pending"} when that change
// waits for approval — the rest is saved already.
func (s *Server) apiUpdateProduct(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	if err := requireOwner(sess); err != nil {
		s.WriteError(w, r, err)
		return
	}
	var req productRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		s.WriteError(w, r, err)
		return
	}
	p := req.product(s.Lang(r))
	p.ID = param(r, "id")
	p, a, err := s.updateProduct(sess, p, req.TOTP)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	if a.Status == staff.StatusPending {
		s.writeOp(w, a)
		return
	}
	if a.ID != "" {
		if p, err = s.Shop.Product(p.ID); err != nil {
			s.WriteError(w, r, err)
			return
		}
	}
	web.WriteJSON(w, http.StatusOK, web.ProductToJSON(p, s.Lang(r)))
}

// apiAdminProducts is GET /api/v1/admin/products.
func (s *Server) apiAdminProducts(w http.ResponseWriter, r *http.Request, _ staff.Session) {
	s.WriteProducts(w, r)
}

// productsPage is GET /admin/products.
func (s *Server) productsPage(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	ps, err := s.Shop.Products()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	lang := s.Lang(r)
	page := &pages.AdminProducts{AdminBase: s.adminBase(r, &sess, "products", "")}
	for _, p := range ps {
		base := "/admin/products/" + url.PathEscape(p.ID)
		page.Products = append(page.Products, pages.AdminProductRow{
			ID: p.ID, Slug: p.Slug, Name: p.Name.In(lang), Price: pages.Money(p.PriceMinor, p.Currency),
			Kind: s.Pages.T(lang, "admin.product.kind_"+string(p.Kind)), InStock: p.InStock, Low: p.InStock < shop.LowStock,
			EditURL: page.URL(base + "/edit"), StockURL: page.URL(base + "/stock"), KeysURL: page.URL(base + "/import"),
		})
	}
	s.Render(w, r, http.StatusOK, page)
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
		KeyPattern: p.KeyFormat.Pattern, KeyExample: p.KeyFormat.Example, PriceBreaks: formatBreaks(p),
	}
	if p.KeyFormat.MinLength > 0 {
		f.KeyMinLength = strconv.Itoa(p.KeyFormat.MinLength)
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
		AutoApprove: f.Get("auto_approve"), KeyMinLength: f.Get("key_min_length"), KeyPattern: strings.TrimSpace(f.Get("key_pattern")),
		KeyExample:  strings.TrimSpace(f.Get("key_example")),
		PriceBreaks: strings.TrimSpace(f.Get("price_breaks")),
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
			return 0, web.BadRequest("%s: a whole number", field)
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
		KeyFormat: shop.KeyFormat{Pattern: pf.KeyPattern, Example: pf.KeyExample},
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
	if p.PriceBreaks, err = parseBreaks(pf.PriceBreaks, pf.Currency); err != nil {
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
		{"key_min_length", pf.KeyMinLength, &p.KeyFormat.MinLength},
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
	s.Render(w, r, http.StatusOK, page)
}

// editProductPage is GET /admin/products/:id/edit.
func (s *Server) editProductPage(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	p, err := s.Shop.Product(param(r, "id"))
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	page := &pages.AdminProductForm{AdminBase: s.adminBase(r, &sess, "products", ""), ID: p.ID, Form: productForm(p)}
	page.Action = page.URL("/admin/products/" + url.PathEscape(p.ID) + "/edit")
	s.Render(w, r, http.StatusOK, page)
}

// productSubmit is POST /admin/new-product and POST
// /admin/products/:id/edit: an input error shows the form again with the
// shop's message.
func (s *Server) productSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	if err := requireOwner(sess); err != nil {
		s.WriteError(w, r, err)
		return
	}
	id := param(r, "id")
	here := "/admin/new-product"
	if id != "" {
		here = "/admin/products/" + url.PathEscape(id) + "/edit"
	}
	pf, p, err := formProduct(r.PostForm)
	var a staff.Approval
	if err == nil {
		if id == "" {
			_, err = s.createProduct(sess, p)
		} else {
			p.ID = id
			_, a, err = s.updateProduct(sess, p, r.PostForm.Get("totp"))
		}
	}
	if err == nil {
		notice := "product_saved"
		if a.Status == staff.StatusPending {
			notice = "product_policy_queued"
		}
		s.redirectNotice(w, r, "/admin/products", notice)
		return
	}
	prob := web.Classify(err)
	if prob.Status >= 500 || prob.Code == "product_not_found" {
		s.WriteError(w, r, err)
		return
	}
	page := &pages.AdminProductForm{AdminBase: s.adminBase(r, &sess, "products", here), ID: id, Form: pf}
	page.Action = page.URL(here)
	var input *shop.InputError
	var he *web.Error
	switch {
	case errors.As(err, &input):
		page.Error = input.Message
	case errors.As(err, &he) && he.Code == "bad_request":
		page.Error = he.Message
	default:
		page.Error = s.ProblemText(s.Lang(r), prob)
	}
	s.Render(w, r, prob.Status, page)
}
