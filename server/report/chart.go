// Package report draws the console's sales reports: SVG charts built on
// the server (no script, no third-party asset, colours from the console's
// stylesheet) and the CSV export. The figures come from shop.Report.
package report

import (
	"fmt"
	"html/template"
	"strings"

	"veil/pages"
)

// Row is one line of a chart: a period or a batch.
type Row struct {
	Label   string // short, left of the bars ("11-02", "W45", a batch)
	Title   string // full, in the bars' tooltips ("2026-11-02")
	Revenue int64  // minor units
	Profit  int64  // minor units; negative draws left of zero
}

// Labels are a chart's words, in the reader's language.
type Labels struct {
	Title, Revenue, Profit string
}

// Chart geometry, in SVG units. The chart is narrow on purpose: at 390 px
// a phone shows it near its natural size, so its 11-unit text stays
// readable; the stylesheet caps how wide it grows on a desktop.
const (
	chartW   = 360.0
	labelW   = 62.0 // row labels
	padL     = 20.0 // half a tick label, so the first one fits
	padR     = 26.0
	legendH  = 20.0
	rowH     = 22.0
	barH     = 7.0
	axisH    = 20.0
	maxLabel = 10 // runes of a row label
)

// Chart draws revenue and profit per row as horizontal bars against an
// axis of amounts in currency. It returns "" for no rows. Everything in it
// is a number or escaped text, so it is well-formed XML.
func Chart(rows []Row, currency string, l Labels) template.HTML {
	money := func(v int64) string { return pages.Money(v, currency) }
	if len(rows) == 0 {
		return ""
	}
	lo, hi := int64(0), int64(0)
	for _, r := range rows {
		lo = min(lo, r.Profit, r.Revenue)
		hi = max(hi, r.Profit, r.Revenue)
	}
	if hi == lo {
		hi = lo + 100 // nothing sold: an axis all the same
	}
	// Ticks at a round step; the axis ends at a tick on the right, and on
	// the left just past the largest loss (a small loss keeps a small
	// share of the width).
	step := niceStep((hi - lo + 3) / 4)
	hi = -floorTo(-hi, step)
	if lo < 0 {
		lo -= (hi - lo) / 40
	}
	x0, x1 := labelW+padL, chartW-padR
	x := func(v int64) float64 { return x0 + float64(v-lo)/float64(hi-lo)*(x1-x0) }
	height := legendH + rowH*float64(len(rows)) + axisH
	bottom := legendH + rowH*float64(len(rows))

	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart-svg report-chart" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`,
		chartW, height, esc(l.Title))
	// Legend.
	fmt.Fprintf(&b, `<rect class="bar rev" x="%.1f" y="5" width="10" height="%.0f"/><text class="label" x="%.1f" y="12">%s</text>`,
		x0, barH, x0+14, esc(l.Revenue))
	fmt.Fprintf(&b, `<rect class="bar profit" x="%.1f" y="5" width="10" height="%.0f"/><text class="label" x="%.1f" y="12">%s</text>`,
		x0+130, barH, x0+144, esc(l.Profit))
	// Grid and axis.
	for v := -floorTo(-lo, step); v <= hi; v += step {
		cls := "grid"
		if v == 0 {
			cls = "axis"
		}
		fmt.Fprintf(&b, `<line class="%s" x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f"/>`, cls, x(v), legendH, x(v), bottom)
		fmt.Fprintf(&b, `<text class="label tick" x="%.1f" y="%.0f" text-anchor="middle">%s</text>`, x(v), bottom+14, esc(Tick(v, currency)))
	}
	fmt.Fprintf(&b, `<line class="axis" x1="%.1f" y1="%.0f" x2="%.1f" y2="%.0f"/>`, x0, bottom, x1, bottom)
	zero := x(0)
	for i, r := range rows {
		y := legendH + rowH*float64(i)
		label := []rune(r.Label)
		if len(label) > maxLabel {
			label = append(label[:maxLabel-1], '…')
		}
		title := r.Title
		if title == "" {
			title = r.Label
		}
		fmt.Fprintf(&b, `<text class="label" x="0" y="%.1f">%s</text>`, y+14, esc(string(label)))
		fmt.Fprintf(&b, `<rect class="bar rev" x="%.1f" y="%.1f" width="%.1f" height="%.0f"><title>%s · %s %s</title></rect>`,
			min(zero, x(r.Revenue)), y+3, abs(x(r.Revenue)-zero), barH, esc(title), esc(l.Revenue), esc(money(r.Revenue)))
		cls := "profit"
		if r.Profit < 0 {
			cls = "loss"
		}
		fmt.Fprintf(&b, `<rect class="bar %s" x="%.1f" y="%.1f" width="%.1f" height="%.0f"><title>%s · %s %s</title></rect>`,
			cls, min(zero, x(r.Profit)), y+3+barH+1, abs(x(r.Profit)-zero), barH, esc(title), esc(l.Profit), esc(money(r.Profit)))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// Tick formats an axis amount: whole amounts without their zero decimals
// ("¥1200", not "¥1200.00"), so ticks stay short.
func Tick(minor int64, currency string) string {
	s := pages.Money(minor, currency)
	if i := strings.LastIndexByte(s, '.'); i >= 0 {
		end := i + 1
		for end < len(s) && s[end] >= '0' && s[end] <= '9' {
			end++
		}
		if strings.Trim(s[i+1:end], "0") == "" {
			s = s[:i] + s[end:]
		}
	}
	return s
}

// niceStep is the smallest of 1, 2 or 5 × 10^k at least raw.
func niceStep(raw int64) int64 {
	if raw < 1 {
		return 1
	}
	p := int64(1)
	for p*10 <= raw {
		p *= 10
	}
	for _, m := range []int64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

// floorTo rounds v down to a multiple of step.
func floorTo(v, step int64) int64 {
	q := v / step
	if v%step != 0 && v < 0 {
		q--
	}
	return q * step
}

// esc escapes text for SVG content and attributes.
func esc(s string) string { return template.HTMLEscapeString(s) }
