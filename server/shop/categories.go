package shop

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"veil/crypto"
	"veil/server/store"
)

// Categories group the storefront's products. A hidden category keeps its
// products off the storefront (the console still lists them).

// Category is one group of products.
type Category struct {
	ID     string `json:"id"`
	Name   Text   `json:"name"`
	Sort   int    `json:"sort"`
	Hidden bool   `json:"hidden"`
}

// ErrCategoryNotFound: 404 category_not_found.
var ErrCategoryNotFound = errors.New("shop: category not found")

// ErrCategoryInUse refuses to delete a category that still holds products
// (409 category_in_use): move them first.
var ErrCategoryInUse = errors.New("shop: category has products")

const (
	pCategory     = "cat/" // cat/<id> -> Category
	maxCategories = 200
)

func (c *Category) validate() error {
	if err := checkText("name", c.Name, maxTextLen, true); err != nil {
		return err
	}
	if c.Sort < -MaxSort || c.Sort > MaxSort {
		return inputErr("sort: between %d and %d", -MaxSort, MaxSort)
	}
	return nil
}

// Categories lists every category in sort order, then by English name.
func (s *Shop) Categories() ([]Category, error) {
	var cs []Category
	err := s.db.View(func(tx *store.Txn) error {
		return tx.Iterate(pCategory, "", false, func(_ string, v []byte) error {
			var c Category
			if err := jsonUnmarshal(v, &c); err != nil {
				return err
			}
			cs = append(cs, c)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("shop: list categories: %w", err)
	}
	slices.SortStableFunc(cs, func(a, b Category) int {
		if c := cmp.Compare(a.Sort, b.Sort); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Name.In("en"), b.Name.In("en")); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return cs, nil
}

// Category finds one category (ErrCategoryNotFound).
func (s *Shop) Category(id string) (Category, error) {
	var c Category
	err := s.db.View(func(tx *store.Txn) error {
		err := tx.GetJSON(pCategory+id, &c)
		if errors.Is(err, store.ErrNotFound) {
			return ErrCategoryNotFound
		}
		return err
	})
	return c, err
}

// SaveCategory creates c (empty ID) or replaces the category with c's ID.
// ErrCategoryNotFound, *InputError.
func (s *Shop) SaveCategory(c Category) (Category, error) {
	if err := c.validate(); err != nil {
		return Category{}, err
	}
	err := s.db.Update(func(tx *store.Txn) error {
		if c.ID == "" {
			n := 0
			if err := tx.Iterate(pCategory, "", true, func(string, []byte) error { n++; return nil }); err != nil {
				return err
			}
			if n >= maxCategories {
				return inputErr("at most %d categories", maxCategories)
			}
			c.ID = crypto.RandomID("c", 6)
		} else if ok, err := tx.Has(pCategory + c.ID); err != nil || !ok {
			if err == nil {
				err = ErrCategoryNotFound
			}
			return err
		}
		return tx.SetJSON(pCategory+c.ID, c)
	})
	if err != nil {
		return Category{}, fmt.Errorf("shop: save category: %w", err)
	}
	return c, nil
}

// DeleteCategory removes an empty category (deleted products do not
// count). ErrCategoryNotFound, ErrCategoryInUse.
func (s *Shop) DeleteCategory(id string) error {
	err := s.db.Update(func(tx *store.Txn) error {
		if ok, err := tx.Has(pCategory + id); err != nil || !ok {
			if err == nil {
				err = ErrCategoryNotFound
			}
			return err
		}
		// Read inside the transaction, so a product moved into the
		// category meanwhile conflicts instead of being orphaned.
		if err := tx.Iterate(pProduct, "", false, func(_ string, v []byte) error {
			var p Product
			if err := jsonUnmarshal(v, &p); err != nil {
				return err
			}
			if p.Category == id && p.Status != Deleted {
				return ErrCategoryInUse
			}
			return nil
		}); err != nil {
			return err
		}
		return tx.Delete(pCategory + id)
	})
	if err != nil {
		return fmt.Errorf("shop: delete category %s: %w", id, err)
	}
	return nil
}
