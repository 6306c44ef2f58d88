package storefront

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"veil/pages"
	"veil/server/pay"
	"veil/server/payments"
	"veil/server/shop"
	"veil/server/staff"
	"veil/server/store"
	"veil/server/web"
)

// maxNotifyBody caps a gateway notify's body: a real one is about ten
// short parameters, well under a kilobyte.
const maxNotifyBody = 8 << 10

// epayNotify is GET or POST /pay/epay/notify, the 易支付 notify callback.
//
// It answers "success" only once the payment is durably recorded, which
// includes a repeat of a notify applied before (no second effect) and a
// payment the shop records without delivering: a held one (amount differs
// from the order's), or one owed back (the order was paid, refunded or
// refund_due already). Those are authentic payments, now in the store and
// in front of staff; answering "fail" would only make the gateway repeat
// them for a day. Anything that does not prove a payment — malformed or
// repeated parameters, a bad signature, another pid, a trade_status other
// than TRADE_SUCCESS, an unknown order, a currency that is not the
// order's — answers "fail" and changes nothing.
//
// The route has no per-address rate limit: a gateway notifies from a few
// addresses, and a flash sale must not turn its notifies into 429s. A
// refused notify costs one parse and one MD5 before any store access.
func (s *Server) epayNotify(w http.ResponseWriter, r *http.Request) {
	answer := func(ok bool) { notifyAnswer(w, ok, "success") }
	v := s.payments.Epay()
	if v == nil {
		answer(false)
		return
	}
	params, err := notifyParams(w, r)
	if err != nil {
		s.Log.Warn("epay notify refused", "reason", err.Error())
		answer(false)
		return
	}
	n, err := v.Verify(params)
	if err != nil {
		s.Log.Warn("epay notify refused", "reason", err.Error())
		answer(false)
		return
	}
	s.answerApplied(w, v.Name(), n, "success")
}

// notifyAnswer is a gateway notify's plain-text answer: okText once the
// payment is durably recorded, else "fail" (the gateway repeats it).
func notifyAnswer(w http.ResponseWriter, ok bool, okText string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if ok {
		_, _ = io.WriteString(w, okText)
	} else {
		_, _ = io.WriteString(w, "fail")
	}
}

// answerApplied applies a verified gateway notify and answers it: okText
// once the payment is recorded, "fail" otherwise — with 503 when the store
// could not write (nothing recorded; the gateway resends, and the store
// logged the episode once, so no line per notify here).
func (s *Server) answerApplied(w http.ResponseWriter, provider string, n pay.Notification, okText string) {
	ok, err := s.applyNotify(provider, n)
	if errors.Is(err, store.ErrUnavailable) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "fail")
		return
	}
	notifyAnswer(w, ok, okText)
}

// applyNotify applies a verified gateway notify and logs the outcome; it
// reports whether the payment is recorded (see epayNotify for which are),
// and the error when it is not. A refusal the shop explains is a warning,
// a store that cannot write is the store's to log, anything else an error.
func (s *Server) applyNotify(provider string, n pay.Notification) (bool, error) {
	res, err := s.applyNotification(provider, n)
	if err != nil {
		if errors.Is(err, store.ErrUnavailable) {
			return false, err
		}
		if web.Classify(err).Code == "internal" && !errors.Is(err, pay.ErrRefused) {
			s.Log.Error(provider+" notify not applied", "ref", n.Ref, "err", err)
		} else {
			s.Log.Warn(provider+" notify not applied", "ref", n.Ref, "reason", err.Error())
		}
		return false, err
	}
	s.Log.Info(provider+" notify", "ref", n.Ref, "outcome", string(res.Outcome), "status", string(res.Order.Status))
	return true, nil
}

// notifyParams reads a notify's parameters from the query string and, for
// a POST, a form-encoded body (pay.NotifyParams refuses anything but
// distinct plain parameters). A body of any other type is refused.
func notifyParams(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	var body []byte
	if r.Method == http.MethodPost && r.Body != nil {
		var err error
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, maxNotifyBody))
		if err != nil {
			return nil, fmt.Errorf("read body: %w", err)
		}
		if len(body) > 0 {
			mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if err != nil || mt != "application/x-www-form-urlencoded" {
				return nil, fmt.Errorf("%w: body is not a form", pay.ErrRefused)
			}
		}
	}
	return pay.NotifyParams(r.URL.RawQuery, string(body))
}

// applyNotification records a verified gateway payment in the shop. A
// payment of another amount is held and an approval proposed to staff in
// the same transaction.
func (s *Server) applyNotification(provider string, n pay.Notification) (shop.PayResult, error) {
	o, err := s.Shop.OrderByRef(n.Ref)
	if err != nil {
		return shop.PayResult{}, err
	}
	if !strings.EqualFold(o.Currency, n.Currency) {
		return shop.PayResult{}, fmt.Errorf("%w: order %s is in %s, the payment in %s", pay.ErrRefused, o.Ref, o.Currency, n.Currency)
	}
	var onHeld shop.HeldFunc
	if s.Staff != nil {
		onHeld = s.proposeHeld
	}
	return s.Shop.ApplyPayment(n.Ref, n.Payment(provider), onHeld)
}

// proposeHeld queues the staff approval of a held payment inside the
// transaction that holds it: approve accepts and delivers, reject leaves
// it owed back (reconcileHeld turns the order refund_due).
func (s *Server) proposeHeld(tx *store.Txn, rec shop.PaymentRecord) (string, error) {
	p := rec.Payment
	summary := fmt.Sprintf("Payment of %s via %s (trade %s) differs from the order's amount: approve to accept it and deliver, reject to refund it",
		pay.FormatYuan(p.AmountMinor), p.Provider, p.TradeNo)
	a, err := s.Staff.ProposeTx(tx, "system", staff.KindPaymentConfirm, rec.Ref, summary, payments.ConfirmParams{
		Mode: payments.ConfirmHeld, AmountMinor: p.AmountMinor, Provider: p.Provider, TradeNo: p.TradeNo,
	})
	if err != nil {
		return "", err
	}
	return a.ID, nil
}

// epayReturn is GET /pay/epay/return, where the gateway sends the buyer
// back. Its query proves nothing (anyone can forge it): only the ref is
// read from it, and the page shows that order's state as the store has
// it — no keys, since there is no token here.
func (s *Server) epayReturn(w http.ResponseWriter, r *http.Request) {
	ref := strings.TrimSpace(r.URL.Query().Get("out_trade_no"))
	o, err := s.Shop.OrderByRef(ref)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	lang := s.Lang(r)
	page := s.orderStatusPage(r, lang, o)
	page.StatusHint += " " + s.Pages.T(lang, "payreturn.open_with_token")
	s.Render(w, r, http.StatusOK, page)
}

// orderStatusPage is the order page as anyone holding the ref may see it:
// state, amount and notices, never keys (the pages of the gateway return
// and of manual payment instructions).
func (s *Server) orderStatusPage(r *http.Request, lang string, o shop.Order) *pages.OrderPage {
	page := &pages.OrderPage{
		Base:       s.Base(r, lang),
		Ref:        o.Ref,
		Status:     string(o.Status),
		StatusText: s.Pages.T(lang, "status."+string(o.Status)),
		StatusHint: s.Pages.T(lang, "status_hint."+string(o.Status)),
		Quantity:   o.Quantity,
		Amount:     pages.Money(o.AmountMinor, o.Currency),
		Tier:       o.Tier,
		Pending:    o.Status == shop.StatusPending,
		ExpiresAt:  o.ExpiresAt,
		WindowEnds: o.WindowEnds,
	}
	if !s.Pages.Has("status." + string(o.Status)) {
		page.StatusText, page.StatusHint = string(o.Status), ""
	}
	if p, err := s.Shop.Product(o.ProductID); err == nil {
		page.ProductName = p.Name.In(lang)
		page.ProductPath = "/p/" + url.PathEscape(p.Slug)
	}
	for _, n := range o.Notices {
		key := "notice." + n.Code
		if !s.Pages.Has(key) {
			key = "notice.other"
		}
		page.Notices = append(page.Notices, pages.Notice{
			Text: s.Pages.T(lang, key), At: n.At, Bad: badNotice(n.Code),
		})
	}
	return page
}

// badNotice marks the notices that mean money is owed back or keys were
// taken away.
func badNotice(code string) bool {
	switch code {
	case "refund_due", "recalled", "payment_refund_due", "extra_payment", "late_payment_no_stock", "delivery_deadline":
		return true
	}
	return false
}
