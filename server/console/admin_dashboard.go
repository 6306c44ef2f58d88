package console

import (
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strings"

	"veil/pages"
	"veil/server/staff"
)

// dashboardDays is the span of the dashboard's sales charts.
const dashboardDays = 30

// dashboardPage is GET /admin: sales over the last 30 days, stock with
// low-stock warnings, pending approvals and after-sales rates per product
// and per supplier batch. Charts are SVG drawn here: no chart script.
func (s *Server) dashboardPage(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	d, err := s.Shop.Dashboard(dashboardDays)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	lang := s.Lang(r)
	page := &pages.AdminDashboard{AdminBase: s.adminBase(r, &sess, "dashboard", ""), Days: dashboardDays}
	page.PendingCount = page.Pending
	for _, name := range s.payments.Names() {
		page.Payments = append(page.Payments, s.Pages.T(lang, "pay.provider."+name))
	}
	owed, err := s.Shop.OwedSum()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	page.OwedCount, page.OwedTotal = owed.Count, moneyTotal(owed.Minor)
	page.ApprovalsURL = page.URL("/admin/approvals")

	// Revenue is summed in the currency most products use; a shop selling
	// in several currencies sees the first product's (the chart says which).
	currency := "CNY"
	if len(d.Products) > 0 {
		currency = d.Products[0].Product.Currency
	}
	labels := make([]string, len(d.Days))
	orders := make([]int64, len(d.Days))
	revenue := make([]int64, len(d.Days))
	var total int64
	for i, day := range d.Days {
		labels[i] = day.Date
		orders[i] = int64(day.Orders)
		revenue[i] = day.RevenueMinor
		page.Orders += day.Orders
		total += day.RevenueMinor
	}
	page.Revenue = pages.Money(total, currency)
	page.HasSales = page.Orders > 0
	page.OrdersChart = barChart(s.Pages.T(lang, "admin.dashboard.orders_chart"), labels, orders,
		func(v int64) string { return fmt.Sprint(v) })
	page.RevenueChart = barChart(s.Pages.T(lang, "admin.dashboard.revenue_chart"), labels, revenue,
		func(v int64) string { return pages.Money(v, currency) })

	names := map[string]string{}
	var rateLabels []string
	var rates []int64
	for _, ps := range d.Products {
		name := ps.Product.Name.In(lang)
		names[ps.Product.ID] = name
		if ps.Low {
			page.LowStock++
		}
		page.Products = append(page.Products, pages.AdminProductStat{
			ID: ps.Product.ID, Name: name, InStock: ps.InStock, Low: ps.Low, Delivered: ps.Delivered, Reported: ps.Reported,
			Rate:     rateText(ps.Reported, ps.Delivered),
			StockURL: page.URL("/admin/products/" + url.PathEscape(ps.Product.ID) + "/stock"),
		})
		if ps.Delivered > 0 {
			rateLabels = append(rateLabels, name)
			rates = append(rates, int64(permille(ps.Reported, ps.Delivered)))
		}
	}
	if len(rates) > 0 {
		page.RateChart = hbarChart(s.Pages.T(lang, "admin.dashboard.rate_chart"), rateLabels, rates,
			func(v int64) string { return pages.Permille(int(v)) })
	}
	for _, bs := range d.Batches {
		page.Batches = append(page.Batches, pages.AdminBatchStat{
			ID: bs.Batch.ID, Product: names[bs.Batch.ProductID], Supplier: bs.Batch.Supplier, Date: bs.Batch.Date,
			Delivered: bs.Delivered, Reported: bs.Reported, Recalled: bs.Recalled,
			Rate: rateText(bs.Reported+bs.Recalled, bs.Delivered),
		})
	}
	s.Render(w, r, http.StatusOK, page)
}

// permille is part/whole in tenths of a percent, rounded.
func permille(part, whole int) int {
	if whole <= 0 {
		return 0
	}
	return (part*1000 + whole/2) / whole
}

func rateText(part, whole int) string {
	if whole <= 0 {
		return "—"
	}
	return pages.Permille(permille(part, whole))
}

// esc escapes a label for SVG text and attributes.
func esc(s string) string { return template.HTMLEscapeString(s) }

// barChart draws a vertical bar per value with its date label every few
// bars. It is built only from numbers and escaped labels, and styled by
// classes (the CSP forbids style attributes).
func barChart(title string, labels []string, values []int64, format func(int64) string) template.HTML {
	const (
		width, height = 720, 220
		left, bottom  = 8.0, 28.0
		top           = 22.0
	)
	var top64 int64
	for _, v := range values {
		top64 = max(top64, v)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart-svg" viewBox="0 0 %d %d" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`,
		width, height, esc(title))
	plot := float64(height) - bottom - top
	fmt.Fprintf(&b, `<line class="axis" x1="%.0f" y1="%.1f" x2="%d" y2="%.1f"/>`, left, float64(height)-bottom, width, float64(height)-bottom)
	fmt.Fprintf(&b, `<text class="label" x="%.0f" y="14">%s</text>`, left, esc(format(top64)))
	fmt.Fprintf(&b, `<line class="grid" x1="%.0f" y1="%.1f" x2="%d" y2="%.1f"/>`, left, top, width, top)
	n := len(values)
	if n == 0 {
		b.WriteString(`</svg>`)
		return template.HTML(b.String())
	}
	slot := (float64(width) - left) / float64(n)
	bw := slot * 0.72
	// Day labels ("01-02", about 40 units wide at 12px) at an even step
	// counted back from the last day, so no two overlap and today is
	// always named.
	const labelGap = 56.0
	step := max(1, int(math.Ceil(labelGap/slot)))
	for i, v := range values {
		h := 0.0
		if top64 > 0 {
			h = float64(v) / float64(top64) * plot
		}
		x := left + float64(i)*slot + (slot-bw)/2
		y := float64(height) - bottom - h
		fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: %s</title></rect>`,
			x, y, bw, h, esc(labels[i]), esc(format(v)))
		if (n-1-i)%step == 0 {
			short := labels[i]
			if len(short) == len("2006-01-02") {
				short = short[5:]
			}
			fmt.Fprintf(&b, `<text class="label" x="%.1f" y="%.1f" text-anchor="middle">%s</text>`,
				x+bw/2, float64(height)-bottom+17, esc(short))
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// hbarChart draws a horizontal bar per labelled value (after-sales rates).
func hbarChart(title string, labels []string, values []int64, format func(int64) string) template.HTML {
	const (
		width        = 720
		row          = 26.0
		labelW       = 220.0
		valueW       = 70.0
		barH         = 16.0
		maxLabelRune = 28
	)
	var top int64
	for _, v := range values {
		top = max(top, v)
	}
	height := row*float64(len(values)) + 6
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart-svg" viewBox="0 0 %d %.0f" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`,
		width, height, esc(title))
	span := float64(width) - labelW - valueW
	for i, v := range values {
		y := float64(i)*row + 4
		w := 0.0
		if top > 0 {
			w = float64(v) / float64(top) * span
		}
		label := []rune(labels[i])
		if len(label) > maxLabelRune {
			label = append(label[:maxLabelRune-1], '…')
		}
		fmt.Fprintf(&b, `<text class="label" x="0" y="%.1f">%s</text>`, y+barH-3, esc(string(label)))
		fmt.Fprintf(&b, `<rect class="bar rate" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: %s</title></rect>`,
			labelW, y, max(w, 1), barH, esc(labels[i]), esc(format(v)))
		fmt.Fprintf(&b, `<text class="label" x="%.1f" y="%.1f">%s</text>`, labelW+max(w, 1)+6, y+barH-3, esc(format(v)))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
