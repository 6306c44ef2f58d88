package storefront

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/julienschmidt/httprouter"

	"veil/pages"
	"veil/server/shop"
	"veil/server/web"
)

// The merchant's own shop on the storefront (issue 12): the terms page,
// stored images, and the catalog's search and categories.

// brandRoutes declares the terms page and the image route.
func (s *Server) brandRoutes(r web.Router) {
	web.Route(r, http.MethodGet, "/terms", s.Buyer("/terms", s.termsPage))
	// Images are content-addressed and public: logged, not rate limited
	// per address (a catalog page loads several), no body.
	web.Route(r, http.MethodGet, web.ImagePrefix+":name", s.Logged(web.ImagePrefix+":name", http.HandlerFunc(s.image)))
}

// termsPage is GET /terms: the merchant's after-sales rules.
func (s *Server) termsPage(w http.ResponseWriter, r *http.Request) {
	b, err := s.Shop.Branding()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	lang := s.Lang(r)
	s.Render(w, r, http.StatusOK, &pages.Terms{Base: s.Base(r, lang), Text: b.TermsIn(lang)})
}

// image is GET /img/:name: a stored, re-encoded image under its SHA-256,
// so it never changes and may be cached for a year.
func (s *Server) image(w http.ResponseWriter, r *http.Request) {
	b, ctype, err := s.Shop.Image(httprouter.ParamsFromContext(r.Context()).ByName("name"))
	if errors.Is(err, shop.ErrImageNotFound) {
		s.WriteError(w, r, web.ErrNotFound)
		return
	}
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Length", strconv.Itoa(len(b)))
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// catalogFilter reads the catalog's ?q= and ?cat= and lists what matches,
// with the category links for the page.
func (s *Server) catalogFilter(r *http.Request, page *pages.Catalog, lang string) ([]shop.Product, error) {
	q := r.URL.Query()
	query, cat := q.Get("q"), q.Get("cat")
	ps, err := s.Shop.Storefront(cat, query)
	if err != nil {
		return nil, err
	}
	page.Query, page.Category, page.Filtered = query, cat, query != "" || cat != ""
	link := func(cat string) string {
		v := url.Values{"lang": {lang}}
		if cat != "" {
			v.Set("cat", cat)
		}
		if query != "" {
			v.Set("q", query)
		}
		return "/?" + v.Encode()
	}
	page.AllURL = link("")
	cats, err := s.Shop.Categories()
	if err != nil {
		return nil, err
	}
	for _, c := range cats {
		if c.Hidden {
			continue
		}
		page.Categories = append(page.Categories, pages.CatalogCategory{Name: c.Name.In(lang), URL: link(c.ID), Current: c.ID == cat})
	}
	return ps, nil
}

// productImages are the URLs of p's images.
func productImages(p shop.Product) []string {
	out := make([]string, len(p.Images))
	for i, n := range p.Images {
		out[i] = web.ImageURL(n)
	}
	return out
}

func firstImage(p shop.Product) string {
	if len(p.Images) == 0 {
		return ""
	}
	return web.ImageURL(p.Images[0])
}

// apiProducts is GET /api/v1/products: the products on sale, as the
// storefront lists them; ?q= searches, ?category= keeps one category.
func (s *Server) apiProducts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	ps, err := s.Shop.Storefront(q.Get("category"), q.Get("q"))
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	lang := s.Lang(r)
	out := struct {
		Products []web.ProductJSON `json:"products"`
	}{Products: make([]web.ProductJSON, 0, len(ps))}
	for _, p := range ps {
		out.Products = append(out.Products, web.ProductToJSON(p, lang))
	}
	web.WriteJSON(w, http.StatusOK, out)
}
