package shop

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"veil/server/store"
)

// The storefront's side of the catalogue: whether a product is on sale,
// where it sorts, which category it sits in, and the buyer's search.

// ProductStatus says whether a product is sold and shown.
type ProductStatus string

const (
	// OnSale products show on the storefront and take orders (the zero
	// value: products made before statuses existed are on sale).
	OnSale ProductStatus = "on_sale"
	// OffSale products are hidden from the storefront and take no orders;
	// the console lists them as usual.
	OffSale ProductStatus = "off_sale"
	// Archived products are off sale and folded away in the console.
	Archived ProductStatus = "archived"
	// Deleted products are gone from the storefront and the console; the
	// record stays only so that old orders still name their product.
	Deleted ProductStatus = "deleted"
)

// ErrProductInUse refuses to delete a product that still has unsettled
// orders (409 product_in_use).
var ErrProductInUse = errors.New("shop: product has unsettled orders")

// ErrProductHasStock refuses to delete a product that still holds unsold
// keys (409 product_has_stock): delete or export them first.
var ErrProductHasStock = errors.New("shop: product has unsold keys")

// Normal returns s with the zero value read as OnSale.
func (st ProductStatus) Normal() ProductStatus {
	if st == "" {
		return OnSale
	}
	return st
}

// OnSale reports whether p is shown on the storefront and takes orders.
func (p Product) OnSale() bool { return p.Status.Normal() == OnSale }

// Limits on placement and search.
const (
	MaxSort        = 1_000_000
	MaxSearchBytes = 100
)

// Placement is where a product shows: its category and sort order.
type Placement struct {
	Category string `json:"category"`
	Sort     int    `json:"sort"`
}

// SetPlacement moves a product to a category ("" for none) and sort
// position. ErrProductNotFound, ErrCategoryNotFound, *InputError.
func (s *Shop) SetPlacement(productID string, pl Placement) (Product, error) {
	if pl.Sort < -MaxSort || pl.Sort > MaxSort {
		return Product{}, inputErr("sort: between %d and %d", -MaxSort, MaxSort)
	}
	return s.editProduct(productID, func(tx *store.Txn, p *Product) error {
		if pl.Category != "" {
			if ok, err := tx.Has(pCategory + pl.Category); err != nil || !ok {
				if err == nil {
					err = ErrCategoryNotFound
				}
				return err
			}
		}
		p.Category, p.Sort = pl.Category, pl.Sort
		return nil
	})
}

// SetProductStatus puts a product on sale, takes it off sale or archives
// it (Delete is DeleteProduct). A deleted product stays deleted.
func (s *Shop) SetProductStatus(productID string, st ProductStatus) (Product, error) {
	switch st {
	case OnSale, OffSale, Archived:
	default:
		return Product{}, inputErr("status: on_sale, off_sale or archived")
	}
	return s.editProduct(productID, func(_ *store.Txn, p *Product) error {
		if p.Status == Deleted {
			return ErrProductNotFound
		}
		p.Status = st
		return nil
	})
}

// DeleteProduct removes a product from the storefront and the console for
// good. It is refused while an order of the product is unsettled (money
// or after-sales may still move: ErrProductInUse) and while unsold keys
// remain (ErrProductHasStock).
func (s *Shop) DeleteProduct(productID string) (Product, error) {
	prod, ok := s.catalog.get(productID)
	if !ok || prod.Status == Deleted {
		return Product{}, ErrProductNotFound
	}
	var out Product
	err := s.update(prod, func(tx *store.Txn) error {
		var p Product
		if err := getProduct(tx, prod.ID, &p); err != nil {
			return err
		}
		if p.Status == Deleted {
			return ErrProductNotFound
		}
		if n, err := s.unsettledOrdersTx(tx, p.ID); err != nil || n > 0 {
			if err == nil {
				err = ErrProductInUse
			}
			return err
		}
		stock := 0
		if p.Kind == Shared {
			var err error
			if stock, err = getStock(tx, p.ID); err != nil {
				return err
			}
		} else if err := tx.Iterate(pAvail+p.ID+"/", "", true, func(string, []byte) error {
			stock++
			return nil
		}); err != nil {
			return err
		}
		if stock > 0 {
			return ErrProductHasStock
		}
		p.Status = Deleted
		p.InStock = 0
		out = p
		return tx.SetJSON(pProduct+p.ID, p)
	})
	if err != nil {
		return Product{}, fmt.Errorf("shop: delete product %s: %w", productID, err)
	}
	s.catalog.put(out)
	return out, nil
}

// settled reports whether nothing more can happen to an order: no money
// moves and no after-sales remains.
func (o Order) settled() bool {
	switch o.Status {
	case StatusSettled, StatusExpired, StatusRefunded:
		return true
	}
	return false
}

// unsettledOrdersTx counts the product's orders that are not settled. It
// reads every order: deleting a product is rare and the order records are
// the only place the product is named.
func (s *Shop) unsettledOrdersTx(tx *store.Txn, productID string) (int, error) {
	n := 0
	err := tx.Iterate(pOrder, "", false, func(_ string, v []byte) error {
		var o struct {
			ProductID string `json:"product_id"`
			Status    Status `json:"status"`
		}
		if v[0] != '{' { // the binary form (orderstore.go)
			d, _, err := decodeOrder(v)
			if err != nil {
				return err
			}
			o.ProductID, o.Status = d.ProductID, d.Status
		} else if err := jsonUnmarshal(v, &o); err != nil {
			return err
		}
		if o.ProductID == productID && !(Order{Status: o.Status}).settled() {
			n++
		}
		return nil
	})
	return n, err
}

// editProduct changes one product under its lock and refreshes the
// in-memory catalog.
func (s *Shop) editProduct(productID string, fn func(*store.Txn, *Product) error) (Product, error) {
	prod, ok := s.catalog.get(productID)
	if !ok || prod.Status == Deleted {
		return Product{}, ErrProductNotFound
	}
	var out Product
	err := s.update(prod, func(tx *store.Txn) error {
		var p Product
		if err := getProduct(tx, prod.ID, &p); err != nil {
			return err
		}
		if err := fn(tx, &p); err != nil {
			return err
		}
		p.InStock = 0
		out = p
		return tx.SetJSON(pProduct+p.ID, p)
	})
	if err != nil {
		return Product{}, fmt.Errorf("shop: edit product %s: %w", productID, err)
	}
	s.catalog.put(out)
	return s.withStock(out)
}

// Storefront lists what buyers see: products on sale, in a shown category
// or none, in sort order. Category, when set, keeps that category's
// products only (an unknown or hidden one lists nothing); query, when set,
// keeps products whose name or description in any language contains every
// word of it, ignoring case.
func (s *Shop) Storefront(category, query string) ([]Product, error) {
	if len(query) > MaxSearchBytes || !utf8.ValidString(query) {
		return nil, inputErr("q: at most %d bytes of text", MaxSearchBytes)
	}
	cats, err := s.Categories()
	if err != nil {
		return nil, err
	}
	hidden := map[string]bool{}
	for _, c := range cats {
		hidden[c.ID] = c.Hidden
	}
	words := strings.Fields(strings.ToLower(query))
	var out []Product
	for _, p := range s.catalog.all() {
		if !p.OnSale() {
			continue
		}
		if p.Category != "" {
			if h, ok := hidden[p.Category]; ok && h {
				continue
			}
		}
		if category != "" && p.Category != category {
			continue
		}
		if !matches(p, words) {
			continue
		}
		if p, err = s.withStock(p); err != nil {
			return nil, fmt.Errorf("shop: storefront: %w", err)
		}
		out = append(out, p)
	}
	sortProducts(out)
	return out, nil
}

// matches reports whether every word occurs in p's slug, names or
// descriptions.
func matches(p Product, words []string) bool {
	if len(words) == 0 {
		return true
	}
	var hay strings.Builder
	hay.WriteString(p.Slug)
	for _, t := range []Text{p.Name, p.Description} {
		for _, l := range []string{"en", "zh-CN"} {
			hay.WriteByte('\n')
			hay.WriteString(t[l])
		}
	}
	h := strings.ToLower(hay.String())
	return !slices.ContainsFunc(words, func(w string) bool { return !strings.Contains(h, w) })
}
