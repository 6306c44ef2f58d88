package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"

	"veil/server/shop"
)

func fig(orders, units int, rev, ref, cost int64) shop.SalesFigures {
	f := shop.SalesFigures{Currency: "CNY", Orders: orders, Units: units, RevenueMinor: rev, RefundsMinor: ref, CostMinor: cost,
		ProfitMinor: rev - ref - cost}
	if net := rev - ref; net > 0 {
		f.HasMargin = true
		p := f.ProfitMinor * 1000
		if p < 0 {
			p -= net / 2
		} else {
			p += net / 2
		}
		f.MarginPermille = int(p / net)
	}
	return f
}

func sample() shop.Report {
	r := shop.Report{
		Grain: shop.GrainDay, From: "2026-11-01", To: "2026-11-02", TimeZone: "Asia/Shanghai", Currencies: []string{"CNY"},
		Totals: []shop.SalesFigures{fig(3, 5, 3960, 300, 1900)},
		Periods: []shop.PeriodSales{
			{Period: "2026-11-01", Start: "2026-11-01", SalesFigures: fig(1, 2, 1980, 0, 600)},
			{Period: "2026-11-02", Start: "2026-11-02", SalesFigures: fig(2, 3, 1980, 300, 1300)},
		},
		Products: []shop.ProductSales{{ProductID: "p1", SalesFigures: fig(3, 5, 3960, 300, 1900)}},
		Batches: []shop.BatchSales{
			{BatchID: "b1", ProductID: "p1", Supplier: "=HYPERLINK(\"x\")", Date: "2026-11-01", UnitCostMinor: 300,
				SalesFigures: fig(2, 4, 2970, 300, 1200), AfterSales: 1, RatePermille: 250},
			{BatchID: "b2", ProductID: "p1", Supplier: "beta", Date: "2026-11-01", UnitCostMinor: 700,
				SalesFigures: fig(1, 1, 990, 0, 1200), Recalled: 1},
			{BatchID: "-", ProductID: "p1", SalesFigures: fig(1, 0, 990, 990, 0)},
		},
		Purged: []shop.PeriodSales{{Period: "2026-10", Start: "2026-10-01", SalesFigures: fig(1, 1, 990, 0, 300)}},
	}
	r.Batches[1].CompensationMinor = 700 // a key given on top
	return r
}

// TestCSVExact: the export, byte for byte — figures as decimals, margin
// and rate as percentages, a supplier label that looks like a formula
// defused, nothing but metadata.
func TestCSVExact(t *testing.T) {
	var b bytes.Buffer
	err := WriteCSV(&b, sample(), func(id string) string { return map[string]string{"p1": "游戏卡, \"月卡\""}[id] })
	if err != nil {
		t.Fatal(err)
	}
	want := `section,period,product_id,product,batch,supplier,batch_date,unit_cost,currency,orders,units,revenue,refunds,cost,compensation,profit,margin_percent,after_sales,recalled,after_sales_rate_percent
total,2026-11-01..2026-11-02,,,,,,,CNY,3,5,39.60,3.00,19.00,0.00,17.60,48.1,,,
period,2026-11-01,,,,,,,CNY,1,2,19.80,0.00,6.00,0.00,13.80,69.7,,,
period,2026-11-02,,,,,,,CNY,2,3,19.80,3.00,13.00,0.00,3.80,22.6,,,
product,,p1,"游戏卡, ""月卡""",,,,,CNY,3,5,39.60,3.00,19.00,0.00,17.60,48.1,,,
batch,,p1,"游戏卡, ""月卡""",b1,"'=HYPERLINK(""x"")",2026-11-01,3.00,CNY,2,4,29.70,3.00,12.00,0.00,14.70,55.1,1,0,25.0
batch,,p1,"游戏卡, ""月卡""",b2,beta,2026-11-01,7.00,CNY,1,1,9.90,0.00,12.00,7.00,-2.10,-21.2,0,1,0.0
batch,,p1,"游戏卡, ""月卡""",-,,,,CNY,1,0,9.90,9.90,0.00,0.00,0.00,,0,0,0.0
purged_month,2026-10,,,,,,,CNY,1,1,9.90,0.00,3.00,0.00,6.90,69.7,,,
`
	if got := b.String(); got != want {
		t.Errorf("csv:\n%s\nwant\n%s", got, want)
	}
	if FileName(sample()) != "veil-report-day-2026-11-01-2026-11-02.csv" {
		t.Errorf("file name %s", FileName(sample()))
	}
}

// TestChartWellFormed: the chart parses as XML, names its periods, both
// series and axis amounts in the currency, and draws a loss left of zero.
func TestChartWellFormed(t *testing.T) {
	rows := []Row{
		{Label: "11-01", Title: "2026-11-01", Revenue: 198000, Profit: 138000},
		{Label: "11-02", Title: "2026-11-02", Revenue: 99000, Profit: -21000},
		{Label: "<b>&\"x\"", Revenue: 0, Profit: 0},
	}
	svg := string(Chart(rows, "CNY", Labels{Title: "Profit by day", Revenue: "Revenue", Profit: "Profit"}))
	texts, classes := parseSVG(t, svg)
	for _, want := range []string{"11-01", "11-02", "<b>&\"x\"", "Revenue", "Profit", "¥0", "¥1000", "¥2000",
		"2026-11-01 · Profit ¥1380.00", "2026-11-02 · Profit -¥210.00"} {
		if !texts[want] {
			t.Errorf("no text %q in %v", want, texts)
		}
	}
	if classes["bar loss"] != 1 || classes["bar profit"] != 3 || classes["bar rev"] != 4 {
		t.Errorf("bars %v", classes)
	}
	if Chart(nil, "CNY", Labels{}) != "" {
		t.Error("a chart of nothing")
	}
	if got := Tick(120000, "CNY") + " " + Tick(12050, "CNY") + " " + Tick(-500, "CNY") + " " + Tick(700, "JPY"); got != "¥1200 ¥120.50 -¥5 JP¥700" {
		t.Errorf("ticks %q", got)
	}
}

// parseSVG checks the chart is one well-formed svg element and returns its
// texts (text and title contents) and how many rects of each class.
func parseSVG(t *testing.T, s string) (map[string]bool, map[string]int) {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(s))
	d.Strict = true
	texts, classes := map[string]bool{}, map[string]int{}
	depth, roots := 0, 0
	var cur strings.Builder
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed XML: %v\n%s", err, s)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
				if el.Name.Local != "svg" || el.Name.Space != "http://www.w3.org/2000/svg" {
					t.Fatalf("root %v", el.Name)
				}
			}
			depth++
			cur.Reset()
			for _, a := range el.Attr {
				if el.Name.Local == "rect" && a.Name.Local == "class" {
					classes[a.Value]++
				}
				if a.Name.Local == "style" || strings.HasPrefix(a.Name.Local, "on") {
					t.Errorf("attribute %s (the CSP forbids it)", a.Name.Local)
				}
			}
		case xml.CharData:
			cur.Write(el)
		case xml.EndElement:
			depth--
			if el.Name.Local == "text" || el.Name.Local == "title" {
				texts[cur.String()] = true
			}
			cur.Reset()
		}
	}
	if roots != 1 {
		t.Fatalf("%d root elements", roots)
	}
	return texts, classes
}
