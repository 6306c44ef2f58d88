package shop

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"veil/server/store"
)

// resolvedTicket buys one key of p, opens a key_invalid ticket after
// openAfter, and resolves it with a replacement after takes.
func (e *env) resolvedTicket(p Product, openAfter, takes time.Duration) (Placed, Ticket) {
	e.t.Helper()
	pl := e.buy(p.Slug, 1)
	e.pay(pl.Order)
	e.clock.Add(openAfter)
	tk, err := e.shop.OpenTicket(pl.Token, ReasonKeyInvalid, "")
	if err != nil {
		e.t.Fatal(err)
	}
	e.clock.Add(takes)
	err = e.db.Update(func(tx *store.Txn) error {
		if err := e.shop.MarkProposedTx(tx, tk.ID, RemedyReplace, 0, "1", false); err != nil {
			return err
		}
		_, err := e.shop.ReplaceTx(tx, pl.Order.Ref, "", tk.ID)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	if tk, err = e.shop.Ticket(tk.ID); err != nil || tk.Status != TicketResolved {
		e.t.Fatalf("ticket %+v %v", tk, err)
	}
	return pl, tk
}

func (e *env) publish(d CaseDraft) (Case, error) {
	var c Case
	err := e.db.Update(func(tx *store.Txn) error {
		var err error
		c, err = e.shop.PublishCaseTx(tx, d)
		return err
	})
	return c, err
}

// TestCaseLibrary: only a resolved ticket becomes a case, once; the case
// keeps product, reason, remedy, whole hours and the ISO week, and nothing
// that leads back to the order; texts that look like a ref, token, key or
// a time are refused; listing filters by product and pages.
func TestCaseLibrary(t *testing.T) {
	e := newEnv(t)
	e.freezeOff() // many orders report keys of one batch here (freeze.go)
	p := e.product("game", Unique)
	q := e.product("other", Unique)
	e.importKeys(p.ID, keyList("G", 60))
	e.importKeys(q.ID, keyList("Q", 5))

	open := e.buy(p.Slug, 1)
	e.pay(open.Order)
	otk, err := e.shop.OpenTicket(open.Token, ReasonWrongRegion, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.shop.CheckCase(CaseDraft{Ticket: otk.ID, Text: Text{"en": "Region mismatch."}}); err == nil {
		t.Fatal("an open ticket became a case")
	}

	pl, tk := e.resolvedTicket(p, time.Hour, 3*time.Hour+time.Minute)
	for name, txt := range map[string]Text{
		"empty":      {},
		"blank":      {"en": "  "},
		"ref":        {"en": "Order " + pl.Order.Ref + " got a new key."},
		"ref lower":  {"en": "order " + strings.ToLower(pl.Order.Ref)},
		"token":      {"en": "token " + pl.Token},
		"key":        {"zh-CN": "卡密 G-00001-SECRETKEY 无效"},
		"key plain":  {"en": "key ABCD1234EFGH was used"},
		"digits":     {"en": "card 1234567890123"},
		"clock":      {"en": "fixed at 14:05"},
		"date":       {"en": "on 2026-11-01 we"},
		"zh date":    {"zh-CN": "11月1日 已处理"},
		"zh hour":    {"zh-CN": "下午3点 已处理"},
		"language":   {"fr": "bonjour"},
		"control":    {"en": "a\x00b"},
		"bidi":       {"en": "a\u202eb"},
		"too long":   {"en": strings.Repeat("a", MaxCaseText+1)},
		"ticket ref": {"en": "ticket " + tk.ID},
	} {
		if _, err := e.shop.CheckCase(CaseDraft{Ticket: tk.ID, Text: txt}); err == nil {
			t.Errorf("%s: text accepted", name)
		}
		if _, err := e.publish(CaseDraft{Ticket: tk.ID, Text: txt}); err == nil {
			t.Errorf("%s: published", name)
		}
	}
	d := CaseDraft{Ticket: tk.ID, Text: Text{"en": "The key was refused by the platform; we sent a fresh one.\nAll good now.", "zh-CN": "平台拒绝该卡密，已补发新卡密。"}}
	if _, err := e.shop.CheckCase(d); err != nil {
		t.Fatal(err)
	}
	c, err := e.publish(d)
	if err != nil {
		t.Fatal(err)
	}
	if c.ProductID != p.ID || c.Reason != ReasonKeyInvalid || c.Remedy != RemedyReplace || c.ResolvedHours != 4 || c.Week != "2026-W44" {
		t.Fatalf("case %+v", c)
	}
	b, _ := json.Marshal(c)
	for _, secret := range []string{pl.Order.Ref, tk.ID, pl.Token, "2026-11-01", "12:00", "13:00"} {
		if strings.Contains(string(b), secret) {
			t.Fatalf("case holds %q: %s", secret, b)
		}
	}
	if ok, err := e.shop.CasePublished(tk.ID); !ok || err != nil {
		t.Fatalf("CasePublished: %v %v", ok, err)
	}
	if ok, _ := e.shop.CasePublished(otk.ID); ok {
		t.Fatal("an open ticket counts as published")
	}
	if _, err := e.shop.CheckCase(d); !errors.Is(err, ErrCasePublished) {
		t.Fatalf("second check: %v", err)
	}
	if _, err := e.publish(d); !errors.Is(err, ErrCasePublished) {
		t.Fatalf("second publish: %v", err)
	}

	// 21 more cases of p, one of q: pages of 20, newest first, by product.
	for i := 0; i < 21; i++ {
		_, tk := e.resolvedTicket(p, time.Minute, time.Minute)
		if _, err := e.publish(CaseDraft{Ticket: tk.ID, Text: Text{"en": "Replaced."}}); err != nil {
			t.Fatal(err)
		}
	}
	_, qt := e.resolvedTicket(q, time.Minute, time.Minute)
	if _, err := e.publish(CaseDraft{Ticket: qt.ID, Text: Text{"zh-CN": "已补发。"}}); err != nil {
		t.Fatal(err)
	}
	all, n, err := e.shop.Cases("", 1)
	if err != nil || n != 23 || len(all) != CasesPerPage || all[0].ProductID != q.ID {
		t.Fatalf("all: %d of %d, %v", len(all), n, err)
	}
	ps, n, _ := e.shop.Cases(p.ID, 2)
	if n != 22 || len(ps) != 2 || ps[1].ID != c.ID {
		t.Fatalf("p page 2: %+v of %d", ps, n)
	}
	if none, n, _ := e.shop.Cases(p.ID, 9); len(none) != 0 || n != 22 {
		t.Fatalf("past the end: %d %d", len(none), n)
	}
	if _, err := e.shop.WithdrawCase(c.ID); err != nil {
		t.Fatal(err)
	}
	if _, n, _ := e.shop.Cases(p.ID, 1); n != 21 {
		t.Fatalf("after withdrawal: %d", n)
	}
	if _, err := e.shop.WithdrawCase(c.ID); !errors.Is(err, ErrCaseNotFound) {
		t.Fatalf("withdraw twice: %v", err)
	}
	if _, err := e.publish(d); !errors.Is(err, ErrCasePublished) {
		t.Fatalf("republished after withdrawal: %v", err)
	}
}

// TestProductFigures: the after-sales rate counts orders with a ticket
// among delivered orders, the resolved share counts tickets, the median is
// over resolved tickets; undelivered orders and other products don't count;
// the figures are cached and recomputed after ten minutes.
func TestProductFigures(t *testing.T) {
	e := newEnv(t)
	// Four orders report bad keys of one batch here: the automatic batch
	// freeze (freeze.go) would take the rest of it out of stock.
	e.freezeOff()
	p := e.product("game", Unique)
	q := e.product("other", Unique)
	e.importKeys(p.ID, keyList("G", 30))
	e.importKeys(q.ID, keyList("Q", 5))
	if f, err := e.shop.ProductFigures(p.ID); err != nil || f != (Figures{}) {
		t.Fatalf("empty shop: %+v %v", f, err)
	}
	e.buy(p.Slug, 1) // never paid: not delivered
	for i := 0; i < 7; i++ {
		e.pay(e.buy(p.Slug, 1).Order)
	}
	e.resolvedTicket(p, time.Minute, 2*time.Hour) // 2 h
	e.resolvedTicket(p, time.Minute, 4*time.Hour) // 4 h
	e.resolvedTicket(p, time.Minute, 9*time.Hour) // 9 h
	// One order with two tickets, one rejected, one open.
	pl := e.buy(p.Slug, 1)
	e.pay(pl.Order)
	a, _ := e.shop.OpenTicket(pl.Token, ReasonKeyAlreadyUsed, "")
	if _, err := e.shop.RejectTicket(a.ID, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.shop.OpenTicket(pl.Token, ReasonOther, ""); err != nil {
		t.Fatal(err)
	}
	e.resolvedTicket(q, time.Minute, time.Hour)

	f, err := e.shop.ProductFigures(p.ID)
	want := Figures{Delivered: 11, WithTickets: 4, Tickets: 5, Resolved: 3, Rejected: 1, MedianHours: 4}
	if err != nil || f != want {
		t.Fatalf("figures %+v, want %+v (%v)", f, want, err)
	}
	if f.RatePermille() != 364 || f.ResolvedPermille() != 600 {
		t.Fatalf("rate %d‰, resolved %d‰", f.RatePermille(), f.ResolvedPermille())
	}
	e.resolvedTicket(p, time.Minute, time.Minute)
	if g, _ := e.shop.ProductFigures(p.ID); g != f {
		t.Fatalf("not cached: %+v", g)
	}
	e.clock.Add(11 * time.Minute)
	if g, _ := e.shop.ProductFigures(p.ID); g.Delivered != 12 || g.Resolved != 4 || g.MedianHours != 3 {
		t.Fatalf("after ten minutes: %+v", g)
	}
	// Orders delivered more than FiguresDays ago drop out.
	e.clock.Add(FiguresDays * 24 * time.Hour)
	if g, _ := e.shop.ProductFigures(p.ID); g != (Figures{}) {
		t.Fatalf("after %d days: %+v", FiguresDays, g)
	}
}

// TestDirectRemedyRecordedOnTicket: a replacement approved directly on the
// order (not proposed from the ticket) still tells the ticket what the
// buyer got, so a published case shows "replace", not a bare "resolved".
func TestDirectRemedyRecordedOnTicket(t *testing.T) {
	e := newEnv(t)
	p := e.product("direct", Unique)
	e.importKeys(p.ID, keyList("D", 4))
	pl := e.buy(p.Slug, 1)
	e.pay(pl.Order)
	tk, err := e.shop.OpenTicket(pl.Token, ReasonKeyInvalid, "")
	if err != nil {
		t.Fatal(err)
	}
	if tk.Remedy != "" {
		t.Fatalf("a fresh ticket has remedy %q", tk.Remedy)
	}
	if err := e.db.Update(func(tx *store.Txn) error {
		_, err := e.shop.ReplaceTx(tx, pl.Order.Ref, "", tk.ID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	got, err := e.shop.Ticket(tk.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != TicketResolved || got.Remedy != RemedyReplace || got.AmountMinor != 0 {
		t.Fatalf("ticket after a direct replacement: status %s remedy %q amount %d", got.Status, got.Remedy, got.AmountMinor)
	}
	c, err := e.publish(CaseDraft{Ticket: tk.ID, Text: map[string]string{"en": "The key was replaced.", "zh-CN": "已更换卡密。"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Remedy != RemedyReplace {
		t.Fatalf("published case remedy %q, want replace", c.Remedy)
	}
}
