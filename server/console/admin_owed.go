package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"veil/pages"
	"veil/server/shop"
	"veil/server/staff"
	"veil/server/store"
	"veil/server/web"
)

// Payments owed back (issue 10, item 13): a duplicate, late or rejected
// payment is recorded as owed and the buyer is told it will be refunded.
// The console lists them (GET /api/v1/admin/owed, /admin/owed) and a
// person marks each one given back once the money went out of the shop's
// own payment account — a payment_return approval, money leaving the
// shop: TOTP, the two-person rule of refunds, the audit log.

// owedParams are a payment_return approval's params.
type owedParams struct {
	Ref         string `json:"ref"`
	Provider    string `json:"provider"`
	TradeNo     string `json:"trade_no,omitempty"`
	AmountMinor int64  `json:"amount_minor"`
	Currency    string `json:"currency"`
	Reason      string `json:"reason,omitempty"` // why it was owed
	Note        string `json:"note,omitempty"`   // how it was given back, for the record
}

func (s *Server) registerOwedExecutor() {
	s.Staff.RegisterExecutor(staff.KindPaymentReturn, staff.RoleOwner, func(tx *store.Txn, a staff.Approval) (string, error) {
		var p owedParams
		if err := json.Unmarshal(a.Params, &p); err != nil {
			return "", fmt.Errorf("%w: params: %v", staff.ErrExecFailed, err)
		}
		o, err := s.Shop.PaymentReturnedTx(tx, p.Ref, p.Provider, p.TradeNo)
		if err != nil {
			return "", permanent(err)
		}
		return fmt.Sprintf("%s: payment %s of %s given back; the order is %s", o.Ref, tradeLabel(p.Provider, p.TradeNo),
			pages.Money(p.AmountMinor, p.Currency), o.Status), nil
	})
}

func tradeLabel(provider, tradeNo string) string {
	if tradeNo == "" {
		return provider
	}
	return provider + "/" + tradeNo
}

// owedJSON is one payment owed back.
type owedJSON struct {
	Ref         string `json:"ref"`
	Product     string `json:"product"`
	Provider    string `json:"provider"`
	TradeNo     string `json:"trade_no"`
	AmountMinor int64  `json:"amount_minor"`
	Currency    string `json:"currency"`
	Reason      string `json:"reason"`
	OrderStatus string `json:"order_status"`
	// Band is the hour the payment arrived (UTC), never the instant.
	Band string `json:"band"`
}

func toOwedJSON(op shop.OwedPayment) owedJSON {
	return owedJSON{Ref: op.Ref, Product: op.ProductID, Provider: op.Payment.Provider, TradeNo: op.Payment.TradeNo,
		AmountMinor: op.Payment.AmountMinor, Currency: op.Currency, Reason: op.Reason,
		OrderStatus: string(op.OrderStatus), Band: op.Payment.Band}
}

// apiOwed is GET /api/v1/admin/owed[?cursor=&limit=]: the payments owed
// back, with the total per currency.
func (s *Server) apiOwed(w http.ResponseWriter, r *http.Request, _ staff.Session) {
	cursor, limit, err := pageParams(r)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	list, next, err := s.Shop.Owed(cursor, limit)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	sum, err := s.Shop.OwedSum()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	out := struct {
		Owed       []owedJSON       `json:"owed"`
		Count      int              `json:"count"`
		TotalMinor map[string]int64 `json:"total_minor"`
		Next       string           `json:"next"`
	}{Owed: make([]owedJSON, 0, len(list)), Count: sum.Count, TotalMinor: sum.Minor, Next: next}
	for _, op := range list {
		out.Owed = append(out.Owed, toOwedJSON(op))
	}
	web.WriteJSON(w, http.StatusOK, out)
}

// owedRequest is POST /api/v1/admin/owed/returned.
type owedRequest struct {
	Ref      string `json:"ref"`
	Provider string `json:"provider"`
	TradeNo  string `json:"trade_no"`
	Note     string `json:"note"`
	TOTP     string `json:"totp"`
}

// proposeReturned proposes marking an owed payment given back. The payment
// must be owed now (409 not_refundable otherwise); the approval re-checks
// inside its own transaction.
func (s *Server) proposeReturned(sess staff.Session, req owedRequest) (staff.Approval, error) {
	ref, provider, tradeNo := strings.TrimSpace(req.Ref), strings.TrimSpace(req.Provider), strings.TrimSpace(req.TradeNo)
	if ref == "" || provider == "" {
		return staff.Approval{}, web.BadRequest("ref and provider are required")
	}
	note, err := checkText("note", req.Note, 200, false)
	if err != nil {
		return staff.Approval{}, err
	}
	op, err := s.Shop.OwedPaymentOf(ref, provider, tradeNo)
	if err != nil {
		return staff.Approval{}, err
	}
	p := owedParams{Ref: op.Ref, Provider: provider, TradeNo: tradeNo, AmountMinor: op.Payment.AmountMinor,
		Currency: op.Currency, Reason: op.Reason, Note: note}
	summary := fmt.Sprintf("give back payment %s of %s to the buyer of %s (%s)", tradeLabel(provider, tradeNo),
		pages.Money(p.AmountMinor, p.Currency), op.Ref, op.Reason)
	return s.proposeOp(sess, staff.KindPaymentReturn, op.Ref, summary, p, req.TOTP)
}

// owedPage is GET /admin/owed[?cursor=].
func (s *Server) owedPage(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	cursor, err := cursorParam(r)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	list, next, err := s.Shop.Owed(cursor, pageSize)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	sum, err := s.Shop.OwedSum()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	lang := s.Lang(r)
	page := &pages.AdminOwed{AdminBase: s.adminBase(r, &sess, "owed", ""), Count: sum.Count, Total: moneyTotal(sum.Minor)}
	for _, op := range list {
		name := op.ProductID
		if p, err := s.Shop.Product(op.ProductID); err == nil {
			name = p.Name.In(lang)
		}
		page.Payments = append(page.Payments, pages.AdminOwedPayment{
			Ref: op.Ref, Product: name, Provider: op.Payment.Provider, TradeNo: op.Payment.TradeNo,
			Amount:      pages.Money(op.Payment.AmountMinor, op.Currency),
			Reason:      s.Pages.T(lang, "admin.owed.reason."+reasonKey(s, op.Reason)),
			OrderStatus: s.Pages.T(lang, "admin.order_status."+string(op.OrderStatus)),
		})
	}
	page.Pager = s.pager(r, next, url.Values{})
	s.Render(w, r, http.StatusOK, page)
}

// reasonKey is the translation key of an owed payment's reason ("other"
// for one the pages do not know).
func reasonKey(s *Server, reason string) string {
	if s.Pages.Has("admin.owed.reason." + reason) {
		return reason
	}
	return "other"
}

// moneyTotal formats a total per currency ("¥48.50 · $3.00").
func moneyTotal(m map[string]int64) string {
	cs := make([]string, 0, len(m))
	for c := range m {
		cs = append(cs, c)
	}
	slices.Sort(cs)
	parts := make([]string, 0, len(cs))
	for _, c := range cs {
		parts = append(parts, pages.Money(m[c], c))
	}
	return strings.Join(parts, " · ")
}

// owedSubmit is POST /admin/owed/returned (ref, provider, trade_no, note,
// totp).
func (s *Server) owedSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	f := r.PostForm
	a, err := s.proposeReturned(sess, owedRequest{Ref: f.Get("ref"), Provider: f.Get("provider"), TradeNo: f.Get("trade_no"),
		Note: f.Get("note"), TOTP: f.Get("totp")})
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.opRedirect(w, r, a, "/admin/owed")
}
