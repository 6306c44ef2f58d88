package console

import (
	"net/http"
	"net/url"
	"time"

	"veil/pages"
	"veil/server/shop"
	"veil/server/staff"
	"veil/server/web"
)

// batchJSON is a batch with its key counts, for the API.
type batchJSON struct {
	ID        string `json:"id"`
	Supplier  string `json:"supplier"`
	Date      string `json:"date"`
	CostMinor int64  `json:"cost_minor"`
	Imported  int    `json:"imported"`
	Available int    `json:"available"`
	Reserved  int    `json:"reserved"`
	Delivered int    `json:"delivered"`
	Bad       int    `json:"reported_bad"`
	Recalled  int    `json:"recalled"`
	Withdrawn int    `json:"withdrawn"`
}

// apiStock is GET /api/v1/admin/products/:id/stock: each batch by state.
func (s *Server) apiStock(w http.ResponseWriter, r *http.Request, _ staff.Session) {
	p, err := s.Shop.Product(param(r, "id"))
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	st, err := s.Shop.Stock(p.ID)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	out := make([]batchJSON, 0, len(st))
	for _, b := range st {
		out = append(out, batchJSON{b.Batch.ID, b.Batch.Supplier, b.Batch.Date, b.Batch.CostMinor, b.Batch.Imported,
			b.Available, b.Reserved, b.Delivered, b.Bad, b.Recalled, b.Withdrawn})
	}
	web.WriteJSON(w, http.StatusOK, struct {
		Product string      `json:"product"`
		InStock int         `json:"in_stock"`
		Batches []batchJSON `json:"batches"`
	}{p.ID, p.InStock, out})
}

// apiKeys is GET /api/v1/admin/products/:id/keys[?batch=&cursor=&limit=]:
// masked keys ("mask" is empty while the vault is locked, and for staff
// below owner: the end of an unsold key is for the merchant alone).
func (s *Server) apiKeys(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	cursor, limit, err := pageParams(r)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	p, err := s.Shop.Product(param(r, "id"))
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	keys, next, err := s.Shop.Keys(p.ID, r.URL.Query().Get("batch"), cursor, limit, sess.Role == staff.RoleOwner)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	if keys == nil {
		keys = []shop.KeyView{}
	}
	web.WriteJSON(w, http.StatusOK, struct {
		Keys   []shop.KeyView `json:"keys"`
		Next   string         `json:"next"`
		Locked bool           `json:"locked"`
	}{keys, next, s.Shop.Locked()})
}

// stockPage is GET /admin/products/:id/stock[?batch=&cursor=]: batches with
// counts, the keys page by page (masked for owners only), and the export
// and deletion forms.
func (s *Server) stockPage(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	cursor, err := cursorParam(r)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	p, err := s.Shop.Product(param(r, "id"))
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	batch := r.URL.Query().Get("batch")
	if batch, err = s.checkBatch(p.ID, batch); err != nil {
		s.WriteError(w, r, err)
		return
	}
	st, err := s.Shop.Stock(p.ID)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	keys, next, err := s.Shop.Keys(p.ID, batch, cursor, pageSize, sess.Role == staff.RoleOwner)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	lang := s.Lang(r)
	here := "/admin/products/" + url.PathEscape(p.ID) + "/stock"
	page := &pages.AdminStock{
		AdminBase: s.adminBase(r, &sess, "products", ""),
		ProductID: p.ID, ProductName: p.Name.In(lang), Batch: batch,
	}
	page.ImportURL = page.URL("/admin/products/" + url.PathEscape(p.ID) + "/import")
	page.ExportURL = page.URL("/admin/exports")
	page.RecallURL = page.URL("/admin/recalls")
	page.DeleteURL = page.URL("/admin/inventory/delete")
	page.AllKeysURL = page.URL(here)
	for _, b := range st {
		page.Batches = append(page.Batches, pages.AdminBatchRow{
			ID: b.Batch.ID, Supplier: b.Batch.Supplier, Date: b.Batch.Date, Cost: pages.Money(b.Batch.CostMinor, p.Currency),
			Imported: b.Batch.Imported, Available: b.Available, Reserved: b.Reserved, Delivered: b.Delivered,
			Bad: b.Bad, Recalled: b.Recalled, Withdrawn: b.Withdrawn,
			KeysURL:  s.langURL(r, here, url.Values{"batch": {b.Batch.ID}}),
			Selected: b.Batch.ID == batch,
		})
	}
	for _, k := range keys {
		page.Keys = append(page.Keys, pages.AdminKey{ID: k.ID, Batch: k.Batch, State: string(k.State),
			StateText: s.Pages.T(lang, "admin.key_state."+string(k.State)), Order: k.Order, Mask: k.Mask})
	}
	page.Pager = s.pager(r, next, url.Values{"batch": {batch}})
	s.Render(w, r, http.StatusOK, page)
}

// orderStatuses lists the order states for the filter, in lifecycle order.
var orderStatuses = []shop.Status{shop.StatusPending, shop.StatusPaid, shop.StatusDelivered, shop.StatusSettled,
	shop.StatusExpired, shop.StatusRefundDue, shop.StatusRefunded, shop.StatusReplaced, shop.StatusPartiallyRefunded,
	shop.StatusPaymentHeld}

// orderFilter reads the order search (commerce): ?status=&product=&ref=
// &trade_no=&from=&to= (days in the shop's time zone).
func orderFilter(r *http.Request) (shop.OrderQuery, error) {
	q := r.URL.Query()
	f := shop.OrderQuery{ProductID: q.Get("product"), Ref: q.Get("ref"), TradeNo: q.Get("trade_no"),
		From: q.Get("from"), To: q.Get("to")}
	if st := q.Get("status"); st != "" {
		for _, x := range orderStatuses {
			if string(x) == st {
				f.Status = x
			}
		}
		if f.Status == "" {
			return f, web.BadRequest("status: unknown order status")
		}
	}
	return f, nil
}

// queryValues is the search as URL parameters (pager links).
func queryValues(f shop.OrderQuery) url.Values {
	return url.Values{"status": {string(f.Status)}, "product": {f.ProductID}, "ref": {f.Ref},
		"trade_no": {f.TradeNo}, "from": {f.From}, "to": {f.To}}
}

// refundable says whether staff may propose a refund of the order.
func refundable(o shop.Order) bool {
	if o.Payment == nil || o.Refunded() >= o.AmountMinor {
		return false
	}
	switch o.Status {
	case shop.StatusPaid, shop.StatusRefundDue, shop.StatusDelivered, shop.StatusSettled, shop.StatusReplaced, shop.StatusPartiallyRefunded:
		return true
	}
	return false
}

// adminOrderJSON is an order for staff: no token, no key, no recipient.
type adminOrderJSON struct {
	Ref            string      `json:"ref"`
	Product        string      `json:"product"`
	Quantity       int         `json:"quantity"`
	AmountMinor    int64       `json:"amount_minor"`
	RefundedMinor  int64       `json:"refunded_minor"`
	Currency       string      `json:"currency"`
	Status         shop.Status `json:"status"`
	Tier           int         `json:"tier"`
	CreatedAt      string      `json:"created_at"`
	PaymentVia     string      `json:"payment_provider,omitempty"`
	WindowEnds     string      `json:"window_ends,omitempty"`
	Refundable     bool        `json:"refundable"`
	DeliveredItems int         `json:"items"`
	// Commerce: the provider's trade number, the coupon and what it took
	// off (a voucher shows as "voucher", never its code).
	TradeNo        string `json:"trade_no,omitempty"`
	Coupon         string `json:"coupon,omitempty"`
	CouponOffMinor int64  `json:"coupon_off_minor,omitempty"`
}

// apiOrders is GET /api/v1/admin/orders[?status=&product=&cursor=&limit=].
func (s *Server) apiOrders(w http.ResponseWriter, r *http.Request, _ staff.Session) {
	f, err := orderFilter(r)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	cursor, limit, err := pageParams(r)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	list, next, err := s.Shop.SearchOrders(f, cursor, limit)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	out := make([]adminOrderJSON, 0, len(list))
	for _, o := range list {
		j := adminOrderJSON{Ref: o.Ref, Product: o.ProductID, Quantity: o.Quantity, AmountMinor: o.AmountMinor,
			RefundedMinor: o.Refunded(), Currency: o.Currency, Status: o.Status, Tier: o.Tier,
			CreatedAt: o.CreatedAt.UTC().Format(time.RFC3339), Refundable: refundable(o), DeliveredItems: len(o.Items)}
		if o.Payment != nil {
			j.PaymentVia, j.TradeNo = o.Payment.Provider, o.Payment.TradeNo
		}
		j.Coupon, j.CouponOffMinor = couponName(o), o.CouponOff
		if !o.WindowEnds.IsZero() {
			j.WindowEnds = o.WindowEnds.UTC().Format(time.RFC3339)
		}
		out = append(out, j)
	}
	web.WriteJSON(w, http.StatusOK, struct {
		Orders []adminOrderJSON `json:"orders"`
		Next   string           `json:"next"`
	}{out, next})
}

// ordersPage is GET /admin/orders[?status=&product=&cursor=].
func (s *Server) ordersPage(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	f, err := orderFilter(r)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	cursor, err := cursorParam(r)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	list, next, err := s.Shop.SearchOrders(f, cursor, pageSize)
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
	names := map[string]string{}
	page := &pages.AdminOrders{AdminBase: s.adminBase(r, &sess, "orders", ""), TimeZone: s.Shop.TimeZone(),
		Owner: sess.Role == staff.RoleOwner,
		Query: pages.OrderQuery{Status: string(f.Status), Product: f.ProductID, Ref: f.Ref, TradeNo: f.TradeNo, From: f.From, To: f.To}}
	for _, p := range ps {
		names[p.ID] = p.Name.In(lang)
		page.Products = append(page.Products, pages.Choice{Value: p.ID, Label: p.Name.In(lang), Selected: p.ID == f.ProductID})
	}
	for _, st := range orderStatuses {
		page.Statuses = append(page.Statuses, pages.Choice{Value: string(st), Label: s.Pages.T(lang, "admin.order_status."+string(st)),
			Selected: st == f.Status})
	}
	for _, o := range list {
		name := names[o.ProductID]
		if name == "" {
			name = o.ProductID
		}
		page.Orders = append(page.Orders, pages.AdminOrder{
			Ref: o.Ref, Product: name, Quantity: o.Quantity, Amount: pages.Money(o.AmountMinor, o.Currency),
			Status: string(o.Status), StatusText: s.Pages.T(lang, "admin.order_status."+string(o.Status)),
			CreatedAt: o.CreatedAt, Refundable: refundable(o), TradeNo: tradeNo(o), Compensable: !o.PaidAt.IsZero(),
		})
	}
	page.Pager = s.pager(r, next, queryValues(f))
	s.Render(w, r, http.StatusOK, page)
}
