package storefront

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"veil/crypto"
	"veil/msg"
	"veil/server/notify"
	"veil/server/shop"
	"veil/server/web"
)

// After-sales for the token holder: tickets and the order's sealed support
// thread, as JSON (API.md) and as plain forms on the order page. The words
// of a ticket live in the thread; the shop keeps only its structure.

// supportOpen says whether the order may use support: it was paid (or a
// payment of it waits for review).
func supportOpen(o shop.Order) bool {
	return o.Payment != nil || o.Status == shop.StatusPaymentHeld
}

// orderIdentity derives the order's age identity from its token: the kind
// follows the stored recipient, since a shop may have switched kinds since.
func orderIdentity(tok crypto.Token, o shop.Order) (*crypto.Identity, error) {
	id, err := tok.Identity(o.RecipientKind())
	if err != nil {
		return nil, fmt.Errorf("server: order identity of %s: %w", o.Ref, err)
	}
	return id, nil
}

// readThread opens the newest messages of the order's thread with the
// token. No threads configured reads as empty.
func (s *Server) readThread(tok crypto.Token, o shop.Order) ([]msg.Message, error) {
	if s.Threads == nil {
		return nil, nil
	}
	n, err := s.Threads.Count(o.Ref)
	if err != nil || n == 0 {
		return nil, err
	}
	id, err := orderIdentity(tok, o)
	if err != nil {
		return nil, err
	}
	return s.ReadThread(o.Ref, id.Age())
}

// ticketText is the thread message that records a ticket: its reason in
// brackets, then the buyer's detail. The detail may use what is left of a
// thread message after the tag (4 KiB in all).
func ticketText(reason shop.Reason, detail string) (string, error) {
	tag := "[" + string(reason) + "]"
	if strings.TrimSpace(detail) == "" {
		return tag, nil
	}
	limit := min(shop.MaxDetail, msg.MaxTextBytes-len(tag)-1)
	clean, err := web.CleanText("detail", detail, limit)
	if err != nil {
		return "", err
	}
	return tag + " " + clean, nil
}

// ticketInput is a ticket as the API or the form asks for it, checked
// (checkTicket) before the token is used.
type ticketInput struct {
	reason shop.Reason
	text   string // the thread message that records it (ticketText)
	itemID string
}

// checkTicket checks everything that can refuse a ticket's fields, so a
// refused detail leaves no ticket behind.
func checkTicket(reason, detail, itemID string) (ticketInput, error) {
	rs := shop.Reason(strings.TrimSpace(reason))
	if !slices.Contains(shop.Reasons(), rs) {
		return ticketInput{}, web.BadRequest("reason: one of key_invalid, key_already_used, wrong_region, not_received, other")
	}
	if len(itemID) > 64 {
		return ticketInput{}, web.BadRequest("item_id: not an item of this order")
	}
	text, err := ticketText(rs, detail)
	if err != nil {
		return ticketInput{}, err
	}
	return ticketInput{reason: rs, text: text, itemID: strings.TrimSpace(itemID)}, nil
}

// openTicket is the one way the API and the form open a checked ticket on
// the order of tok.
func (s *Server) openTicket(tok crypto.Token, in ticketInput) (shop.Ticket, error) {
	rs, text := in.reason, in.text
	v, err := s.Shop.LookupToken(tok)
	if err != nil {
		return shop.Ticket{}, err
	}
	rcpts, rerr := s.ThreadRecipients(v.Order)
	if rerr != nil && (s.Threads != nil || text != "["+string(rs)+"]") {
		// Without a thread to keep it, a detail would be lost.
		return shop.Ticket{}, rerr
	}
	t, err := s.Shop.OpenTicketToken(tok, rs, in.itemID)
	if err != nil {
		return shop.Ticket{}, err
	}
	if rerr == nil {
		if _, err := s.Threads.Append(t.Ref, rcpts, msg.Message{From: msg.FromBuyer, Text: text}); err != nil {
			return t, fmt.Errorf("server: ticket %s of %s: record its detail: %w", t.ID, t.Ref, err)
		}
	}
	s.Log.Info("ticket opened", "ref", t.Ref, "ticket", t.ID, "reason", string(t.Reason))
	return t, nil
}

// postMessage appends a buyer's message to the order's thread (the form
// way to talk to support, without JavaScript).
func (s *Server) postMessage(tok crypto.Token, text string) (shop.View, error) {
	clean, err := web.CleanText("message", text, msg.MaxTextBytes)
	if err != nil {
		return shop.View{}, err
	}
	v, err := s.Shop.LookupToken(tok)
	if err != nil {
		return v, err
	}
	if !supportOpen(v.Order) {
		return v, errNotPaid
	}
	rcpts, err := s.ThreadRecipients(v.Order)
	if err != nil {
		return v, err
	}
	if _, err := s.Threads.Append(v.Order.Ref, rcpts, msg.Message{From: msg.FromBuyer, Text: clean}); err != nil {
		return v, fmt.Errorf("server: message on %s: %w", v.Order.Ref, err)
	}
	if err := s.Notify.Emit(notify.Event{Kind: notify.TicketReply, Ref: v.Order.Ref}); err != nil {
		s.Log.Error("notify: ticket_reply", "ref", v.Order.Ref, "err", err)
	}
	return v, nil
}

type ticketCreated struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// apiOpenTicket is POST /api/v1/order/tickets (Bearer)
// {"reason","detail","item_id"}: 201 {"id","status":"open"}.
func (s *Server) apiOpenTicket(w http.ResponseWriter, r *http.Request) {
	token, ok := bearer(r)
	if !ok {
		s.WriteError(w, r, web.ErrUnauthenticated)
		return
	}
	var req struct {
		Reason string `json:"reason"`
		Detail string `json:"detail"`
		ItemID string `json:"item_id"`
	}
	if err := web.DecodeJSON(r, &req); err != nil {
		s.WriteError(w, r, err)
		return
	}
	in, err := checkTicket(req.Reason, req.Detail, req.ItemID)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	tok, err := crypto.ParseToken(token)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	t, err := s.openTicket(tok, in)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusCreated, ticketCreated{ID: t.ID, Status: string(t.Status)})
}

type threadMessageJSON struct {
	From string `json:"from"`
	Text string `json:"text"`
	At   string `json:"at"`
}

// ticketBrief is a ticket without its thread (GET /api/v1/order lists
// these under after_sales.tickets).
type ticketBrief struct {
	ID          string  `json:"id"`
	Reason      string  `json:"reason"`
	Status      string  `json:"status"`
	Remedy      *string `json:"remedy"` // null until proposed
	AmountMinor int64   `json:"amount_minor,omitempty"`
	ItemID      string  `json:"item_id,omitempty"`
	CreatedAt   string  `json:"created_at"`
	UpdatedAt   string  `json:"updated_at"`
}

type ticketJSON struct {
	ticketBrief
	Thread []threadMessageJSON `json:"thread"`
}

// ticketsJSON is the answer of GET /api/v1/order/tickets. The thread is the
// order's (one per order, shared by its tickets and its chats): each ticket
// carries it as API.md says, and "thread" carries it once more for an order
// with chat history but no ticket.
type ticketsJSON struct {
	Tickets []ticketJSON        `json:"tickets"`
	Thread  []threadMessageJSON `json:"thread"`
}

func threadToJSON(ms []msg.Message) []threadMessageJSON {
	out := make([]threadMessageJSON, 0, len(ms))
	for _, m := range ms {
		out = append(out, threadMessageJSON{From: m.From, Text: m.Text, At: web.RFC3339(m.At)})
	}
	return out
}

func ticketToBrief(t shop.Ticket) ticketBrief {
	tb := ticketBrief{
		ID: t.ID, Reason: string(t.Reason), Status: string(t.Status), AmountMinor: t.AmountMinor,
		ItemID: t.ItemID, CreatedAt: web.RFC3339(t.CreatedAt), UpdatedAt: web.RFC3339(t.UpdatedAt),
	}
	if t.Remedy != "" {
		rem := string(t.Remedy)
		tb.Remedy = &rem
	}
	return tb
}

// apiTickets is GET /api/v1/order/tickets (Bearer): the order's tickets
// with its thread, opened with the token.
func (s *Server) apiTickets(w http.ResponseWriter, r *http.Request) {
	tok, err := bearerToken(r)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	v, err := s.Shop.LookupToken(tok)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	ts, err := s.Shop.TicketsOf(v.Order.Ref)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	ms, err := s.readThread(tok, v.Order)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	thread := threadToJSON(ms)
	out := ticketsJSON{Tickets: make([]ticketJSON, 0, len(ts)), Thread: thread}
	for _, t := range ts {
		out.Tickets = append(out.Tickets, ticketJSON{ticketToBrief(t), thread})
	}
	web.NoStore(w)
	web.WriteJSON(w, http.StatusOK, out)
}

// ticketSubmit is POST /order/tickets: the order page's "report a problem"
// form. It shows the order page again, saying what happened.
func (s *Server) ticketSubmit(w http.ResponseWriter, r *http.Request) {
	s.orderForm(w, r, func(tok crypto.Token) (string, error) {
		in, err := checkTicket(r.PostForm.Get("reason"), r.PostForm.Get("detail"), r.PostForm.Get("item_id"))
		if err == nil {
			_, err = s.openTicket(tok, in)
		}
		return "order.ticket_opened", err
	})
}

// threadSubmit is POST /order/thread: a message to support without
// JavaScript.
func (s *Server) threadSubmit(w http.ResponseWriter, r *http.Request) {
	s.orderForm(w, r, func(tok crypto.Token) (string, error) {
		_, err := s.postMessage(tok, r.PostForm.Get("text"))
		return "order.message_sent", err
	})
}

// coolingOffSubmit is POST /order/cooling-off: a refund without reason
// while the keys were never shown.
func (s *Server) coolingOffSubmit(w http.ResponseWriter, r *http.Request) {
	s.orderForm(w, r, func(tok crypto.Token) (string, error) {
		v, err := s.Shop.LookupToken(tok)
		if err != nil {
			return "", err
		}
		if !s.Shop.CoolingOffOK(v.Order, v.Product) {
			return "", errCoolingOffOver
		}
		if s.coolingOffRefund == nil {
			return "", errRefundsOff
		}
		if err := s.coolingOffRefund(v.Order.Ref); err != nil {
			return "", fmt.Errorf("server: cooling-off refund of %s: %w", v.Order.Ref, err)
		}
		s.Log.Info("cooling-off refund requested", "ref", v.Order.Ref)
		return "order.cooling_off_done", nil
	})
}

var errCoolingOffOver = web.NewError(http.StatusConflict, "cooling_off_over", "the cooling-off period is over or the keys were shown")

// orderForm runs a form of the order page and shows the page again with
// the outcome. A token that opens nothing goes back to the lookup form;
// an error the buyer can act on is shown above the forms with what they
// typed kept; an internal one takes the usual error page.
func (s *Server) orderForm(w http.ResponseWriter, r *http.Request, do func(tok crypto.Token) (string, error)) {
	if err := web.ParseForm(r); err != nil {
		s.WriteError(w, r, err)
		return
	}
	lang := s.Lang(r)
	token := strings.TrimSpace(r.PostForm.Get("token"))
	if token == "" {
		s.WriteError(w, r, web.ErrUnauthenticated)
		return
	}
	t, err := parseOrderToken(token)
	if err != nil {
		s.lookupFailed(w, r, lang, err)
		return
	}
	done, err := do(t.tok)
	f := flash{}
	if err != nil {
		if errors.Is(err, crypto.ErrTokenMalformed) || errors.Is(err, shop.ErrOrderNotFound) {
			s.lookupFailed(w, r, lang, err)
			return
		}
		p := web.Classify(err)
		if p.Code == "internal" {
			s.WriteError(w, r, err)
			return
		}
		f = flash{text: s.ProblemText(lang, p), bad: true, status: p.Status,
			detail: r.PostForm.Get("detail"), message: r.PostForm.Get("text")}
	} else {
		f = flash{text: s.Pages.T(lang, done)}
	}
	s.showOrder(w, r, lang, t, false, f)
}

// flash is the outcome of an order page form, shown on the page.
type flash struct {
	text    string
	bad     bool
	status  int
	detail  string // the ticket detail typed, kept on failure
	message string // the thread message typed, kept on failure
}

// threadFromText names who said a thread message, for pages.
func threadFromKey(from string) string {
	switch from {
	case msg.FromBuyer, msg.FromStaff, msg.FromSystem, msg.FromAuto:
		return "thread.from_" + from
	}
	return "thread.from_system"
}

// sinceDelivery is how long the cooling-off offer lasts.
func coolingOffEnds(o shop.Order, p shop.Product) time.Time {
	return o.DeliveredAt.Add(time.Duration(p.Policy.CoolingOffMinutes) * time.Minute)
}
