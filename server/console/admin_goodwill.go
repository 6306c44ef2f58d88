package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"veil/pages"
	"veil/server/shop"
	"veil/server/staff"
	"veil/server/store"
	"veil/server/web"
)

// After-sales of issue 13 on the console: compensation keys, refunds by
// use (pro-rata) and automatic batch freezes — their approval executors,
// their JSON routes and the /admin/goodwill page that shows frozen batches
// with their evidence and carries the forms.

// unfreezeParams are a batch_unfreeze approval's params.
type unfreezeParams struct {
	Batch   string `json:"batch"`
	Product string `json:"product"`
}

// registerGoodwillExecutors plugs in compensation keys, unfreezes and the
// freeze rule. Owners decide all three (the staff package's floor).
func (s *Server) registerGoodwillExecutors() {
	s.Staff.RegisterExecutor(staff.KindCompensationKey, staff.RoleOwner, func(tx *store.Txn, a staff.Approval) (string, error) {
		var p shop.CompensationParams
		if err := json.Unmarshal(a.Params, &p); err != nil {
			return "", fmt.Errorf("%w: params: %v", staff.ErrExecFailed, err)
		}
		o, err := s.Shop.CompensateKeyTx(tx, a.ID, p)
		if err != nil {
			return "", permanent(err)
		}
		return fmt.Sprintf("%s: one key of %s given as compensation (%d on this order)", o.Ref, p.Product, len(o.Compensations)), nil
	})
	s.Staff.RegisterExecutor(staff.KindBatchUnfreeze, staff.RoleOwner, func(tx *store.Txn, a staff.Approval) (string, error) {
		var p unfreezeParams
		if err := json.Unmarshal(a.Params, &p); err != nil {
			return "", fmt.Errorf("%w: params: %v", staff.ErrExecFailed, err)
		}
		_, n, err := s.Shop.UnfreezeTx(tx, p.Batch)
		if err != nil {
			return "", permanent(err)
		}
		return fmt.Sprintf("batch %s unfrozen: %d keys back on sale", p.Batch, n), nil
	})
	s.Staff.RegisterExecutor(staff.KindFreezeRule, staff.RoleOwner, func(tx *store.Txn, a staff.Approval) (string, error) {
		var r shop.FreezeRule
		if err := json.Unmarshal(a.Params, &r); err != nil {
			return "", fmt.Errorf("%w: params: %v", staff.ErrExecFailed, err)
		}
		if err := s.Shop.SetFreezeRuleTx(tx, r); err != nil {
			return "", permanent(err)
		}
		return "freeze rule: " + freezeRuleText(r), nil
	})
}

func freezeRuleText(r shop.FreezeRule) string {
	if r.Off {
		return "off"
	}
	return fmt.Sprintf("%d orders and %d.%d%% of delivered keys within %d hours", r.MinReports, r.MinPermille/10, r.MinPermille%10, r.WindowHours)
}

// compensationRequest is POST /api/v1/admin/compensations.
type compensationRequest struct {
	Ref     string `json:"ref"`
	Product string `json:"product"` // id or slug of the product whose key is given
	Ticket  string `json:"ticket"`
	TOTP    string `json:"totp"`
}

// proposeCompensation proposes (and with a TOTP code approves) giving an
// order one key of a product as compensation.
func (s *Server) proposeCompensation(sess staff.Session, req compensationRequest) (staff.Approval, error) {
	ref := strings.ToUpper(strings.TrimSpace(req.Ref))
	if ref == "" || strings.TrimSpace(req.Product) == "" {
		return staff.Approval{}, web.BadRequest("ref and product are required")
	}
	if len(req.Product) > 80 || len(req.Ticket) > 40 {
		return staff.Approval{}, web.BadRequest("product or ticket: too long")
	}
	o, prod, err := s.Shop.CheckCompensation(shop.CompensationParams{Ref: ref, Product: strings.TrimSpace(req.Product), Ticket: strings.TrimSpace(req.Ticket)})
	if err != nil {
		return staff.Approval{}, err
	}
	p := shop.CompensationParams{Ref: o.Ref, Product: prod.ID, Ticket: strings.TrimSpace(req.Ticket)}
	summary := fmt.Sprintf("give %s one key of %s as compensation", o.Ref, prod.Slug)
	if p.Ticket != "" {
		summary += " (ticket " + p.Ticket + ")"
	}
	return s.proposeOp(sess, staff.KindCompensationKey, o.Ref, summary, p, req.TOTP)
}

// proRataJSON is GET /api/v1/admin/tickets/:id/pro-rata.
type proRataJSON struct {
	shop.ProRataQuote
	Explain string `json:"explain"`
}

// apiProRata is GET /api/v1/admin/tickets/:id/pro-rata: the refund by use
// a ticket would get, with its computation.
func (s *Server) apiProRata(w http.ResponseWriter, r *http.Request, _ staff.Session) {
	q, err := s.Shop.ProRata(param(r, "id"))
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, proRataJSON{q, q.Explain()})
}

// proposeProRata turns a ticket's refund by use into a refund approval
// (partial, or whole when nothing was used yet) whose summary is the
// computation, and marks the ticket proposed in the same commit. A person
// decides it with a TOTP code on the approvals page, like any refund. Only
// the ticket's owner (or anyone, while it has none) may propose.
func (s *Server) proposeProRata(sess staff.Session, ticketID string) (staff.Approval, error) {
	q, err := s.Shop.ProRata(ticketID)
	if err != nil {
		return staff.Approval{}, err
	}
	t, err := s.Shop.Ticket(ticketID)
	if err != nil {
		return staff.Approval{}, err
	}
	if t.Owner != "" && t.Owner != sess.User {
		return staff.Approval{}, shop.ErrNotOwner
	}
	o, err := s.Shop.OrderByRef(q.Ref)
	if err != nil {
		return staff.Approval{}, err
	}
	if s.DB == nil {
		return staff.Approval{}, web.ErrSupportOff
	}
	kind, remedy, amount := staff.KindPartialRefund, shop.RemedyPartialRefund, q.AmountMinor
	if q.Full() {
		kind, remedy, amount = staff.KindRefund, shop.RemedyRefund, 0
	}
	params := refundParams{Ref: o.Ref, Product: o.ProductID, AmountMinor: amount, Currency: o.Currency,
		Reason: "ticket " + t.ID + ": pro-rata refund by use", Ticket: t.ID}
	summary := fmt.Sprintf("refund %s of %s (ticket %s) — %s", pages.Money(q.AmountMinor, o.Currency), o.Ref, t.ID, q.Explain())
	var a staff.Approval
	err = s.DB.Update(func(tx *store.Txn) error {
		var err error
		a, err = s.Staff.ProposeTx(tx, staff.StaffActor(sess.User), kind, o.Ref, summary, params)
		if err != nil {
			return err
		}
		return s.Shop.MarkProposedTx(tx, t.ID, remedy, amount, a.ID, false)
	})
	if err != nil {
		return staff.Approval{}, err
	}
	s.Log.Info("pro-rata refund proposed", "ticket", t.ID, "ref", o.Ref, "approval", a.ID, "staff", sess.User)
	return a, nil
}

// apiProposeProRata is POST /api/v1/admin/tickets/:id/pro-rata ({}).
func (s *Server) apiProposeProRata(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	var req struct{}
	if err := web.DecodeJSON(r, &req); err != nil {
		s.WriteError(w, r, err)
		return
	}
	a, err := s.proposeProRata(sess, param(r, "id"))
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.writeOp(w, a)
}

// freezeJSON is a frozen batch in the console's JSON.
type freezeJSON struct {
	shop.Freeze
	ProductSlug string `json:"product_slug"`
}

// apiFreezes is GET /api/v1/admin/freezes: the rule in force, the frozen
// batches with their evidence, and the last lifted ones.
func (s *Server) apiFreezes(w http.ResponseWriter, r *http.Request, _ staff.Session) {
	rule, err := s.Shop.FreezeRule()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	active, past, err := s.Shop.Freezes(50)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	conv := func(fs []shop.Freeze) []freezeJSON {
		out := make([]freezeJSON, 0, len(fs))
		for _, f := range fs {
			j := freezeJSON{Freeze: f}
			if p, err := s.Shop.Product(f.Product); err == nil {
				j.ProductSlug = p.Slug
			}
			out = append(out, j)
		}
		return out
	}
	web.WriteJSON(w, http.StatusOK, struct {
		Rule   shop.FreezeRule `json:"rule"`
		Frozen []freezeJSON    `json:"frozen"`
		Past   []freezeJSON    `json:"past"`
	}{rule, conv(active), conv(past)})
}

// unfreezeRequest is POST /api/v1/admin/freezes/:batch/unfreeze.
type unfreezeRequest struct {
	TOTP string `json:"totp"`
}

func (s *Server) proposeUnfreeze(sess staff.Session, batch, totp string) (staff.Approval, error) {
	f, err := s.Shop.FrozenBatch(batch)
	if err != nil {
		return staff.Approval{}, err
	}
	return s.proposeOp(sess, staff.KindBatchUnfreeze, f.Batch,
		fmt.Sprintf("unfreeze batch %s (%d reports, %d keys held)", f.Batch, len(f.Reports), f.Held),
		unfreezeParams{Batch: f.Batch, Product: f.Product}, totp)
}

func (s *Server) apiUnfreeze(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	var req unfreezeRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		s.WriteError(w, r, err)
		return
	}
	a, err := s.proposeUnfreeze(sess, param(r, "batch"), req.TOTP)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.writeOp(w, a)
}

// freezeRuleRequest is POST /api/v1/admin/freeze-rule.
type freezeRuleRequest struct {
	shop.FreezeRule
	TOTP string `json:"totp"`
}

func (s *Server) proposeFreezeRule(sess staff.Session, req freezeRuleRequest) (staff.Approval, error) {
	if err := req.FreezeRule.Validate(); err != nil {
		return staff.Approval{}, err
	}
	return s.proposeOp(sess, staff.KindFreezeRule, "freeze-rule", "freeze rule: "+freezeRuleText(req.FreezeRule), req.FreezeRule, req.TOTP)
}

// goodwillPage is GET /admin/goodwill[?ticket=ID]: frozen batches with
// their evidence (unfreeze, recall), the freeze rule, and the forms for a
// compensation key and, for a ticket, a refund by use with its computation.
func (s *Server) goodwillPage(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	lang := s.Lang(r)
	page := &pages.AdminGoodwill{AdminBase: s.adminBase(r, &sess, "goodwill", "")}
	if n := r.URL.Query().Get("notice"); n != "" {
		page.Notice = s.Pages.T(lang, "admin.notice."+n)
	}
	rule, err := s.Shop.FreezeRule()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	page.Rule = pages.FreezeRuleView{Off: rule.Off, MinReports: rule.MinReports, MinPercent: fmt.Sprintf("%d.%d", rule.MinPermille/10, rule.MinPermille%10), WindowHours: rule.WindowHours}
	active, past, err := s.Shop.Freezes(20)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	view := func(f shop.Freeze) pages.FreezeView {
		v := pages.FreezeView{Batch: f.Batch, Supplier: f.Supplier, At: f.At, Delivered: f.Delivered, Held: f.Held,
			Swapped: f.Swapped, Unswapped: f.Unswapped, Ended: f.Ended, EndedBy: f.EndedBy}
		if p, err := s.Shop.Product(f.Product); err == nil {
			v.Product = p.Name.In(lang)
			v.StockURL = page.URL("/admin/products/" + url.PathEscape(p.ID) + "/stock")
		}
		for _, rep := range f.Reports {
			v.Reports = append(v.Reports, pages.FreezeReport{Ref: rep.Ref, ReasonText: s.Pages.T(lang, "reason."+string(rep.Reason)),
				At: rep.At, TicketURL: page.URL("/admin/tickets/" + url.PathEscape(rep.Ticket))})
		}
		return v
	}
	for _, f := range active {
		page.Frozen = append(page.Frozen, view(f))
	}
	for _, f := range past {
		page.Past = append(page.Past, view(f))
	}
	if ps, err := s.Shop.Products(); err == nil {
		for _, p := range ps {
			page.Products = append(page.Products, pages.Choice{Value: p.ID, Label: fmt.Sprintf("%s (%d)", p.Name.In(lang), p.InStock)})
		}
	}
	q := r.URL.Query()
	page.Ref, page.Ticket = strings.TrimSpace(q.Get("ref")), strings.TrimSpace(q.Get("ticket"))
	if len(page.Ref) > 20 || len(page.Ticket) > 40 {
		s.WriteError(w, r, web.BadRequest("ref or ticket: too long"))
		return
	}
	if page.Ticket != "" {
		if t, err := s.Shop.Ticket(page.Ticket); err == nil && page.Ref == "" {
			page.Ref = t.Ref
		}
		qt, err := s.Shop.ProRata(page.Ticket)
		switch {
		case err == nil:
			page.ProRata = &pages.ProRataView{Amount: pages.Money(qt.AmountMinor, qt.Currency), Paid: pages.Money(qt.PaidMinor, qt.Currency),
				Explain: qt.Explain()}
		case errors.Is(err, shop.ErrNoProRata), errors.Is(err, shop.ErrNotRefundable), errors.Is(err, shop.ErrTicketClosed):
			page.ProRataOff = s.Pages.T(lang, "admin.goodwill.pro_rata_off")
		default:
			var ie *shop.InputError
			if !errors.As(err, &ie) && !errors.Is(err, shop.ErrTicketNotFound) {
				s.WriteError(w, r, err)
				return
			}
			page.ProRataOff = s.Pages.T(lang, "admin.goodwill.pro_rata_off")
		}
	}
	page.Owner = sess.Role == staff.RoleOwner
	s.Render(w, r, http.StatusOK, page)
}

// goodwillSubmit is POST /admin/goodwill/:action — compensate (ref,
// product, ticket, totp), pro-rata (ticket), unfreeze (batch, totp),
// rule (min_reports, min_percent, window_hours, off, totp).
func (s *Server) goodwillSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	f := r.PostForm
	back := "/admin/goodwill"
	var a staff.Approval
	var err error
	switch param(r, "action") {
	case "compensate":
		a, err = s.proposeCompensation(sess, compensationRequest{Ref: f.Get("ref"), Product: f.Get("product"), Ticket: f.Get("ticket"), TOTP: f.Get("totp")})
	case "pro-rata":
		a, err = s.proposeProRata(sess, f.Get("ticket"))
	case "unfreeze":
		a, err = s.proposeUnfreeze(sess, f.Get("batch"), f.Get("totp"))
	case "rule":
		var rule shop.FreezeRule
		rule, err = parseFreezeRule(f)
		if err == nil {
			a, err = s.proposeFreezeRule(sess, freezeRuleRequest{FreezeRule: rule, TOTP: f.Get("totp")})
		}
	default:
		err = web.ErrNotFound
	}
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.opRedirect(w, r, a, back)
}

// parseFreezeRule reads the rule form; the share is a percentage with at
// most one decimal ("5", "2.5").
func parseFreezeRule(f url.Values) (shop.FreezeRule, error) {
	var r shop.FreezeRule
	r.Off = f.Get("off") != ""
	var err error
	if r.MinReports, err = strconv.Atoi(strings.TrimSpace(f.Get("min_reports"))); err != nil {
		return r, web.BadRequest("min_reports: a whole number")
	}
	if r.WindowHours, err = strconv.Atoi(strings.TrimSpace(f.Get("window_hours"))); err != nil {
		return r, web.BadRequest("window_hours: a whole number")
	}
	pct := strings.TrimSpace(f.Get("min_percent"))
	whole, frac, _ := strings.Cut(pct, ".")
	w, err1 := strconv.Atoi(whole)
	d := 0
	if frac != "" {
		if len(frac) != 1 {
			return r, web.BadRequest("min_percent: at most one decimal")
		}
		d, err = strconv.Atoi(frac)
	}
	if err1 != nil || err != nil || w < 0 || d < 0 || len(pct) > 6 {
		return r, web.BadRequest("min_percent: a percentage such as 5 or 2.5")
	}
	r.MinPermille = w*10 + d
	return r, r.Validate()
}
