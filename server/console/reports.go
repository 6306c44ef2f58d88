package console

import (
	"bytes"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"veil/pages"
	"veil/server/report"
	"veil/server/shop"
	"veil/server/staff"
	"veil/server/web"
)

// Reports (issue 12): revenue, refunds, cost of keys and profit per period
// of the shop's time zone, per product and per supplier batch, as pages
// with server-drawn SVG charts, JSON and a CSV export; and the supplier
// review list with its owner-set threshold. Owners only: costs, margins
// and suppliers are the owner's business.

// reportRoutes declares the report routes (called from Routes).
func (s *Server) reportRoutes(c declarer) {
	c.staff(http.MethodGet, "/api/v1/admin/reports", s.apiReport)
	c.staff(http.MethodGet, "/api/v1/admin/reports/csv", s.reportCSV)
	c.staff(http.MethodGet, "/api/v1/admin/reports/review", s.apiReview)
	c.staff(http.MethodPost, "/api/v1/admin/reports/review", s.apiReviewThreshold)
	c.staff(http.MethodGet, "/admin/reports", s.reportsPage)
	c.staff(http.MethodGet, "/admin/reports/csv", s.reportCSV)
	c.staff(http.MethodGet, "/admin/reports/review", s.reviewPage)
	c.staff(http.MethodPost, "/admin/reports/review", s.reviewSubmit)
}

// reportQuery reads ?grain=&from=&to=&product=.
func reportQuery(r *http.Request) (shop.ReportQuery, error) {
	v := r.URL.Query()
	q := shop.ReportQuery{Grain: shop.Grain(v.Get("grain")), From: v.Get("from"), To: v.Get("to"), ProductID: v.Get("product")}
	if len(q.Grain) > 10 || len(q.From) > 10 || len(q.To) > 10 || len(q.ProductID) > 64 {
		return q, web.BadRequest("grain, from, to or product too long")
	}
	return q, nil
}

// report computes the query's report for an owner.
func (s *Server) report(r *http.Request, sess staff.Session) (shop.Report, shop.ReportQuery, error) {
	if err := requireOwner(sess); err != nil {
		return shop.Report{}, shop.ReportQuery{}, err
	}
	q, err := reportQuery(r)
	if err != nil {
		return shop.Report{}, q, err
	}
	if q.ProductID != "" {
		if _, err := s.Shop.Product(q.ProductID); err != nil {
			return shop.Report{}, q, err
		}
	}
	rep, err := s.Shop.Report(q)
	return rep, q, err
}

// apiReport is GET /api/v1/admin/reports?grain=&from=&to=&product=.
func (s *Server) apiReport(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	rep, _, err := s.report(r, sess)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, rep)
}

// reportCSV is GET /admin/reports/csv and /api/v1/admin/reports/csv (same
// query as the report): the figures as CSV, audited.
func (s *Server) reportCSV(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	rep, _, err := s.report(r, sess)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	names := s.productNames(s.Lang(r))
	var b bytes.Buffer
	if err := report.WriteCSV(&b, rep, func(id string) string { return names[id] }); err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.record(sess, "report.export", "", "grain="+string(rep.Grain)+" from="+rep.From+" to="+rep.To)
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+report.FileName(rep)+`"`)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b.Bytes())
}

func (s *Server) productNames(lang string) map[string]string {
	names := map[string]string{}
	if ps, err := s.Shop.Products(); err == nil {
		for _, p := range ps {
			names[p.ID] = p.Name.In(lang)
		}
	}
	return names
}

// reportMoney formats one line of figures.
func reportMoney(f shop.SalesFigures) pages.ReportMoney {
	m := pages.ReportMoney{
		Orders: f.Orders, Units: f.Units, Loss: f.ProfitMinor < 0,
		Revenue: pages.Money(f.RevenueMinor, f.Currency), Refunds: pages.Money(f.RefundsMinor, f.Currency),
		Cost: pages.Money(f.CostMinor, f.Currency), Compensation: pages.Money(f.CompensationMinor, f.Currency),
		Profit: pages.Money(f.ProfitMinor, f.Currency), Margin: "—",
	}
	if f.HasMargin {
		m.Margin = report.Percent(f.MarginPermille)
	}
	return m
}

// periodLabel shortens a period for a chart row: 11-02, W45, 2026-11.
func periodLabel(p string, g shop.Grain) string {
	if g != shop.GrainMonth && len(p) > 5 {
		return p[5:]
	}
	return p
}

// reportsPage is GET /admin/reports.
func (s *Server) reportsPage(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	rep, q, err := s.report(r, sess)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	lang := s.Lang(r)
	page := &pages.AdminReports{AdminBase: s.adminBase(r, &sess, "reports", ""),
		Grain: string(rep.Grain), From: q.From, To: q.To, RangeFrom: rep.From, RangeTo: rep.To, ProductID: q.ProductID,
		TimeZone:       rep.TimeZone,
		PurgedIncluded: rep.PurgedIncluded}
	for _, g := range []shop.Grain{shop.GrainDay, shop.GrainWeek, shop.GrainMonth} {
		page.Grains = append(page.Grains, pages.Choice{Value: string(g), Label: s.Pages.T(lang, "admin.reports.grain."+string(g)),
			Selected: g == rep.Grain})
	}
	names := s.productNames(lang)
	if ps, err := s.Shop.Products(); err == nil {
		for _, p := range ps {
			page.Products = append(page.Products, pages.Choice{Value: p.ID, Label: names[p.ID], Selected: p.ID == q.ProductID})
		}
	}
	query := url.Values{"grain": {string(rep.Grain)}, "from": {rep.From}, "to": {rep.To}, "product": {q.ProductID}}
	page.CSVURL = s.langURL(r, "/admin/reports/csv", query)
	page.ReviewURL = page.URL("/admin/reports/review")
	labels := report.Labels{Title: s.Pages.T(lang, "admin.reports.chart"), Revenue: s.Pages.T(lang, "admin.reports.revenue"),
		Profit: s.Pages.T(lang, "admin.reports.profit")}
	for i, c := range rep.Currencies {
		rc := pages.ReportCurrency{Currency: c, Total: reportMoney(rep.Totals[i])}
		var rows []report.Row
		for _, p := range rep.Periods {
			if p.Currency != c {
				continue
			}
			rc.Periods = append(rc.Periods, pages.ReportPeriodRow{Period: p.Period, Currency: c, ReportMoney: reportMoney(p.SalesFigures)})
			rows = append(rows, report.Row{Label: periodLabel(p.Period, rep.Grain), Title: p.Period, Revenue: p.RevenueMinor, Profit: p.ProfitMinor})
		}
		rc.Chart = report.Chart(rows, c, labels)
		for _, ch := range rep.Channels {
			if ch.Currency == c {
				rc.Channels = append(rc.Channels, pages.ReportChannelRow{Channel: ch.Channel,
					Label: s.Pages.T(lang, "admin.reports.channel."+ch.Channel), ReportMoney: reportMoney(ch.SalesFigures)})
			}
		}
		if len(rc.Channels) < 2 {
			rc.Channels = nil // one channel: the totals say it all
		}
		page.Currencies = append(page.Currencies, rc)
	}
	for _, p := range rep.Products {
		page.ProductRows = append(page.ProductRows, pages.ReportProductRow{Name: names[p.ProductID], Currency: p.Currency,
			ReportMoney: reportMoney(p.SalesFigures)})
	}
	var batchRows []report.Row
	for _, b := range rep.Batches {
		page.Batches = append(page.Batches, s.batchRow(page.URL, names, b))
		if b.BatchID != "-" && len(rep.Currencies) > 0 && b.Currency == rep.Currencies[0] {
			batchRows = append(batchRows, report.Row{Label: b.Supplier, Title: b.Supplier + " " + b.BatchID,
				Revenue: b.RevenueMinor, Profit: b.ProfitMinor})
		}
	}
	if len(rep.Currencies) > 0 {
		labels.Title = s.Pages.T(lang, "admin.reports.batch_chart")
		page.BatchChart = report.Chart(batchRows, rep.Currencies[0], labels)
	}
	for _, p := range rep.Purged {
		page.Purged = append(page.Purged, pages.ReportPeriodRow{Period: p.Period, Currency: p.Currency, ReportMoney: reportMoney(p.SalesFigures)})
	}
	s.Render(w, r, http.StatusOK, page)
}

func (s *Server) batchRow(u func(string) string, names map[string]string, b shop.BatchSales) pages.ReportBatchRow {
	row := pages.ReportBatchRow{ID: b.BatchID, Product: names[b.ProductID], Supplier: b.Supplier, Date: b.Date,
		Currency: b.Currency, ReportMoney: reportMoney(b.SalesFigures), AfterSales: b.AfterSales, Recalled: b.Recalled,
		Rate: report.Percent(b.RatePermille), StockURL: u("/admin/products/" + url.PathEscape(b.ProductID) + "/stock")}
	if b.BatchID != "-" {
		row.UnitCost = pages.Money(b.UnitCostMinor, b.Currency)
	}
	return row
}

// apiReview is GET /api/v1/admin/reports/review: the supplier review list.
func (s *Server) apiReview(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	if err := requireOwner(sess); err != nil {
		s.WriteError(w, r, err)
		return
	}
	rev, err := s.Shop.ReviewList()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, rev)
}

// setReviewThreshold stores the owner's threshold, audited.
func (s *Server) setReviewThreshold(sess staff.Session, permille int) error {
	if err := requireOwner(sess); err != nil {
		return err
	}
	if err := s.Shop.SetReviewThreshold(permille); err != nil {
		return err
	}
	s.record(sess, "review.threshold", "", "permille="+strconv.Itoa(permille))
	return nil
}

// apiReviewThreshold is POST /api/v1/admin/reports/review
// {"threshold_permille": 50}.
func (s *Server) apiReviewThreshold(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	var req struct {
		ThresholdPermille *int `json:"threshold_permille"`
	}
	if err := web.DecodeJSON(r, &req); err != nil {
		s.WriteError(w, r, err)
		return
	}
	if req.ThresholdPermille == nil {
		s.WriteError(w, r, web.BadRequest("threshold_permille: required, 0 to 1000"))
		return
	}
	if err := s.setReviewThreshold(sess, *req.ThresholdPermille); err != nil {
		s.WriteError(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, map[string]int{"threshold_permille": *req.ThresholdPermille})
}

// parsePercent reads a percentage with at most one decimal ("5", "2.5")
// as permille.
func parsePercent(v string) (int, bool) {
	v = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "%"))
	whole, frac, dot := strings.Cut(v, ".")
	if whole == "" || len(whole) > 3 || len(frac) > 1 || (dot && frac == "") {
		return 0, false
	}
	n, err := strconv.Atoi(whole)
	if err != nil || n < 0 {
		return 0, false
	}
	d := 0
	if frac != "" {
		if d, err = strconv.Atoi(frac); err != nil || d < 0 {
			return 0, false
		}
	}
	p := n*10 + d
	return p, p <= 1000
}

// reviewPage is GET /admin/reports/review.
func (s *Server) reviewPage(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	s.showReview(w, r, sess, "", http.StatusOK)
}

func (s *Server) showReview(w http.ResponseWriter, r *http.Request, sess staff.Session, typed string, status int) {
	if err := requireOwner(sess); err != nil {
		s.WriteError(w, r, err)
		return
	}
	rev, err := s.Shop.ReviewList()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	lang := s.Lang(r)
	page := &pages.AdminReview{AdminBase: s.adminBase(r, &sess, "reports", "/admin/reports/review"),
		Threshold: report.Percent(rev.ThresholdPermille), Considered: rev.Considered}
	page.Threshold = strings.TrimSuffix(page.Threshold, "%")
	if status != http.StatusOK {
		page.Notice, page.Bad = s.Pages.T(lang, "admin.review.bad_threshold"), true
		page.Threshold = typed
	}
	page.ReportsURL = page.URL("/admin/reports")
	names := s.productNames(lang)
	for _, b := range rev.Batches {
		page.Batches = append(page.Batches, s.batchRow(page.URL, names, b))
	}
	s.Render(w, r, status, page)
}

// reviewSubmit is POST /admin/reports/review: the threshold form.
func (s *Server) reviewSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	typed := r.PostForm.Get("threshold")
	p, ok := parsePercent(typed)
	if !ok {
		if len(typed) > 8 {
			typed = typed[:8]
		}
		s.showReview(w, r, sess, typed, http.StatusBadRequest)
		return
	}
	if err := s.setReviewThreshold(sess, p); err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.redirectNotice(w, r, "/admin/reports/review", "review_saved")
}
