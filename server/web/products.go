package web

import (
	"net/http"

	"veil/server/shop"
)

// defaultMaxPerOrder is the per-order cap shown when a product sets none
// (the shop's own default; the shop enforces its configured value).
const defaultMaxPerOrder = 10

// MaxPerOrder is the most of p one order may take, as pages show it.
func MaxPerOrder(p shop.Product) int {
	if p.MaxPerOrder > 0 {
		return p.MaxPerOrder
	}
	return defaultMaxPerOrder
}

// ProductJSON is a product in the API. Texts are given in the request's
// language (?lang=, Accept-Language, zh-CN); names holds every language.
type ProductJSON struct {
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
	// Catalogue (issue 12): the product's category id and image URLs.
	Category string   `json:"category,omitempty"`
	Images   []string `json:"images,omitempty"`
	// TemporarilyUnavailable: no stock but keys held back by a batch
	// freeze (issue 13 §2).
	TemporarilyUnavailable bool `json:"temporarily_unavailable,omitempty"`
	// PriceBreaks are quantity prices (commerce): from min_quantity on,
	// each unit costs price_minor.
	PriceBreaks []shop.PriceBreak `json:"price_breaks,omitempty"`
}

// disclosureJSON is a product's disclosure in the API, in one language.
type disclosureJSON struct {
	Validity            string `json:"validity"`
	Regions             string `json:"regions"`
	Devices             string `json:"devices"`
	UsageGuide          string `json:"usage_guide"`
	FailureRatePermille int    `json:"failure_rate_permille"`
}

// ProductToJSON is p in the API, its texts in lang.
func ProductToJSON(p shop.Product, lang string) ProductJSON {
	pol := p.Policy
	if pol.Remedies == nil {
		pol.Remedies = []shop.Remedy{}
	}
	return ProductJSON{
		ID: p.ID, Slug: p.Slug, Name: p.Name.In(lang), Names: p.Name,
		Description: p.Description.In(lang),
		PriceMinor:  p.PriceMinor, Currency: p.Currency, Kind: p.Kind,
		MaxPerOrder: MaxPerOrder(p), InStock: p.InStock, Policy: pol, PriceBreaks: p.PriceBreaks,
		Category: p.Category, Images: imageURLs(p.Images),
		TemporarilyUnavailable: p.TemporarilyUnavailable,
		Disclosure: disclosureJSON{
			Validity:            p.Disclosure.Validity.In(lang),
			Regions:             p.Disclosure.Regions.In(lang),
			Devices:             p.Disclosure.Devices.In(lang),
			UsageGuide:          p.Disclosure.UsageGuide.In(lang),
			FailureRatePermille: p.Disclosure.FailureRatePermille,
		},
	}
}

// WriteProducts answers GET /api/v1/products (and the console's
// GET /api/v1/admin/products): every product in the request's language.
func (s *Site) WriteProducts(w http.ResponseWriter, r *http.Request) {
	ps, err := s.Shop.Products()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	lang := s.Lang(r)
	out := struct {
		Products []ProductJSON `json:"products"`
	}{Products: make([]ProductJSON, 0, len(ps))}
	for _, p := range ps {
		out.Products = append(out.Products, ProductToJSON(p, lang))
	}
	WriteJSON(w, http.StatusOK, out)
}
