package pages

import (
	"fmt"
	"html/template"
	"time"
)

// Base is what every page has: the language, the asset URLs, the language
// switch and the translator. Templates call its methods: {{.T "key"}},
// {{$.URL "/order"}}, {{$.When .ExpiresAt}}.
type Base struct {
	Lang string
	Now  time.Time
	CSS  string // hashed stylesheet URL
	JS   string // hashed script URL
	// Langs is the language switch. On a page rendered from a POST that
	// carries the order token, SwitchToken is set and each option is a POST
	// form to its URL with the token in the body, so that switching language
	// neither loses the page nor puts the token in a URL.
	Langs       []LangOption
	SwitchToken string
	// Scripts are extra hashed script URLs this page loads (chat.js,
	// wallet.js); each enhances a page that works without it.
	Scripts []string
	// NoticeKey is the fingerprint of the shop's notice-signing key, shown
	// in every footer so buyers can check a signed notice.
	NoticeKey string
	// Zone is the shop's time zone (nil: UTC); When shows times in it.
	Zone *time.Location
	// Brand is the merchant's name, logo, announcement and contacts
	// (brand.go; issue 12).
	Brand Brand

	tr map[string]string
}

func (b *Base) base() *Base { return b }

// LangOption is one entry of the language switch.
type LangOption struct {
	Code    string // "en"
	Label   string // "English"
	URL     string // the current page in that language
	Current bool
}

// T translates key; an unknown key shows as itself (the tests make sure
// none is unknown).
func (b Base) T(key string) string {
	if s, ok := b.tr[key]; ok {
		return s
	}
	return key
}

// Tf translates key and formats args into it.
func (b Base) Tf(key string, args ...any) string {
	return fmt.Sprintf(b.T(key), args...)
}

// URL returns path in the page's language (path must have no query).
func (b Base) URL(path string) string {
	return path + "?lang=" + b.Lang
}

// When formats t in the shop's time zone with its offset
// ("2026-12-03 23:04 UTC+08:00"): veil knows nothing of the buyer's time
// zone and does not ask, so the offset is always spelled out.
func (b Base) When(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	zone := b.Zone
	if zone == nil {
		zone = time.UTC
	}
	t = t.In(zone)
	if _, off := t.Zone(); off == 0 {
		return t.Format("2006-01-02 15:04") + " UTC"
	}
	return t.Format("2006-01-02 15:04 UTC-07:00")
}

// ZoneName is the shop's time zone's IANA name, for scripts that show
// times as When does.
func (b Base) ZoneName() string {
	if b.Zone == nil {
		return "UTC"
	}
	return b.Zone.String()
}

// ISO formats t for a <time datetime=...> attribute.
func (b Base) ISO(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// Rel says how far t is from now, in words: "in 14 minutes", "3 天前".
func (b Base) Rel(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	now := b.Now
	if now.IsZero() {
		now = time.Now()
	}
	d := t.Sub(now)
	future := d >= 0
	if !future {
		d = -d
	}
	var span string
	switch {
	case d < time.Minute:
		return b.T("time.now")
	case d < time.Hour:
		span = b.count(int(d/time.Minute), "time.minute", "time.minutes")
	case d < 48*time.Hour:
		span = b.count(int(d/time.Hour), "time.hour", "time.hours")
	default:
		span = b.count(int(d/(24*time.Hour)), "time.day", "time.days")
	}
	if future {
		return b.Tf("time.future", span)
	}
	return b.Tf("time.past", span)
}

func (b Base) count(n int, one, many string) string {
	if n == 1 {
		return b.T(one)
	}
	return b.Tf(many, n)
}

// ProductCard is a product as the catalog lists it.
type ProductCard struct {
	ID      string
	Slug    string
	Path    string // "/p/<slug>"
	Name    string
	Summary string
	Price   string // formatted, "¥9.90"
	InStock int
	SoldOut bool
	// Paused: sold out only because the seller froze a batch (issue 13
	// §2): "temporarily unavailable" rather than "sold out".
	Paused bool
	// Image is the URL of the product's first image, empty for none
	// (brand.go).
	Image string
}

// Catalog is the home page: every product.
type Catalog struct {
	Base
	Products []ProductCard
	// Search and categories (brand.go): the query typed, the category
	// filter, and whether anything narrows the list.
	Query      string
	Categories []CatalogCategory
	AllURL     string // the catalog without a category, keeping the query
	Category   string // the current category id, "" for all
	Filtered   bool
}

func (*Catalog) page() string { return "catalog" }

// Disclosure is what a product page tells before purchase; empty fields
// render as "not stated".
type Disclosure struct {
	Validity    string
	Regions     string
	Devices     string
	UsageGuide  string
	FailureRate string // "1.5%"
}

// Policy is the after-sales promise as shown to a buyer.
type Policy struct {
	WindowHours       int
	Remedies          []string // translated
	CoolingOffMinutes int
	AutoApproveTier   int
}

// ProductPage shows one product with its disclosure and policy, and the
// quantity form.
type ProductPage struct {
	Base
	Product     ProductCard
	Description string
	Disclosure  Disclosure
	Policy      Policy
	MaxQuantity int // the form's max: min(per-order limit, stock)
	PerOrder    int // the product's per-order limit
	MaxProofs   int // old tokens the proofs field takes
	// Nonce is the checkout form's one-time nonce: sent twice (a reload of
	// the token page), it places no second order.
	Nonce string
	// PayWith are the payment providers the buyer picks from (radio
	// buttons when more than one; the first is checked).
	PayWith []PayOption
	// Commerce: quantity prices, and the coupon field's value kept when
	// the form comes back with an error.
	PriceBreaks []PriceBreakLine
	Coupon      string
	// Images are the URLs of the product's images (brand.go).
	Images []string
	// Case library (evidence.go): the product's after-sales figures.
	Figures *Figures
}

// PayOption is one payment provider on the product form.
type PayOption struct {
	Name    string // the provider's id, the form value
	Label   string // translated
	Checked bool
}

// Invoice is a payment a gateway created for the order (epusdt): the exact
// amount to send, the wallet, and until when.
type Invoice struct {
	Amount    string // "7.9104 USDT"
	Address   string
	ExpiresAt time.Time
	URI       template.URL  // Monero: the monero: payment URI, else ""
	QR        template.HTML // Monero: the URI as an SVG QR code, else ""
}

func (*ProductPage) page() string { return "product" }

// TokenPage is the "save your token" page, rendered once after checkout.
type TokenPage struct {
	Base
	Token       string   // formatted
	Groups      []string // the token split for display
	Ref         string
	ProductName string
	Quantity    int
	Amount      string
	ExpiresAt   time.Time
	PayURL      string
	PayProvider string
	Invoice     *Invoice // a gateway's invoice (epusdt), else nil
	Tier        int      // the trust tier the presented proofs earned
}

func (*TokenPage) page() string { return "token" }

// PayDemo is the demo provider's payment page.
type PayDemo struct {
	Base
	Ref         string
	ProductName string
	Amount      string
	Status      string // translated status
	Payable     bool   // pending: show the pay button
	Paid        bool   // paid now or before: point to the lookup page
	ExpiresAt   time.Time
}

func (*PayDemo) page() string { return "paydemo" }

// Notices lists the merchant's signed notices.
type Notices struct {
	Base
	Items []string // signed blocks, newest first
}

func (*Notices) page() string { return "notices" }

// Lookup is the form asking for an order token.
type Lookup struct {
	Base
	Error string // translated message, if the last token failed
}

func (*Lookup) page() string { return "lookup" }

// Item is one delivered key.
type Item struct {
	ID  string
	Key string
	// State is "reported_bad" or "recalled" for a key after-sales took
	// back (shown struck through); StateText translates it.
	State     string
	StateText string
	// Compensation marks a key given free on top of the order (issue 13
	// §1); Product names its product, which may be another one.
	Compensation bool
	Product      string
}

// Option is one choice of a select.
type Option struct {
	Value string
	Label string
}

// Ticket is a problem report as its buyer follows it.
type Ticket struct {
	ID         string
	Reason     string // translated
	Status     string // raw, for the badge class
	StatusText string // translated
	Remedy     string // translated; empty until one is proposed
	Amount     string // formatted, for a partial refund
	CreatedAt  time.Time
}

// ThreadMessage is one message of the order's support thread.
type ThreadMessage struct {
	From     string // buyer, staff, system, auto
	FromText string // translated
	Text     string
	At       time.Time
}

// Notice is a message about the order, translated.
type Notice struct {
	Text string
	At   time.Time
	Bad  bool
}

// OrderPage is an order as its token holder sees it.
type OrderPage struct {
	Base
	Ref         string
	Status      string // raw status, for the badge class
	StatusText  string // translated
	StatusHint  string // translated explanation
	ProductName string
	ProductPath string
	Quantity    int
	Amount      string
	Tier        int
	Items       []Item
	Delivered   bool
	Pending     bool
	PayURL      string
	Invoice     *Invoice // a gateway's invoice while pending (epusdt), else nil
	ExpiresAt   time.Time
	WindowEnds  time.Time
	Notices     []Notice

	// Signed receipts (evidence.go): the order has one to download.
	Receipt bool

	// Token goes back in the hidden field of every form on the page (never
	// in a URL).
	Token string
	// KeysHidden: the product has a cooling-off period and the keys were
	// never shown, so the page offers "show my keys" instead of showing
	// them (showing them ends the cooling-off offer).
	KeysHidden bool
	// CoolingOff offers a refund without reason until CoolingOffEnds.
	CoolingOff     bool
	CoolingOffEnds time.Time
	RewardCode     string // a discount code this order earned
	// Commerce: compensation vouchers for the token holder, and what a
	// coupon or voucher took off this order ("" for nothing).
	Vouchers  []VoucherLine
	CouponOff string
	// Flash is the outcome of the form just sent; FlashBad marks a failure.
	Flash    string
	FlashBad bool
	// After-sales: tickets, the sealed thread opened with the token, and the
	// forms. CanReport: the order is paid. CanMessage: the thread can take
	// a message. Chat: the live chat button (JavaScript) may be offered.
	Tickets     []Ticket
	Thread      []ThreadMessage
	Reasons     []Option
	ItemOptions []Option
	CanReport   bool
	CanMessage  bool
	Chat        bool
	// Detail and Message keep what the buyer typed when a form failed.
	Detail  string
	Message string
}

func (*OrderPage) page() string { return "order" }

// ErrorPage explains a failed request.
type ErrorPage struct {
	Base
	Status    int
	Code      string
	Title     string // translated
	Message   string // translated, or the input error's own text
	BackURL   string // where to go on from, with the page's language
	BackLabel string // translated
}

func (*ErrorPage) page() string { return "error" }

// PowPage is the checkout's answer when the hoarding guard asks for proof
// of work (428): the same order again, paid with work by a Web Worker
// (JavaScript), or with a wait (a delay ticket, without JavaScript).
type PowPage struct {
	Base
	Fields    []Field // the checkout form's fields, repeated
	Challenge string  // the work to pay
	Bits      int
	WorkerURL string
	// Ticket is a delay ticket for the form without JavaScript, valid
	// from WaitSeconds on ("" when too many are out: try again later);
	// NotYet says the buyer came back too early.
	Ticket      string
	WaitSeconds int
	NotYet      bool
}

// Field is one hidden form field.
type Field struct{ Name, Value string }

func (*PowPage) page() string { return "pow" }
