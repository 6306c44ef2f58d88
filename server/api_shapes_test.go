package server

import (
	"veil/server/pay"
	"veil/server/shop"
	"veil/server/staff"
)

// The answers of API.md as a client decodes them. They are written out here
// rather than borrowed from the handlers (server/storefront,
// server/console), so that a changed JSON tag fails a test instead of
// moving the test along with it.

// staffCookie is the name of the console's session cookie.
const staffCookie = "veil_staff"

// POST /api/v1/orders.
type orderCreated struct {
	Token       string    `json:"token"`
	Ref         string    `json:"ref"`
	Status      string    `json:"status"`
	AmountMinor int64     `json:"amount_minor"`
	Currency    string    `json:"currency"`
	Tier        int       `json:"tier"`
	ExpiresAt   string    `json:"expires_at"`
	Payment     pay.Start `json:"payment"`
}

// GET /api/v1/order.
type orderJSON struct {
	Ref         string         `json:"ref"`
	Status      string         `json:"status"`
	Product     string         `json:"product"`
	Quantity    int            `json:"quantity"`
	AmountMinor int64          `json:"amount_minor"`
	Currency    string         `json:"currency"`
	Tier        int            `json:"tier"`
	Items       []itemJSON     `json:"items"`
	AfterSales  afterSalesJSON `json:"after_sales"`
	Notices     []noticeJSON   `json:"notices"`
	ExpiresAt   string         `json:"expires_at,omitempty"`
	Payment     *pay.Start     `json:"payment,omitempty"`
}

type itemJSON struct {
	ID    string `json:"id"`
	Key   string `json:"key"`
	State string `json:"state,omitempty"`
}

type noticeJSON struct {
	Code string `json:"code"`
	At   string `json:"at"`
}

type afterSalesJSON struct {
	WindowEnds *string       `json:"window_ends"`
	Tickets    []ticketBrief `json:"tickets"`
}

type ticketBrief struct {
	ID          string  `json:"id"`
	Reason      string  `json:"reason"`
	Status      string  `json:"status"`
	Remedy      *string `json:"remedy"`
	AmountMinor int64   `json:"amount_minor,omitempty"`
	ItemID      string  `json:"item_id,omitempty"`
	CreatedAt   string  `json:"created_at"`
	UpdatedAt   string  `json:"updated_at"`
}

// POST /api/v1/order/tickets.
type ticketCreated struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// POST /api/v1/order/chat.
type chatOpened struct {
	Room       string `json:"room"`
	JoinSecret string `json:"join_secret"`
	WSPath     string `json:"ws_path"`
}

// GET /api/v1/admin/tickets/:id.
type adminTicketJSON struct {
	Ticket       shop.Ticket        `json:"ticket"`
	Order        adminOrderBrief    `json:"order"`
	Thread       []staffMessageJSON `json:"thread"`
	ThreadLocked bool               `json:"thread_locked"`
	Approval     *staff.Approval    `json:"approval,omitempty"`
}

type adminOrderBrief struct {
	Ref         string          `json:"ref"`
	Product     string          `json:"product"`
	Status      string          `json:"status"`
	Quantity    int             `json:"quantity"`
	AmountMinor int64           `json:"amount_minor"`
	Refunded    int64           `json:"refunded_minor"`
	Currency    string          `json:"currency"`
	Tier        int             `json:"tier"`
	Items       []adminItemJSON `json:"items"`
	DeliveredAt string          `json:"delivered_at,omitempty"`
	WindowEnds  string          `json:"window_ends,omitempty"`
}

type adminItemJSON struct {
	ID    string `json:"id"`
	State string `json:"state"`
}

type staffMessageJSON struct {
	From  string `json:"from"`
	Staff string `json:"staff,omitempty"`
	Text  string `json:"text"`
	At    string `json:"at"`
}

// POST /api/v1/admin/products/:id/keys.
type importAnswer struct {
	Batch      string           `json:"batch"`
	Imported   int              `json:"imported"`
	Duplicates int              `json:"duplicates"`
	Rejected   int              `json:"rejected"`
	Rejections []shop.Rejection `json:"rejections"`
}

// GET /api/v1/admin/settings.
type settingsJSON struct {
	TimeZone      string           `json:"time_zone"`
	RetentionDays int              `json:"retention_days"`
	TwoPerson     map[string]bool  `json:"two_person"`
	XMRRate       map[string]int64 `json:"xmr_rate"`
}

// GET /api/v1/admin/owed.
type owedJSON struct {
	Ref         string `json:"ref"`
	Product     string `json:"product"`
	Provider    string `json:"provider"`
	TradeNo     string `json:"trade_no"`
	AmountMinor int64  `json:"amount_minor"`
	Currency    string `json:"currency"`
	Reason      string `json:"reason"`
	OrderStatus string `json:"order_status"`
	Band        string `json:"band"`
}
