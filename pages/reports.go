package pages

import "html/template"

func init() { adminPageNames = append(adminPageNames, "admin_reports", "admin_review") }

// ReportMoney is one line of report figures, formatted in its currency.
type ReportMoney struct {
	Orders, Units                                        int
	Revenue, Refunds, Cost, Compensation, Profit, Margin string
	Loss                                                 bool // profit below zero
}

// ReportCurrency is a report's figures in one currency: totals, the chart
// and one line per period.
type ReportCurrency struct {
	Currency string
	Total    ReportMoney
	Chart    template.HTML // server-drawn SVG
	Periods  []ReportPeriodRow
	// Channels split the totals by who bought: the shop's buyers and
	// resellers at agent prices (issue 14), when resellers bought any.
	Channels []ReportChannelRow
}

// ReportChannelRow is one sales channel's figures.
type ReportChannelRow struct {
	Channel string // shop or resale
	Label   string // translated
	ReportMoney
}

// ReportPeriodRow is a period's line ("2026-11-02", "2026-W45", "2026-11").
type ReportPeriodRow struct {
	Period   string
	Currency string
	ReportMoney
}

// ReportProductRow is a product's line.
type ReportProductRow struct {
	Name     string
	Currency string
	ReportMoney
}

// ReportBatchRow is a supplier batch's line: money and after-sales.
type ReportBatchRow struct {
	ID, Product, Supplier, Date, UnitCost string
	Currency                              string
	ReportMoney
	AfterSales, Recalled int
	Rate                 string // after-sales ÷ delivered keys, "2.5%"
	StockURL             string // the product's stock page (recall, export)
}

// AdminReports is /admin/reports: revenue, refunds, cost and profit per
// period of the shop's time zone, per product and per supplier batch.
type AdminReports struct {
	AdminBase
	// From and To are what the query asked (empty: the default span);
	// RangeFrom and RangeTo the whole periods the report covers.
	Grain, From, To, ProductID string
	RangeFrom, RangeTo         string
	Grains                     []Choice
	Products                   []Choice
	TimeZone                   string
	CSVURL, ReviewURL          string
	Currencies                 []ReportCurrency
	ProductRows                []ReportProductRow
	Batches                    []ReportBatchRow
	BatchChart                 template.HTML
	// PurgedIncluded: a month report, purged orders' monthly totals
	// included; otherwise Purged lists them apart.
	PurgedIncluded bool
	Purged         []ReportPeriodRow
}

func (*AdminReports) page() string { return "admin_reports" }

// AdminReview is /admin/reports/review: the supplier review list.
type AdminReview struct {
	AdminBase
	Threshold  string // percent, one decimal: "5.0"
	Considered int
	Batches    []ReportBatchRow
	ReportsURL string
}

func (*AdminReview) page() string { return "admin_review" }
