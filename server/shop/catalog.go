package shop

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"veil/crypto"
	"veil/server/store"
)

var (
	slugRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	currencyRE = regexp.MustCompile(`^[A-Z]{3}$`)
)

// Limits on catalog input.
const (
	MaxPriceMinor   = 100_000_000 // 1,000,000.00 in a two-decimal currency
	maxTextLen      = 200
	maxLongTextLen  = 8 << 10
	maxWindowHours  = 24 * 366
	maxCoolingOff   = 24 * 60
	maxPerOrderCap  = 1000
	defaultPerOrder = 10
)

func checkText(field string, t Text, max int, required bool) error {
	n := 0
	for lang, s := range t {
		if lang != "en" && lang != "zh-CN" {
			return inputErr("%s: unknown language %q (use en or zh-CN)", field, lang)
		}
		if !utf8.ValidString(s) {
			return inputErr("%s: not valid UTF-8", field)
		}
		if len(s) > max {
			return inputErr("%s: longer than %d bytes", field, max)
		}
		if strings.TrimSpace(s) != "" {
			n++
		}
	}
	if required && n == 0 {
		return inputErr("%s is required", field)
	}
	return nil
}

// validate checks p and fills defaults.
func (p *Product) validate() error {
	p.Slug = strings.TrimSpace(p.Slug)
	if !slugRE.MatchString(p.Slug) {
		return inputErr("slug: 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit")
	}
	if err := checkText("name", p.Name, maxTextLen, true); err != nil {
		return err
	}
	if err := checkText("description", p.Description, maxLongTextLen, false); err != nil {
		return err
	}
	if p.PriceMinor <= 0 || p.PriceMinor > MaxPriceMinor {
		return inputErr("price_minor: must be between 1 and %d", MaxPriceMinor)
	}
	if !currencyRE.MatchString(p.Currency) {
		return inputErr("currency: three capital letters, e.g. CNY")
	}
	switch p.Kind {
	case "":
		p.Kind = Unique
	case Unique, Shared:
	default:
		return inputErr("kind: unique or shared")
	}
	if p.MaxPerOrder == 0 {
		p.MaxPerOrder = defaultPerOrder
	}
	if p.Kind == Shared {
		p.MaxPerOrder = 1 // the same content twice is not a second item
	}
	if p.MaxPerOrder < 1 || p.MaxPerOrder > maxPerOrderCap {
		return inputErr("max_per_order: between 1 and %d", maxPerOrderCap)
	}
	if err := p.KeyFormat.validate(); err != nil {
		return err
	}
	if err := p.validateBreaks(); err != nil {
		return err
	}
	d := p.Disclosure
	for _, f := range []struct {
		name string
		t    Text
	}{{"disclosure.validity", d.Validity}, {"disclosure.regions", d.Regions}, {"disclosure.devices", d.Devices}, {"disclosure.usage_guide", d.UsageGuide}} {
		if err := checkText(f.name, f.t, maxLongTextLen, false); err != nil {
			return err
		}
	}
	if d.FailureRatePermille < 0 || d.FailureRatePermille > 1000 {
		return inputErr("disclosure.failure_rate_permille: between 0 and 1000")
	}
	pol := &p.Policy
	if pol.WindowHours < 0 || pol.WindowHours > maxWindowHours {
		return inputErr("policy.window_hours: between 0 and %d", maxWindowHours)
	}
	if pol.CoolingOffMinutes < 0 || pol.CoolingOffMinutes > maxCoolingOff {
		return inputErr("policy.cooling_off_minutes: between 0 and %d", maxCoolingOff)
	}
	if pol.AutoApproveTier < 0 || pol.AutoApproveTier > 3 {
		return inputErr("policy.auto_approve_tier: between 0 and 3")
	}
	if pol.ProRataDays < 0 || pol.ProRataDays > MaxProRataDays {
		return inputErr("policy.pro_rata_days: between 0 and %d", MaxProRataDays)
	}
	seen := map[Remedy]bool{}
	for _, r := range pol.Remedies {
		switch r {
		case RemedyReplace, RemedyPartialRefund, RemedyRefund:
		default:
			return inputErr("policy.remedies: %q is not one of replace, partial_refund, refund", r)
		}
		if seen[r] {
			return inputErr("policy.remedies: %q twice", r)
		}
		seen[r] = true
	}
	return nil
}

// CreateProduct adds p; its ID is assigned. ErrSlugTaken, *InputError.
func (s *Shop) CreateProduct(p Product) (Product, error) {
	if err := p.validate(); err != nil {
		return Product{}, err
	}
	p.ID = crypto.RandomID("p", 8)
	p.CreatedAt = s.now().Truncate(timeUnit)
	p.InStock = 0
	err := s.db.Update(func(tx *store.Txn) error {
		if ok, err := tx.Has(pSlug + p.Slug); err != nil || ok {
			if err == nil {
				err = ErrSlugTaken
			}
			return err
		}
		if err := tx.Set(pSlug+p.Slug, []byte(p.ID)); err != nil {
			return err
		}
		return tx.SetJSON(pProduct+p.ID, p)
	})
	if err != nil {
		return Product{}, fmt.Errorf("shop: create product %s: %w", p.Slug, err)
	}
	s.catalog.put(p)
	return p, nil
}

// UpdateProduct replaces a product's editable fields (everything except ID,
// kind and creation time). ErrProductNotFound, ErrSlugTaken, *InputError.
func (s *Shop) UpdateProduct(p Product) (Product, error) {
	var out Product
	err := s.db.Update(func(tx *store.Txn) error {
		var old Product
		if err := getProduct(tx, p.ID, &old); err != nil {
			return err
		}
		if old.Status == Deleted {
			return ErrProductNotFound
		}
		q := p
		q.ID, q.Kind, q.CreatedAt = old.ID, old.Kind, old.CreatedAt
		// Placement, status and images change through their own calls
		// (listing.go, images.go).
		q.Category, q.Sort, q.Status, q.Images = old.Category, old.Sort, old.Status, old.Images
		q.Upstream = old.Upstream // resale: changes through SetUpstream (sourced.go)
		if err := q.validate(); err != nil {
			return err
		}
		if q.Slug != old.Slug {
			if ok, err := tx.Has(pSlug + q.Slug); err != nil || ok {
				if err == nil {
					err = ErrSlugTaken
				}
				return err
			}
			if err := tx.Delete(pSlug + old.Slug); err != nil {
				return err
			}
			if err := tx.Set(pSlug+q.Slug, []byte(q.ID)); err != nil {
				return err
			}
		}
		q.InStock = 0
		out = q
		return tx.SetJSON(pProduct+q.ID, q)
	})
	if err != nil {
		return Product{}, fmt.Errorf("shop: update product %s: %w", p.ID, err)
	}
	s.catalog.put(out)
	return s.withStock(out)
}

func getProduct(tx *store.Txn, id string, p *Product) error {
	err := tx.GetJSON(pProduct+id, p)
	if errors.Is(err, store.ErrNotFound) {
		return ErrProductNotFound
	}
	return err
}

// getStock reads a shared product's seat counter.
func getStock(tx *store.Txn, pid string) (int, error) {
	b, err := tx.Get(pStock + pid)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(b))
}

func addStock(tx *store.Txn, pid string, delta int) error {
	n, err := getStock(tx, pid)
	if err != nil {
		return err
	}
	if n+delta < 0 {
		return fmt.Errorf("shop: stock of %s would go negative", pid)
	}
	return tx.Set(pStock+pid, []byte(strconv.Itoa(n+delta)))
}

// catalog is the in-memory copy of every product, loaded at start-up and
// replaced after each committed change, so that buying and browsing read
// no store at all.
type catalog struct {
	mu     sync.RWMutex
	byID   map[string]Product
	bySlug map[string]string
}

func (c *catalog) put(p Product) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.byID[p.ID]; ok && old.Slug != p.Slug {
		delete(c.bySlug, old.Slug)
	}
	p.InStock, p.FrozenStock, p.TemporarilyUnavailable = 0, 0, false
	c.byID[p.ID] = p
	c.bySlug[p.Slug] = p.ID
}

func (c *catalog) get(idOrSlug string) (Product, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if p, ok := c.byID[idOrSlug]; ok {
		return p, true
	}
	p, ok := c.byID[c.bySlug[idOrSlug]]
	return p, ok
}

func (c *catalog) all() []Product {
	c.mu.RLock()
	defer c.mu.RUnlock()
	ps := make([]Product, 0, len(c.byID))
	for _, p := range c.byID {
		ps = append(ps, p)
	}
	return ps
}

func (s *Shop) loadCatalog() error {
	s.catalog = &catalog{byID: map[string]Product{}, bySlug: map[string]string{}}
	return s.db.View(func(tx *store.Txn) error {
		return tx.Iterate(pProduct, "", false, func(_ string, v []byte) error {
			var p Product
			if err := jsonUnmarshal(v, &p); err != nil {
				return err
			}
			s.catalog.put(p)
			return nil
		})
	})
}

// withStock fills InStock.
func (s *Shop) withStock(p Product) (Product, error) {
	if p.Upstream != nil { // resale: the upstream's stock, cached (sourced.go)
		p.InStock = s.upstreamAvailable(p.ID)
		return p, nil
	}
	if p.Kind == Unique {
		p.InStock = s.poolOf(p.ID).len()
		err := s.db.View(func(tx *store.Txn) error {
			var err error
			p.FrozenStock, err = frozenCount(tx, p.ID)
			return err
		})
		p.TemporarilyUnavailable = p.InStock == 0 && p.FrozenStock > 0
		return p, err
	}
	err := s.db.View(func(tx *store.Txn) error {
		var err error
		p.InStock, err = getStock(tx, p.ID)
		return err
	})
	return p, err
}

// Products lists the catalog (all but deleted products) with stock counts,
// in sort order, then creation order.
func (s *Shop) Products() ([]Product, error) {
	ps := slices.DeleteFunc(s.catalog.all(), func(p Product) bool { return p.Status == Deleted })
	for i := range ps {
		var err error
		if ps[i], err = s.withStock(ps[i]); err != nil {
			return nil, fmt.Errorf("shop: list products: %w", err)
		}
	}
	sortProducts(ps)
	return ps, nil
}

// Product finds one product by id or slug (ErrProductNotFound).
func (s *Shop) Product(idOrSlug string) (Product, error) {
	p, ok := s.catalog.get(idOrSlug)
	if !ok {
		return Product{}, ErrProductNotFound
	}
	return s.withStock(p)
}
