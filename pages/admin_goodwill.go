package pages

import "time"

func init() { adminPageNames = append(adminPageNames, "admin_goodwill") }

// AdminGoodwill is the console page of issue 13's after-sales: frozen
// supplier batches with their evidence (unfreeze, recall), the freeze rule,
// a compensation key for an order, and a ticket's refund by use.
type AdminGoodwill struct {
	AdminBase
	Owner  bool
	Rule   FreezeRuleView
	Frozen []FreezeView
	Past   []FreezeView
	// Products to give a compensation key of ("name (in stock)").
	Products []Choice
	// Ref and Ticket prefill the forms (from ?ref= or ?ticket=).
	Ref    string
	Ticket string
	// ProRata is the ticket's refund by use, or nil; ProRataOff says why
	// there is none.
	ProRata    *ProRataView
	ProRataOff string
}

func (*AdminGoodwill) page() string { return "admin_goodwill" }

// FreezeRuleView is the freeze rule in the form's terms.
type FreezeRuleView struct {
	Off         bool
	MinReports  int
	MinPercent  string // "5.0"
	WindowHours int
}

// FreezeView is a frozen (or lifted) batch with its evidence.
type FreezeView struct {
	Batch, Supplier, Product, StockURL  string
	At                                  time.Time
	Delivered, Held, Swapped, Unswapped int
	Reports                             []FreezeReport
	Ended                               time.Time
	EndedBy                             string // unfrozen, recalled
}

// FreezeReport is one order's report in a freeze's evidence.
type FreezeReport struct {
	Ref, ReasonText, TicketURL string
	At                         time.Time
}

// ProRataView is a ticket's refund by use.
type ProRataView struct {
	Amount, Paid, Explain string
}
