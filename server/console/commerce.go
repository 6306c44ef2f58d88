package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"veil/crypto"
	"veil/pages"
	"veil/server/shop"
	"veil/server/staff"
	"veil/server/store"
	"veil/server/web"
)

// The merchant's commerce tools (issues 12 and 13 §1): merchant coupons
// (created and disabled at once, each audited in the same commit),
// compensation vouchers (a compensation_voucher approval, proposed by staff
// or by the owner's rule), the proactive-compensation rule (a settings
// approval) and the orders export (an orders_export approval; the CSV is
// made when downloaded, once).

var (
	errCouponTaken    = web.NewError(http.StatusConflict, "coupon_taken", "a coupon with this code exists")
	errCouponNotFound = web.NewError(http.StatusNotFound, "coupon_not_found", "no such coupon")
	errNoOrdersExport = web.NewError(http.StatusNotFound, "not_found", "no such export, or downloaded already")
)

func couponError(err error) error {
	switch {
	case errors.Is(err, shop.ErrCouponTaken):
		return errCouponTaken
	case errors.Is(err, shop.ErrCouponNotFound):
		return errCouponNotFound
	}
	return err
}

// couponJSON is a coupon for staff.
type couponJSON struct {
	Code        string `json:"code"`
	Percent     int    `json:"percent,omitempty"`
	AmountMinor int64  `json:"amount_minor,omitempty"`
	Currency    string `json:"currency,omitempty"`
	Scope       string `json:"scope"`
	Limit       int    `json:"limit"`
	Used        int    `json:"used"`
	MinMinor    int64  `json:"min_minor,omitempty"`
	Starts      string `json:"starts,omitempty"`
	Ends        string `json:"ends,omitempty"`
	Disabled    bool   `json:"disabled"`
	Active      bool   `json:"active"`
	CreatedAt   string `json:"created_at"`
	CreatedBy   string `json:"created_by"`
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func (s *Server) couponJSON(c shop.Coupon) couponJSON {
	return couponJSON{Code: c.Code, Percent: c.Percent, AmountMinor: c.AmountMinor, Currency: c.Currency,
		Scope: c.Scope(), Limit: c.Limit, Used: c.Used, MinMinor: c.MinMinor, Starts: rfc3339(c.Starts),
		Ends: rfc3339(c.Ends), Disabled: c.Disabled, Active: c.Active(time.Now()), CreatedAt: rfc3339(c.CreatedAt),
		CreatedBy: c.CreatedBy}
}

// apiCoupons is GET /api/v1/admin/coupons.
func (s *Server) apiCoupons(w http.ResponseWriter, r *http.Request, _ staff.Session) {
	cs, err := s.Shop.Coupons()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	out := make([]couponJSON, 0, len(cs))
	for _, c := range cs {
		out = append(out, s.couponJSON(c))
	}
	web.WriteJSON(w, http.StatusOK, struct {
		Coupons []couponJSON `json:"coupons"`
	}{out})
}

// couponRequest is POST /api/v1/admin/coupons.
type couponRequest struct {
	Code        string `json:"code"`
	Percent     int    `json:"percent"`
	AmountMinor int64  `json:"amount_minor"`
	Currency    string `json:"currency"`
	Product     string `json:"product"`
	Category    string `json:"category"`
	Limit       int    `json:"limit"`
	MinMinor    int64  `json:"min_minor"`
	Starts      string `json:"starts"` // RFC 3339
	Ends        string `json:"ends"`
}

func parseRFC3339(field, v string) (time.Time, error) {
	if strings.TrimSpace(v) == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(v))
	if err != nil {
		return t, web.BadRequest("%s: an RFC 3339 time", field)
	}
	return t, nil
}

// createCoupon makes the coupon and its audit entry in one commit. Owners
// only: a coupon sets prices.
func (s *Server) createCoupon(sess staff.Session, spec shop.CouponSpec) (shop.Coupon, error) {
	if err := requireOwner(sess); err != nil {
		return shop.Coupon{}, err
	}
	actor := staff.StaffActor(sess.User)
	c, err := s.Shop.CreateCoupon(spec, actor, func(tx *store.Txn, c shop.Coupon) error {
		return staff.AppendAudit(tx, staff.AuditEntry{Actor: actor, Action: "coupon.create", Ref: c.Code,
			Detail: couponSummary(c)})
	})
	if err != nil {
		return c, couponError(err)
	}
	s.Log.Info("coupon created", "code", c.Code, "staff", sess.User)
	return c, nil
}

func couponSummary(c shop.Coupon) string {
	off := fmt.Sprintf("%d%%", c.Percent)
	if c.AmountMinor > 0 {
		off = pages.Money(c.AmountMinor, c.Currency)
	}
	d := fmt.Sprintf("%s off, %s, limit %d", off, c.Scope(), c.Limit)
	if c.MinMinor > 0 {
		d += ", min " + pages.Money(c.MinMinor, c.Currency)
	}
	if !c.Starts.IsZero() {
		d += ", from " + rfc3339(c.Starts)
	}
	if !c.Ends.IsZero() {
		d += ", until " + rfc3339(c.Ends)
	}
	return d
}

func (s *Server) apiCreateCoupon(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	var req couponRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		s.WriteError(w, r, err)
		return
	}
	starts, err := parseRFC3339("starts", req.Starts)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	ends, err := parseRFC3339("ends", req.Ends)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	c, err := s.createCoupon(sess, shop.CouponSpec{Code: req.Code, Percent: req.Percent, AmountMinor: req.AmountMinor,
		Currency: req.Currency, ProductID: req.Product, CategoryID: req.Category, Limit: req.Limit, MinMinor: req.MinMinor,
		Starts: starts, Ends: ends})
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusCreated, s.couponJSON(c))
}

func (s *Server) disableCoupon(sess staff.Session, code string) (shop.Coupon, error) {
	if err := requireOwner(sess); err != nil {
		return shop.Coupon{}, err
	}
	actor := staff.StaffActor(sess.User)
	c, err := s.Shop.DisableCoupon(code, func(tx *store.Txn, c shop.Coupon) error {
		return staff.AppendAudit(tx, staff.AuditEntry{Actor: actor, Action: "coupon.disable", Ref: c.Code,
			Detail: fmt.Sprintf("used %d of %d", c.Used, c.Limit)})
	})
	return c, couponError(err)
}

// apiDisableCoupon is POST /api/v1/admin/coupons/:code/disable.
func (s *Server) apiDisableCoupon(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	c, err := s.disableCoupon(sess, param(r, "code"))
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, s.couponJSON(c))
}

// couponsPage is GET /admin/coupons.
func (s *Server) couponsPage(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	cs, err := s.Shop.Coupons()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	ps, err := s.Shop.Products()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	cats, err := s.Shop.Categories()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	stats, err := s.Shop.Vouchers()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	lang := s.Lang(r)
	page := &pages.AdminCoupons{AdminBase: s.adminBase(r, &sess, "coupons", ""), TimeZone: s.Shop.TimeZone(),
		Owner: sess.Role == staff.RoleOwner}
	names, catNames := map[string]string{}, map[string]string{}
	currencies := map[string]bool{}
	for _, p := range ps {
		names[p.ID] = p.Name.In(lang)
		page.Products = append(page.Products, pages.Choice{Value: p.ID, Label: p.Name.In(lang)})
		if !currencies[p.Currency] {
			currencies[p.Currency] = true
			page.Currencies = append(page.Currencies, pages.Choice{Value: p.Currency, Label: p.Currency, Selected: len(page.Currencies) == 0})
		}
	}
	for _, c := range cats {
		catNames[c.ID] = c.Name.In(lang)
		page.Categories = append(page.Categories, pages.Choice{Value: c.ID, Label: c.Name.In(lang)})
	}
	now := time.Now()
	for _, c := range cs {
		row := pages.AdminCouponRow{Code: c.Code, Off: fmt.Sprintf("%d%%", c.Percent), Used: c.Used, Limit: c.Limit,
			Starts: c.Starts, Ends: c.Ends, Disabled: c.Disabled, Active: c.Active(now)}
		if c.AmountMinor > 0 {
			row.Off = pages.Money(c.AmountMinor, c.Currency)
		}
		if c.MinMinor > 0 {
			row.Min = pages.Money(c.MinMinor, c.Currency)
		}
		switch {
		case c.ProductID != "":
			row.Scope = fmt.Sprintf(s.Pages.T(lang, "admin.coupons.scope_product"), orID(names[c.ProductID], c.ProductID))
		case c.CategoryID != "":
			row.Scope = fmt.Sprintf(s.Pages.T(lang, "admin.coupons.scope_category"), orID(catNames[c.CategoryID], c.CategoryID))
		default:
			row.Scope = s.Pages.T(lang, "admin.coupons.scope_shop")
		}
		page.Coupons = append(page.Coupons, row)
	}
	for _, st := range stats {
		page.Vouchers = append(page.Vouchers, pages.AdminVoucherStat{Currency: st.Currency, Issued: st.Issued,
			IssuedSum: pages.Money(st.IssuedMinor, st.Currency), Used: st.Used, UsedSum: pages.Money(st.UsedMinor, st.Currency),
			Automatic: st.Automatic})
	}
	rule := s.Shop.CompensationRule()
	page.RulePercent, page.RuleLateMinutes, page.RuleLate, page.RuleRefundDue = rule.Percent, rule.LateMinutes, rule.Late, rule.RefundDue
	s.Render(w, r, http.StatusOK, page)
}

func orID(name, id string) string {
	if name == "" {
		return id
	}
	return name
}

// shopTimeParam reads a datetime-local value ("2026-12-04T20:00") in the
// shop's time zone; "" is the zero time.
func (s *Server) shopTimeParam(field, v string) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation("2006-01-02T15:04", v, s.Shop.Location())
	if err != nil {
		return t, web.BadRequest("%s: a date and time", field)
	}
	return t, nil
}

// couponSubmit is POST /admin/coupons (major units, shop time).
func (s *Server) couponSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	f := r.PostForm
	spec := shop.CouponSpec{Code: f.Get("code"), Currency: strings.TrimSpace(f.Get("currency")),
		ProductID: strings.TrimSpace(f.Get("product")), CategoryID: strings.TrimSpace(f.Get("category"))}
	var err error
	atoi := func(field, v string) int {
		if err != nil || strings.TrimSpace(v) == "" {
			return 0
		}
		n, e := strconv.Atoi(strings.TrimSpace(v))
		if e != nil {
			err = web.BadRequest("%s: a whole number", field)
		}
		return n
	}
	spec.Percent = atoi("percent", f.Get("percent"))
	spec.Limit = atoi("limit", f.Get("limit"))
	if err == nil && spec.ProductID != "" {
		// The product's currency, whatever the select said.
		if p, e := s.Shop.Product(spec.ProductID); e == nil {
			spec.Currency = p.Currency
		}
	}
	if err == nil {
		spec.AmountMinor, err = parseMoney(f.Get("amount"), spec.Currency)
	}
	if err == nil {
		spec.MinMinor, err = parseMoney(f.Get("min"), spec.Currency)
	}
	if err == nil && spec.Percent > 0 && spec.MinMinor == 0 {
		spec.Currency = "" // a percent off applies in any currency
		if spec.ProductID != "" {
			if p, e := s.Shop.Product(spec.ProductID); e == nil {
				spec.Currency = p.Currency
			}
		}
	}
	if err == nil {
		spec.Starts, err = s.shopTimeParam("starts", f.Get("starts"))
	}
	if err == nil {
		spec.Ends, err = s.shopTimeParam("ends", f.Get("ends"))
	}
	if err == nil {
		_, err = s.createCoupon(sess, spec)
	}
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.redirectNotice(w, r, "/admin/coupons", "coupon_created")
}

// couponDisableSubmit is POST /admin/coupons/disable (code).
func (s *Server) couponDisableSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	if _, err := s.disableCoupon(sess, r.PostForm.Get("code")); err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.redirectNotice(w, r, "/admin/coupons", "coupon_disabled")
}

// voucherParams is what a compensation_voucher approval carries: the
// order, the amount, why; no code (made when approved, sealed to the
// order).
type voucherParams struct {
	Ref         string `json:"ref"`
	AmountMinor int64  `json:"amount_minor"`
	Currency    string `json:"currency"`
	Cause       string `json:"cause"`
	Percent     int    `json:"percent,omitempty"`
	Reason      string `json:"reason,omitempty"`
	Ticket      string `json:"ticket,omitempty"`
}

// voucherRequest is POST /api/v1/admin/vouchers.
type voucherRequest struct {
	Ref         string `json:"ref"`
	AmountMinor int64  `json:"amount_minor"`
	Reason      string `json:"reason"`
	Ticket      string `json:"ticket"`
	TOTP        string `json:"totp"`
}

func (s *Server) proposeVoucher(sess staff.Session, req voucherRequest) (staff.Approval, error) {
	reason, err := checkText("reason", req.Reason, 200, true)
	if err != nil {
		return staff.Approval{}, err
	}
	ref := strings.TrimSpace(req.Ref)
	if ref == "" {
		return staff.Approval{}, web.BadRequest("ref is required")
	}
	o, err := s.Shop.CheckVoucher(ref, req.AmountMinor)
	if err != nil {
		return staff.Approval{}, err
	}
	p := voucherParams{Ref: o.Ref, AmountMinor: req.AmountMinor, Currency: o.Currency, Cause: shop.CauseStaff, Reason: reason}
	if t := strings.TrimSpace(req.Ticket); t != "" {
		tk, err := s.Shop.Ticket(t)
		if err != nil {
			return staff.Approval{}, err
		}
		if tk.Ref != o.Ref {
			return staff.Approval{}, web.BadRequest("ticket: not a ticket of this order")
		}
		p.Ticket = tk.ID
	}
	summary := fmt.Sprintf("compensation voucher %s for %s: %s", pages.Money(p.AmountMinor, p.Currency), o.Ref, reason)
	return s.proposeOp(sess, staff.KindCompensationVoucher, o.Ref, summary, p, req.TOTP)
}

// voucherSubmit is POST /admin/vouchers (ref, amount in major units,
// reason, totp).
func (s *Server) voucherSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	f := r.PostForm
	req := voucherRequest{Ref: f.Get("ref"), Reason: f.Get("reason"), Ticket: f.Get("ticket"), TOTP: f.Get("totp")}
	o, err := s.Shop.OrderByRef(strings.TrimSpace(req.Ref))
	if err == nil {
		req.AmountMinor, err = parseMoney(f.Get("amount"), o.Currency)
	}
	var a staff.Approval
	if err == nil {
		a, err = s.proposeVoucher(sess, req)
	}
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.opRedirect(w, r, a, "/admin/orders")
}

// apiVouchers is GET /api/v1/admin/vouchers: vouchers issued and used,
// per currency, and the compensation rule in force.
func (s *Server) apiVouchers(w http.ResponseWriter, r *http.Request, _ staff.Session) {
	st, err := s.Shop.Vouchers()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, struct {
		Vouchers     []shop.VoucherStats   `json:"vouchers"`
		Compensation shop.CompensationRule `json:"compensation"`
	}{st, s.Shop.CompensationRule()})
}

// compensationSubmit is POST /admin/compensation: the proactive rule, a
// settings approval.
func (s *Server) compensationSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	f := r.PostForm
	rule := shop.CompensationRule{Late: f.Get("late") != "", RefundDue: f.Get("refund_due") != ""}
	var err error
	if rule.Percent, err = strconv.Atoi(strings.TrimSpace(f.Get("percent"))); err != nil {
		s.WriteError(w, r, web.BadRequest("percent: a whole number"))
		return
	}
	if rule.LateMinutes, err = strconv.Atoi(strings.TrimSpace(f.Get("late_minutes"))); err != nil {
		s.WriteError(w, r, web.BadRequest("late_minutes: a whole number"))
		return
	}
	a, err := s.proposeSettings(sess, settingsRequest{Compensation: &rule, TOTP: f.Get("totp")})
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.opRedirect(w, r, a, "/admin/coupons")
}

// ordersExportParams is what an orders_export approval carries: the
// search, and the one-time download id.
type ordersExportParams struct {
	Query    shop.OrderQuery `json:"query"`
	ExportID string          `json:"export_id"`
}

// ordersExportRequest is POST /api/v1/admin/orders-export.
type ordersExportRequest struct {
	Ref     string `json:"ref"`
	TradeNo string `json:"trade_no"`
	Product string `json:"product"`
	Status  string `json:"status"`
	From    string `json:"from"`
	To      string `json:"to"`
	TOTP    string `json:"totp"`
}

func (s *Server) proposeOrdersExport(sess staff.Session, req ordersExportRequest) (staff.Approval, error) {
	q, err := s.Shop.CheckOrderQuery(shop.OrderQuery{Ref: req.Ref, TradeNo: req.TradeNo, ProductID: req.Product,
		Status: shop.Status(req.Status), From: req.From, To: req.To})
	if err != nil {
		return staff.Approval{}, err
	}
	p := ordersExportParams{Query: q, ExportID: crypto.RandomID("", 12)}
	return s.proposeOp(sess, staff.KindOrdersExport, "orders", "export orders as CSV: "+querySummary(q), p, req.TOTP)
}

func querySummary(q shop.OrderQuery) string {
	var parts []string
	add := func(k, v string) {
		if v != "" {
			parts = append(parts, k+"="+v)
		}
	}
	add("ref", q.Ref)
	add("trade_no", q.TradeNo)
	add("product", q.ProductID)
	add("status", string(q.Status))
	add("from", q.From)
	add("to", q.To)
	if len(parts) == 0 {
		return "all orders"
	}
	return strings.Join(parts, " ")
}

func (s *Server) ordersExportDownload(a staff.Approval) string {
	if a.Kind != staff.KindOrdersExport || a.Status != staff.StatusApproved {
		return ""
	}
	var p ordersExportParams
	if json.Unmarshal(a.Params, &p) != nil || p.ExportID == "" {
		return ""
	}
	return "/api/v1/admin/orders-export/" + p.ExportID
}

// apiOrdersExport is POST /api/v1/admin/orders-export.
func (s *Server) apiOrdersExport(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	var req ordersExportRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		s.WriteError(w, r, err)
		return
	}
	a, err := s.proposeOrdersExport(sess, req)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	status, ans := opAnswerOf(a)
	if d := s.ordersExportDownload(a); d != "" {
		ans.Download = d
	}
	web.WriteJSON(w, status, ans)
}

// ordersExportSubmit is POST /admin/orders-export: executed at once, the
// answer is the CSV itself; queued, the approvals page.
func (s *Server) ordersExportSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	f := r.PostForm
	a, err := s.proposeOrdersExport(sess, ordersExportRequest{Ref: f.Get("ref"), TradeNo: f.Get("trade_no"),
		Product: f.Get("product"), Status: f.Get("status"), From: f.Get("from"), To: f.Get("to"), TOTP: f.Get("totp")})
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	if a.Status != staff.StatusApproved {
		s.opRedirect(w, r, a, "/admin/orders")
		return
	}
	var p ordersExportParams
	if err := json.Unmarshal(a.Params, &p); err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.streamOrdersExport(w, r, sess, p.ExportID)
}

// apiOrdersExportDownload is GET /api/v1/admin/orders-export/:id: the
// approved export's CSV, once; owners only.
func (s *Server) apiOrdersExportDownload(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	if err := requireOwner(sess); err != nil {
		s.WriteError(w, r, err)
		return
	}
	id := param(r, "id")
	if id == "" || len(id) > 64 || strings.Trim(id, "0123456789abcdefghjkmnpqrstvwxyz") != "" {
		s.WriteError(w, r, errNoOrdersExport)
		return
	}
	s.streamOrdersExport(w, r, sess, id)
}

func (s *Server) streamOrdersExport(w http.ResponseWriter, r *http.Request, sess staff.Session, id string) {
	if err := requireOwner(sess); err != nil {
		s.WriteError(w, r, err)
		return
	}
	q, err := s.Shop.TakeOrdersExport(id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = errNoOrdersExport
		}
		s.WriteError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="veil-orders-`+id+`.csv"`)
	w.WriteHeader(http.StatusOK)
	n, err := s.Shop.ExportOrdersCSV(w, q)
	if err != nil {
		s.Log.Error("orders export", "export", id, "err", err)
	}
	s.record(sess, "orders_export.download", id, fmt.Sprintf("%d orders: %s", n, querySummary(q)))
}

// registerCommerceExecutors plugs in compensation_voucher and
// orders_export.
func (s *Server) registerCommerceExecutors() {
	s.Staff.RegisterExecutor(staff.KindCompensationVoucher, staff.RoleOwner, func(tx *store.Txn, a staff.Approval) (string, error) {
		var p voucherParams
		if err := json.Unmarshal(a.Params, &p); err != nil {
			return "", fmt.Errorf("%w: params: %v", staff.ErrExecFailed, err)
		}
		iv, err := s.Shop.IssueVoucherTx(tx, p.Ref, p.AmountMinor, a.ID, p.Cause)
		if err != nil {
			return "", permanent(err)
		}
		return fmt.Sprintf("voucher of %s issued to %s (shown on its order page)", pages.Money(iv.AmountMinor, iv.Currency), p.Ref), nil
	})
	s.Staff.RegisterExecutor(staff.KindOrdersExport, staff.RoleOwner, func(tx *store.Txn, a staff.Approval) (string, error) {
		var p ordersExportParams
		if err := json.Unmarshal(a.Params, &p); err != nil {
			return "", fmt.Errorf("%w: params: %v", staff.ErrExecFailed, err)
		}
		if err := s.Shop.ApproveOrdersExportTx(tx, p.ExportID, p.Query); err != nil {
			return "", permanent(err)
		}
		return "download once within 24 hours: /api/v1/admin/orders-export/" + p.ExportID, nil
	})
}

// formatBreaks shows a product's quantity prices for the form:
// "10:9.00, 50:8.00" (from 10 units 9.00 each, from 50 8.00).
func formatBreaks(p shop.Product) string {
	parts := make([]string, len(p.PriceBreaks))
	for i, b := range p.PriceBreaks {
		parts[i] = strconv.Itoa(b.MinQuantity) + ":" + formatMajor(b.PriceMinor, p.Currency)
	}
	return strings.Join(parts, ", ")
}

// parseBreaks reads formatBreaks' form (commas or new lines between).
func parseBreaks(v, currency string) ([]shop.PriceBreak, error) {
	if len(v) > 400 {
		return nil, web.BadRequest("price_breaks: too long")
	}
	var out []shop.PriceBreak
	for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' || r == '，' }) {
		q, price, ok := strings.Cut(strings.TrimSpace(f), ":")
		if !ok {
			return nil, web.BadRequest("price_breaks: quantity:price pairs such as 10:9.00")
		}
		n, err := strconv.Atoi(strings.TrimSpace(q))
		if err != nil {
			return nil, web.BadRequest("price_breaks: quantity:price pairs such as 10:9.00")
		}
		m, err := parseMoney(price, currency)
		if err != nil {
			return nil, err
		}
		out = append(out, shop.PriceBreak{MinQuantity: n, PriceMinor: m})
	}
	return out, nil
}

// couponName is what staff see of the coupon an order used: a merchant
// coupon's code, "voucher" for a voucher (its code is the buyer's).
func couponName(o shop.Order) string {
	if o.CouponCode == "" && o.CouponKey != "" {
		return "voucher"
	}
	return o.CouponCode
}

func tradeNo(o shop.Order) string {
	if o.Payment == nil {
		return ""
	}
	return o.Payment.TradeNo
}
