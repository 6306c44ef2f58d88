package storefront

import (
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/julienschmidt/httprouter"

	"veil/pages"
	"veil/server/shop"
	"veil/server/web"
)

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
		Image:   firstImage(p),
		Paused:  p.TemporarilyUnavailable,
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
	lang := s.Lang(r)
	page := &pages.Catalog{Base: s.Base(r, lang)}
	ps, err := s.catalogFilter(r, page, lang)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	for _, p := range ps {
		page.Products = append(page.Products, productCard(p, lang))
	}
	s.Render(w, r, http.StatusOK, page)
}

// productPage is GET /p/:slug: the product with its full disclosure and
// after-sales policy, then the quantity form.
func (s *Server) productPage(w http.ResponseWriter, r *http.Request) {
	p, err := s.Shop.Product(httprouter.ParamsFromContext(r.Context()).ByName("slug"))
	if err == nil && !p.OnSale() {
		err = shop.ErrProductNotFound // off sale, archived or deleted
	}
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	lang := s.Lang(r)
	page := &pages.ProductPage{
		Base:        s.Base(r, lang),
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
		Images:      productImages(p),
		MaxQuantity: max(1, min(web.MaxPerOrder(p), p.InStock)),
		PerOrder:    web.MaxPerOrder(p),
	}
	for _, rem := range p.Policy.Remedies {
		page.Policy.Remedies = append(page.Policy.Remedies, s.Pages.T(lang, "remedy."+string(rem)))
	}
	page.MaxProofs = maxProofs
	for _, b := range p.PriceBreaks {
		page.PriceBreaks = append(page.PriceBreaks, pages.PriceBreakLine{From: b.MinQuantity, Price: pages.Money(b.PriceMinor, p.Currency)})
	}
	// The checkout form's one-time nonce: a cached copy would carry a used
	// one, so the page is not stored.
	page.Nonce = newCheckoutNonce()
	for i, name := range s.payments.Names() {
		page.PayWith = append(page.PayWith, pages.PayOption{Name: name, Label: s.Pages.T(lang, "pay.provider."+name), Checked: i == 0})
	}
	page.Figures = s.productFigures(p, lang) // evidence.go
	web.NoStore(w)
	page.Scripts = []string{s.walletJS} // fills the proofs from the opt-in token wallet
	s.Render(w, r, http.StatusOK, page)
}

// fastTrackTier is the tier from which the product page may promise fast
// track: the product's, unless the owner's bounds let nothing through.
func (s *Server) fastTrackTier(p shop.Product) int {
	if p.Policy.AutoApproveTier == 0 {
		return 0
	}
	if f, err := s.Shop.FastTrack(); err != nil || !f.Allows() {
		return 0
	}
	return p.Policy.AutoApproveTier
}
