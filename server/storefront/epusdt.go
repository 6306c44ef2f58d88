package storefront

import (
	"io"
	"net/http"

	"veil/server/pay"
)

// epusdtNotify is POST /pay/epusdt/notify, the epusdt-compatible gateway's
// callback (a signed JSON body, pay.Epusdt.VerifyNotify).
//
// It answers the body "ok" only once the payment is durably recorded — as
// for 易支付 that includes a repeat (no second effect), a payment held for
// staff (another amount than the order's: payment_held) and one owed back
// (the order was paid or refunded already). Anything that proves no
// payment — a body over pay.MaxEpusdtNotify, malformed JSON, a bad
// signature, status 1 or 3 (waiting, expired), an unknown order — answers
// "fail" and changes nothing. A notify for another order's trade number is
// refused by the shop (one trade pays one order).
//
// Like the 易支付 notify it is body limited but not rate limited per
// address; a refused notify costs one parse and one MD5 before any store
// access.
func (s *Server) epusdtNotify(w http.ResponseWriter, r *http.Request) {
	answer := func(ok bool) { notifyAnswer(w, ok, "ok") }
	e := s.payments.Epusdt()
	if e == nil {
		answer(false)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, pay.MaxEpusdtNotify))
	if err != nil {
		s.Log.Warn("epusdt notify refused", "reason", "body unreadable or too long")
		answer(false)
		return
	}
	n, err := e.VerifyNotify(body)
	if err != nil {
		s.Log.Warn("epusdt notify refused", "reason", err.Error())
		answer(false)
		return
	}
	s.answerApplied(w, e.Name(), n.Notification, "ok")
}
