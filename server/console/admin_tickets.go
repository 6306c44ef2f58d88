package console

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"veil/msg"
	"veil/pages"
	"veil/server/shop"
	"veil/server/staff"
	"veil/server/web"
)

// The console's side of after-sales: the ticket queue, a ticket with its
// order and sealed thread (opened with the merchant's support identity),
// answers, hand-over, rejection, remedies and the abuse flag. Keys are
// never shown here; items appear by id and state only.

// ticketFilter reads ?status=&reason=&owner= (owner: mine, unowned or all).
func ticketFilter(r *http.Request, sess staff.Session) (shop.TicketFilter, error) {
	q := r.URL.Query()
	var f shop.TicketFilter
	switch st := shop.TicketStatus(q.Get("status")); st {
	case "", shop.TicketOpen, shop.TicketAnswered, shop.TicketProposed, shop.TicketResolved, shop.TicketRejected:
		f.Status = st
	default:
		return f, web.BadRequest("status: open, answered, proposed, resolved or rejected")
	}
	if rs := shop.Reason(q.Get("reason")); rs != "" {
		if !slices.Contains(shop.Reasons(), rs) {
			return f, web.BadRequest("reason: one of key_invalid, key_already_used, wrong_region, not_received, other")
		}
		f.Reason = rs
	}
	switch q.Get("owner") {
	case "", "all":
	case "mine":
		f.Owner = sess.User
	case "unowned":
		f.Owner = "-"
	default:
		return f, web.BadRequest("owner: mine, unowned or all")
	}
	return f, nil
}

// apiAdminTickets is GET /api/v1/admin/tickets[?status=&reason=&owner=&cursor=&limit=]:
// newest first; "next" continues the list.
func (s *Server) apiAdminTickets(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	f, err := ticketFilter(r, sess)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	cursor, limit, err := pageParams(r)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	ts, next, err := s.Shop.Tickets(f, cursor, limit)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	if ts == nil {
		ts = []shop.Ticket{}
	}
	web.WriteJSON(w, http.StatusOK, struct {
		Tickets []shop.Ticket `json:"tickets"`
		Next    string        `json:"next"`
	}{ts, next})
}

// adminItemJSON is an order item as staff see it: its id and state, never
// the key.
type adminItemJSON struct {
	ID    string `json:"id"`
	State string `json:"state"`
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

// orderItems lists the order's current items, then the ones after-sales
// took back, with their states.
func orderItems(o shop.Order) []adminItemJSON {
	out := make([]adminItemJSON, 0, len(o.Items)+len(o.Bad))
	state := "reserved"
	if !o.DeliveredAt.IsZero() {
		state = "delivered"
	}
	for _, id := range o.Items {
		out = append(out, adminItemJSON{ID: id, State: state})
	}
	bad := make([]string, 0, len(o.Bad))
	for id := range o.Bad {
		bad = append(bad, id)
	}
	slices.Sort(bad)
	for _, id := range bad {
		out = append(out, adminItemJSON{ID: id, State: string(o.Bad[id])})
	}
	return out
}

func orderBrief(o shop.Order) adminOrderBrief {
	return adminOrderBrief{
		Ref: o.Ref, Product: o.ProductID, Status: string(o.Status), Quantity: o.Quantity, AmountMinor: o.AmountMinor,
		Refunded: o.Refunded(), Currency: o.Currency, Tier: o.Tier, Items: orderItems(o),
		DeliveredAt: web.RFC3339(o.DeliveredAt), WindowEnds: web.RFC3339(o.WindowEnds),
	}
}

type staffMessageJSON struct {
	From  string `json:"from"`
	Staff string `json:"staff,omitempty"`
	Text  string `json:"text"`
	At    string `json:"at"`
}

type adminTicketJSON struct {
	Ticket shop.Ticket     `json:"ticket"`
	Order  adminOrderBrief `json:"order"`
	// Thread is the order's support thread; ThreadLocked says it could not
	// be opened because the vault is locked.
	Thread       []staffMessageJSON `json:"thread"`
	ThreadLocked bool               `json:"thread_locked"`
	Approval     *staff.Approval    `json:"approval,omitempty"`
}

// staffThread opens the newest messages of an order's thread with the
// merchant's support identity: shop.ErrLocked while the vault is locked;
// no threads configured reads as empty.
func (s *Server) staffThread(ref string) ([]msg.Message, error) {
	if s.Threads == nil {
		return nil, nil
	}
	id, err := s.Shop.SupportIdentity()
	if err != nil {
		return nil, err
	}
	return s.ReadThread(ref, id)
}

// ticketView gathers what a ticket's page and JSON show.
type ticketView struct {
	t        shop.Ticket
	o        shop.Order
	prod     shop.Product
	thread   []msg.Message
	locked   bool
	approval *staff.Approval
}

func (s *Server) loadTicket(id string) (ticketView, error) {
	var v ticketView
	t, err := s.Shop.Ticket(id)
	if err != nil {
		return v, err
	}
	o, err := s.Shop.OrderByRef(t.Ref)
	if err != nil {
		return v, err
	}
	prod, err := s.Shop.Product(o.ProductID)
	if err != nil {
		return v, err
	}
	v.t, v.o, v.prod = t, o, prod
	v.thread, err = s.staffThread(t.Ref)
	if errors.Is(err, shop.ErrLocked) {
		v.locked, err = true, nil
	}
	if err != nil {
		return v, err
	}
	if t.Approval != "" {
		if a, err := s.Staff.Get(t.Approval); err == nil {
			v.approval = &a
		}
	}
	return v, nil
}

// apiAdminTicket is GET /api/v1/admin/tickets/:id.
func (s *Server) apiAdminTicket(w http.ResponseWriter, r *http.Request, _ staff.Session) {
	v, err := s.loadTicket(param(r, "id"))
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, ticketJSONOf(v))
}

func ticketJSONOf(v ticketView) adminTicketJSON {
	out := adminTicketJSON{Ticket: v.t, Order: orderBrief(v.o), Thread: []staffMessageJSON{}, ThreadLocked: v.locked, Approval: v.approval}
	for _, m := range v.thread {
		out.Thread = append(out.Thread, staffMessageJSON{From: m.From, Staff: m.Staff, Text: m.Text, At: web.RFC3339(m.At)})
	}
	return out
}

// answerTicket takes the ticket (the first staff member to answer owns it)
// and appends the answer to the order's thread, sealed to the order and the
// merchant. Ownership is checked first, so a refused answer leaves nothing
// in the thread.
func (s *Server) answerTicket(sess staff.Session, id, text string) (shop.Ticket, error) {
	clean, err := web.CleanText("text", text, min(shop.MaxDetail, msg.MaxTextBytes))
	if err != nil {
		return shop.Ticket{}, err
	}
	t, err := s.Shop.Ticket(id)
	if err != nil {
		return t, err
	}
	o, err := s.Shop.OrderByRef(t.Ref)
	if err != nil {
		return t, err
	}
	rcpts, err := s.ThreadRecipients(o)
	if err != nil {
		return t, err
	}
	if t, err = s.Shop.AnswerTicket(id, sess.User); err != nil {
		return t, err
	}
	if _, err := s.Threads.Append(t.Ref, rcpts, msg.Message{From: msg.FromStaff, Staff: sess.User, Text: clean}); err != nil {
		return t, fmt.Errorf("server: answer to ticket %s of %s: %w", t.ID, t.Ref, err)
	}
	s.Log.Info("ticket answered", "ticket", t.ID, "ref", t.Ref, "staff", sess.User)
	return t, nil
}

// handOver passes a ticket to another enrolled staff member.
func (s *Server) handOver(sess staff.Session, id, to string) (shop.Ticket, error) {
	to = strings.ToLower(strings.TrimSpace(to))
	if to == "" || len(to) > 64 {
		return shop.Ticket{}, web.BadRequest("to: a staff member's name")
	}
	u, err := s.Staff.User(to)
	if err != nil || !u.Enrolled {
		return shop.Ticket{}, web.BadRequest("to: not an enrolled staff member")
	}
	t, err := s.Shop.HandOver(id, sess.User, u.Name)
	if err != nil {
		return t, err
	}
	s.record(sess, "ticket.handover", t.Ref, fmt.Sprintf("ticket=%s to=%s", t.ID, u.Name))
	return t, nil
}

func (s *Server) rejectTicket(sess staff.Session, id string) (shop.Ticket, error) {
	t, err := s.Shop.RejectTicket(id, sess.User)
	if err != nil {
		return t, err
	}
	s.record(sess, "ticket.reject", t.Ref, "ticket="+t.ID)
	return t, nil
}

// ticketAction decodes a ticket action's JSON body.
type ticketAction struct {
	Text        string `json:"text"`
	To          string `json:"to"`
	Remedy      string `json:"remedy"`
	AmountMinor int64  `json:"amount_minor"`
}

func (s *Server) apiTicketAnswer(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	s.apiTicketDo(w, r, func(req ticketAction) (shop.Ticket, error) { return s.answerTicket(sess, param(r, "id"), req.Text) })
}

func (s *Server) apiTicketHandover(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	s.apiTicketDo(w, r, func(req ticketAction) (shop.Ticket, error) { return s.handOver(sess, param(r, "id"), req.To) })
}

func (s *Server) apiTicketReject(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	s.apiTicketDo(w, r, func(ticketAction) (shop.Ticket, error) { return s.rejectTicket(sess, param(r, "id")) })
}

func (s *Server) apiTicketDo(w http.ResponseWriter, r *http.Request, do func(ticketAction) (shop.Ticket, error)) {
	var req ticketAction
	if err := web.DecodeOptionalJSON(r, &req); err != nil {
		s.WriteError(w, r, err)
		return
	}
	t, err := do(req)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, struct {
		Ticket shop.Ticket `json:"ticket"`
	}{t})
}

// apiTicketPropose is POST /api/v1/admin/tickets/:id/propose
// {"remedy","amount_minor"}: 202 {"approval_id","status":"pending"}, or 200
// with "status":"approved" when policy approved it (a trusted tier).
func (s *Server) apiTicketPropose(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	var req ticketAction
	if err := web.DecodeJSON(r, &req); err != nil {
		s.WriteError(w, r, err)
		return
	}
	a, err := s.proposeRemedy(sess, param(r, "id"), shop.Remedy(req.Remedy), req.AmountMinor)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.writeOp(w, a)
}

// ticketsPage is GET /admin/tickets[?status=&reason=&owner=&cursor=].
func (s *Server) ticketsPage(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	f, err := ticketFilter(r, sess)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	cursor, err := cursorParam(r)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	ts, next, err := s.Shop.Tickets(f, cursor, pageSize)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	lang := s.Lang(r)
	q := r.URL.Query()
	page := &pages.AdminTickets{AdminBase: s.adminBase(r, &sess, "tickets", "")}
	for _, st := range []shop.TicketStatus{shop.TicketOpen, shop.TicketAnswered, shop.TicketProposed, shop.TicketResolved, shop.TicketRejected} {
		page.Statuses = append(page.Statuses, pages.Choice{Value: string(st), Label: s.Pages.T(lang, "ticket_status."+string(st)), Selected: st == f.Status})
	}
	for _, rs := range shop.Reasons() {
		page.Reasons = append(page.Reasons, pages.Choice{Value: string(rs), Label: s.Pages.T(lang, "reason."+string(rs)), Selected: rs == f.Reason})
	}
	for _, o := range []string{"all", "mine", "unowned"} {
		page.Owners = append(page.Owners, pages.Choice{Value: o, Label: s.Pages.T(lang, "admin.tickets.owner_"+o),
			Selected: o == q.Get("owner") || (o == "all" && q.Get("owner") == "")})
	}
	for _, t := range ts {
		page.Tickets = append(page.Tickets, s.ticketRow(lang, sess, page.URL, t))
	}
	page.Pager = s.pager(r, next, url.Values{"status": {q.Get("status")}, "reason": {q.Get("reason")}, "owner": {q.Get("owner")}})
	s.Render(w, r, http.StatusOK, page)
}

func (s *Server) ticketRow(lang string, sess staff.Session, u func(string) string, t shop.Ticket) pages.AdminTicketRow {
	row := pages.AdminTicketRow{
		ID: t.ID, Ref: t.Ref, ItemID: t.ItemID, Reason: string(t.Reason), ReasonText: s.Pages.T(lang, "reason."+string(t.Reason)),
		Status: string(t.Status), StatusText: s.Pages.T(lang, "ticket_status."+string(t.Status)), Owner: t.Owner,
		Mine: t.Owner == sess.User, Auto: t.Auto, Approval: t.Approval, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt,
		URL: u("/admin/tickets/" + url.PathEscape(t.ID)),
	}
	if t.Remedy != "" {
		row.RemedyText = s.Pages.T(lang, "remedy."+string(t.Remedy))
	}
	return row
}

// ticketForm is what the ticket page keeps of a refused form.
type ticketForm struct {
	text   string
	notice string
	bad    bool
	status int
}

// ticketPage is GET /admin/tickets/:id.
func (s *Server) ticketPage(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	s.showTicket(w, r, sess, param(r, "id"), ticketForm{status: http.StatusOK})
}

func (s *Server) showTicket(w http.ResponseWriter, r *http.Request, sess staff.Session, id string, f ticketForm) {
	v, err := s.loadTicket(id)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	lang := s.Lang(r)
	here := "/admin/tickets/" + url.PathEscape(v.t.ID)
	base := s.adminBase(r, &sess, "tickets", here)
	if f.notice != "" {
		base.Notice, base.Bad = f.notice, f.bad
	}
	page := &pages.AdminTicket{AdminBase: base, Text: f.text}
	page.Ticket = s.ticketRow(lang, sess, page.URL, v.t)
	o := v.o
	page.Order = pages.AdminOrderSummary{
		Ref: o.Ref, Product: v.prod.Name.In(lang), Status: string(o.Status), StatusText: s.Pages.T(lang, "status."+string(o.Status)),
		Quantity: o.Quantity, Amount: pages.Money(o.AmountMinor, o.Currency), Tier: o.Tier,
		DeliveredAt: o.DeliveredAt, WindowEnds: o.WindowEnds,
	}
	if o.Refunded() > 0 {
		page.Order.Refunded = pages.Money(o.Refunded(), o.Currency)
	}
	for _, it := range orderItems(o) {
		page.Items = append(page.Items, pages.AdminItem{ID: it.ID, State: it.State, StateText: s.Pages.T(lang, "admin.key_state."+it.State),
			Ticket: it.ID == v.t.ItemID})
	}
	page.ThreadLocked, page.ThreadOff = v.locked, s.Threads == nil
	for _, m := range v.thread {
		page.Thread = append(page.Thread, pages.AdminMessage{From: m.From, FromText: s.Pages.T(lang, "admin.thread.from_"+threadFrom(m.From)),
			Staff: m.Staff, Text: s.ThreadText(lang, m.Text), At: m.At})
	}
	page.Closed = v.t.Status == shop.TicketResolved || v.t.Status == shop.TicketRejected
	page.OwnedByOther = v.t.Owner != "" && v.t.Owner != sess.User
	for _, rem := range v.prod.Policy.Remedies {
		page.Remedies = append(page.Remedies, pages.Choice{Value: string(rem), Label: s.Pages.T(lang, "remedy."+string(rem))})
	}
	page.AutoTier = v.prod.Policy.AutoApproveTier
	page.Currency = o.Currency
	if users, err := s.Staff.Users(); err == nil {
		for _, u := range users {
			if u.Enrolled && u.Name != v.t.Owner {
				page.Staff = append(page.Staff, pages.Choice{Value: u.Name, Label: u.Name})
			}
		}
	}
	if a := v.approval; a != nil {
		page.ApprovalID, page.ApprovalStatus = a.ID, string(a.Status)
		page.ApprovalText = s.Pages.T(lang, "admin.approval_status."+string(a.Status))
		page.ApprovalDropped = v.t.Status == shop.TicketProposed && (a.Status == staff.StatusRejected || a.Status == staff.StatusFailed)
	}
	page.Action = here
	page.Sourced = o.Upstream != nil && o.Upstream.Order != "" // resale (admin_resale.go)
	if fw := v.t.Upstream; fw != nil && fw.Ticket != "" {
		page.Forwarded = fw.Ticket
		page.UpstreamStatus = s.Pages.T(lang, "ticket_status."+string(fw.Status))
	}
	page.AbuseURL = page.URL("/admin/orders/" + url.PathEscape(o.Ref) + "/abuse")
	page.BackURL = page.URL("/admin/tickets")
	if v.t.Status == shop.TicketResolved { // the case form (cases.go)
		page.CaseForm = true
		if page.CaseDone, err = s.Shop.CasePublished(v.t.ID); err != nil {
			s.WriteError(w, r, err)
			return
		}
	}
	s.Render(w, r, f.status, page)
}

func threadFrom(from string) string {
	switch from {
	case msg.FromBuyer, msg.FromStaff, msg.FromSystem, msg.FromAuto:
		return from
	}
	return msg.FromSystem
}

// adminTicketSubmit runs a ticket form (answer, handover, reject, propose). A
// refusal staff can act on (not_owner, a closed ticket, an amount) shows
// the ticket again with the reason and what was typed.
func (s *Server) adminTicketSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	id := param(r, "id")
	f := r.PostForm
	var (
		notice string
		err    error
	)
	switch param(r, "action") {
	case "answer":
		_, err = s.answerTicket(sess, id, f.Get("text"))
		notice = "ticket_answered"
	case "handover":
		_, err = s.handOver(sess, id, f.Get("to"))
		notice = "ticket_handed_over"
	case "reject":
		_, err = s.rejectTicket(sess, id)
		notice = "ticket_rejected"
	case "forward": // resale: to the upstream of a sourced key (admin_resale.go)
		err = s.forwardTicket(r, sess, id, f.Get("text"))
		notice = "ticket_forwarded"
	case "propose":
		var a staff.Approval
		a, err = s.proposeRemedyForm(sess, id, f.Get("remedy"), f.Get("amount"))
		notice = "queued"
		if err == nil && a.Status == staff.StatusApproved {
			notice = "remedy_auto"
		}
	case "case": // cases.go
		var a staff.Approval
		a, err = s.caseSubmit(sess, id, f)
		notice = "queued"
		if err == nil && a.Status == staff.StatusApproved {
			notice = "case_published"
		}
	default:
		s.WriteError(w, r, web.ErrNotFound)
		return
	}
	if err != nil {
		p := web.Classify(err)
		if p.Code == "internal" || p.Status == http.StatusNotFound {
			s.WriteError(w, r, err)
			return
		}
		s.showTicket(w, r, sess, id, ticketForm{text: f.Get("text"), notice: s.ProblemText(s.Lang(r), p), bad: true, status: p.Status})
		return
	}
	s.redirectNotice(w, r, "/admin/tickets/"+url.PathEscape(id), notice)
}

// proposeRemedyForm reads the form's remedy and amount (major units).
func (s *Server) proposeRemedyForm(sess staff.Session, id, remedy, amount string) (staff.Approval, error) {
	var minor int64
	if shop.Remedy(remedy) == shop.RemedyPartialRefund {
		t, err := s.Shop.Ticket(id)
		if err != nil {
			return staff.Approval{}, err
		}
		o, err := s.Shop.OrderByRef(t.Ref)
		if err != nil {
			return staff.Approval{}, err
		}
		if minor, err = parseMoney(amount, o.Currency); err != nil {
			return staff.Approval{}, err
		}
	}
	return s.proposeRemedy(sess, id, shop.Remedy(remedy), minor)
}

// abuseRequest is POST /api/v1/admin/orders/:ref/abuse.
type abuseRequest struct {
	Flagged bool `json:"flagged"`
}

// flagAbuse sets or clears the abuse flag of an order's tier record (its
// token then counts for nothing as a proof), audited.
func (s *Server) flagAbuse(sess staff.Session, ref string, flagged bool) error {
	ref = strings.TrimSpace(ref)
	if ref == "" || len(ref) > 64 {
		return shop.ErrOrderNotFound
	}
	if err := s.Shop.FlagAbuse(ref, flagged); err != nil {
		return err
	}
	s.record(sess, "order.abuse_flag", ref, fmt.Sprintf("flagged=%t", flagged))
	s.Log.Info("abuse flag set", "ref", ref, "flagged", flagged, "staff", sess.User)
	return nil
}

func (s *Server) apiAbuse(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	var req abuseRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		s.WriteError(w, r, err)
		return
	}
	if err := s.flagAbuse(sess, param(r, "ref"), req.Flagged); err != nil {
		s.WriteError(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, struct {
		Ref     string `json:"ref"`
		Flagged bool   `json:"flagged"`
	}{param(r, "ref"), req.Flagged})
}

// abuseSubmit is POST /admin/orders/:ref/abuse (flagged=1 or 0, back = the
// ticket to return to).
func (s *Server) abuseSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	flagged := r.PostForm.Get("flagged") == "1"
	if err := s.flagAbuse(sess, param(r, "ref"), flagged); err != nil {
		s.WriteError(w, r, err)
		return
	}
	back := "/admin/orders"
	if t := r.PostForm.Get("ticket"); t != "" && len(t) <= 40 && strings.Trim(t, "0123456789abcdefghijklmnopqrstuvwxyz") == "" {
		back = "/admin/tickets/" + t
	}
	notice := "abuse_cleared"
	if flagged {
		notice = "abuse_flagged"
	}
	s.redirectNotice(w, r, back, notice)
}
