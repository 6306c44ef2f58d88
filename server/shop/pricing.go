package shop

import (
	"fmt"
	"slices"
	"strings"
)

// Quantity pricing (批发价). A product may carry price breaks: from
// MinQuantity units on, each unit costs PriceMinor. The unit price of an
// order is the one of the largest break its quantity reaches (the product's
// price below the first). Breaks are part of the price, so changing them on
// an existing product is a product_policy approval like the price itself.

// MaxPriceBreaks bounds the breaks of one product.
const MaxPriceBreaks = 8

// PriceBreak is a unit price from a quantity on.
type PriceBreak struct {
	MinQuantity int   `json:"min_quantity"`
	PriceMinor  int64 `json:"price_minor"` // per unit
}

// validateBreaks checks p's breaks: at most MaxPriceBreaks, quantities from
// 2 up and rising, unit prices below the product's price and falling, each
// quantity within what one order may hold.
func (p *Product) validateBreaks() error {
	bs := p.PriceBreaks
	if len(bs) > MaxPriceBreaks {
		return inputErr("price_breaks: at most %d", MaxPriceBreaks)
	}
	prevQ, prevP := 1, p.PriceMinor
	for i, b := range bs {
		if b.MinQuantity <= prevQ || b.MinQuantity > maxPerOrderCap {
			return inputErr("price_breaks: break %d: min_quantity must rise, from 2 to %d", i+1, maxPerOrderCap)
		}
		if b.PriceMinor < 1 || b.PriceMinor >= prevP {
			return inputErr("price_breaks: break %d: price_minor must be at least 1 and below the price before it", i+1)
		}
		prevQ, prevP = b.MinQuantity, b.PriceMinor
	}
	if len(bs) == 0 {
		p.PriceBreaks = nil
	}
	return nil
}

// UnitPrice is what one unit costs in an order of qty.
func (p Product) UnitPrice(qty int) int64 {
	unit := p.PriceMinor
	for _, b := range p.PriceBreaks {
		if qty >= b.MinQuantity {
			unit = b.PriceMinor
		}
	}
	return unit
}

func breaksEqual(a, b []PriceBreak) bool { return slices.Equal(a, b) }

// breakList shows breaks for people: "10+:900 50+:800", "none".
func breakList(bs []PriceBreak) string {
	if len(bs) == 0 {
		return "none"
	}
	parts := make([]string, len(bs))
	for i, b := range bs {
		parts[i] = fmt.Sprintf("%d+:%d", b.MinQuantity, b.PriceMinor)
	}
	return strings.Join(parts, " ")
}
