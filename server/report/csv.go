package report

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"

	"veil/pages"
	"veil/server/shop"
)

// CSVHeader is the export's first line. Every row is one set of figures:
// section says which (total; channel_shop and channel_resale, the totals
// split between buyers and resellers; period, product, batch, or
// purged_month for the monthly totals of purged orders a day or week
// report leaves out).
// Amounts are decimals (compensation is the part of cost that went to
// keys given as compensation) in major units of the row's currency; margin and
// rate are percentages with one decimal. It holds metadata only: no
// order, token or key.
var CSVHeader = []string{
	"section", "period", "product_id", "product", "batch", "supplier", "batch_date", "unit_cost", "currency",
	"orders", "units", "revenue", "refunds", "cost", "compensation", "profit", "margin_percent", "after_sales", "recalled",
	"after_sales_rate_percent",
}

// FileName is the export's file name.
func FileName(r shop.Report) string {
	return "veil-report-" + string(r.Grain) + "-" + r.From + "-" + r.To + ".csv"
}

// WriteCSV writes the report as CSV; productName names a product id (in
// the reader's language).
func WriteCSV(w io.Writer, r shop.Report, productName func(id string) string) error {
	cw := csv.NewWriter(w)
	row := func(section, period, pid, batch, supplier, date, unitCost string, f shop.SalesFigures, afterSales, recalled, rate string) {
		name := ""
		if pid != "" {
			name = productName(pid)
		}
		margin := ""
		if f.HasMargin {
			margin = percent(f.MarginPermille)
		}
		_ = cw.Write([]string{
			section, period, pid, cell(name), batch, cell(supplier), date, unitCost, f.Currency,
			strconv.Itoa(f.Orders), strconv.Itoa(f.Units), money(f.RevenueMinor, f.Currency), money(f.RefundsMinor, f.Currency),
			money(f.CostMinor, f.Currency), money(f.CompensationMinor, f.Currency), money(f.ProfitMinor, f.Currency), margin, afterSales, recalled, rate,
		})
	}
	if err := cw.Write(CSVHeader); err != nil {
		return err
	}
	for _, t := range r.Totals {
		row("total", r.From+".."+r.To, "", "", "", "", "", t, "", "", "")
	}
	for _, c := range r.Channels {
		row("channel_"+c.Channel, r.From+".."+r.To, "", "", "", "", "", c.SalesFigures, "", "", "")
	}
	for _, p := range r.Periods {
		row("period", p.Period, "", "", "", "", "", p.SalesFigures, "", "", "")
	}
	for _, p := range r.Products {
		row("product", "", p.ProductID, "", "", "", "", p.SalesFigures, "", "", "")
	}
	for _, b := range r.Batches {
		unit := ""
		if b.BatchID != "-" {
			unit = money(b.UnitCostMinor, b.Currency)
		}
		row("batch", "", b.ProductID, b.BatchID, b.Supplier, b.Date, unit, b.SalesFigures,
			strconv.Itoa(b.AfterSales), strconv.Itoa(b.Recalled), percent(b.RatePermille))
	}
	for _, p := range r.Purged {
		row("purged_month", p.Period, "", "", "", "", "", p.SalesFigures, "", "", "")
	}
	cw.Flush()
	return cw.Error()
}

func money(minor int64, currency string) string { return pages.Decimal(minor, currency) }

// Percent formats tenths of a percent for people: -212 is "-21.2%".
func Percent(permille int) string { return percent(permille) + "%" }

// percent formats tenths of a percent as a number: 697 is "69.7".
func percent(permille int) string {
	neg := permille < 0
	if neg {
		permille = -permille
	}
	s := strconv.Itoa(permille/10) + "." + strconv.Itoa(permille%10)
	if neg {
		s = "-" + s
	}
	return s
}

// cell keeps merchant-written text (product names, supplier labels) from
// being read as a formula by a spreadsheet.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
