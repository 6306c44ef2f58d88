package console

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"veil/pages"
	"veil/server/shop"
	"veil/server/staff"
	"veil/server/web"
)

// The resale network's console pages (issue 14): reseller accounts with
// their balances and ledgers, the upstream side's ticket queue, and a
// product's upstream. Each form calls the same function as its JSON route
// (admin_resale.go), so roles, TOTP and approvals are the API's.

func (s *Server) resalePageRoutes(c declarer) {
	c.staff(http.MethodGet, "/admin/resellers", s.resellersPage)
	c.staff(http.MethodPost, "/admin/resellers", s.resellerCreateSubmit)
	c.staff(http.MethodGet, "/admin/resellers/:id", s.resellerPage)
	c.staff(http.MethodPost, "/admin/resellers/:id/:action", s.resellerSubmit)
	c.staff(http.MethodGet, "/admin/resale/tickets", s.resaleTicketsPage)
	c.staff(http.MethodPost, "/admin/resale/tickets/:id/:action", s.resaleTicketSubmit)
	c.staff(http.MethodGet, "/admin/products/:id/upstream", s.upstreamPage)
	c.staff(http.MethodPost, "/admin/products/:id/upstream", s.upstreamSubmit)
}

// recipientPrint is how a reseller's age recipient shows in the console: a
// short fingerprint, enough to compare with what the reseller holds.
func recipientPrint(rcpt string) string {
	h := sha256.Sum256([]byte(rcpt))
	x := hex.EncodeToString(h[:8])
	return x[:4] + " " + x[4:8] + " " + x[8:12] + " " + x[12:]
}

// lastCalls is when each account last called the reseller API, from the
// newest audit entries (one page: an account quiet for longer shows none).
func (s *Server) lastCalls() map[string]time.Time {
	out := map[string]time.Time{}
	entries, _, err := s.Staff.Audit(0, 500)
	if err != nil {
		return out
	}
	for _, e := range entries {
		if id, ok := strings.CutPrefix(e.Actor, "reseller:"); ok {
			if _, seen := out[id]; !seen {
				out[id] = e.At
			}
		}
	}
	return out
}

// offsetParam reads ?cursor= of a list paged by position.
func offsetParam(r *http.Request) (int, error) {
	c, err := cursorParam(r)
	if err != nil || c == "" {
		return 0, err
	}
	n, err := strconv.Atoi(c)
	if err != nil || n < 0 {
		return 0, web.BadRequest("cursor: a position")
	}
	return n, nil
}

// window is the page of n items at offset, and the next page's cursor.
func window(n, offset int) (from, to int, next string) {
	from = min(offset, n)
	to = min(from+pageSize, n)
	if to < n {
		next = strconv.Itoa(to)
	}
	return from, to, next
}

// resellersPage is GET /admin/resellers: the accounts by name, paginated,
// and the owner's form for a new one.
func (s *Server) resellersPage(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	offset, err := offsetParam(r)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	rs, err := s.Shop.Resellers()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	ps, err := s.Shop.Products()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	lang := s.Lang(r)
	slices.SortFunc(rs, func(a, b shop.Reseller) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	page := &pages.AdminResellers{AdminBase: s.adminBase(r, &sess, "resale", ""), Owner: sess.Role == staff.RoleOwner}
	calls := s.lastCalls()
	from, to, next := window(len(rs), offset)
	for _, x := range rs[from:to] {
		row := pages.ResellerRow{ID: x.ID, Name: x.Name, Active: x.Status == shop.ResellerActive,
			Balance: pages.Money(x.BalanceMinor, x.Currency), Rule: s.priceRule(lang, x), LastCall: calls[x.ID],
			SecretIssued: len(x.Salt) > 0}
		if x.DailyLimitMinor > 0 {
			row.DailyLimit = pages.Money(x.DailyLimitMinor, x.Currency)
		}
		page.Resellers = append(page.Resellers, row)
	}
	page.Pager = s.pager(r, next, nil)
	seen := map[string]bool{}
	for _, p := range ps {
		if !seen[p.Currency] {
			seen[p.Currency] = true
			page.Currencies = append(page.Currencies, pages.Choice{Value: p.Currency, Label: p.Currency, Selected: len(page.Currencies) == 0})
		}
		page.Products = append(page.Products, pages.Choice{Value: p.Slug, Label: p.Name.In(lang) + " · " + pages.Money(p.PriceMinor, p.Currency)})
	}
	s.Render(w, r, http.StatusOK, page)
}

// priceRule says in words how an account's agent prices are made.
func (s *Server) priceRule(lang string, x shop.Reseller) string {
	var parts []string
	if x.PercentOff > 0 {
		parts = append(parts, fmt.Sprintf(s.Pages.T(lang, "admin.resale.rule_percent"), x.PercentOff))
	}
	if len(x.Prices) > 0 {
		parts = append(parts, fmt.Sprintf(s.Pages.T(lang, "admin.resale.rule_prices"), len(x.Prices)))
	}
	if len(parts) == 0 {
		return s.Pages.T(lang, "admin.resale.rule_retail")
	}
	return strings.Join(parts, " · ")
}

// parsePrices reads the agent prices field: one "product = price" a line,
// the product by slug or id, the price in major units of currency.
func (s *Server) parsePrices(v, currency string) (map[string]int64, error) {
	out := map[string]int64{}
	for i, line := range strings.Split(v, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		name, price, ok := strings.Cut(line, "=")
		if !ok {
			return nil, web.BadRequest("prices line %d: product = price", i+1)
		}
		p, err := s.Shop.Product(strings.TrimSpace(name))
		if err != nil {
			return nil, web.BadRequest("prices line %d: no such product", i+1)
		}
		if p.Currency != currency {
			return nil, web.BadRequest("prices line %d: the product is priced in %s", i+1, p.Currency)
		}
		n, err := parseMoney(price, currency)
		if err != nil || n <= 0 {
			return nil, web.BadRequest("prices line %d: a price like 9.90", i+1)
		}
		out[p.ID] = n
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// resellerCreateSubmit is POST /admin/resellers: a reseller_create
// approval, carried out at once with a code when the owner may.
func (s *Server) resellerCreateSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	f := r.PostForm
	spec := shop.ResellerSpec{Name: f.Get("name"), Recipient: strings.TrimSpace(f.Get("recipient")), Currency: f.Get("currency")}
	var err error
	if v := strings.TrimSpace(f.Get("percent_off")); v != "" {
		if spec.PercentOff, err = strconv.Atoi(v); err != nil {
			s.WriteError(w, r, web.BadRequest("percent_off: 0 to 99"))
			return
		}
	}
	if v := strings.TrimSpace(f.Get("rate")); v != "" {
		if spec.RatePerMinute, err = strconv.Atoi(v); err != nil {
			s.WriteError(w, r, web.BadRequest("rate: calls a minute"))
			return
		}
	}
	if spec.DailyLimitMinor, err = parseMoney(f.Get("daily_limit"), spec.Currency); err != nil {
		s.WriteError(w, r, err)
		return
	}
	if spec.Prices, err = s.parsePrices(f.Get("prices"), spec.Currency); err != nil {
		s.WriteError(w, r, err)
		return
	}
	a, err := s.proposeReseller(sess, struct {
		shop.ResellerSpec
		TOTP string `json:"totp"`
	}{spec, f.Get("totp")})
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.afterApproval(a)
	if a.Status == staff.StatusApproved {
		s.redirectNotice(w, r, "/admin/resellers", "reseller_created")
		return
	}
	s.opRedirect(w, r, a, "/admin/resellers")
}

// resellerPage is GET /admin/resellers/:id: the account, its agent prices,
// the owner's forms and its ledger, paginated by sequence number.
func (s *Server) resellerPage(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	c, err := cursorParam(r)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	var before uint64
	if c != "" {
		if before, err = strconv.ParseUint(c, 10, 64); err != nil {
			s.WriteError(w, r, web.BadRequest("cursor: a ledger number"))
			return
		}
	}
	x, err := s.Shop.Reseller(param(r, "id"))
	if err != nil {
		s.WriteError(w, r, resaleErr(err))
		return
	}
	led, err := s.Shop.Ledger(x.ID, before, pageSize+1)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	ps, err := s.Shop.Products()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	orders, err := s.Shop.ResaleOrders(x.ID)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	tickets, err := s.Shop.ResaleTickets()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	lang := s.Lang(r)
	page := &pages.AdminReseller{AdminBase: s.adminBase(r, &sess, "resale", ""), ID: x.ID, Name: x.Name,
		Active: x.Status == shop.ResellerActive, Currency: x.Currency, Balance: pages.Money(x.BalanceMinor, x.Currency),
		PercentOff: x.PercentOff, Rate: x.Rate(), Recipient: recipientPrint(x.Recipient), SecretIssued: x.SecretIssued,
		Created: x.CreatedAt, LastCall: s.lastCalls()[x.ID], Owner: sess.Role == staff.RoleOwner, Orders: len(orders)}
	if x.DailyLimitMinor > 0 {
		page.DailyLimit = pages.Money(x.DailyLimitMinor, x.Currency)
	}
	for _, t := range tickets {
		if t.Reseller == x.ID && t.Status != shop.TicketResolved && t.Status != shop.TicketRejected {
			page.OpenTickets++
		}
	}
	for _, p := range ps {
		if p.Currency != x.Currency {
			continue
		}
		_, own := x.Prices[p.ID]
		page.Prices = append(page.Prices, pages.AgentPriceRow{Product: p.Name.In(lang), Slug: p.Slug,
			Retail: pages.Money(p.PriceMinor, p.Currency), Agent: pages.Money(x.AgentPrice(p), x.Currency), Own: own})
	}
	next := ""
	if len(led) > pageSize {
		led = led[:pageSize]
		next = strconv.FormatUint(led[len(led)-1].Seq, 10)
	}
	for _, e := range led {
		page.Ledger = append(page.Ledger, pages.LedgerRow{Seq: e.Seq, At: e.At, Kind: s.Pages.T(lang, "admin.resale.ledger."+string(e.Kind)),
			Delta: pages.Money(e.DeltaMinor, x.Currency), Balance: pages.Money(e.BalanceMinor, x.Currency),
			Credit: e.DeltaMinor > 0, Ref: e.Ref, Note: e.Note})
	}
	page.Pager = s.pager(r, next, nil)
	s.Render(w, r, http.StatusOK, page)
}

// resellerSubmit is POST /admin/resellers/:id/:action: status (at once),
// balance (an approval) or secret (shown on the answer, this once).
func (s *Server) resellerSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	id, f := param(r, "id"), r.PostForm
	back := "/admin/resellers/" + url.PathEscape(id)
	switch param(r, "action") {
	case "status":
		if err := requireOwner(sess); err != nil {
			s.WriteError(w, r, err)
			return
		}
		acct, err := s.Shop.SetResellerStatus(id, shop.ResellerStatus(f.Get("status")))
		if err != nil {
			s.WriteError(w, r, resaleErr(err))
			return
		}
		s.record(sess, "reseller.status", acct.ID, "status="+string(acct.Status))
		s.redirectNotice(w, r, back, "reseller_"+string(acct.Status))
	case "balance":
		acct, err := s.Shop.Reseller(id)
		if err != nil {
			s.WriteError(w, r, resaleErr(err))
			return
		}
		amount, err := parseMoney(f.Get("amount"), acct.Currency)
		if err != nil {
			s.WriteError(w, r, err)
			return
		}
		kind := shop.LedgerKind(f.Get("kind"))
		switch f.Get("kind") {
		case "adjust_credit":
			kind = shop.LedgerAdjust
		case "adjust_debit":
			kind, amount = shop.LedgerAdjust, -amount
		case string(shop.LedgerBalanceRefund):
			amount = -amount
		}
		note, err := checkText("note", f.Get("note"), 200, false)
		if err != nil {
			s.WriteError(w, r, err)
			return
		}
		a, err := s.proposeBalance(sess, id, kind, amount, note, f.Get("totp"))
		if err != nil {
			s.WriteError(w, r, err)
			return
		}
		s.afterApproval(a)
		s.opRedirect(w, r, a, back)
	case "secret":
		s.resellerSecretSubmit(w, r, sess, id)
	default:
		s.WriteError(w, r, web.NewError(http.StatusNotFound, "not_found", "no such action"))
	}
}

// resellerSecretSubmit issues a new API secret (owners, a fresh code) and
// shows it in this answer only: nothing stores it, no page shows it again.
func (s *Server) resellerSecretSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session, id string) {
	if err := requireOwner(sess); err != nil {
		s.WriteError(w, r, err)
		return
	}
	if err := s.Staff.CheckTOTP(sess.User, r.PostForm.Get("totp")); err != nil {
		s.WriteError(w, r, err)
		return
	}
	acct, err := s.Shop.Reseller(id)
	if err != nil {
		s.WriteError(w, r, resaleErr(err))
		return
	}
	secret, err := s.Shop.IssueResellerSecret(acct.ID)
	if err != nil {
		s.WriteError(w, r, resaleErr(err))
		return
	}
	s.record(sess, "reseller.secret_issued", acct.ID, "")
	s.Render(w, r, http.StatusOK, &pages.AdminResellerSecret{
		AdminBase: s.adminBase(r, &sess, "resale", "/admin/resellers/"+url.PathEscape(acct.ID)),
		ID:        acct.ID, Name: acct.Name, Secret: secret})
}

// resaleTicketsPage is GET /admin/resale/tickets: the tickets resellers
// opened, those still open first, then the newest, paginated; threads are
// opened with the support identity while the vault is unlocked.
func (s *Server) resaleTicketsPage(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	offset, err := offsetParam(r)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	ts, err := s.Shop.ResaleTickets()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	rs, err := s.Shop.Resellers()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	names := map[string]string{}
	for _, x := range rs {
		names[x.ID] = x.Name
	}
	closed := func(t shop.ResaleTicket) bool {
		return t.Status == shop.TicketResolved || t.Status == shop.TicketRejected
	}
	slices.SortStableFunc(ts, func(a, b shop.ResaleTicket) int {
		if ca, cb := closed(a), closed(b); ca != cb {
			if ca {
				return 1
			}
			return -1
		}
		return b.CreatedAt.Compare(a.CreatedAt)
	})
	lang := s.Lang(r)
	page := &pages.AdminResaleTickets{AdminBase: s.adminBase(r, &sess, "resale", ""), Owner: sess.Role == staff.RoleOwner}
	id, idErr := s.Shop.SupportIdentity()
	page.Sealed = idErr != nil
	from, to, next := window(len(ts), offset)
	for _, t := range ts[from:to] {
		row := pages.ResaleTicketRow{ID: t.ID, Order: t.Order, Item: t.ItemID, Reseller: orID(names[t.Reseller], t.Reseller),
			ResellerID: t.Reseller, Reason: s.Pages.T(lang, "reason."+string(t.Reason)), Status: string(t.Status),
			StatusText: s.Pages.T(lang, "ticket_status."+string(t.Status)), Open: !closed(t) && t.Status != shop.TicketProposed,
			Created: t.CreatedAt}
		if t.Remedy != "" {
			row.Remedy = s.Pages.T(lang, "remedy."+string(t.Remedy))
		}
		if o, err := s.Shop.ResaleOrder("", t.Order); err == nil {
			row.Currency, row.Unit = o.Currency, formatMajor(o.UnitMinor, o.Currency)
		}
		if idErr == nil {
			for _, m := range t.Thread {
				text, err := shop.OpenResaleThread(m, id, true)
				if err != nil {
					text = s.Pages.T(lang, "admin.resale.unreadable")
				}
				row.Thread = append(row.Thread, pages.ResaleLine{Staff: m.From == "staff", At: m.At, Text: text})
			}
		}
		page.Tickets = append(page.Tickets, row)
	}
	page.Pager = s.pager(r, next, nil)
	s.Render(w, r, http.StatusOK, page)
}

// resaleTicketSubmit is POST /admin/resale/tickets/:id/:action: answer
// (text) or remedy (remedy, amount for a refund, totp).
func (s *Server) resaleTicketSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	id, f := param(r, "id"), r.PostForm
	switch param(r, "action") {
	case "answer":
		text, err := checkText("text", f.Get("text"), 4000, true)
		if err != nil {
			s.WriteError(w, r, err)
			return
		}
		t, err := s.Shop.AnswerResaleTicket(id, text)
		if err != nil {
			s.WriteError(w, r, resaleErr(err))
			return
		}
		s.record(sess, "reseller.ticket_answer", t.Order, "ticket="+t.ID)
		s.redirectNotice(w, r, "/admin/resale/tickets", "resale_answered")
	case "remedy":
		var amount int64
		remedy := shop.Remedy(f.Get("remedy"))
		if remedy == shop.RemedyRefund {
			t, err := s.Shop.ResaleTicket("", id)
			if err != nil {
				s.WriteError(w, r, err)
				return
			}
			o, err := s.Shop.ResaleOrder("", t.Order)
			if err != nil {
				s.WriteError(w, r, err)
				return
			}
			if amount, err = parseMoney(f.Get("amount"), o.Currency); err != nil {
				s.WriteError(w, r, err)
				return
			}
		}
		a, err := s.proposeResaleRemedy(sess, id, remedy, amount, f.Get("totp"))
		if err != nil {
			s.WriteError(w, r, err)
			return
		}
		s.afterApproval(a)
		s.opRedirect(w, r, a, "/admin/resale/tickets")
	default:
		s.WriteError(w, r, web.NewError(http.StatusNotFound, "not_found", "no such action"))
	}
}

// upstreamPage is GET /admin/products/:id/upstream: where the product comes
// from (never its secret or identity), the cached stock, the upstream's
// last failure and the paid orders waiting for it.
func (s *Server) upstreamPage(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	p, err := s.Shop.Product(param(r, "id"))
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	page := &pages.AdminUpstream{AdminBase: s.adminBase(r, &sess, "products", ""), ProductID: p.ID,
		Product: p.Name.In(s.Lang(r)), Unique: p.Kind == shop.Unique, Currency: p.Currency, Owner: sess.Role == staff.RoleOwner}
	if up := p.Upstream; up != nil {
		page.Sourced, page.BaseURL, page.KeyID, page.UpstreamProduct = true, up.BaseURL, up.KeyID, up.Product
		if up.MaxUnitMinor > 0 {
			page.MaxUnit = formatMajor(up.MaxUnitMinor, p.Currency)
		}
		v, err := s.Shop.UpstreamStatus(p.ID)
		if err != nil {
			s.WriteError(w, r, err)
			return
		}
		page.Available, page.CheckedAt, page.LastError, page.LastErrorAt = v.Available, v.CheckedAt, v.LastError, v.LastErrorAt
		for _, o := range v.Waiting {
			row := pages.WaitingOrder{Ref: o.Ref, Quantity: o.Quantity, PaidAt: o.PaidAt, DeliverBy: o.DeliverBy}
			if o.Upstream != nil {
				row.Purchasing, row.Attempts = o.Upstream.Purchasing, o.Upstream.Attempts
			}
			page.Waiting = append(page.Waiting, row)
		}
	}
	s.Render(w, r, http.StatusOK, page)
}

// upstreamSubmit is POST /admin/products/:id/upstream: base_url, key_id,
// product, max_unit, secret, identity and totp; or remove=1 and totp.
func (s *Server) upstreamSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	id, f := param(r, "id"), r.PostForm
	p, err := s.Shop.Product(id)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	var up *shop.Upstream
	if f.Get("remove") != "1" {
		up = &shop.Upstream{BaseURL: strings.TrimSpace(f.Get("base_url")), KeyID: strings.TrimSpace(f.Get("key_id")),
			Product: strings.TrimSpace(f.Get("product"))}
		if up.MaxUnitMinor, err = parseMoney(f.Get("max_unit"), p.Currency); err != nil {
			s.WriteError(w, r, err)
			return
		}
	}
	cred := shop.UpstreamCredentials{Secret: strings.TrimSpace(f.Get("secret")), Identity: strings.TrimSpace(f.Get("identity"))}
	if _, err := s.setUpstream(sess, p.ID, up, cred, f.Get("totp")); err != nil {
		s.WriteError(w, r, err)
		return
	}
	notice := "upstream_set"
	if up == nil {
		notice = "upstream_cleared"
	}
	s.redirectNotice(w, r, "/admin/products/"+url.PathEscape(p.ID)+"/upstream", notice)
}
