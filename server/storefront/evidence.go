package storefront

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"veil/crypto"
	"veil/pages"
	"veil/server/shop"
	"veil/server/web"
)

// Signed delivery receipts and the public case library (issue 13 §3, §4):
// the receipt's download (API with Bearer, or the order page's POST form),
// the /cases page and its JSON, and the product page's figures.

var errNotDelivered = web.NewError(http.StatusConflict, "not_delivered", "the order has no delivered key yet, so no receipt")

// apiReceipt is GET /api/v1/order/receipt with the token as a Bearer
// credential: the signed receipt as a text file.
func (s *Server) apiReceipt(w http.ResponseWriter, r *http.Request) {
	tok, err := bearerToken(r)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.writeReceipt(w, r, tok)
}

// receiptDownload is POST /order/receipt, the order page's button: the
// token comes in the form, never in a URL.
func (s *Server) receiptDownload(w http.ResponseWriter, r *http.Request) {
	if err := web.ParseForm(r); err != nil {
		s.WriteError(w, r, err)
		return
	}
	token := strings.TrimSpace(r.PostForm.Get("token"))
	if token == "" {
		s.WriteError(w, r, web.BadRequest("token: required"))
		return
	}
	t, err := parseOrderToken(token)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.writeReceipt(w, r, t.tok)
}

func (s *Server) writeReceipt(w http.ResponseWriter, r *http.Request, tok crypto.Token) {
	block, ref, err := s.Shop.ReceiptToken(tok, s.Lang(r))
	if errors.Is(err, shop.ErrNotDelivered) {
		err = errNotDelivered
	}
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	web.NoStore(w)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="receipt-`+ref+`.txt"`)
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, block)
}

// caseJSON is a case as GET /api/v1/cases lists it.
type caseJSON struct {
	Product       string    `json:"product"` // slug
	Reason        string    `json:"reason"`
	Remedy        string    `json:"remedy"`
	ResolvedHours int       `json:"resolved_hours"`
	Week          string    `json:"week"`
	Text          shop.Text `json:"text"`
}

// caseQuery reads ?product=SLUG&page=N: the product ("" for all) and the
// page (from 1).
func (s *Server) caseQuery(r *http.Request) (shop.Product, int, error) {
	q := r.URL.Query()
	page := 1
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1_000_000 {
			return shop.Product{}, 0, web.BadRequest("page: a number from 1")
		}
		page = n
	}
	var p shop.Product
	if slug := q.Get("product"); slug != "" {
		var err error
		if p, err = s.Shop.Product(slug); err != nil {
			return shop.Product{}, 0, err
		}
	}
	return p, page, nil
}

func pagesOf(total int) int { return max(1, (total+shop.CasesPerPage-1)/shop.CasesPerPage) }

// apiCases is GET /api/v1/cases: the public case library.
func (s *Server) apiCases(w http.ResponseWriter, r *http.Request) {
	p, page, err := s.caseQuery(r)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	cs, total, err := s.Shop.Cases(p.ID, page)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	out := struct {
		Cases []caseJSON `json:"cases"`
		Total int        `json:"total"`
		Page  int        `json:"page"`
		Pages int        `json:"pages"`
	}{Cases: []caseJSON{}, Total: total, Page: page, Pages: pagesOf(total)}
	for _, c := range cs {
		slug := ""
		if cp, err := s.Shop.Product(c.ProductID); err == nil {
			slug = cp.Slug
		}
		out.Cases = append(out.Cases, caseJSON{Product: slug, Reason: string(c.Reason), Remedy: string(c.Remedy),
			ResolvedHours: c.ResolvedHours, Week: c.Week, Text: c.Text})
	}
	web.WriteJSON(w, http.StatusOK, out)
}

// casesPage is GET /cases: the case library, filtered by product, paged,
// with an empty state.
func (s *Server) casesPage(w http.ResponseWriter, r *http.Request) {
	p, n, err := s.caseQuery(r)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	cs, total, err := s.Shop.Cases(p.ID, n)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	lang := s.Lang(r)
	page := &pages.CasesPage{Base: s.Base(r, lang), Total: total, Page: n, Pages: pagesOf(total)}
	if p.ID != "" {
		page.Product = p.Name.In(lang)
	}
	page.Products = append(page.Products, pages.FilterOption{Value: "", Label: s.Pages.T(lang, "cases.all"), Selected: p.ID == ""})
	ps, err := s.Shop.Products()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	names := map[string]shop.Product{}
	for _, q := range ps {
		names[q.ID] = q
		page.Products = append(page.Products, pages.FilterOption{Value: q.Slug, Label: q.Name.In(lang), Selected: q.ID == p.ID})
	}
	for _, c := range cs {
		cp, ok := names[c.ProductID]
		if !ok {
			cp, _ = s.Shop.Product(c.ProductID)
		}
		card := pages.CaseCard{
			Product: cp.Name.In(lang), Reason: s.Pages.T(lang, "reason."+string(c.Reason)),
			Remedy: s.Pages.T(lang, "cases.remedy_none"), Took: took(s.Pages, lang, c.ResolvedHours),
			Week: caseWeek(s.Pages, lang, c.Week), Text: c.Text.In(lang),
		}
		if cp.Slug != "" {
			card.ProductPath = "/p/" + url.PathEscape(cp.Slug)
		}
		if c.Remedy != "" {
			card.Remedy = s.Pages.T(lang, "remedy."+string(c.Remedy))
		}
		page.Cases = append(page.Cases, card)
	}
	at := func(n int) string {
		v := url.Values{"lang": {lang}}
		if p.Slug != "" {
			v.Set("product", p.Slug)
		}
		if n > 1 {
			v.Set("page", strconv.Itoa(n))
		}
		return "/cases?" + v.Encode()
	}
	if n > 1 {
		page.PrevURL = at(min(n-1, page.Pages))
	}
	if n < page.Pages {
		page.NextURL = at(n + 1)
	}
	s.Render(w, r, http.StatusOK, page)
}

// took says how long a case took, in whole hours under two days, else in
// whole days (rounded up).
func took(t *pages.Templates, lang string, hours int) string {
	switch {
	case hours <= 1:
		return t.T(lang, "cases.took_hour")
	case hours < 48:
		return fmt.Sprintf(t.T(lang, "cases.took_hours"), hours)
	}
	return fmt.Sprintf(t.T(lang, "cases.took_days"), (hours+23)/24)
}

// caseWeek writes "2026-W49" as the page's language says a week.
func caseWeek(t *pages.Templates, lang, week string) string {
	var y, n int
	if _, err := fmt.Sscanf(week, "%d-W%d", &y, &n); err != nil {
		return week
	}
	return fmt.Sprintf(t.T(lang, "cases.week_fmt"), y, n)
}

// productFigures is the product page's after-sales record; nil when the
// figures cannot be had (the page still shows).
func (s *Server) productFigures(p shop.Product, lang string) *pages.Figures {
	f, err := s.Shop.ProductFigures(p.ID)
	if err != nil {
		s.Log.Error("product figures", "product", p.ID, "err", err)
		return nil
	}
	_, n, err := s.Shop.Cases(p.ID, 1)
	if err != nil {
		s.Log.Error("product cases", "product", p.ID, "err", err)
		return nil
	}
	out := &pages.Figures{
		Days: shop.FiguresDays, Delivered: f.Delivered, WithTickets: f.WithTickets, Tickets: f.Tickets, Resolved: f.Resolved,
		Rate: pages.Permille(f.RatePermille()), Share: pages.Permille(f.ResolvedPermille()),
		Small: f.Delivered < 30, Cases: n,
		CasesURL: "/cases?" + url.Values{"lang": {lang}, "product": {p.Slug}}.Encode(),
	}
	if f.MedianHours < 48 {
		out.Median = fmt.Sprintf(s.Pages.T(lang, "figures.hours"), f.MedianHours)
	} else {
		out.Median = fmt.Sprintf(s.Pages.T(lang, "figures.days"), f.MedianHours/24)
	}
	return out
}
