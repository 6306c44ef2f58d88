package shop

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"veil/server/store"
)

// The public case library (issue 13 §4): staff publish a resolved ticket
// as an anonymised case — product, problem kind, remedy, how long it took
// and a short text staff wrote — and every product page shows the shop's
// own after-sales figures. A case holds nothing that leads back to an
// order: no ref, ticket id, token, key or time finer than a week, and no
// word of the buyer's.

const (
	pCase       = "case/"    // case/<20-digit seq> -> Case
	pCaseTicket = "case-tk/" // case-tk/<sha256 of the ticket id> -> case id (one case per ticket)
	kCaseSeq    = "case-seq"
	// MaxCaseText bounds each language's staff text, in characters.
	MaxCaseText = 600
	// CasesPerPage is the public page's size.
	CasesPerPage = 20
	// FiguresDays is the span the product figures cover.
	FiguresDays = 180
	figuresTTL  = 10 * time.Minute
)

// ErrCasePublished: the ticket's case is published already, or waits for
// approval (409 case_published).
var ErrCasePublished = errors.New("shop: case already published")

// Case is one published case.
type Case struct {
	ID        string `json:"id"`
	ProductID string `json:"product_id"`
	Reason    Reason `json:"reason"`
	Remedy    Remedy `json:"remedy"`
	// ResolvedHours is the time from the ticket to its resolution, in whole
	// hours rounded up.
	ResolvedHours int `json:"resolved_hours"`
	// Week is the ISO week the ticket was resolved in ("2026-W49").
	Week string `json:"week"`
	Text Text   `json:"text"`
}

// CaseDraft is what staff propose: the resolved ticket and their text.
type CaseDraft struct {
	Ticket string `json:"ticket"`
	Text   Text   `json:"text"`
}

// CheckCase validates a draft against its ticket: resolved, not published,
// and a text in en and/or zh-CN with nothing that looks like a ref, token,
// key, date or clock time. It returns the ticket.
func (s *Shop) CheckCase(d CaseDraft) (Ticket, error) {
	if err := checkCaseText(d.Text); err != nil {
		return Ticket{}, err
	}
	var t Ticket
	err := s.db.View(func(tx *store.Txn) error {
		if err := getTicket(tx, d.Ticket, &t); err != nil {
			return err
		}
		if t.Status != TicketResolved {
			return inputErr("ticket: only a resolved ticket can become a case")
		}
		if ok, err := tx.Has(caseTicketKey(t.ID)); err != nil || ok {
			if err == nil {
				err = ErrCasePublished
			}
			return err
		}
		return nil
	})
	return t, err
}

func caseTicketKey(ticketID string) string {
	h := sha256.Sum256([]byte("case-ticket\x00" + ticketID))
	return pCaseTicket + hex.EncodeToString(h[:16])
}

// PublishCaseTx publishes a draft inside the caller's transaction (the
// approval's): it checks the draft again, since the ticket may have
// changed since it was proposed.
func (s *Shop) PublishCaseTx(tx *store.Txn, d CaseDraft) (Case, error) {
	if err := checkCaseText(d.Text); err != nil {
		return Case{}, err
	}
	var t Ticket
	if err := getTicket(tx, d.Ticket, &t); err != nil {
		return Case{}, err
	}
	if t.Status != TicketResolved {
		return Case{}, inputErr("ticket: only a resolved ticket can become a case")
	}
	if ok, err := tx.Has(caseTicketKey(t.ID)); err != nil || ok {
		if err == nil {
			err = ErrCasePublished
		}
		return Case{}, err
	}
	o, _, err := getOrderByRef(tx, t.Ref)
	if err != nil {
		return Case{}, err
	}
	var seq uint64
	if b, err := tx.Get(kCaseSeq); err == nil {
		seq, _ = strconv.ParseUint(string(b), 10, 64)
	} else if !errors.Is(err, store.ErrNotFound) {
		return Case{}, err
	}
	seq++
	c := Case{
		ID: strconv.FormatUint(seq, 10), ProductID: o.ProductID, Reason: t.Reason, Remedy: t.Remedy,
		ResolvedHours: ceilHours(t.UpdatedAt.Sub(t.CreatedAt)), Week: isoWeek(t.UpdatedAt), Text: cleanCaseText(d.Text),
	}
	if err := tx.Set(kCaseSeq, []byte(c.ID)); err != nil {
		return Case{}, err
	}
	if err := tx.Set(caseTicketKey(t.ID), []byte(c.ID)); err != nil {
		return Case{}, err
	}
	if err := tx.SetJSON(fmt.Sprintf("%s%020d", pCase, seq), c); err != nil {
		return Case{}, err
	}
	return c, nil
}

// WithdrawCase takes a case off the public library (the ticket cannot be
// published again). ErrCaseNotFound for an unknown id.
func (s *Shop) WithdrawCase(id string) (Case, error) {
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil || n == 0 {
		return Case{}, ErrCaseNotFound
	}
	var c Case
	err = s.db.Update(func(tx *store.Txn) error {
		k := fmt.Sprintf("%s%020d", pCase, n)
		if err := tx.GetJSON(k, &c); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return ErrCaseNotFound
			}
			return err
		}
		return tx.Delete(k)
	})
	return c, err
}

// ErrCaseNotFound: 404 case_not_found.
var ErrCaseNotFound = errors.New("shop: case not found")

// Cases lists published cases newest first, of one product ("" for all),
// page from 1; it also returns how many there are in all.
func (s *Shop) Cases(productID string, page int) ([]Case, int, error) {
	var all []Case
	err := s.db.View(func(tx *store.Txn) error {
		return tx.Iterate(pCase, "", false, func(_ string, v []byte) error {
			var c Case
			if err := jsonUnmarshal(v, &c); err != nil {
				return err
			}
			if productID == "" || c.ProductID == productID {
				all = append(all, c)
			}
			return nil
		})
	})
	if err != nil {
		return nil, 0, err
	}
	slices.Reverse(all)
	page = max(page, 1)
	from := (page - 1) * CasesPerPage
	if from >= len(all) {
		return nil, len(all), nil
	}
	return all[from:min(from+CasesPerPage, len(all))], len(all), nil
}

func ceilHours(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + time.Hour - 1) / time.Hour)
}

func isoWeek(t time.Time) string {
	y, w := t.UTC().ISOWeek()
	return fmt.Sprintf("%d-W%02d", y, w)
}

var (
	// What a case text must not contain: a ref, a run that looks like a
	// token or key (eight or more letters and digits mixed, dashes
	// allowed, or ten digits), a date or a clock time.
	caseRefRE   = regexp.MustCompile(`(?i)\bR-[0-9A-Z]{8}\b`)
	caseCodeRE  = regexp.MustCompile(`[0-9A-Za-z][0-9A-Za-z_-]{6,}[0-9A-Za-z]`)
	caseDateRE  = regexp.MustCompile(`\d{4}[-/.年]\d{1,2}|\d{1,2}[-/.月]\d{1,2}[日号]?(\D|$)|\d{1,2}:\d{2}|\d{1,2}\s*[点時时]`)
	caseDigitRE = regexp.MustCompile(`\d{10,}`)
)

func looksLikeCode(s string) bool {
	alnum, digit, letter := 0, false, false
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			alnum++
			digit = true
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
			alnum++
			letter = true
		}
	}
	return alnum >= 8 && digit && letter
}

func checkCaseText(t Text) error {
	n := 0
	for lang, s := range t {
		if lang != "en" && lang != "zh-CN" {
			return inputErr("text: languages en and zh-CN only")
		}
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		n++
		if !utf8.ValidString(s) || utf8.RuneCountInString(s) > MaxCaseText {
			return inputErr("text: at most %d characters of UTF-8 in each language", MaxCaseText)
		}
		for _, c := range s {
			if (unicode.IsControl(c) && c != '\n') || unicode.Is(unicode.Cf, c) {
				return inputErr("text: no control or format characters")
			}
		}
		if caseRefRE.MatchString(s) || caseDigitRE.MatchString(s) || slices.ContainsFunc(caseCodeRE.FindAllString(s, -1), looksLikeCode) {
			return inputErr("text (%s): it looks like it holds a ref, token or key; describe the case in words", lang)
		}
		if caseDateRE.MatchString(s) {
			return inputErr("text (%s): no dates or times; the case shows its week", lang)
		}
	}
	if n == 0 {
		return inputErr("text: required in en or zh-CN")
	}
	return nil
}

func cleanCaseText(t Text) Text {
	out := Text{}
	for lang, s := range t {
		if s = strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n")); s != "" {
			out[lang] = s
		}
	}
	return out
}

// Figures are a product's after-sales figures over the last FiguresDays
// days, from the shop's own orders and tickets.
type Figures struct {
	// Delivered orders; WithTickets of them had at least one ticket.
	Delivered   int `json:"delivered"`
	WithTickets int `json:"with_tickets"`
	// Tickets on those orders; Resolved of them were resolved (a remedy
	// given), Rejected refused, the rest still open.
	Tickets  int `json:"tickets"`
	Resolved int `json:"resolved"`
	Rejected int `json:"rejected"`
	// MedianHours is the median time from ticket to resolution over the
	// Resolved tickets, in hours (one decimal).
	MedianHours float64 `json:"median_hours"`
}

// RatePermille is the after-sales rate in tenths of a percent.
func (f Figures) RatePermille() int {
	if f.Delivered == 0 {
		return 0
	}
	return (f.WithTickets*1000 + f.Delivered/2) / f.Delivered
}

// ResolvedPermille is the share of tickets resolved, in tenths of a percent.
func (f Figures) ResolvedPermille() int {
	if f.Tickets == 0 {
		return 0
	}
	return (f.Resolved*1000 + f.Tickets/2) / f.Tickets
}

// figuresCache holds every product's figures for a few minutes: they come
// from a scan of all orders and tickets.
type figuresCache struct {
	mu  sync.Mutex
	at  time.Time
	all map[string]Figures
}

// ProductFigures returns a product's after-sales figures (cached for ten
// minutes).
func (s *Shop) ProductFigures(productID string) (Figures, error) {
	s.figures.mu.Lock()
	defer s.figures.mu.Unlock()
	now := s.now()
	if s.figures.all == nil || now.Sub(s.figures.at) > figuresTTL || now.Before(s.figures.at) {
		all, err := s.computeFigures(now)
		if err != nil {
			return Figures{}, err
		}
		s.figures.all, s.figures.at = all, now
	}
	return s.figures.all[productID], nil
}

func (s *Shop) computeFigures(now time.Time) (map[string]Figures, error) {
	since := now.Add(-FiguresDays * 24 * time.Hour)
	type ord struct {
		product string
		tickets bool
	}
	orders := map[string]*ord{}
	out := map[string]Figures{}
	hours := map[string][]float64{}
	err := s.db.View(func(tx *store.Txn) error {
		err := tx.Iterate(pOrder, "", false, func(_ string, v []byte) error {
			var o struct {
				Ref         string    `json:"ref"`
				ProductID   string    `json:"product_id"`
				DeliveredAt time.Time `json:"delivered_at"`
			}
			if v[0] != '{' { // the binary form (orderstore.go)
				d, _, err := decodeOrder(v)
				if err != nil {
					return err
				}
				o.Ref, o.ProductID, o.DeliveredAt = d.Ref, d.ProductID, d.DeliveredAt
			} else if err := jsonUnmarshal(v, &o); err != nil {
				return err
			}
			if o.DeliveredAt.IsZero() || o.DeliveredAt.Before(since) {
				return nil
			}
			orders[o.Ref] = &ord{product: o.ProductID}
			f := out[o.ProductID]
			f.Delivered++
			out[o.ProductID] = f
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Iterate(pTicket, "", false, func(_ string, v []byte) error {
			var t Ticket
			if err := jsonUnmarshal(v, &t); err != nil {
				return err
			}
			o := orders[t.Ref]
			if o == nil {
				return nil
			}
			f := out[o.product]
			if !o.tickets {
				o.tickets = true
				f.WithTickets++
			}
			f.Tickets++
			switch t.Status {
			case TicketResolved:
				f.Resolved++
				hours[o.product] = append(hours[o.product], t.UpdatedAt.Sub(t.CreatedAt).Hours())
			case TicketRejected:
				f.Rejected++
			}
			out[o.product] = f
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	for pid, hs := range hours {
		slices.Sort(hs)
		m := hs[len(hs)/2]
		if len(hs)%2 == 0 {
			m = (hs[len(hs)/2-1] + hs[len(hs)/2]) / 2
		}
		f := out[pid]
		f.MedianHours = float64(int(m*10+0.5)) / 10
		out[pid] = f
	}
	return out, nil
}

// CasePublished reports whether a ticket was published as a case (even if
// the case was withdrawn since).
func (s *Shop) CasePublished(ticketID string) (bool, error) {
	var ok bool
	err := s.db.View(func(tx *store.Txn) error {
		var err error
		ok, err = tx.Has(caseTicketKey(ticketID))
		return err
	})
	return ok, err
}
