package pages

import (
	"html/template"
	"strings"
	"time"
)

// The merchant console's pages. They share admin_layout.html (console
// navigation, no buyer footer) and embed AdminBase. Every form that changes
// something carries AdminBase.CSRF.

// adminPageNames lists the console's templates; each is parsed with
// admin_layout.html.
var adminPageNames = []string{
	"admin_login", "admin_enrol", "admin_dashboard", "admin_approvals", "admin_orders",
	"admin_products", "admin_product_form", "admin_import", "admin_stock", "admin_audit",
	"admin_vault", "admin_staff",
	"admin_tickets", "admin_ticket", "admin_rooms", "admin_chat", "admin_tiers", "admin_patterns",
	"admin_owed",
}

// AdminBase is what every console page has besides Base: who is signed in,
// the CSRF token for its forms and which section the navigation marks.
type AdminBase struct {
	Base
	User     string // empty on the login and enrolment pages
	Role     string
	CSRF     string
	Section  string // dashboard, approvals, orders, products, audit, vault, staff
	AdminCSS string // hashed console stylesheet URL
	AdminJS  string // hashed console script URL
	Pending  int    // approvals waiting, for the navigation badge
	Locked   bool   // the vault is locked: a banner says so
	Notice   string // translated one-line outcome of the last action
	Bad      bool   // Notice reports a failure
}

// Pager links to the next page of a list; empty Next means the last page.
type Pager struct {
	Next  string // URL of the next page, with the language
	First string // URL of the first page, set when not on it
}

// AdminLogin is the sign-in form.
type AdminLogin struct {
	AdminBase
	Name  string
	Error string // translated
}

func (*AdminLogin) page() string { return "admin_login" }

// AdminEnrol walks a new staff member through TOTP enrolment: Step "start"
// asks for name and enrolment secret, "scan" shows the QR code and asks
// for the member's own password and first code, "done" shows the recovery
// codes once. With Reenrol it is the re-enrolment after a recovery code
// ("scan", then "done"). Step "handover" shows the approver of a new
// member the member's one-time enrolment secret.
type AdminEnrol struct {
	AdminBase
	Step        string
	Reenrol     bool
	Name        string
	QR          template.URL // data:image/png;base64,… built from the PNG bytes only
	OTPURL      string
	Secret      string // the TOTP secret
	EnrolSecret string // the one-time enrolment secret (scan: carried to the finish form; handover: shown)
	Action      string // where the scan step's form posts
	Recovery    []string
	Error       string // translated
}

func (*AdminEnrol) page() string { return "admin_enrol" }

// AdminProductStat is a product's line on the dashboard.
type AdminProductStat struct {
	ID        string
	Name      string
	InStock   int
	Low       bool
	Delivered int
	Reported  int
	Rate      string // reported / delivered, "1.5%"
	StockURL  string
}

// AdminBatchStat is a supplier batch's after-sales line.
type AdminBatchStat struct {
	ID        string
	Product   string
	Supplier  string
	Date      string
	Delivered int
	Reported  int
	Recalled  int
	Rate      string
}

// AdminDashboard is the console's overview. The charts are SVG markup
// generated from numbers and escaped labels only.
type AdminDashboard struct {
	AdminBase
	// Payments are the providers on, in order (the first is the default).
	Payments     []string
	Days         int
	Orders       int
	Revenue      string
	OrdersChart  template.HTML
	RevenueChart template.HTML
	RateChart    template.HTML
	Products     []AdminProductStat
	Batches      []AdminBatchStat
	LowStock     int
	ApprovalsURL string
	PendingCount int
	HasSales     bool
	// OwedCount payments are owed back to buyers, OwedTotal in all.
	OwedCount int
	OwedTotal string
}

func (*AdminDashboard) page() string { return "admin_dashboard" }

// AdminApproval is one approval as the console lists it.
type AdminApproval struct {
	ID          string
	Kind        string // raw kind, for the badge
	KindText    string // translated
	Ref         string
	Summary     string
	Details     []Detail // the params in words
	ProposedBy  string
	Status      string
	StatusText  string
	CreatedAt   time.Time
	DecidedAt   time.Time
	DecidedBy   string
	Result      string
	CanDecide   bool   // this staff member may approve it
	Self        bool   // proposed by this staff member (may withdraw)
	DownloadURL string // an approved export not yet downloaded
}

// Detail is one labelled value of an approval.
type Detail struct{ Label, Value string }

// AdminApprovals is the queue and its history.
type AdminApprovals struct {
	AdminBase
	Queue   []AdminApproval
	History []AdminApproval
	Pager   Pager
}

func (*AdminApprovals) page() string { return "admin_approvals" }

// AdminOrder is an order as staff see it: no token, no key.
type AdminOrder struct {
	Ref        string
	Product    string
	Quantity   int
	Amount     string
	Status     string
	StatusText string
	CreatedAt  time.Time
	Refundable bool
	// Commerce: the provider's trade number; Compensable offers the
	// voucher form (a paid order).
	TradeNo     string
	Compensable bool
}

// Choice is one choice of a select.
type Choice struct {
	Value    string
	Label    string
	Selected bool
}

// AdminOrders lists orders, newest first, with a refund form each.
type AdminOrders struct {
	AdminBase
	Orders   []AdminOrder
	Statuses []Choice
	Products []Choice
	Pager    Pager
	// Commerce: the search as sent (kept in the form and the export),
	// the shop's time zone the days are read in, and whether the export
	// form shows (owners).
	Query    OrderQuery
	TimeZone string
	Owner    bool
}

// OrderQuery is the console order search as the form sent it.
type OrderQuery struct {
	Status, Product, Ref, TradeNo, From, To string
}

func (*AdminOrders) page() string { return "admin_orders" }

// AdminOwedPayment is a payment owed back to a buyer.
type AdminOwedPayment struct {
	Ref, Product, Provider, TradeNo string
	Amount                          string
	Reason, OrderStatus             string // translated
}

// AdminOwed lists the payments owed back, with their total.
type AdminOwed struct {
	AdminBase
	Payments []AdminOwedPayment
	Count    int
	Total    string // per currency
	Pager    Pager
}

func (*AdminOwed) page() string { return "admin_owed" }

// AdminProductRow is a product in the console's list.
type AdminProductRow struct {
	ID       string
	Slug     string
	Name     string
	Price    string
	Kind     string
	InStock  int
	Low      bool
	EditURL  string
	StockURL string
	KeysURL  string
}

// AdminProducts lists the catalog.
type AdminProducts struct {
	AdminBase
	Products []AdminProductRow
}

func (*AdminProducts) page() string { return "admin_products" }

// ProductForm holds a product form's fields as typed (both languages).
type ProductForm struct {
	Slug          string
	NameEN        string
	NameZH        string
	DescEN        string
	DescZH        string
	Price         string // major units as typed, "9.90"
	Currency      string
	Kind          string
	MaxPerOrder   string
	ValidityEN    string
	ValidityZH    string
	RegionsEN     string
	RegionsZH     string
	DevicesEN     string
	DevicesZH     string
	GuideEN       string
	GuideZH       string
	FailureRate   string // permille
	WindowHours   string
	CoolingOff    string
	AutoApprove   string
	RemedyReplace bool
	RemedyPartial bool
	RemedyRefund  bool
	KeyMinLength  string // fewest characters of a key, "" = the default
	KeyPattern    string // a regular expression the whole key matches
	KeyExample    string // what one key looks like (issue 12)
	PriceBreaks   string // quantity prices, "10:9.00, 50:8.00" (commerce)
}

// AdminProductForm creates (ID empty) or edits a product.
type AdminProductForm struct {
	AdminBase
	ID     string
	Action string // form action URL
	Form   ProductForm
	Error  string // the input error, as the shop words it
}

func (*AdminProductForm) page() string { return "admin_product_form" }

// KeyMinDefault is the shortest key any product takes.
func (*AdminProductForm) KeyMinDefault() int { return 2 }

// ImportOutcome is an import's result as shown.
type ImportOutcome struct {
	BatchID    string
	Imported   int
	Duplicates int
	Rejected   int
	Rejections []ImportRejection
	More       int // rejections not listed
}

// ImportRejection names a refused line, never its content.
type ImportRejection struct {
	Line   int
	Reason string // translated
}

// AdminImport is the key import form, or its result.
type AdminImport struct {
	AdminBase
	ProductID   string
	ProductName string
	Action      string // the no-JS form's URL
	APIURL      string // the JSON route the script uploads to
	StockURL    string
	MaxKeys     int
	MaxMiB      int
	Result      *ImportOutcome
	// Reasons translate every rejection reason, for the upload script.
	Reasons []Choice
	// KeyRule says what the product's keys must look like.
	KeyRule string
}

func (*AdminImport) page() string { return "admin_import" }

// AdminBatchRow is a batch with its key counts.
type AdminBatchRow struct {
	ID        string
	Supplier  string
	Date      string
	Cost      string
	Imported  int
	Available int
	Reserved  int
	Delivered int
	Bad       int
	Recalled  int
	Withdrawn int
	KeysURL   string
	Selected  bool
}

// AdminKey is one key, masked.
type AdminKey struct {
	ID        string
	Batch     string
	State     string
	StateText string
	Order     string
	Mask      string // empty: locked or not in stock
}

// AdminStock is a product's batches and masked keys, with the export and
// deletion forms.
type AdminStock struct {
	AdminBase
	ProductID   string
	ProductName string
	Batch       string // the batch filter, "" = all
	Batches     []AdminBatchRow
	Keys        []AdminKey
	Pager       Pager
	ImportURL   string
	ExportURL   string
	DeleteURL   string
	RecallURL   string // POST a batch recall (admin_remedies.go)
	AllKeysURL  string
}

func (*AdminStock) page() string { return "admin_stock" }

// AdminAuditEntry is one audit entry with its chain hash.
type AdminAuditEntry struct {
	Seq    uint64
	At     time.Time
	Actor  string
	Action string
	// ActionText is the action in words ("" when the pages have none).
	ActionText string
	Ref        string
	Detail     string
	Hash       string
	Prev       string
}

// AuditCheck is the "verify chain" result.
type AuditCheck struct {
	OK       bool
	Entries  int
	FirstBad uint64
	Reason   string
	HeadSeq  uint64
	HeadHash string
}

// AdminAudit is the audit log, newest first.
type AdminAudit struct {
	AdminBase
	Entries   []AdminAuditEntry
	Pager     Pager
	Check     *AuditCheck
	VerifyURL string
}

func (*AdminAudit) page() string { return "admin_audit" }

// AdminVault shows the vault state with the unlock and lock forms.
type AdminVault struct {
	AdminBase
	Initialized bool
}

func (*AdminVault) page() string { return "admin_vault" }

// AdminUser is a staff member as listed.
type AdminUser struct {
	Name         string
	Role         string
	RoleText     string
	Enrolled     bool
	RecoveryLeft int
	CreatedAt    time.Time
	CreatedBy    string
	Self         bool
}

// KindSetting is one approval kind's two-person switch.
type KindSetting struct {
	Kind      string
	Label     string
	TwoPerson bool
}

// AdminStaff lists staff with the add, remove and role forms, and the
// two-person settings.
type AdminStaff struct {
	AdminBase
	Users    []AdminUser
	Roles    []Choice
	Settings []KindSetting
	// ShopSettings is the time zone and retention form (owners only).
	ShopSettings *ShopSettings
}

func (*AdminStaff) page() string { return "admin_staff" }

// ShopSettings are the shop-wide settings in force.
type ShopSettings struct {
	TimeZone         string
	RetentionDays    int
	MinDays, MaxDays int
	// XMR is set when the Monero rail is on: the rates in force, e.g.
	// "CNY 1,200.00" per XMR.
	XMR      bool
	XMRRates []string
}

// Digits is the number of minor-unit digits of currency (2 when unknown),
// for console forms that take amounts in major units.
func Digits(currency string) int {
	if c, ok := currencies[strings.ToUpper(currency)]; ok {
		return c.digits
	}
	return 2
}
