package answers

import (
	"strings"
	"testing"
	"time"

	"veil/pages"
	"veil/server/shop"
)

func translator(t *testing.T) Translator {
	t.Helper()
	tpl, err := pages.New()
	if err != nil {
		t.Fatal(err)
	}
	return tpl.T
}

func facts(now time.Time) Facts {
	delivered := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	return Facts{
		Now: now,
		Loc: time.FixedZone("CST", 8*3600),
		Product: shop.Product{
			Name: shop.Text{"en": "VIP 30 days"},
			Disclosure: shop.Disclosure{
				Validity:   shop.Text{"en": "30 days from activation", "zh-CN": "激活后30天"},
				Regions:    shop.Text{"en": "Mainland China accounts only", "zh-CN": "仅限国区账号"},
				UsageGuide: shop.Text{"en": "Open the app, Me → Redeem, paste the key.", "zh-CN": "打开App，我的→兑换，粘贴卡密。"},
			},
			Policy: shop.Policy{WindowHours: 72, Remedies: []shop.Remedy{shop.RemedyReplace, shop.RemedyRefund}, ProRataDays: 30},
		},
		Order: shop.Order{
			Ref: "R-ABCDEFGH", Status: shop.StatusDelivered, DeliveredAt: delivered,
			WindowEnds: delivered.Add(72 * time.Hour),
		},
	}
}

// Each intent is answered from the product's own data and the order, in
// the question's language.
func TestAnswersFromTheShopsData(t *testing.T) {
	tr := translator(t)
	open := facts(time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC))
	for _, c := range []struct {
		q      string
		f      Facts
		intent Intent
		has    []string
		hasNot []string
	}{
		{"how do I redeem it?", open, RedeemHow, []string{"[Automatic answer]", "Me → Redeem, paste the key.", "Devices and platforms:\nThe seller has not stated this."}, nil},
		{"怎么兑换？", open, RedeemHow, []string{"【自动回复】", "我的→兑换，粘贴卡密。"}, []string{"Redeem"}},
		{"when does it expire", open, Expired, []string{"30 days from activation", "until 2026-11-04 20:00 CST"}, nil},
		{"美区账号能用吗", open, WrongRegion, []string{"仅限国区账号", "更换卡密、退款", "2026-11-04 20:00 CST 之前"}, nil},
		{"the key was already used", open, AlreadyUsed, []string{"key already used", "a replacement key, a refund"}, nil},
		{"it says invalid code", open, Invalid, []string{"key invalid", "Mainland China accounts only", "paste the key"}, nil},
		{"I want a refund", open, Refund, []string{"a replacement key, a refund", "30-day validity"}, []string{"without giving a reason"}},
		{"where is my key", open, WhereKey, []string{"they are on your order page"}, nil},
	} {
		r := Answer(c.q, c.f, tr)
		if r.Intent != c.intent || r.Unsure {
			t.Errorf("%q: intent %s unsure %v", c.q, r.Intent, r.Unsure)
		}
		for _, s := range c.has {
			if !strings.Contains(r.Text, s) {
				t.Errorf("%q: answer lacks %q:\n%s", c.q, s, r.Text)
			}
		}
		for _, s := range c.hasNot {
			if strings.Contains(r.Text, s) {
				t.Errorf("%q: answer has %q:\n%s", c.q, s, r.Text)
			}
		}
	}

	// The order's state decides "not received".
	paid := open
	paid.Order.Status, paid.Order.DeliveredAt, paid.Order.WindowEnds = shop.StatusPaid, time.Time{}, time.Time{}
	if r := Answer("I paid but didn't receive the key", paid, tr); r.Intent != NotReceived || !strings.Contains(r.Text, "being delivered") {
		t.Errorf("paid, undelivered: %+v", r)
	}
	unpaid := paid
	unpaid.Order.Status = shop.StatusPending
	if r := Answer("没收到卡密", unpaid, tr); !strings.Contains(r.Text, "尚未支付") {
		t.Errorf("unpaid: %+v", r)
	}
	// Two questions in one message: both answered.
	if r := Answer("有效期多久？地区有限制吗", open, tr); !strings.Contains(r.Text, "激活后30天") || !strings.Contains(r.Text, "仅限国区账号") {
		t.Errorf("two topics: %s", r.Text)
	}
	// Past the window, the answer says so.
	late := facts(time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC))
	if r := Answer("the code expired", late, tr); !strings.Contains(r.Text, "closed on 2026-11-04 20:00 CST") {
		t.Errorf("closed window: %s", r.Text)
	}
	// Keys never shown: the cooling-off refund is offered.
	cool := open
	cool.CoolingOff = true
	if r := Answer("can I get my money back", cool, tr); !strings.Contains(r.Text, "without giving a reason") {
		t.Errorf("cooling-off: %s", r.Text)
	}
}

// An off-topic question gets no guess: a person will answer, and the
// caller is told to notify staff.
func TestUnsureSaysAPersonAnswers(t *testing.T) {
	tr := translator(t)
	f := facts(time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC))
	for _, q := range []string{"do you sell netflix?", "你好", "", "   "} {
		r := Answer(q, f, tr)
		if !r.Unsure || r.Intent != Unsure {
			t.Errorf("%q: %+v", q, r)
		}
		if !strings.Contains(r.Text, "person") && !strings.Contains(r.Text, "客服") {
			t.Errorf("%q: %s", q, r.Text)
		}
		if strings.Contains(r.Text, "paste the key") || strings.Contains(r.Text, "粘贴卡密") {
			t.Errorf("%q answered with product data: %s", q, r.Text)
		}
	}
	if r := Answer("你们卖不卖别的", f, tr); r.Lang != "zh-CN" || !strings.Contains(r.Text, "客服") {
		t.Errorf("zh unsure: %+v", r)
	}
}

// A huge disclosure still yields a valid chat message.
func TestAnswerFitsAMessage(t *testing.T) {
	tr := translator(t)
	f := facts(time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC))
	f.Product.Disclosure.UsageGuide = shop.Text{"en": strings.Repeat("步", 3000)}
	r := Answer("how to use", f, tr)
	if len(r.Text) > 4096 || r.Unsure {
		t.Fatalf("%d bytes, unsure %v", len(r.Text), r.Unsure)
	}
}
