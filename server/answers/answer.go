package answers

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"veil/msg"
	"veil/server/shop"
)

// Facts are what an answer may draw on: the order, its product (with its
// disclosure and policy), the time now and the shop's time zone.
type Facts struct {
	Order   shop.Order
	Product shop.Product
	Now     time.Time
	Loc     *time.Location // nil: UTC
	// CoolingOff is whether the order may still take a refund without
	// reason now (shop.CoolingOffOK).
	CoolingOff bool
}

// Translator returns the text of key in lang (pages.Templates.T).
type Translator func(lang, key string) string

// Reply is an automatic answer.
type Reply struct {
	Intent Intent
	Lang   string
	Text   string
	// Unsure: the question was not recognised; the text says a person will
	// answer, and the caller must tell staff.
	Unsure bool
}

// Answer matches question and writes the reply from f in the question's
// language, covering each topic the question reaches (Matches); Intent is
// the first of them. The text is cleaned for the chat (msg.CleanText) and
// fits a message.
func Answer(question string, f Facts, t Translator) Reply {
	lang := Lang(question)
	ins := Matches(question)
	r := Reply{Intent: Unsure, Lang: lang, Unsure: len(ins) == 0}
	w := writer{lang: lang, t: t, f: f}
	if r.Unsure {
		r.Text = w.finish([]string{w.tr("answers.unsure")}, false)
		return r
	}
	r.Intent = ins[0]
	var parts []string
	seen := map[string]bool{}
	add := func(ps ...string) {
		for _, p := range ps {
			if p != "" && !seen[p] {
				seen[p] = true
				parts = append(parts, p)
			}
		}
	}
	p := f.Product.Disclosure
	for _, in := range ins {
		switch in {
		case RedeemHow:
			add(w.field("answers.usage", p.UsageGuide), w.field("answers.devices", p.Devices))
		case Expired:
			add(w.field("answers.validity", p.Validity), w.window())
		case WrongRegion:
			add(w.field("answers.regions", p.Regions), w.field("answers.devices", p.Devices), w.window(), w.remedies())
		case AlreadyUsed:
			add(w.tr("answers.already_used"), w.window(), w.remedies())
		case Invalid:
			add(w.tr("answers.invalid"), w.field("answers.usage", p.UsageGuide), w.field("answers.regions", p.Regions),
				w.window(), w.remedies())
		case Refund:
			add(w.remedies())
			if f.CoolingOff {
				add(w.tr("answers.cooling_off"))
			}
			if d := f.Product.Policy.ProRataDays; d > 0 {
				add(strings.ReplaceAll(w.tr("answers.pro_rata"), "{days}", strconv.Itoa(d)))
			}
			add(w.window())
		case NotReceived, WhereKey:
			add(w.tr("answers.where." + whereKey(f.Order)))
		}
	}
	r.Text = w.finish(parts, true)
	return r
}

// whereKey picks the "where is my key" answer for the order's state.
func whereKey(o shop.Order) string {
	switch o.Status {
	case shop.StatusPending, shop.StatusExpired:
		return "unpaid"
	case shop.StatusPaid:
		return "paid"
	case shop.StatusRefundDue, shop.StatusRefunded:
		return "refund"
	case shop.StatusPaymentHeld:
		return "held"
	}
	return "delivered"
}

type writer struct {
	lang string
	t    Translator
	f    Facts
}

func (w writer) tr(key string) string { return w.t(w.lang, key) }

// field is a heading and the product's text for it, or "not stated".
func (w writer) field(heading string, text shop.Text) string {
	v := strings.TrimSpace(text.In(w.lang))
	if v == "" {
		v = w.tr("answers.not_stated")
	}
	return w.tr(heading) + "\n" + v
}

// window says until when the order's keys can be reported, or that the
// window closed; nothing before delivery.
func (w writer) window() string {
	o := w.f.Order
	if o.DeliveredAt.IsZero() || o.WindowEnds.IsZero() {
		return ""
	}
	loc := w.f.Loc
	if loc == nil {
		loc = time.UTC
	}
	end := o.WindowEnds.In(loc).Format("2006-01-02 15:04 MST")
	key := "answers.window_open"
	if w.f.Now.After(o.WindowEnds) {
		key = "answers.window_closed"
	}
	return strings.ReplaceAll(w.tr(key), "{end}", end)
}

// remedies lists what the product's policy offers.
func (w writer) remedies() string {
	rs := w.f.Product.Policy.Remedies
	if len(rs) == 0 {
		return w.tr("answers.remedies_none")
	}
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = w.tr("answers.remedy." + string(r))
	}
	sep := ", "
	if w.lang == "zh-CN" {
		sep = "、"
	}
	return strings.ReplaceAll(w.tr("answers.remedies"), "{list}", strings.Join(names, sep))
}

// finish joins the parts between the intro and, when outro, the line that
// a person follows; it cleans and bounds the text.
func (w writer) finish(parts []string, outro bool) string {
	all := []string{w.tr("answers.intro")}
	for _, p := range parts {
		if p != "" {
			all = append(all, p)
		}
	}
	if outro {
		all = append(all, w.tr("answers.outro"))
	}
	text := truncateUTF8(strings.Join(all, "\n\n"), msg.MaxTextBytes)
	if clean, err := msg.CleanText(text); err == nil {
		return clean
	}
	return w.tr("answers.unsure")
}

// truncateUTF8 cuts s to at most n bytes on a rune boundary.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
