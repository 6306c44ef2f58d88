package pages

// Signed receipts and the public case library (issue 13 §3, §4).

func init() { pageNames = append(pageNames, "cases") }

// CasesPage is the public case library: anonymised after-sales cases that
// staff chose to publish, newest first, filtered by product, paged.
type CasesPage struct {
	Base
	Products []FilterOption // the filter: value = slug ("" = all products)
	Product  string         // the filter's product name, "" for all
	Cases    []CaseCard
	Total    int // cases matching the filter
	Page     int
	Pages    int
	PrevURL  string // "" on the first page
	NextURL  string // "" on the last page
}

func (*CasesPage) page() string { return "cases" }

// CaseCard is one published case, as the public sees it.
type CaseCard struct {
	Product     string
	ProductPath string
	Reason      string // translated problem kind
	Remedy      string // translated
	Took        string // "within 4 hours", translated
	Week        string // "2026-W49"
	Text        string // the staff text in the page's language (or the other)
}

// Figures are a product's after-sales figures as its page shows them.
type Figures struct {
	Days        int // the span they cover
	Delivered   int
	WithTickets int
	Tickets     int
	Resolved    int
	Rate        string // "3.6%"
	Share       string // resolved share, "80.0%"
	Median      string // "4.0 h", translated unit
	Small       bool   // too few orders to read much into
	Cases       int    // published cases of the product
	CasesURL    string
}

// FilterOption is one choice of a filter's select.
type FilterOption struct {
	Value    string
	Label    string
	Selected bool
}
