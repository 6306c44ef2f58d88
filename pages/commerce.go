package pages

import "time"

// The merchant's commerce tools (issues 12 and 13 §1): coupons, quantity
// prices, compensation vouchers, order search and export.

func init() { adminPageNames = append(adminPageNames, "admin_coupons") }

// PriceBreakLine is a quantity price on the product page: from From units
// on, each costs Price.
type PriceBreakLine struct {
	From  int
	Price string
}

// VoucherLine is a compensation voucher on the order page (token holder
// only): the code, its value, and whether it was spent.
type VoucherLine struct {
	Code   string
	Amount string
	Used   bool
}

// AdminCouponRow is a coupon in the console list.
type AdminCouponRow struct {
	Code     string
	Off      string // "10%" or "¥5.00"
	Scope    string // translated: whole shop, a product, a category
	Used     int
	Limit    int // 0: no limit
	Min      string
	Starts   time.Time
	Ends     time.Time
	Disabled bool
	Active   bool
}

// AdminVoucherStat counts vouchers of one currency.
type AdminVoucherStat struct {
	Currency  string
	Issued    int
	IssuedSum string
	Used      int
	UsedSum   string
	Automatic int
}

// AdminCoupons is the coupons page: the list with usage, the create form,
// the compensation rule and voucher counts.
type AdminCoupons struct {
	AdminBase
	Coupons    []AdminCouponRow
	Products   []Choice
	Categories []Choice
	Currencies []Choice
	TimeZone   string
	Owner      bool
	// The compensation rule in force.
	RulePercent     int
	RuleLateMinutes int
	RuleLate        bool
	RuleRefundDue   bool
	Vouchers        []AdminVoucherStat
}

func (*AdminCoupons) page() string { return "admin_coupons" }
