package server

import (
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/julienschmidt/httprouter"

	"veil/pages"
	"veil/server/shop"
)

// defaultMaxPerOrder is the per-order cap shown when a product sets none
// (the shop's own default; the shop enforces its configured value).
const defaultMaxPerOrder = 10

func maxPerOrder(p shop.Product) int {
	if p.MaxPerOrder > 0 {
		return p.MaxPerOrder
	}
	return defaultMaxPerOrder
}

// productJSON is a product in the API. Texts are given in the request's
// language (?lang=, Accept-Language, zh-CN); names holds every language.
type productJSON struct {
	ID          string         `json:"id"`
	Slug        string         `json:"slug"`
	Name        string         `json:"name"`
	Names       shop.Text      `json:"names"`
	Description string         `json:"description,omitempty"`
	PriceMinor  int64          `json:"price_minor"`
	Currency    string         `json:"currency"`
	Kind        shop.Kind      `json:"kind"`
	MaxPerOrder int            `json:"max_per_order"`
	InStock     int            `json:"in_stock"`
	Policy      shop.Policy    `json:"policy"`
	Disclosure  disclosureJSON `json:"disclosure"`
}

type disclosureJSON struct {
	Validity            string `json:"validity"`
	Regions             string `json:"regions"`
	Devices             string `json:"devices"`
	UsageGuide          string `json:"usage_guide"`
	FailureRatePermille int    `json:"failure_rate_permille"`
}

func productToJSON(p shop.Product, lang string) productJSON {
	pol := p.Policy
	if pol.Remedies == nil {
		pol.Remedies = []shop.Remedy{}
	}
	return productJSON{
		ID: p.ID, Slug: p.Slug, Name: p.Name.In(lang), Names: p.Name,
		Description: p.Description.In(lang),
		PriceMinor:  p.PriceMinor, Currency: p.Currency, Kind: p.Kind,
		MaxPerOrder: maxPerOrder(p), InStock: p.InStock, Policy: pol,
		Disclosure: disclosureJSON{
			Validity:            p.Disclosure.Validity.In(lang),
			Regions:             p.Disclosure.Regions.In(lang),
			Devices:             p.Disclosure.Devices.In(lang),
			UsageGuide:          p.Disclosure.UsageGuide.In(lang),
			FailureRatePermille: p.Disclosure.FailureRatePermille,
		},
	}
}

// apiProducts is GET /api/v1/products.
func (s *Server) apiProducts(w http.ResponseWriter, r *http.Request) {
	ps, err := s.shop.Products()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	lang := s.lang(r)
	out := struct {
		Products []productJSON `json:"products"`
	}{Products: make([]productJSON, 0, len(ps))}
	for _, p := range ps {
		out.Products = append(out.Products, productToJSON(p, lang))
	}
	writeJSON(w, http.StatusOK, out)
}

// productCard is a product as pages list it.
func productCard(p shop.Product, lang string) pages.ProductCard {
	return pages.ProductCard{
		ID:      p.ID,
		Slug:    p.Slug,
		Path:    "/p/" + url.PathEscape(p.Slug),
		Name:    p.Name.In(lang),
		Summary: summary(p.Description.In(lang), 140),
		Price:   pages.Money(p.PriceMinor, p.Currency),
		InStock: p.InStock,
		SoldOut: p.InStock <= 0,
	}
}

// summary is the first line of s, cut to n runes.
func summary(s string, n int) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}

// catalogPage is GET /: every product, or an empty state.
func (s *Server) catalogPage(w http.ResponseWriter, r *http.Request) {
	ps, err := s.shop.Products()
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	lang := s.lang(r)
	page := &pages.Catalog{Base: s.base(r, lang)}
	for _, p := range ps {
		page.Products = append(page.Products, productCard(p, lang))
	}
	s.render(w, r, http.StatusOK, page)
}

// productPage is GET /p/:slug: the product with its full disclosure and
// after-sales policy, then the quantity form.
func (s *Server) productPage(w http.ResponseWriter, r *http.Request) {
	p, err := s.shop.Product(httprouter.ParamsFromContext(r.Context()).ByName("slug"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	lang := s.lang(r)
	page := &pages.ProductPage{
		Base:        s.base(r, lang),
		Product:     productCard(p, lang),
		Description: p.Description.In(lang),
		Disclosure: pages.Disclosure{
			Validity:    p.Disclosure.Validity.In(lang),
			Regions:     p.Disclosure.Regions.In(lang),
			Devices:     p.Disclosure.Devices.In(lang),
			UsageGuide:  p.Disclosure.UsageGuide.In(lang),
			FailureRate: pages.Permille(p.Disclosure.FailureRatePermille),
		},
		Policy: pages.Policy{
			WindowHours:       p.Policy.WindowHours,
			CoolingOffMinutes: p.Policy.CoolingOffMinutes,
			AutoApproveTier:   s.fastTrackTier(p),
		},
		MaxQuantity: max(1, min(maxPerOrder(p), p.InStock)),
		PerOrder:    maxPerOrder(p),
	}
	for _, rem := range p.Policy.Remedies {
		page.Policy.Remedies = append(page.Policy.Remedies, s.pages.T(lang, "remedy."+string(rem)))
	}
	page.MaxProofs = maxProofs
	// The checkout form's one-time nonce: a cached copy would carry a used
	// one, so the page is not stored.
	page.Nonce = newCheckoutNonce()
	for i, p := range s.payments.list {
		page.PayWith = append(page.PayWith, pages.PayOption{Name: p.Name(), Label: s.pages.T(lang, "pay.provider."+p.Name()), Checked: i == 0})
	}
	noStore(w)
	page.Scripts = []string{s.walletJS} // fills the proofs from the opt-in token wallet
	s.render(w, r, http.StatusOK, page)
}

// fastTrackTier is the tier from which the product page may promise fast
// track: the product's, unless the owner's bounds let nothing through.
func (s *Server) fastTrackTier(p shop.Product) int {
	if p.Policy.AutoApproveTier == 0 {
		return 0
	}
	if f, err := s.shop.FastTrack(); err != nil || !f.Allows() {
		return 0
	}
	return p.Policy.AutoApproveTier
}
