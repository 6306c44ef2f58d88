package pages

import (
	"html/template"
	"time"
)

// The console's after-sales pages: tickets, live chat rooms, trust tiers
// and purchase patterns. Like every console page they embed AdminBase.

// AdminTicketRow is a ticket in the queue.
type AdminTicketRow struct {
	ID         string
	Ref        string
	ItemID     string
	Reason     string
	ReasonText string
	Status     string
	StatusText string
	Owner      string // "" while nobody has answered
	Mine       bool
	RemedyText string // translated, "" until proposed
	Auto       bool   // the remedy was approved by policy
	Approval   string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	URL        string
}

// AdminTickets is the ticket queue with its filters.
type AdminTickets struct {
	AdminBase
	Tickets  []AdminTicketRow
	Statuses []Choice
	Reasons  []Choice
	Owners   []Choice
	Pager    Pager
}

func (*AdminTickets) page() string { return "admin_tickets" }

// AdminOrderSummary is an order as a ticket page shows it: no token, no key.
type AdminOrderSummary struct {
	Ref         string
	Product     string
	Status      string
	StatusText  string
	Quantity    int
	Amount      string
	Refunded    string // "" when nothing was refunded
	Tier        int
	DeliveredAt time.Time
	WindowEnds  time.Time
}

// AdminItem is an order item by id and state; the key is never shown.
type AdminItem struct {
	ID        string
	State     string
	StateText string
	Ticket    bool // the item the ticket is about
}

// AdminMessage is one message of a support thread, opened for staff.
type AdminMessage struct {
	From     string // buyer, staff, system, auto
	FromText string
	Staff    string
	Text     string
	At       time.Time
}

// AdminTicket is one ticket: the order, the thread and the forms.
type AdminTicket struct {
	AdminBase
	Ticket       AdminTicketRow
	Order        AdminOrderSummary
	Items        []AdminItem
	Thread       []AdminMessage
	ThreadLocked bool // the vault is locked: the thread cannot be opened
	ThreadOff    bool // this server keeps no threads
	Closed       bool
	OwnedByOther bool
	Remedies     []Choice // the product policy's remedies
	AutoTier     int      // policy approves remedies from this tier (0 = never)
	Currency     string
	Staff        []Choice // hand-over targets
	// The approval of the proposed remedy, if any.
	ApprovalID      string
	ApprovalStatus  string
	ApprovalText    string
	ApprovalDropped bool   // rejected or failed while the ticket still says proposed
	Text            string // the answer typed, kept when refused
	Action          string // the ticket's path; forms post to Action + "/answer" …
	AbuseURL        string
	BackURL         string
	// Case library (evidence.go): the ticket is resolved and may be
	// published as a case; CaseDone once it is (or waits for approval).
	CaseForm bool
	CaseDone bool
	// Resale (issue 14): the order's keys were bought upstream, so the
	// ticket is forwarded there (one click) rather than remedied here;
	// Forwarded names the upstream's ticket and UpstreamStatus its
	// progress once it was.
	Sourced        bool
	Forwarded      string
	UpstreamStatus string
}

func (*AdminTicket) page() string { return "admin_ticket" }

// AdminRoom is an open chat room.
type AdminRoom struct {
	ID           string
	Ref          string
	OpenedAt     time.Time
	BuyerJoined  bool
	StaffJoined  bool
	LastActivity time.Time
	JoinURL      string
}

// AdminRooms lists the open rooms; admin_chat.js refreshes the list.
type AdminRooms struct {
	AdminBase
	Rooms   []AdminRoom
	ChatOff bool
	ChatJS  string
}

func (*AdminRooms) page() string { return "admin_rooms" }

// AdminChat is a staff member's side of a room. Secret joins the room once.
type AdminChat struct {
	AdminBase
	Room         string
	Ref          string
	Secret       string
	WSPath       string
	ChatJS       string
	RoomsURL     string
	Tickets      []AdminTicketRow
	Thread       []AdminMessage
	ThreadLocked bool
}

func (*AdminChat) page() string { return "admin_chat" }

// TierRow is one tier's thresholds and caps as typed.
type TierRow struct {
	Tier        int
	MinSettled  string
	MinSpanDays string
	MaxQuantity string
	MaxAmount   string // major units; "" = no cap
	MaxUnpaid   string
}

// TierForm is the trust tier rules as typed.
type TierForm struct {
	Rows          []TierRow
	ProofUses     string
	RewardMinTier string
	RewardEvery   string
	RewardPercent string
}

// AdminTiers is the trust tier rules form.
type AdminTiers struct {
	AdminBase
	Form        TierForm
	Error       string
	Action      string
	PatternsURL string
	Currency    string
	// FastTrack is the bounds of remedies approved by policy, posted to
	// FastTrackAction.
	FastTrack       FastTrackForm
	FastTrackAction string
}

// FastTrackForm is the fast-track bounds as a form: the remedy kinds
// policy may approve, and the most per order and per day, in major units.
type FastTrackForm struct {
	Replace, PartialRefund, Refund bool
	MaxOrder, MaxDay               string
}

func (*AdminTiers) page() string { return "admin_tiers" }

// AdminPatterns is the purchase-pattern heatmap (weekday × hour band) and
// its series, SVG drawn by the server from aggregates only.
type AdminPatterns struct {
	AdminBase
	Products     []Choice
	Total        int
	Heatmap      template.HTML
	BandChart    template.HTML
	ProductChart template.HTML
	TiersURL     string
}

func (*AdminPatterns) page() string { return "admin_patterns" }
