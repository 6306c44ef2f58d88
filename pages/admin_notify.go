package pages

import "time"

func init() { adminPageNames = append(adminPageNames, "admin_notify") }

// AdminNotify is the merchant notifications page: the Telegram and webhook
// channels (secret hints only), events per channel, low-stock thresholds
// per product, a "send test" per channel and the recent deliveries.
type AdminNotify struct {
	AdminBase
	Off        bool // this process sends no notifications
	Channels   []NotifyChannel
	Products   []NotifyProduct
	Deliveries []NotifyDelivery
}

func (*AdminNotify) page() string { return "admin_notify" }

// NotifyChannel is one channel's settings as shown.
type NotifyChannel struct {
	Name       string // telegram or webhook
	Target     string // chat id or URL
	Hint       string // a little of the secret, "" when none is set
	Configured bool
	Lang       string
	Events     []NotifyEvent
}

// NotifyEvent is one event kind with its checkbox state.
type NotifyEvent struct {
	Kind, Label string
	On          bool
}

// NotifyProduct is a product with its low-stock threshold (0: none).
type NotifyProduct struct {
	ID, Name  string
	InStock   int
	Threshold int
}

// NotifyDelivery is one recent delivery.
type NotifyDelivery struct {
	Channel, Event, Ref string
	State, StateText    string
	Attempts            int
	Error               string
	At                  time.Time
}
