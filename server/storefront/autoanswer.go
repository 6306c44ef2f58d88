package storefront

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"veil/msg"
	"veil/server/shop"
)

// Automatic first answers in the chat, while no staff member has joined:
// keyword rules in both languages answered from the product's disclosure
// and the order's state. The hub marks them From "auto"; the text says so
// too, and says that a person follows.

// autoRule is one question the shop can answer by itself.
type autoRule struct {
	topic    string   // translation key suffix: auto.<topic>
	keywords []string // lower case; any one matches
}

var autoRules = []autoRule{
	{"usage", []string{"how to use", "how do i use", "how to redeem", "how do i redeem", "redeem", "activate", "怎么用", "如何使用", "使用方法", "使用", "怎么兑换", "兑换", "激活"}},
	{"validity", []string{"validity", "valid for", "valid until", "expire", "expiry", "how long", "有效期", "过期", "多久"}},
	{"region", []string{"region", "country", "countries", "area", "地区", "区域", "国家", "国区", "外区"}},
	{"where", []string{"where is my key", "where are my keys", "my key", "not received", "didn't receive", "did not receive", "haven't received", "no key", "卡密在哪", "卡密呢", "没收到", "没有收到", "未收到", "没到账"}},
}

// AutoAnswer is autoAnswer for msg.HubConfig.AutoAnswer, which cmd wires
// when it builds the hub (before the server: a closure over the server
// variable).
func (s *Server) AutoAnswer(ref, text string) (string, bool) { return s.autoAnswer(ref, text) }

// autoAnswer is msg.HubConfig.AutoAnswer: an answer to a buyer's message
// from the order's product disclosure, or false when no rule matches. It
// answers every topic the message asks about, in the message's language
// (Chinese when it holds Han characters).
func (s *Server) autoAnswer(ref, text string) (string, bool) {
	lower := strings.ToLower(text)
	var topics []string
	for _, rule := range autoRules {
		for _, k := range rule.keywords {
			if strings.Contains(lower, k) {
				topics = append(topics, rule.topic)
				break
			}
		}
	}
	if len(topics) == 0 {
		return "", false
	}
	o, err := s.Shop.OrderByRef(ref)
	if err != nil {
		return "", false
	}
	p, err := s.Shop.Product(o.ProductID)
	if err != nil {
		return "", false
	}
	lang := "en"
	if hasHan(text) {
		lang = "zh-CN"
	}
	t := func(key string) string { return s.Pages.T(lang, key) }
	notStated := t("auto.not_stated")
	or := func(v string) string {
		if strings.TrimSpace(v) == "" {
			return notStated
		}
		return v
	}
	parts := []string{t("auto.intro")}
	for _, topic := range topics {
		switch topic {
		case "usage":
			parts = append(parts, t("auto.usage")+"\n"+or(p.Disclosure.UsageGuide.In(lang)))
		case "validity":
			parts = append(parts, t("auto.validity")+"\n"+or(p.Disclosure.Validity.In(lang)))
		case "region":
			parts = append(parts, t("auto.region")+"\n"+or(p.Disclosure.Regions.In(lang))+
				"\n"+t("auto.devices")+"\n"+or(p.Disclosure.Devices.In(lang)))
		case "where":
			parts = append(parts, t("auto.where."+whereKey(o)))
		}
	}
	parts = append(parts, t("auto.outro"))
	answer := truncateUTF8(strings.Join(parts, "\n\n"), msg.MaxTextBytes)
	clean, err := msg.CleanText(answer)
	if err != nil {
		return "", false
	}
	return clean, true
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

func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
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
