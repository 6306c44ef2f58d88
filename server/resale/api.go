package resale

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"veil/crypto"
	"veil/server/shop"
	"veil/server/staff"
)

// MaxBody is the largest request body of the reseller API.
const MaxBody = 16 << 10

// Config is what the handler needs.
type Config struct {
	Shop  *shop.Shop
	Staff *staff.Service // the audit log
	// Now is the clock (tests); Start is when the process started (the
	// nonce floor, see nonces). Zero values: time.Now and New's call.
	Now    func() time.Time
	Start  time.Time
	Logger *slog.Logger
}

// Handler serves /api/v1/reseller/…. Mount it for that prefix, all
// methods; it answers every path under it itself.
type Handler struct {
	shop   *shop.Shop
	staff  *staff.Service
	now    func() time.Time
	log    *slog.Logger
	nonces *nonces
	rate   *limiter
	fails  *limiter // refused signatures of a known key id, for the audit log
	mux    *http.ServeMux
}

// New returns the handler.
func New(cfg Config) *Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Start.IsZero() {
		cfg.Start = cfg.Now()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{shop: cfg.Shop, staff: cfg.Staff, now: cfg.Now, log: cfg.Logger,
		nonces: newNonces(cfg.Start), rate: newLimiter(), fails: newLimiter(), mux: http.NewServeMux()}
	h.route("GET /api/v1/reseller/products", "products", h.products)
	h.route("GET /api/v1/reseller/balance", "balance", h.balance)
	h.route("GET /api/v1/reseller/ledger", "ledger", h.ledger)
	h.route("POST /api/v1/reseller/orders", "order", h.placeOrder)
	h.route("GET /api/v1/reseller/orders/{id}", "order_read", h.order)
	h.route("POST /api/v1/reseller/orders/{id}/tickets", "ticket", h.openTicket)
	h.route("GET /api/v1/reseller/tickets/{id}", "ticket_read", h.ticket)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such route")
	})
	return h
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}

// call is one authenticated request.
type call struct {
	r        *http.Request
	acct     shop.Reseller
	body     []byte
	bodyHash [32]byte
	signed   Signed
	ref      string // what the call touched, for the audit log
}

// answer is what a route returns: a status and a JSON body (raw, for a
// stored idempotent answer), or an error.
type answer struct {
	status   int
	body     any
	raw      []byte
	replayed bool
}

type routeFn func(c *call) (answer, error)

// apiError is an error with its code, status and message.
type apiError struct {
	status        int
	code, message string
	retryAfter    int
}

func (e *apiError) Error() string { return "resale: " + e.code }

func errorf(status int, code, format string, a ...any) error {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, a...)}
}

// route registers fn behind authentication, rate limiting and the audit.
func (h *Handler) route(pattern, action string, fn routeFn) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		c, err := h.authenticate(w, r)
		if err != nil {
			h.refuse(w, c, action, err)
			return
		}
		a, err := fn(c)
		if err != nil {
			h.refuse(w, c, action, err)
			return
		}
		h.audit(c, action, a.status, "")
		if a.replayed {
			w.Header().Set(HeaderReplayed, "true")
		}
		if a.raw != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(a.status)
			_, _ = w.Write(a.raw)
			return
		}
		writeJSON(w, a.status, a.body)
	})
}

// authenticate reads the body and checks the signature, the timestamp
// window, the nonce, the account's status and its rate. The returned call
// is nil when no account was identified.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request) (*call, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errorf(http.StatusRequestEntityTooLarge, "body_too_large", "request body over %d bytes", MaxBody)
		}
		return nil, errorf(http.StatusBadRequest, "bad_request", "could not read the body")
	}
	sg, err := ParseSigned(r)
	switch {
	case errors.Is(err, ErrUnsigned):
		return nil, errorf(http.StatusUnauthorized, "unauthenticated", "sign the request: %s, %s, %s, %s", HeaderKey, HeaderTimestamp, HeaderNonce, HeaderSignature)
	case errors.Is(err, ErrIdemMalformed):
		return nil, errorf(http.StatusBadRequest, "bad_request", "Idempotency-Key: 1 to 128 printable ASCII characters")
	case err != nil:
		return nil, errorf(http.StatusBadRequest, "bad_request", "%s: Unix seconds; %s: 16 to 64 of A-Z a-z 0-9 _ -", HeaderTimestamp, HeaderNonce)
	}
	acct, key, err := h.shop.ResellerKey(sg.KeyID)
	switch {
	case errors.Is(err, shop.ErrLocked):
		return nil, errorf(http.StatusServiceUnavailable, "vault_locked", "the shop is locked, try again later")
	case err != nil:
		// An unknown key id and a bad signature answer alike.
		return nil, errorf(http.StatusUnauthorized, "bad_signature", "the signature does not match")
	}
	c := &call{r: r, acct: acct, body: body, bodyHash: sha256.Sum256(body), signed: sg}
	if !sg.Verify(r, shop.FormatResellerSecret(key), body) {
		return c, errorf(http.StatusUnauthorized, "bad_signature", "the signature does not match")
	}
	if err := h.nonces.check(acct.ID, sg.Nonce, sg.At, h.now()); errors.Is(err, ErrStaleTimestamp) {
		return c, errorf(http.StatusUnauthorized, "stale_timestamp", "the timestamp is more than 5 minutes from the server's clock (or before the server started)")
	} else if err != nil {
		return c, errorf(http.StatusUnauthorized, "nonce_reused", "this nonce was used already")
	}
	if acct.Status != shop.ResellerActive {
		return c, errorf(http.StatusForbidden, "reseller_suspended", "the account is suspended")
	}
	if ok, wait := h.rate.allow(acct.ID, acct.Rate(), h.now()); !ok {
		return c, &apiError{status: http.StatusTooManyRequests, code: "rate_limited", message: "too many requests, retry later",
			retryAfter: max(1, int((wait+time.Second-1)/time.Second))}
	}
	if r.Method == http.MethodPost && sg.IdemKey == "" {
		return c, errorf(http.StatusBadRequest, "idempotency_key_required", "every POST needs an Idempotency-Key")
	}
	return c, nil
}

// refuse answers an error, and audits it when an account was identified
// (refused signatures of a known key id at most 10 a minute, so that
// nobody fills the log; beyond that they are only logged).
func (h *Handler) refuse(w http.ResponseWriter, c *call, action string, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		ae = classify(err)
	}
	if ae.status >= 500 {
		h.log.Error("resale: request failed", "action", action, "err", err)
	}
	if c != nil {
		if ae.status != http.StatusUnauthorized {
			h.audit(c, action, ae.status, ae.code)
		} else if ok, _ := h.fails.allow(c.acct.ID, 10, h.now()); ok {
			h.audit(c, action, ae.status, ae.code)
		} else {
			h.log.Warn("resale: refused request not audited (over 10 a minute)", "reseller", c.acct.ID, "code", ae.code)
		}
	}
	if ae.retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(ae.retryAfter))
	}
	writeError(w, ae.status, ae.code, ae.message)
}

// audit records one call: the account, the action, what it touched, the
// status and the error code. Never a key, a secret or an address.
func (h *Handler) audit(c *call, action string, status int, code string) {
	if h.staff == nil {
		return
	}
	detail := "status=" + strconv.Itoa(status)
	if code != "" {
		detail += " code=" + code
	}
	if err := h.staff.Record("reseller:"+c.acct.ID, "reseller."+action, c.ref, detail); err != nil {
		h.log.Error("resale: audit", "err", err)
	}
}

// classify maps a domain error to its answer; anything unknown is a 500
// that says nothing.
func classify(err error) *apiError {
	var ie *shop.InputError
	switch {
	case errors.As(err, &ie):
		return &apiError{status: http.StatusBadRequest, code: "bad_request", message: ie.Message}
	case errors.Is(err, shop.ErrResellerSuspended):
		return &apiError{status: http.StatusForbidden, code: "reseller_suspended", message: "the account is suspended"}
	case errors.Is(err, shop.ErrInsufficientBalance):
		return &apiError{status: http.StatusPaymentRequired, code: "insufficient_balance", message: "the balance does not cover the order"}
	case errors.Is(err, shop.ErrDailyLimit):
		return &apiError{status: http.StatusForbidden, code: "daily_limit", message: "the order would pass the account's daily limit"}
	case errors.Is(err, shop.ErrCurrencyMismatch):
		return &apiError{status: http.StatusConflict, code: "currency_mismatch", message: "the product is priced in another currency than the account"}
	case errors.Is(err, shop.ErrPriceChanged):
		return &apiError{status: http.StatusConflict, code: "price_changed", message: "the agent price is above max_unit_minor"}
	case errors.Is(err, shop.ErrIdempotencyConflict):
		return &apiError{status: http.StatusConflict, code: "idempotency_conflict", message: "this Idempotency-Key was used for another request"}
	case errors.Is(err, shop.ErrResaleOrderNotFound):
		return &apiError{status: http.StatusNotFound, code: "order_not_found", message: "no such order"}
	case errors.Is(err, shop.ErrProductNotFound):
		return &apiError{status: http.StatusNotFound, code: "product_not_found", message: "no such product"}
	case errors.Is(err, shop.ErrTicketNotFound):
		return &apiError{status: http.StatusNotFound, code: "ticket_not_found", message: "no such ticket"}
	case errors.Is(err, shop.ErrOutOfStock):
		return &apiError{status: http.StatusConflict, code: "out_of_stock", message: "not enough stock for the quantity"}
	case errors.Is(err, shop.ErrWindowClosed):
		return &apiError{status: http.StatusConflict, code: "window_closed", message: "the after-sales window closed"}
	case errors.Is(err, shop.ErrTooManyTickets):
		return &apiError{status: http.StatusTooManyRequests, code: "too_many_tickets", message: "3 open tickets per order at most"}
	case errors.Is(err, shop.ErrLocked):
		return &apiError{status: http.StatusServiceUnavailable, code: "vault_locked", message: "the shop is locked, try again later"}
	}
	return &apiError{status: http.StatusInternalServerError, code: "internal", message: "something went wrong"}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"internal","message":"something went wrong"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	type e struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	}
	writeJSON(w, status, struct {
		Error e `json:"error"`
	}{e{code, message}})
}

// decode reads the body strictly (unknown fields refused, naming them only
// when they look like field names).
func decode(body []byte, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		msg := "malformed JSON"
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok && len(f) <= 34 {
			msg = "unknown field " + f
		}
		return errorf(http.StatusBadRequest, "bad_request", "%s", msg)
	}
	if dec.More() {
		return errorf(http.StatusBadRequest, "bad_request", "unexpected data after the JSON value")
	}
	return nil
}

// ProductJSON is one product as a reseller sees it.
type ProductJSON struct {
	ID          string    `json:"id"`
	Slug        string    `json:"slug"`
	Name        shop.Text `json:"name"`
	Kind        shop.Kind `json:"kind"`
	Currency    string    `json:"currency"`
	RetailMinor int64     `json:"retail_minor"`
	AgentMinor  int64     `json:"agent_minor"`
	Available   int       `json:"available"`
	WindowHours int       `json:"window_hours"`
}

func (h *Handler) products(c *call) (answer, error) {
	ps, err := h.shop.Products()
	if err != nil {
		return answer{}, err
	}
	out := []ProductJSON{}
	for _, p := range ps {
		if p.Currency != c.acct.Currency {
			continue
		}
		out = append(out, ProductJSON{ID: p.ID, Slug: p.Slug, Name: p.Name, Kind: p.Kind, Currency: p.Currency,
			RetailMinor: p.PriceMinor, AgentMinor: c.acct.AgentPrice(p), Available: p.InStock, WindowHours: p.Policy.WindowHours})
	}
	return answer{status: http.StatusOK, body: struct {
		Products []ProductJSON `json:"products"`
	}{out}}, nil
}

// BalanceJSON is an account's standing.
type BalanceJSON struct {
	Reseller        string `json:"reseller"`
	Name            string `json:"name"`
	Status          string `json:"status"`
	Currency        string `json:"currency"`
	BalanceMinor    int64  `json:"balance_minor"`
	DailyLimitMinor int64  `json:"daily_limit_minor"`
	RatePerMinute   int    `json:"rate_per_minute"`
}

func (h *Handler) balance(c *call) (answer, error) {
	a := c.acct
	return answer{status: http.StatusOK, body: BalanceJSON{Reseller: a.ID, Name: a.Name, Status: string(a.Status),
		Currency: a.Currency, BalanceMinor: a.BalanceMinor, DailyLimitMinor: a.DailyLimitMinor, RatePerMinute: a.Rate()}}, nil
}

func (h *Handler) ledger(c *call) (answer, error) {
	q := c.r.URL.Query()
	var before uint64
	limit := 50
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return answer{}, errorf(http.StatusBadRequest, "bad_request", "before: a ledger sequence number")
		}
		before = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			return answer{}, errorf(http.StatusBadRequest, "bad_request", "limit: 1 to 200")
		}
		limit = n
	}
	es, err := h.shop.Ledger(c.acct.ID, before, limit)
	if err != nil {
		return answer{}, err
	}
	if es == nil {
		es = []shop.LedgerEntry{}
	}
	var next uint64
	if len(es) == limit && es[len(es)-1].Seq > 1 {
		next = es[len(es)-1].Seq
	}
	return answer{status: http.StatusOK, body: struct {
		Entries []shop.LedgerEntry `json:"entries"`
		Next    uint64             `json:"next"`
	}{es, next}}, nil
}

// OrderRequest is the body of POST /api/v1/reseller/orders.
type OrderRequest struct {
	Product      string `json:"product"`
	Quantity     int    `json:"quantity"`
	MaxUnitMinor int64  `json:"max_unit_minor,omitempty"`
}

// ItemJSON is one item of a resale order (its key is in a delivery).
type ItemJSON struct {
	ID    string        `json:"id"`
	State shop.KeyState `json:"state,omitempty"`
}

// OrderJSON is a resale order as the API answers it. Deliveries are age
// files (base64) sealed to the account's recipient, each holding the JSON
// array [{"id","key"}] of the keys delivered at once; a replacement adds
// one.
type OrderJSON struct {
	ID            string        `json:"id"`
	Status        shop.Status   `json:"status"`
	Product       string        `json:"product"`
	Quantity      int           `json:"quantity"`
	UnitMinor     int64         `json:"unit_minor"`
	AmountMinor   int64         `json:"amount_minor"`
	RefundedMinor int64         `json:"refunded_minor"`
	Currency      string        `json:"currency"`
	CreatedAt     time.Time     `json:"created_at"`
	Items         []ItemJSON    `json:"items"`
	Deliveries    [][]byte      `json:"deliveries"`
	Notices       []shop.Notice `json:"notices"`
}

func orderJSON(o shop.ResaleOrder, prod string) OrderJSON {
	out := OrderJSON{ID: o.ID, Status: o.Status, Product: prod, Quantity: o.Quantity, UnitMinor: o.UnitMinor,
		AmountMinor: o.AmountMinor, RefundedMinor: o.RefundedMinor, Currency: o.Currency, CreatedAt: o.CreatedAt,
		Items: []ItemJSON{}, Deliveries: [][]byte{}, Notices: o.Notices}
	if out.Notices == nil {
		out.Notices = []shop.Notice{}
	}
	for _, id := range o.Items {
		out.Items = append(out.Items, ItemJSON{ID: id})
	}
	for _, id := range slices.Sorted(maps.Keys(o.Bad)) {
		out.Items = append(out.Items, ItemJSON{ID: id, State: o.Bad[id]})
	}
	for _, p := range o.Payloads {
		out.Deliveries = append(out.Deliveries, p.Sealed)
	}
	return out
}

func (h *Handler) slugOf(pid string) string {
	if p, err := h.shop.Product(pid); err == nil {
		return p.Slug
	}
	return pid
}

func (h *Handler) placeOrder(c *call) (answer, error) {
	var req OrderRequest
	if err := decode(c.body, &req); err != nil {
		return answer{}, err
	}
	pl, err := h.shop.PlaceResale(shop.ResaleRequest{
		Reseller: c.acct.ID, Product: req.Product, Quantity: req.Quantity, MaxUnitMinor: req.MaxUnitMinor,
		IdemKey: c.signed.IdemKey, BodyHash: c.bodyHash,
		Render: func(o shop.ResaleOrder) ([]byte, error) { return json.Marshal(orderJSON(o, h.slugOf(o.ProductID))) },
	})
	if err != nil {
		return answer{}, err
	}
	c.ref = pl.Order.ID
	return answer{status: http.StatusCreated, raw: pl.Answer, replayed: pl.Repeat}, nil
}

func (h *Handler) order(c *call) (answer, error) {
	o, err := h.shop.ResaleOrder(c.acct.ID, c.r.PathValue("id"))
	if err != nil {
		return answer{}, err
	}
	c.ref = o.ID
	return answer{status: http.StatusOK, body: orderJSON(o, h.slugOf(o.ProductID))}, nil
}

// TicketRequest is the body of POST /api/v1/reseller/orders/{id}/tickets.
type TicketRequest struct {
	ItemID string      `json:"item_id"`
	Reason shop.Reason `json:"reason"`
	Detail string      `json:"detail,omitempty"`
}

// MessageJSON is one message of a ticket's thread, an age file (base64)
// sealed to the account's recipient.
type MessageJSON struct {
	From   string    `json:"from"`
	At     time.Time `json:"at"`
	Sealed []byte    `json:"sealed"`
}

// TicketJSON is a resale ticket as the API answers it.
type TicketJSON struct {
	ID          string            `json:"id"`
	Order       string            `json:"order"`
	ItemID      string            `json:"item_id"`
	Reason      shop.Reason       `json:"reason"`
	Status      shop.TicketStatus `json:"status"`
	Remedy      shop.Remedy       `json:"remedy,omitempty"`
	AmountMinor int64             `json:"amount_minor,omitempty"`
	Thread      []MessageJSON     `json:"thread"`
	CreatedAt   time.Time         `json:"created_at"`
	UpdatedAt   time.Time         `json:"updated_at"`
}

func ticketJSON(t shop.ResaleTicket) TicketJSON {
	out := TicketJSON{ID: t.ID, Order: t.Order, ItemID: t.ItemID, Reason: t.Reason, Status: t.Status, Remedy: t.Remedy,
		AmountMinor: t.AmountMinor, Thread: []MessageJSON{}, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt}
	for _, m := range t.Thread {
		out.Thread = append(out.Thread, MessageJSON{From: m.From, At: m.At, Sealed: m.Sealed})
	}
	return out
}

func (h *Handler) openTicket(c *call) (answer, error) {
	var req TicketRequest
	if err := decode(c.body, &req); err != nil {
		return answer{}, err
	}
	c.ref = c.r.PathValue("id")
	op, err := h.shop.OpenResaleTicket(shop.ResaleTicketRequest{
		Reseller: c.acct.ID, Order: c.r.PathValue("id"), ItemID: req.ItemID, Reason: req.Reason, Detail: req.Detail,
		IdemKey: c.signed.IdemKey, BodyHash: c.bodyHash,
		Render: func(t shop.ResaleTicket) ([]byte, error) { return json.Marshal(ticketJSON(t)) },
	})
	if err != nil {
		return answer{}, err
	}
	c.ref = op.Ticket.ID
	return answer{status: http.StatusCreated, raw: op.Answer, replayed: op.Repeat}, nil
}

func (h *Handler) ticket(c *call) (answer, error) {
	t, err := h.shop.ResaleTicket(c.acct.ID, c.r.PathValue("id"))
	if err != nil {
		return answer{}, err
	}
	c.ref = t.ID
	return answer{status: http.StatusOK, body: ticketJSON(t)}, nil
}

// OpenDelivery opens one delivery of an order with the reseller's
// identity: the keys delivered at once.
func OpenDelivery(sealed []byte, id *crypto.Identity) ([]shop.Item, error) {
	b, err := crypto.Open(sealed, id.Age())
	if err != nil {
		return nil, err
	}
	var items []shop.Item
	if err := json.Unmarshal(b, &items); err != nil {
		return nil, fmt.Errorf("resale: decode delivery: %w", err)
	}
	return items, nil
}
