package console

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"veil/pages"
	"veil/server/shop"
	"veil/server/staff"
	"veil/server/web"
)

// Trust tiers and pattern data in the console: the merchant's tier rules
// (changed only through a settings approval) and the purchase-pattern
// heatmap, drawn here as SVG from the aggregates the shop keeps.

// checkTierRules refuses rules the shop would refuse, before an approval
// is queued for them (the shop checks again when the approval runs).
func checkTierRules(r shop.TierRules) error {
	if err := r.Validate(); err != nil {
		var ie *shop.InputError
		if errors.As(err, &ie) {
			return web.BadRequest("tiers: %s", ie.Message)
		}
		return err
	}
	return nil
}

func tierSummary(r shop.TierRules) string {
	return fmt.Sprintf("settled %v, span days %v, max quantity %v, max amount %v, max unpaid %v, proof uses/day %d, reward every %d at tier %d: %d%%",
		r.MinSettled, r.MinSpanDays, r.MaxQuantity, r.MaxAmountMinor, r.MaxUnpaid, r.ProofUsesPerDay, r.RewardEvery, r.RewardMinTier, r.RewardPercent)
}

// tierCurrency is the currency tier amount caps are typed in on the form.
const tierCurrency = "CNY"

// apiTiers is GET /api/v1/admin/tiers: the rules in force. Change them
// with POST /api/v1/admin/settings {"tiers":{…},"totp"}.
func (s *Server) apiTiers(w http.ResponseWriter, _ *http.Request, _ staff.Session) {
	web.WriteJSON(w, http.StatusOK, s.Shop.TierRules())
}

// tiersPage is GET /admin/tiers: the rules as a form.
func (s *Server) tiersPage(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	s.showTiers(w, r, sess, tierForm(s.Shop.TierRules()), "", http.StatusOK)
}

func tierForm(rules shop.TierRules) pages.TierForm {
	f := pages.TierForm{
		ProofUses: strconv.Itoa(rules.ProofUsesPerDay), RewardMinTier: strconv.Itoa(rules.RewardMinTier),
		RewardEvery: strconv.Itoa(rules.RewardEvery), RewardPercent: strconv.Itoa(rules.RewardPercent),
	}
	for t := range 4 {
		amount := ""
		if rules.MaxAmountMinor[t] > 0 {
			amount = formatMajor(rules.MaxAmountMinor[t], tierCurrency)
		}
		f.Rows = append(f.Rows, pages.TierRow{
			Tier: t, MinSettled: strconv.Itoa(rules.MinSettled[t]), MinSpanDays: strconv.Itoa(rules.MinSpanDays[t]),
			MaxQuantity: strconv.Itoa(rules.MaxQuantity[t]), MaxAmount: amount, MaxUnpaid: strconv.Itoa(rules.MaxUnpaid[t]),
		})
	}
	return f
}

func (s *Server) showTiers(w http.ResponseWriter, r *http.Request, sess staff.Session, f pages.TierForm, errText string, status int) {
	page := &pages.AdminTiers{AdminBase: s.adminBase(r, &sess, "trust", "/admin/tiers"), Form: f, Error: errText}
	page.Action = page.URL("/admin/tiers")
	page.PatternsURL = page.URL("/admin/patterns")
	page.Currency = tierCurrency
	page.FastTrackAction = page.URL("/admin/fast-track")
	ft, err := s.Shop.FastTrack()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	page.FastTrack = fastTrackForm(ft)
	s.Render(w, r, status, page)
}

// fastTrackForm fills the fast-track form from the bounds in force.
func fastTrackForm(f shop.FastTrack) pages.FastTrackForm {
	return pages.FastTrackForm{
		Replace:       slices.Contains(f.Remedies, shop.RemedyReplace),
		PartialRefund: slices.Contains(f.Remedies, shop.RemedyPartialRefund),
		Refund:        slices.Contains(f.Remedies, shop.RemedyRefund),
		MaxOrder:      formatMajor(f.MaxOrderMinor, tierCurrency),
		MaxDay:        formatMajor(f.MaxDayMinor, tierCurrency),
	}
}

// fastTrackSubmit is POST /admin/fast-track: new bounds become a settings
// approval (executed at once with a code from someone who may approve it
// alone).
func (s *Server) fastTrackSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	f := r.PostForm
	var ft shop.FastTrack
	for _, rem := range []shop.Remedy{shop.RemedyReplace, shop.RemedyPartialRefund, shop.RemedyRefund} {
		if slices.Contains(f["remedy"], string(rem)) {
			ft.Remedies = append(ft.Remedies, rem)
		}
	}
	var err error
	if ft.MaxOrderMinor, err = parseMoney(f.Get("max_order"), tierCurrency); err == nil {
		ft.MaxDayMinor, err = parseMoney(f.Get("max_day"), tierCurrency)
	}
	if err == nil {
		var a staff.Approval
		if a, err = s.proposeSettings(sess, settingsRequest{FastTrack: &ft, TOTP: f.Get("totp")}); err == nil {
			s.opRedirect(w, r, a, "/admin/tiers")
			return
		}
	}
	p := web.Classify(err)
	if p.Status != http.StatusBadRequest {
		s.WriteError(w, r, err)
		return
	}
	s.showTiers(w, r, sess, tierForm(s.Shop.TierRules()), s.ProblemText(s.Lang(r), p), p.Status)
}

// parseTierForm reads the tier form; the first bad field is an error.
func parseTierForm(f map[string][]string) (shop.TierRules, pages.TierForm, error) {
	get := func(k string) string {
		if v := f[k]; len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	var (
		r     shop.TierRules
		form  pages.TierForm
		first error
	)
	num := func(k string, dst *int) string {
		v := get(k)
		n, err := strconv.Atoi(v)
		if (err != nil || n < 0 || n > 1_000_000) && first == nil {
			first = web.BadRequest("%s: a whole number", k)
		}
		*dst = n
		return v
	}
	for t := range 4 {
		row := pages.TierRow{Tier: t}
		row.MinSettled = num(fmt.Sprintf("min_settled_%d", t), &r.MinSettled[t])
		row.MinSpanDays = num(fmt.Sprintf("min_span_%d", t), &r.MinSpanDays[t])
		row.MaxQuantity = num(fmt.Sprintf("max_quantity_%d", t), &r.MaxQuantity[t])
		row.MaxUnpaid = num(fmt.Sprintf("max_unpaid_%d", t), &r.MaxUnpaid[t])
		row.MaxAmount = get(fmt.Sprintf("max_amount_%d", t))
		amt, err := parseMoney(row.MaxAmount, tierCurrency)
		if err != nil && first == nil {
			first = err
		}
		r.MaxAmountMinor[t] = amt
		form.Rows = append(form.Rows, row)
	}
	form.ProofUses = num("proof_uses", &r.ProofUsesPerDay)
	form.RewardMinTier = num("reward_min_tier", &r.RewardMinTier)
	form.RewardEvery = num("reward_every", &r.RewardEvery)
	form.RewardPercent = num("reward_percent", &r.RewardPercent)
	if first == nil {
		first = checkTierRules(r)
	}
	return r, form, first
}

// tiersSubmit is POST /admin/tiers: new rules become a settings approval
// (executed at once with a code from someone who may approve it alone).
func (s *Server) tiersSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	rules, form, err := parseTierForm(r.PostForm)
	if err == nil {
		var a staff.Approval
		a, err = s.proposeSettings(sess, settingsRequest{Tiers: &rules, TOTP: r.PostForm.Get("totp")})
		if err == nil {
			s.opRedirect(w, r, a, "/admin/tiers")
			return
		}
	}
	p := web.Classify(err)
	if p.Status != http.StatusBadRequest {
		s.WriteError(w, r, err)
		return
	}
	s.showTiers(w, r, sess, form, s.ProblemText(s.Lang(r), p), p.Status)
}

// patternsJSON is GET /api/v1/admin/patterns[?product=]: the aggregates.
func (s *Server) apiPatterns(w http.ResponseWriter, r *http.Request, _ staff.Session) {
	pid := r.URL.Query().Get("product")
	if pid != "" {
		p, err := s.Shop.Product(pid)
		if err != nil {
			s.WriteError(w, r, err)
			return
		}
		pid = p.ID
	}
	cells, err := s.Shop.Patterns(pid)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	type cellJSON struct {
		Product    string `json:"product"`
		Quantity   int    `json:"quantity"`
		AmountBand int    `json:"amount_band"`
		HourBand   int    `json:"hour_band"`
		Weekday    int    `json:"weekday"` // 0 = Monday
		Count      int    `json:"count"`
	}
	out := make([]cellJSON, 0, len(cells))
	for _, c := range sortedCells(cells) {
		out = append(out, cellJSON{c.ProductID, c.Quantity, c.AmountBand, c.HourBand, c.Weekday, c.Count})
	}
	web.WriteJSON(w, http.StatusOK, struct {
		Cells []cellJSON `json:"cells"`
	}{out})
}

func sortedCells(cells []shop.PatternCell) []shop.PatternCell {
	cells = slices.Clone(cells)
	slices.SortFunc(cells, func(a, b shop.PatternCell) int {
		if c := strings.Compare(a.ProductID, b.ProductID); c != 0 {
			return c
		}
		for _, d := range [][2]int{{a.Weekday, b.Weekday}, {a.HourBand, b.HourBand}, {a.Quantity, b.Quantity}, {a.AmountBand, b.AmountBand}} {
			if d[0] != d[1] {
				return d[0] - d[1]
			}
		}
		return 0
	})
	return cells
}

// hourBands is the number of four-hour bands of a day (shop.HourBand).
const hourBands = 6

// patternsPage is GET /admin/patterns[?product=]: a weekday × hour band
// heatmap of the selection, orders per product and per hour band.
func (s *Server) patternsPage(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	lang := s.Lang(r)
	prods, err := s.Shop.Products()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	sel := r.URL.Query().Get("product")
	if sel != "" {
		p, err := s.Shop.Product(sel)
		if err != nil {
			s.WriteError(w, r, err)
			return
		}
		sel = p.ID
	}
	all, err := s.Shop.Patterns("")
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	page := &pages.AdminPatterns{AdminBase: s.adminBase(r, &sess, "trust", "")}
	page.TiersURL = page.URL("/admin/tiers")
	names := map[string]string{}
	for _, p := range prods {
		names[p.ID] = p.Name.In(lang)
		page.Products = append(page.Products, pages.Choice{Value: p.ID, Label: p.Name.In(lang), Selected: p.ID == sel})
	}
	var grid [7][hourBands]int
	perProduct := map[string]int{}
	var bands [hourBands]int64
	for _, c := range all {
		perProduct[c.ProductID] += c.Count
		if sel != "" && c.ProductID != sel {
			continue
		}
		if c.Weekday >= 0 && c.Weekday < 7 && c.HourBand >= 0 && c.HourBand < hourBands {
			grid[c.Weekday][c.HourBand] += c.Count
			bands[c.HourBand] += int64(c.Count)
		}
		page.Total += c.Count
	}
	days := make([]string, 7)
	for d := range days {
		days[d] = s.Pages.T(lang, fmt.Sprintf("admin.weekday.%d", d))
	}
	bandLabels := make([]string, hourBands)
	for b := range bandLabels {
		bandLabels[b] = fmt.Sprintf("%02d–%02d", b*4, b*4+4)
	}
	page.Heatmap = heatmap(s.Pages.T(lang, "admin.patterns.heatmap"), days, bandLabels, grid)
	page.BandChart = barChart(s.Pages.T(lang, "admin.patterns.by_band"), bandLabels, bands[:], func(v int64) string { return strconv.FormatInt(v, 10) })
	var labels []string
	var counts []int64
	for _, p := range prods {
		if n := perProduct[p.ID]; n > 0 {
			labels = append(labels, names[p.ID])
			counts = append(counts, int64(n))
		}
	}
	if len(counts) > 0 {
		page.ProductChart = hbarChart(s.Pages.T(lang, "admin.patterns.by_product"), labels, counts, func(v int64) string { return strconv.FormatInt(v, 10) })
	}
	s.Render(w, r, http.StatusOK, page)
}

// heatmap draws a weekday (rows) × hour band (columns) grid; a cell's
// shade is one of five classes (the CSP forbids style attributes), its
// count is written in it and in its title.
func heatmap(title string, days, bands []string, grid [7][hourBands]int) template.HTML {
	const (
		left, top   = 90.0, 24.0
		cellW, cell = 100.0, 34.0
	)
	width := left + cellW*float64(len(bands)) + 4
	height := top + cell*7 + 4
	peak := 0
	for _, row := range grid {
		for _, n := range row {
			peak = max(peak, n)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart-svg heatmap" viewBox="0 0 %.0f %.0f" role="img" aria-label="%s" xmlns="http://www.w3.org/2000/svg">`,
		width, height, esc(title))
	for j, l := range bands {
		fmt.Fprintf(&b, `<text class="label" x="%.1f" y="16" text-anchor="middle">%s</text>`, left+cellW*float64(j)+cellW/2, esc(l))
	}
	for d := range 7 {
		y := top + cell*float64(d)
		fmt.Fprintf(&b, `<text class="label" x="0" y="%.1f">%s</text>`, y+cell/2+4, esc(days[d]))
		for j := range bands {
			n := grid[d][j]
			level := 0
			if n > 0 && peak > 0 {
				level = 1 + (n*4-1)/peak // 1..4
			}
			x := left + cellW*float64(j)
			fmt.Fprintf(&b, `<rect class="heat heat%d" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s %s: %d</title></rect>`,
				level, x+1, y+1, cellW-2, cell-2, esc(days[d]), esc(bands[j]), n)
			if n > 0 {
				fmt.Fprintf(&b, `<text class="label count" x="%.1f" y="%.1f" text-anchor="middle">%d</text>`, x+cellW/2, y+cell/2+4, n)
			}
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}
