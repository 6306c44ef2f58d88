package pages

import "time"

// The resale network in the console (issue 14): reseller accounts and
// their ledgers, the upstream side's ticket queue, and a product sourced
// from an upstream shop.

func init() {
	adminPageNames = append(adminPageNames, "admin_resellers", "admin_reseller", "admin_reseller_secret",
		"admin_resale_tickets", "admin_upstream")
}

// ResellerRow is an account in the resellers list.
type ResellerRow struct {
	ID, Name     string
	Active       bool
	Balance      string
	Rule         string // "10% off" and/or "3 agent prices"
	DailyLimit   string // "" when none
	LastCall     time.Time
	SecretIssued bool
}

// AdminResellers is the resellers page: the accounts, paginated, and the
// owner's form to propose a new one.
type AdminResellers struct {
	AdminBase
	Resellers  []ResellerRow
	Pager      Pager
	Owner      bool
	Currencies []Choice
	Products   []Choice // slug: name (currency price), for the agent prices hint
}

func (*AdminResellers) page() string { return "admin_resellers" }

// AgentPriceRow is one product's price for an account.
type AgentPriceRow struct {
	Product, Slug string
	Retail, Agent string
	Own           bool // a price set for the account, not the percentage
}

// LedgerRow is one balance movement.
type LedgerRow struct {
	Seq     uint64
	At      time.Time
	Kind    string // translated
	Delta   string
	Balance string
	Credit  bool
	Ref     string
	Note    string
}

// AdminReseller is one account: status, balance, agent prices, the API
// secret's state (never the secret), the recipient's short fingerprint,
// the owner's forms and the ledger, paginated.
type AdminReseller struct {
	AdminBase
	ID, Name            string
	Active              bool
	Currency            string
	Balance             string
	PercentOff          int
	DailyLimit          string
	Rate                int
	Recipient           string // a short fingerprint of the age recipient
	SecretIssued        time.Time
	Created             time.Time
	LastCall            time.Time
	Prices              []AgentPriceRow
	Ledger              []LedgerRow
	Pager               Pager
	Owner               bool
	Orders, OpenTickets int
}

func (*AdminReseller) page() string { return "admin_reseller" }

// AdminResellerSecret shows a freshly issued API secret, this once.
type AdminResellerSecret struct {
	AdminBase
	ID, Name, Secret string
}

func (*AdminResellerSecret) page() string { return "admin_reseller_secret" }

// ResaleTicketRow is a reseller's ticket in the upstream side's queue.
type ResaleTicketRow struct {
	ID, Order, Item string
	Reseller        string // the account's name
	ResellerID      string
	Reason          string // translated
	Status          string // raw, for the badge
	StatusText      string
	Remedy          string
	Open            bool // answerable and remediable
	Thread          []ResaleLine
	Created         time.Time
	Currency        string
	Unit            string // the item's agent price, the refund's default
}

// ResaleLine is one opened message of a resale ticket.
type ResaleLine struct {
	Staff bool
	At    time.Time
	Text  string
}

// AdminResaleTickets is the queue of tickets resellers opened.
type AdminResaleTickets struct {
	AdminBase
	Tickets []ResaleTicketRow
	Pager   Pager
	Sealed  bool // the vault is locked: threads cannot be read
	Owner   bool
}

func (*AdminResaleTickets) page() string { return "admin_resale_tickets" }

// WaitingOrder is a paid order of a sourced product not yet delivered.
type WaitingOrder struct {
	Ref        string
	Quantity   int
	Purchasing bool // marked before the upstream call, cleared on delivery
	Attempts   int
	PaidAt     time.Time
	DeliverBy  time.Time
}

// AdminUpstream is a product's upstream: the form to set or clear it, the
// cached availability, the last upstream error and the orders waiting.
type AdminUpstream struct {
	AdminBase
	ProductID, Product string
	Sourced            bool
	Unique             bool // only products of unique keys can be sourced
	BaseURL, KeyID     string
	UpstreamProduct    string
	MaxUnit            string
	Currency           string
	Available          int
	CheckedAt          time.Time
	LastError          string
	LastErrorAt        time.Time
	Waiting            []WaitingOrder
	Owner              bool
}

func (*AdminUpstream) page() string { return "admin_upstream" }
