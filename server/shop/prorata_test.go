package shop

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// A 30-day membership at 30.00 refunded by use at three moments: the
// amounts are exact integer cents, rounded down.
func TestProRataThreePoints(t *testing.T) {
	for _, c := range []struct {
		name       string
		price      int64
		after      time.Duration // ticket opened this long after delivery
		used, left int64
		want       int64
	}{
		{"one hour in", 3000, time.Hour, 3600, 2588400, 2995},              // 2995.83 → 2995
		{"ten days in", 3000, 10 * 24 * time.Hour, 864000, 1728000, 2000},  // exact
		{"20d 7h in", 3000, (20*24 + 7) * time.Hour, 1753200, 838800, 970}, // 970.83 → 970
		{"odd price, ten days", 999, 10 * 24 * time.Hour, 864000, 1728000, 666},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			p, err := e.shop.CreateProduct(Product{
				Slug: "vip", Name: Text{"en": "VIP 30 days"}, PriceMinor: c.price, Currency: "CNY", Kind: Unique,
				Policy: Policy{WindowHours: 31 * 24, Remedies: []Remedy{RemedyPartialRefund, RemedyRefund}, ProRataDays: 30},
			})
			if err != nil {
				t.Fatal(err)
			}
			e.importKeys(p.ID, keyList("VIP", 2))
			pl := e.buy(p.ID, 1)
			o := e.pay(pl.Order)
			e.clock.Add(c.after)
			tk, err := e.shop.OpenTicket(pl.Token, ReasonOther, "")
			if err != nil {
				t.Fatal(err)
			}
			e.clock.Add(48 * time.Hour) // staff look later: the quote does not move
			q, err := e.shop.ProRata(tk.ID)
			if err != nil {
				t.Fatal(err)
			}
			if q.AmountMinor != c.want || q.UsedSecond != c.used || q.LeftSecond != c.left || q.PeriodSecond != 2592000 || q.PaidMinor != c.price {
				t.Fatalf("quote %+v, want amount %d used %d left %d", q, c.want, c.used, c.left)
			}
			if !q.Start.Equal(o.DeliveredAt) || !q.Opened.Equal(tk.CreatedAt) {
				t.Fatalf("times %v %v", q.Start, q.Opened)
			}
			ex := q.Explain()
			if strings.Contains(ex, o.DeliveredAt.Format(time.DateOnly)) {
				t.Fatalf("explanation %q names a date", ex)
			}
			for _, s := range []string{"30d 0h 0m 0s", fmt.Sprintf("= %d CNY", c.want), "rounded down"} {
				if !strings.Contains(ex, s) {
					t.Fatalf("explanation %q lacks %q", ex, s)
				}
			}
			if q.Full() {
				t.Fatal("a used membership quoted as a full refund")
			}
		})
	}
}

func TestProRataRefusals(t *testing.T) {
	e := newEnv(t)
	p := e.product("game", Unique) // no pro-rata in its policy
	e.importKeys(p.ID, keyList("G", 2))
	pl := e.buy(p.ID, 1)
	e.pay(pl.Order)
	tk, err := e.shop.OpenTicket(pl.Token, ReasonOther, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.shop.ProRata(tk.ID); !errors.Is(err, ErrNoProRata) {
		t.Fatalf("pro-rata without the policy: %v", err)
	}
	if _, err := e.shop.ProRata("t-nope"); !errors.Is(err, ErrTicketNotFound) {
		t.Fatalf("unknown ticket: %v", err)
	}
	bad := Product{Slug: "x", Name: Text{"en": "x"}, PriceMinor: 1, Currency: "CNY", Policy: Policy{ProRataDays: MaxProRataDays + 1}}
	var ie *InputError
	if _, err := e.shop.CreateProduct(bad); !errors.As(err, &ie) {
		t.Fatalf("period too long accepted: %v", err)
	}
}

// The arithmetic holds at the extremes: past the end nothing is left, and
// a product that would overflow 63 bits is still exact.
func TestProRataArithmetic(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, used, left, amt := proRata(3000, start, 30, start.Add(40*24*time.Hour)); used != 2592000 || left != 0 || amt != 0 {
		t.Fatalf("past the end: used %d left %d amount %d", used, left, amt)
	}
	if _, used, _, amt := proRata(3000, start, 30, start.Add(-time.Hour)); used != 0 || amt != 3000 {
		t.Fatalf("before the start: used %d amount %d", used, amt)
	}
	// 10 years, half used, of the largest amount an int64 holds.
	big := int64(math.MaxInt64 - 1)
	_, _, _, amt := proRata(big, start, 3650, start.Add(1825*24*time.Hour))
	if amt != big/2 {
		t.Fatalf("large amount: %d, want %d", amt, big/2)
	}
}
