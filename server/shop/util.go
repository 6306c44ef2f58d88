package shop

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// timeUnit is the precision of stored times: exact enough for deadlines.
const timeUnit = time.Second

func jsonUnmarshal(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("shop: decode record: %w", err)
	}
	return nil
}

func sortProducts(ps []Product) {
	slices.SortStableFunc(ps, func(a, b Product) int {
		if c := cmp.Compare(a.Sort, b.Sort); c != 0 {
			return c
		}
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.Slug, b.Slug)
	})
}

// unixKey formats t so that keys sort by time.
func unixKey(t time.Time) string { return fmt.Sprintf("%012d", t.Unix()) }
