package resale

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"veil/server/shop"
)

// Sourcer buys from upstream veils for a downstream shop's sourced
// products (shop.Sourcer), through Client.
type Sourcer struct {
	HTTP *http.Client     // nil: a client with a 30 s timeout
	Now  func() time.Time // nil: time.Now
}

var _ shop.Sourcer = Sourcer{}

func (s Sourcer) client(up shop.Upstream, secret string) *Client {
	return &Client{BaseURL: up.BaseURL, KeyID: up.KeyID, Secret: secret, HTTP: s.HTTP, Now: s.Now}
}

// refused tells a definite "nothing was bought" from an unknown outcome:
// an answer refusing the request for good (bad input, no stock, no
// balance, a limit, a suspended account, an unknown product) is definite;
// no answer, 5xx, 429 and authentication refusals (a clock or a restart)
// are retried. An idempotency_conflict is retried too: it would mean the
// request changed, and the first one may have bought.
func refused(err error) error {
	var e *Error
	if errors.As(err, &e) && e.Code != "idempotency_conflict" &&
		(e.Status == http.StatusBadRequest || e.Status == http.StatusPaymentRequired || e.Status == http.StatusForbidden ||
			e.Status == http.StatusNotFound || e.Status == http.StatusConflict) {
		return fmt.Errorf("%w: %w", shop.ErrUpstreamRefused, err)
	}
	return err
}

// Buy places the order upstream, or repeats it with the same key.
func (s Sourcer) Buy(ctx context.Context, up shop.Upstream, secret, idemKey string, qty int) (shop.UpstreamBuy, error) {
	o, _, err := s.client(up, secret).PlaceOrder(ctx, OrderRequest{Product: up.Product, Quantity: qty, MaxUnitMinor: up.MaxUnitMinor}, idemKey)
	if err != nil {
		return shop.UpstreamBuy{}, refused(err)
	}
	return shop.UpstreamBuy{Order: o.ID, Deliveries: o.Deliveries}, nil
}

// Order fetches an upstream order.
func (s Sourcer) Order(ctx context.Context, up shop.Upstream, secret, id string) (shop.UpstreamBuy, error) {
	o, err := s.client(up, secret).Order(ctx, id)
	if err != nil {
		return shop.UpstreamBuy{}, err
	}
	return shop.UpstreamBuy{Order: o.ID, Deliveries: o.Deliveries}, nil
}

// Available is the upstream product's stock (0 when it is not offered).
func (s Sourcer) Available(ctx context.Context, up shop.Upstream, secret string) (int, error) {
	ps, err := s.client(up, secret).Products(ctx)
	if err != nil {
		return 0, err
	}
	for _, p := range ps {
		if p.ID == up.Product || p.Slug == up.Product {
			return p.Available, nil
		}
	}
	return 0, nil
}

var _ shop.TicketForwarder = Sourcer{}

func upstreamTicket(t TicketJSON) shop.UpstreamTicket {
	return shop.UpstreamTicket{ID: t.ID, Status: t.Status, Remedy: t.Remedy, AmountMinor: t.AmountMinor}
}

// OpenTicket opens (or, with the same key, finds) the upstream ticket.
func (s Sourcer) OpenTicket(ctx context.Context, up shop.Upstream, secret, idemKey, order, item string, reason shop.Reason, detail string) (shop.UpstreamTicket, error) {
	t, err := s.client(up, secret).OpenTicket(ctx, order, TicketRequest{ItemID: item, Reason: reason, Detail: detail}, idemKey)
	if err != nil {
		return shop.UpstreamTicket{}, err
	}
	return upstreamTicket(t), nil
}

// Ticket reads an upstream ticket's progress.
func (s Sourcer) Ticket(ctx context.Context, up shop.Upstream, secret, id string) (shop.UpstreamTicket, error) {
	t, err := s.client(up, secret).Ticket(ctx, id)
	if err != nil {
		return shop.UpstreamTicket{}, err
	}
	return upstreamTicket(t), nil
}
