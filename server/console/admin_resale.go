package console

import (
	"errors"
	"fmt"
	"net/http"

	"veil/server/resale"
	"veil/server/shop"
	"veil/server/staff"
	"veil/server/web"
)

// Resale (issue 14): reseller accounts, their balances and tickets, sourced
// products and forwarding a buyer's ticket upstream — the console's JSON
// API (API.md "Reseller API", "Downstream"); the pages are in resale_pages.go.
func (s *Server) resaleRoutes(c declarer) {
	c.staff(http.MethodGet, "/api/v1/admin/resellers", s.apiResellers)
	c.staff(http.MethodPost, "/api/v1/admin/resellers", opJSON(s, s.proposeReseller))
	c.staff(http.MethodPost, "/api/v1/admin/resellers/:id/secret", s.apiResellerSecret)
	c.staff(http.MethodPost, "/api/v1/admin/resellers/:id/status", s.apiResellerStatus)
	c.staff(http.MethodPost, "/api/v1/admin/resellers/:id/balance", s.apiResellerBalance)
	c.staff(http.MethodGet, "/api/v1/admin/resale/tickets", s.apiResaleTickets)
	c.staff(http.MethodPost, "/api/v1/admin/resale/tickets/:id/answer", s.apiResaleAnswer)
	c.staff(http.MethodPost, "/api/v1/admin/resale/tickets/:id/remedy", s.apiResaleRemedy)
	c.staff(http.MethodPost, "/api/v1/admin/products/:id/upstream", s.apiSetUpstream)
	c.staff(http.MethodPost, "/api/v1/admin/tickets/:id/forward", s.apiForwardTicket)
}

// resaleErr gives the resale domain's errors their documented codes.
func resaleErr(err error) error {
	switch {
	case errors.Is(err, shop.ErrResellerNotFound):
		return web.NewError(http.StatusNotFound, "reseller_not_found", "no such reseller")
	case errors.Is(err, shop.ErrInsufficientBalance):
		return web.NewError(http.StatusConflict, "insufficient_balance", "the balance would go below zero")
	case errors.Is(err, shop.ErrNotSourced):
		return web.NewError(http.StatusConflict, "not_sourced", "the order's keys were not bought upstream")
	case errors.Is(err, shop.ErrUpstreamRefused):
		return web.NewError(http.StatusBadGateway, "upstream_error", "the upstream refused")
	}
	var re *resale.Error
	if errors.As(err, &re) {
		return web.NewError(http.StatusBadGateway, "upstream_error", "the upstream answered "+re.Code)
	}
	return err
}

func (s *Server) apiResellers(w http.ResponseWriter, r *http.Request, _ staff.Session) {
	rs, err := s.Shop.Resellers()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	type row struct {
		shop.Reseller
		Salt         []byte `json:"salt,omitempty"` // never shown
		SecretIssued bool   `json:"secret_issued"`
	}
	out := []row{}
	for _, x := range rs {
		out = append(out, row{Reseller: x, SecretIssued: len(x.Salt) > 0})
	}
	web.WriteJSON(w, http.StatusOK, struct {
		Resellers []row `json:"resellers"`
	}{out})
}

// proposeReseller is POST /api/v1/admin/resellers (a reseller_create
// approval; with "totp" it runs at once when the owner may decide alone).
func (s *Server) proposeReseller(sess staff.Session, req struct {
	shop.ResellerSpec
	TOTP string `json:"totp"`
}) (staff.Approval, error) {
	if err := requireOwner(sess); err != nil {
		return staff.Approval{}, err
	}
	if err := s.Shop.CheckResellerSpec(req.ResellerSpec); err != nil {
		return staff.Approval{}, err
	}
	return s.Staff.ProposeAndExecute(sess.User, staff.KindResellerCreate, req.Name, "new reseller "+req.Name, req.ResellerSpec, req.TOTP)
}

// apiResellerSecret is POST /api/v1/admin/resellers/:id/secret {"totp"}:
// 200 {"key_id","secret"}, the secret shown this once (a new one replaces
// the old at once). Owners, with a fresh TOTP code.
func (s *Server) apiResellerSecret(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	var req struct {
		TOTP string `json:"totp"`
	}
	if err := web.DecodeJSON(r, &req); err != nil {
		s.WriteError(w, r, err)
		return
	}
	if err := requireOwner(sess); err != nil {
		s.WriteError(w, r, err)
		return
	}
	if err := s.Staff.CheckTOTP(sess.User, req.TOTP); err != nil {
		s.WriteError(w, r, err)
		return
	}
	id := param(r, "id")
	secret, err := s.Shop.IssueResellerSecret(id)
	if err != nil {
		s.WriteError(w, r, resaleErr(err))
		return
	}
	s.record(sess, "reseller.secret_issued", id, "")
	w.Header().Set("Cache-Control", "no-store")
	web.WriteJSON(w, http.StatusOK, struct {
		KeyID  string `json:"key_id"`
		Secret string `json:"secret"`
	}{id, secret})
}

// apiResellerStatus is POST /api/v1/admin/resellers/:id/status
// {"status": "active"|"suspended"}: at once (owners).
func (s *Server) apiResellerStatus(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	var req struct {
		Status shop.ResellerStatus `json:"status"`
	}
	if err := web.DecodeJSON(r, &req); err != nil {
		s.WriteError(w, r, err)
		return
	}
	if err := requireOwner(sess); err != nil {
		s.WriteError(w, r, err)
		return
	}
	acct, err := s.Shop.SetResellerStatus(param(r, "id"), req.Status)
	if err != nil {
		s.WriteError(w, r, resaleErr(err))
		return
	}
	s.record(sess, "reseller.status", acct.ID, "status="+string(acct.Status))
	web.WriteJSON(w, http.StatusOK, struct {
		Status shop.ResellerStatus `json:"status"`
	}{acct.Status})
}

// apiResellerBalance is POST /api/v1/admin/resellers/:id/balance
// {"kind": "top_up"|"adjust"|"balance_refund", "amount_minor" (signed as it
// moves the balance), "note", "totp"?}: an approval (money two-person).
func (s *Server) apiResellerBalance(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	opJSON(s, func(sess staff.Session, req struct {
		Kind        shop.LedgerKind `json:"kind"`
		AmountMinor int64           `json:"amount_minor"`
		Note        string          `json:"note"`
		TOTP        string          `json:"totp"`
	}) (staff.Approval, error) {
		return s.proposeBalance(sess, param(r, "id"), req.Kind, req.AmountMinor, req.Note, req.TOTP)
	})(w, r, sess)
}

// proposeBalance proposes a balance movement of account id (the API and
// the reseller's page): owners; executed at once with a code when the
// owner may decide alone.
func (s *Server) proposeBalance(sess staff.Session, id string, kind shop.LedgerKind, amount int64, note, totp string) (staff.Approval, error) {
	if err := requireOwner(sess); err != nil {
		return staff.Approval{}, err
	}
	acct, err := s.Shop.Reseller(id)
	if err != nil {
		return staff.Approval{}, resaleErr(err)
	}
	kinds := map[shop.LedgerKind]staff.Kind{shop.LedgerTopUp: staff.KindResellerTopUp, shop.LedgerAdjust: staff.KindResellerAdjust,
		shop.LedgerBalanceRefund: staff.KindResellerBalanceRefund}
	k, ok := kinds[kind]
	if !ok || amount == 0 || (kind == shop.LedgerTopUp) != (amount > 0) && kind != shop.LedgerAdjust {
		return staff.Approval{}, web.NewError(http.StatusBadRequest, "bad_request",
			"kind: top_up (amount > 0), adjust (≠ 0) or balance_refund (amount < 0)")
	}
	return s.Staff.ProposeAndExecute(sess.User, k, acct.ID,
		fmt.Sprintf("%s %+d %s for %s", kind, amount, acct.Currency, acct.Name),
		resale.BalanceParams{Reseller: acct.ID, AmountMinor: amount, Currency: acct.Currency, Note: note}, totp)
}

func (s *Server) apiResaleTickets(w http.ResponseWriter, r *http.Request, _ staff.Session) {
	ts, err := s.Shop.ResaleTickets()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	if ts == nil {
		ts = []shop.ResaleTicket{}
	}
	for i := range ts {
		ts[i].Thread = nil // sealed; the console reads it with the support identity
	}
	web.WriteJSON(w, http.StatusOK, struct {
		Tickets []shop.ResaleTicket `json:"tickets"`
	}{ts})
}

func (s *Server) apiResaleAnswer(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	var req struct {
		Text string `json:"text"`
	}
	if err := web.DecodeJSON(r, &req); err != nil {
		s.WriteError(w, r, err)
		return
	}
	t, err := s.Shop.AnswerResaleTicket(param(r, "id"), req.Text)
	if err != nil {
		s.WriteError(w, r, resaleErr(err))
		return
	}
	s.record(sess, "reseller.ticket_answer", t.Order, "ticket="+t.ID)
	web.WriteJSON(w, http.StatusOK, struct {
		Status shop.TicketStatus `json:"status"`
	}{t.Status})
}

// apiResaleRemedy is POST /api/v1/admin/resale/tickets/:id/remedy
// {"remedy": "replace"|"refund", "amount_minor"?, "totp"?}: a
// reseller_replacement or reseller_refund approval.
func (s *Server) apiResaleRemedy(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	opJSON(s, func(sess staff.Session, req struct {
		Remedy      shop.Remedy `json:"remedy"`
		AmountMinor int64       `json:"amount_minor"`
		TOTP        string      `json:"totp"`
	}) (staff.Approval, error) {
		return s.proposeResaleRemedy(sess, param(r, "id"), req.Remedy, req.AmountMinor, req.TOTP)
	})(w, r, sess)
}

// proposeResaleRemedy proposes a resale ticket's remedy (the API and the
// resale tickets page); the approval kinds carry the role floors.
func (s *Server) proposeResaleRemedy(sess staff.Session, id string, remedy shop.Remedy, amount int64, totp string) (staff.Approval, error) {
	t, err := s.Shop.ResaleTicket("", id)
	if err != nil {
		return staff.Approval{}, err
	}
	o, err := s.Shop.ResaleOrder("", t.Order)
	if err != nil {
		return staff.Approval{}, err
	}
	p := resale.RemedyParams{Ticket: t.ID, Product: o.ProductID, AmountMinor: amount}
	switch remedy {
	case shop.RemedyReplace:
		return s.Staff.ProposeAndExecute(sess.User, staff.KindResellerReplacement, t.ID,
			fmt.Sprintf("replace item %s of %s (ticket %s)", t.ItemID, t.Order, t.ID), p, totp)
	case shop.RemedyRefund:
		return s.Staff.ProposeAndExecute(sess.User, staff.KindResellerRefund, t.ID,
			fmt.Sprintf("refund item %s of %s to the balance (ticket %s)", t.ItemID, t.Order, t.ID), p, totp)
	}
	return staff.Approval{}, web.NewError(http.StatusBadRequest, "bad_request", "remedy: replace or refund")
}

// apiSetUpstream is POST /api/v1/admin/products/:id/upstream {"base_url",
// "key_id", "product", "max_unit_minor"?, "secret", "identity", "totp"}:
// the product is sourced upstream from now on (owners, a fresh TOTP code:
// the credentials buy with the shop's money there). {"remove": true}
// makes it local again.
func (s *Server) apiSetUpstream(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	var req struct {
		shop.Upstream
		Secret   string `json:"secret"`
		Identity string `json:"identity"`
		Remove   bool   `json:"remove"`
		TOTP     string `json:"totp"`
	}
	if err := web.DecodeJSON(r, &req); err != nil {
		s.WriteError(w, r, err)
		return
	}
	var up *shop.Upstream
	if !req.Remove {
		up = &req.Upstream
	}
	p, err := s.setUpstream(sess, param(r, "id"), up, shop.UpstreamCredentials{Secret: req.Secret, Identity: req.Identity}, req.TOTP)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, struct {
		ID       string         `json:"id"`
		Upstream *shop.Upstream `json:"upstream"`
	}{p.ID, p.Upstream})
}

// setUpstream sources product id from up (nil: local again), audited (the
// API and the product's upstream page): owners, a fresh TOTP code.
func (s *Server) setUpstream(sess staff.Session, id string, up *shop.Upstream, cred shop.UpstreamCredentials, totp string) (shop.Product, error) {
	if err := requireOwner(sess); err != nil {
		return shop.Product{}, err
	}
	if err := s.Staff.CheckTOTP(sess.User, totp); err != nil {
		return shop.Product{}, err
	}
	p, err := s.Shop.SetUpstream(id, up, cred)
	if err != nil {
		return shop.Product{}, resaleErr(err)
	}
	detail := "local"
	if up != nil {
		detail = "upstream=" + up.BaseURL + " product=" + up.Product
	}
	s.record(sess, "product.sourced", p.Slug, detail)
	return p, nil
}

// apiForwardTicket is POST /api/v1/admin/tickets/:id/forward {"text"}: the
// buyer's ticket on a sourced key is opened upstream with staff's text
// (one click in the console; a repeat forwards nothing more).
func (s *Server) apiForwardTicket(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	var req struct {
		Text string `json:"text"`
	}
	if err := web.DecodeOptionalJSON(r, &req); err != nil {
		s.WriteError(w, r, err)
		return
	}
	if err := s.forwardTicket(r, sess, param(r, "id"), req.Text); err != nil {
		s.WriteError(w, r, err)
		return
	}
	t, err := s.Shop.Ticket(param(r, "id"))
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, struct {
		Ticket shop.Ticket `json:"ticket"`
	}{t})
}

// forwardTicket forwards a buyer's ticket upstream and audits it (the API
// and the ticket page's button).
func (s *Server) forwardTicket(r *http.Request, sess staff.Session, id, text string) error {
	t, err := s.Shop.ForwardTicket(r.Context(), id, text)
	if err != nil {
		return resaleErr(err)
	}
	s.record(sess, "ticket.forward", t.Ref, "ticket="+t.ID+" upstream_ticket="+t.Upstream.Ticket)
	return nil
}
