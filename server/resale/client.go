package resale

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"veil/crypto"
)

// Client calls an upstream veil's reseller API: it signs every request and
// sends a POST's Idempotency-Key. It is what a downstream shop (or a
// script) uses to dock onto a supplier.
type Client struct {
	BaseURL string // the upstream shop, e.g. https://upstream.example
	KeyID   string // rk_…
	Secret  string // rs_…, as shown once when issued
	HTTP    *http.Client
	Now     func() time.Time // nil: time.Now
}

// Error is a refused call: the HTTP status and the API's error code.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("resale: upstream answered %d %s: %s", e.Status, e.Code, e.Message)
}

// Replayed reports whether the last answer of do repeated a first answer.
type result struct {
	replayed bool
}

func (c *Client) do(ctx context.Context, method, path string, in, out any, idemKey string) (result, error) {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return result{}, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, bytes.NewReader(body))
	if err != nil {
		return result{}, err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	SignRequest(req, c.KeyID, c.Secret, body, now(), crypto.RandomID("n", 16), idemKey)
	hc := c.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return result{}, fmt.Errorf("resale: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return result{}, fmt.Errorf("resale: read answer: %w", err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		_ = json.Unmarshal(b, &e)
		return result{}, &Error{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
	}
	if err := json.Unmarshal(b, out); err != nil {
		return result{}, fmt.Errorf("resale: decode answer: %w", err)
	}
	return result{replayed: resp.Header.Get(HeaderReplayed) == "true"}, nil
}

// Products lists the products with the account's agent prices and stock.
func (c *Client) Products(ctx context.Context) ([]ProductJSON, error) {
	var out struct {
		Products []ProductJSON `json:"products"`
	}
	_, err := c.do(ctx, http.MethodGet, "/api/v1/reseller/products", nil, &out, "")
	return out.Products, err
}

// Balance returns the account's standing.
func (c *Client) Balance(ctx context.Context) (BalanceJSON, error) {
	var out BalanceJSON
	_, err := c.do(ctx, http.MethodGet, "/api/v1/reseller/balance", nil, &out, "")
	return out, err
}

// LedgerEntryJSON is one balance movement.
type LedgerEntryJSON struct {
	Seq          uint64    `json:"seq"`
	At           time.Time `json:"at"`
	Kind         string    `json:"kind"`
	DeltaMinor   int64     `json:"delta_minor"`
	BalanceMinor int64     `json:"balance_minor"`
	Ref          string    `json:"ref"`
	Note         string    `json:"note"`
}

// Ledger lists balance movements, newest first, below before (0: from the
// newest); next is the cursor of the following page (0 at the end).
func (c *Client) Ledger(ctx context.Context, before uint64, limit int) (entries []LedgerEntryJSON, next uint64, err error) {
	q := url.Values{}
	if before > 0 {
		q.Set("before", strconv.FormatUint(before, 10))
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	path := "/api/v1/reseller/ledger"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out struct {
		Entries []LedgerEntryJSON `json:"entries"`
		Next    uint64            `json:"next"`
	}
	_, err = c.do(ctx, http.MethodGet, path, nil, &out, "")
	return out.Entries, out.Next, err
}

// PlaceOrder buys and returns the order with its sealed deliveries. Send
// the same idemKey again after a timeout or a crash: the upstream answers
// the first order (replayed set) and charges nothing more.
func (c *Client) PlaceOrder(ctx context.Context, req OrderRequest, idemKey string) (o OrderJSON, replayed bool, err error) {
	r, err := c.do(ctx, http.MethodPost, "/api/v1/reseller/orders", req, &o, idemKey)
	return o, r.replayed, err
}

// Order fetches an order (a replacement shows as a further delivery).
func (c *Client) Order(ctx context.Context, id string) (OrderJSON, error) {
	var o OrderJSON
	_, err := c.do(ctx, http.MethodGet, "/api/v1/reseller/orders/"+url.PathEscape(id), nil, &o, "")
	return o, err
}

// OpenTicket files a ticket on an item of an order.
func (c *Client) OpenTicket(ctx context.Context, orderID string, req TicketRequest, idemKey string) (TicketJSON, error) {
	var t TicketJSON
	_, err := c.do(ctx, http.MethodPost, "/api/v1/reseller/orders/"+url.PathEscape(orderID)+"/tickets", req, &t, idemKey)
	return t, err
}

// Ticket reads a ticket's progress; its thread's messages are sealed to
// the account's recipient.
func (c *Client) Ticket(ctx context.Context, id string) (TicketJSON, error) {
	var t TicketJSON
	_, err := c.do(ctx, http.MethodGet, "/api/v1/reseller/tickets/"+url.PathEscape(id), nil, &t, "")
	return t, err
}
