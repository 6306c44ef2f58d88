package shop

import (
	"errors"
	"fmt"
	"time"
)

// Contract errors. The HTTP layer maps each to a documented error code.
var (
	ErrProductNotFound = errors.New("shop: product not found")    // 404 product_not_found
	ErrOrderNotFound   = errors.New("shop: order not found")      // 404 order_not_found
	ErrOutOfStock      = errors.New("shop: out of stock")         // 409 out_of_stock
	ErrSlugTaken       = errors.New("shop: slug taken")           // 409 slug_taken
	ErrLocked          = errors.New("shop: vault locked")         // 503 vault_locked
	ErrWrongPassphrase = errors.New("shop: wrong passphrase")     // 401 wrong_passphrase
	ErrTierLimit       = errors.New("shop: tier limit")           // 403 tier_limit
	ErrNotPayable      = errors.New("shop: order cannot be paid") // 409 not_payable
	ErrNotRefundable   = errors.New("shop: nothing to refund")    // 409 not_refundable
)

// InputError is a request that cannot be served as given: 400 bad_request
// with Message shown to the client. Message never contains a token or key.
type InputError struct{ Message string }

func (e *InputError) Error() string { return "shop: " + e.Message }

func inputErr(format string, a ...any) error {
	return &InputError{Message: fmt.Sprintf(format, a...)}
}

// Text is a string in several languages, keyed "en" and "zh-CN".
type Text map[string]string

// In returns the text in lang, falling back to en, then zh-CN, then any.
func (t Text) In(lang string) string {
	if s, ok := t[lang]; ok && s != "" {
		return s
	}
	for _, l := range []string{"en", "zh-CN"} {
		if s := t[l]; s != "" {
			return s
		}
	}
	for _, s := range t {
		return s
	}
	return ""
}

// Kind says how a product's keys are sold.
type Kind string

const (
	// Unique keys are each sold once.
	Unique Kind = "unique"
	// Shared keys carry the same content to every buyer; stock counts seats.
	Shared Kind = "shared"
)

// Disclosure is what a buyer is told before paying.
type Disclosure struct {
	Validity   Text `json:"validity,omitempty"`    // e.g. "30 days from activation"
	Regions    Text `json:"regions,omitempty"`     // region limits
	Devices    Text `json:"devices,omitempty"`     // device/platform limits
	UsageGuide Text `json:"usage_guide,omitempty"` // how to redeem
	// FailureRatePermille is the merchant's known failure rate of this
	// product's keys, in tenths of a percent (15 = 1.5%).
	FailureRatePermille int `json:"failure_rate_permille"`
}

// Remedy is what after-sales can give.
type Remedy string

const (
	RemedyReplace       Remedy = "replace"
	RemedyPartialRefund Remedy = "partial_refund"
	RemedyRefund        Remedy = "refund"
)

// Policy is a product's after-sales promise.
type Policy struct {
	// WindowHours is how long after delivery a problem can be reported.
	WindowHours int      `json:"window_hours"`
	Remedies    []Remedy `json:"remedies"`
	// CoolingOffMinutes allows a refund without reason while the keys were
	// never revealed; 0 turns it off.
	CoolingOffMinutes int `json:"cooling_off_minutes"`
	// AutoApproveTier: buyers at or above this trust tier get remedies
	// approved automatically; 0 means never.
	AutoApproveTier int `json:"auto_approve_tier"`

	// After-sales by use (issue 13 §5): ProRataDays is, for time-based
	// goods (memberships, subscriptions), the validity period counted from
	// delivery; when set, a ticket may be answered with a refund of the
	// unused share of it at the moment the ticket was opened (ProRata).
	// 0 turns it off.
	ProRataDays int `json:"pro_rata_days,omitempty"`
}

// Product is an item of the catalog.
type Product struct {
	ID          string     `json:"id"`
	Slug        string     `json:"slug"`
	Name        Text       `json:"name"`
	Description Text       `json:"description,omitempty"`
	PriceMinor  int64      `json:"price_minor"`
	Currency    string     `json:"currency"`
	Kind        Kind       `json:"kind"`
	MaxPerOrder int        `json:"max_per_order"`
	Disclosure  Disclosure `json:"disclosure"`
	Policy      Policy     `json:"policy"`
	// KeyFormat is what its keys look like; imports reject the rest.
	KeyFormat KeyFormat `json:"key_format,omitzero"`
	CreatedAt time.Time `json:"created_at"`
	// Catalogue (issue 12, the shop is theirs): where and whether the
	// product shows on the storefront.
	//
	// Category is a category id ("" for none); Sort orders the storefront
	// (lower first, then creation order); Status is on_sale unless the
	// merchant took it off sale, archived or deleted it (listing.go);
	// Images are content hashes of its re-encoded images (images.go).
	Category string        `json:"category,omitempty"`
	Sort     int           `json:"sort,omitempty"`
	Status   ProductStatus `json:"status,omitempty"`
	Images   []string      `json:"images,omitempty"`
	// Commerce: quantity pricing (pricing.go), unit prices from a quantity
	// on, rising quantities and falling prices.
	PriceBreaks []PriceBreak `json:"price_breaks,omitempty"`
	// InStock is computed on read: keys (or seats) available now.
	InStock int `json:"in_stock"`
	// FrozenStock is computed on read too: unsold keys held back by batch
	// freezes (issue 13 §2); staff see it, buyers do not (json "-").
	// TemporarilyUnavailable is set when nothing is in stock but frozen
	// keys are: buyers see "temporarily unavailable", not "sold out".
	FrozenStock            int  `json:"-"`
	TemporarilyUnavailable bool `json:"temporarily_unavailable,omitempty"`

	// Resale (issue 14): set when the product is sourced from an upstream
	// veil instead of local keys (sourced.go).
	Upstream *Upstream `json:"upstream,omitempty"`
}

// Batch is one import of keys from a supplier.
type Batch struct {
	ID        string `json:"id"`
	ProductID string `json:"product_id"`
	Supplier  string `json:"supplier"`
	CostMinor int64  `json:"cost_minor"` // per key
	Date      string `json:"date"`       // YYYY-MM-DD
	Imported  int    `json:"imported"`
	// SealedDataKey is the batch's data key sealed to the vault's inventory
	// recipient; each key of the batch is encrypted under it.
	SealedDataKey []byte `json:"sealed_data_key"`
}

// BatchInfo describes an import.
type BatchInfo struct {
	Supplier  string
	CostMinor int64
	Date      string // YYYY-MM-DD; empty = today
	// Seats is, for a shared product, how many buyers the imported key may
	// be sold to (default 1000).
	Seats int
}

// ImportResult reports an import.
type ImportResult struct {
	BatchID    string      `json:"batch_id"`
	Imported   int         `json:"imported"`
	Duplicates int         `json:"duplicates"`
	Rejected   int         `json:"rejected"`
	Rejections []Rejection `json:"rejections,omitempty"` // first 100
}

// Rejection says why one input line was refused. It names the line, never
// its content.
type Rejection struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"` // empty, too_long, too_short, no_alnum, pattern, bad_char, duplicate
}

// Status is an order's state.
type Status string

const (
	StatusPending           Status = "pending_payment"
	StatusPaid              Status = "paid" // waiting for delivery (e.g. vault locked)
	StatusDelivered         Status = "delivered"
	StatusSettled           Status = "settled"
	StatusExpired           Status = "expired"
	StatusRefundDue         Status = "refund_due"
	StatusRefunded          Status = "refunded"
	StatusReplaced          Status = "replaced"
	StatusPartiallyRefunded Status = "partially_refunded"
)

// Payment is a confirmed payment as a provider reports it.
type Payment struct {
	Provider    string `json:"provider"`
	TradeNo     string `json:"trade_no"` // the provider's id; empty for demo
	AmountMinor int64  `json:"amount_minor"`
	// Band is a coarse time band (the hour, UTC), never the exact instant.
	Band string `json:"band"`
}

// Order is an order as the shop keeps it. It holds no token and no key in
// the clear.
type Order struct {
	Ref         string `json:"ref"`
	ProductID   string `json:"product_id"`
	Quantity    int    `json:"quantity"`
	AmountMinor int64  `json:"amount_minor"`
	Currency    string `json:"currency"`
	Status      Status `json:"status"`
	Tier        int    `json:"tier"`
	// Recipient is the order's age recipient as a string, in records of
	// the old JSON form and orders built in memory from one; an order read
	// in the binary layout holds it raw (rcpt). Read it with
	// RecipientString.
	Recipient   string    `json:"recipient"`
	rcpt        []byte    // raw (crypto.RecipientBytes), from the ref value
	Items       []string  `json:"items"` // reserved / delivered key ids
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	PaidAt      time.Time `json:"paid_at,omitzero"`
	DeliverBy   time.Time `json:"deliver_by,omitzero"`
	DeliveredAt time.Time `json:"delivered_at,omitzero"`
	WindowEnds  time.Time `json:"window_ends,omitzero"`
	SettledAt   time.Time `json:"settled_at,omitzero"`
	PurgeAt     time.Time `json:"purge_at,omitzero"`
	// RetainFrom is when a settled or refunded order's retention started
	// (the purge counts the retention setting from it).
	RetainFrom time.Time `json:"retain_from,omitzero"`
	Payment    *Payment  `json:"payment,omitempty"`
	// Payloads are age files holding delivered keys as JSON []Item; each was
	// sealed to the order recipient, or re-sealed to the token's symmetric
	// recipient on first retrieval (Sym).
	Payloads []Payload `json:"payloads,omitempty"`
	// Revealed is set when the keys were first shown to the token holder.
	Revealed bool `json:"revealed"`
	// Withheld is set, for good, when the order was refunded in full
	// before its keys were ever shown: its sealed deliveries are dropped
	// and nothing that happens later (another payment, a recall, a status
	// change) shows a key again.
	Withheld bool     `json:"withheld,omitempty"`
	Notices  []Notice `json:"notices,omitempty"`
	// Refunds are the amounts paid back, in order.
	Refunds []Refund `json:"refunds,omitempty"`
	// Reward is a discount code granted with this order, sealed to the
	// token's symmetric recipient; Discount is the percent taken off this
	// order by a code presented with it.
	Reward   []byte `json:"reward,omitempty"`
	Discount int    `json:"discount,omitempty"`
	// DiscountKey is the store key of the code spent on this order (a
	// hash of the code, never the code), so that an order expiring unpaid
	// gives the code back (DiscountBack) and a late payment takes it again.
	DiscountKey  string `json:"discount_key,omitempty"`
	DiscountBack bool   `json:"discount_back,omitempty"`
	// Bad marks delivered items that after-sales took back: item id ->
	// reported_bad or recalled.
	Bad map[string]KeyState `json:"bad,omitempty"`
	// PayWith is the payment provider the buyer chose ("" for orders
	// placed before a shop ran several; the default then); Invoice is what
	// a gateway created for it (epusdt), shown again on the order page.
	PayWith string   `json:"pay_with,omitempty"`
	Invoice *Invoice `json:"invoice,omitempty"`
	// Resale (issue 14): the purchase of a sourced product's keys upstream
	// (sourced.go).
	Upstream *UpstreamOrder `json:"upstream,omitempty"`

	// Compensations are extra keys given to this order by approvals
	// (issue 13 §1, compensate.go); their keys are sealed in Payloads,
	// never listed in Items (a refund or replacement does not touch them).
	Compensations []Compensation `json:"compensations,omitempty"`

	// Commerce (pricing.go, coupons.go, vouchers.go). UnitMinor is the
	// unit price after price breaks; CouponOff the minor units a merchant
	// coupon or a voucher took off (CouponCode names a merchant coupon,
	// empty for a voucher, whose code is secret); CouponKey the store key
	// of what was spent, given back (CouponBack) like the discount code.
	UnitMinor  int64  `json:"unit_minor,omitempty"`
	CouponCode string `json:"coupon,omitempty"`
	CouponOff  int64  `json:"coupon_off,omitempty"`
	CouponKey  string `json:"coupon_key,omitempty"`
	CouponBack bool   `json:"coupon_back,omitempty"`
	// Vouchers are compensation vouchers issued for this order, their
	// codes sealed to the order; Compensated names the causes the system
	// already proposed a voucher for (late, refund_due), so each is
	// proposed once.
	Vouchers    []IssuedVoucher `json:"vouchers,omitempty"`
	Compensated []string        `json:"compensated,omitempty"`
}

// Refund is money paid back to the buyer.
type Refund struct {
	AmountMinor int64     `json:"amount_minor"`
	At          time.Time `json:"at"`
}

// Refunded sums the refunds.
func (o *Order) Refunded() int64 {
	var n int64
	for _, r := range o.Refunds {
		n += r.AmountMinor
	}
	return n
}

// Payload is one sealed delivery.
type Payload struct {
	Sealed []byte `json:"sealed"`
	Sym    bool   `json:"sym,omitempty"`
}

// Notice is a message to the buyer shown on the order page.
type Notice struct {
	Code string    `json:"code"` // refund_due, late_payment, recalled ...
	At   time.Time `json:"at"`
}

// Item is one delivered key, in the clear only in memory on its way to the
// token holder.
type Item struct {
	ID  string `json:"id"`
	Key string `json:"key"`
	// State is "reported_bad" or "recalled" for a key that was replaced or
	// recalled; empty for a good one.
	State KeyState `json:"state,omitempty"`
	// Compensation (issue 13 §1) marks a key given, not sold, on top of
	// the order (Product names its product, which may be another one).
	Compensation bool   `json:"compensation,omitempty"`
	Product      string `json:"product,omitempty"`
}

// Placed is the answer to PlaceOrder: the token is shown to the buyer once
// and never stored.
type Placed struct {
	Token string // formatted order token
	Order Order
}

// View is an order as its token holder sees it.
type View struct {
	Order   Order
	Product Product
	Items   []Item // plaintext keys, only once delivered
	// RewardCode is a discount code this order earned, for the buyer's next
	// order (Retrieve and Lookup open it).
	RewardCode string
	// Vouchers are the compensation vouchers issued to the order, their
	// codes open (Retrieve only).
	Vouchers []VoucherView
}

// ErrAmountMismatch: a payment whose amount is not the order's (409 amount_mismatch).
var ErrAmountMismatch = errors.New("shop: payment amount does not match the order")
