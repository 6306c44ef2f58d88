package notify

import (
	"strconv"
	"strings"

	"veil/pages"
)

// titles are the first words of a Telegram message per kind and language.
var titles = map[Kind][2]string{ // en, zh-CN
	OrderPaid:       {"Order paid", "订单已付款"},
	DeliveryQueued:  {"Delivery queued: the vault is locked", "发货排队中：保险库已锁定"},
	DeliveryFailed:  {"Delivery failed", "发货失败"},
	PaymentHeld:     {"Payment held for review", "付款待审核"},
	TicketOpened:    {"Ticket opened", "新工单"},
	TicketReply:     {"Buyer wrote on a ticket", "买家回复工单"},
	ChatOpened:      {"Chat room opened", "买家开启聊天室"},
	StockLow:        {"Low stock", "库存不足"},
	ApprovalWaiting: {"Approval waiting", "有待审批的操作"},
	BatchFrozen:     {"Batch frozen: buyers reported its keys bad, its keys stopped selling", "批次已冻结：买家反馈卡密有问题，已停止销售"},
	ChatQuestion:    {"A buyer's chat question needs a person", "买家的聊天问题需要人工回复"},
	Test:            {"Test message: notifications work", "测试消息：通知已可用"},
}

// Text is the Telegram message of e in lang ("en" or "zh-CN", the
// default): a title and a line of references and amounts.
func Text(e Event, lang string) string {
	i := 1
	if lang == "en" {
		i = 0
	}
	title := titles[e.Kind][i]
	var parts []string
	add := func(s string) {
		if s != "" {
			parts = append(parts, s)
		}
	}
	add(e.Ref)
	if e.Product != "" {
		p := e.Product
		if e.Quantity > 0 {
			p += " ×" + strconv.Itoa(e.Quantity)
		}
		add(p)
	}
	if e.AmountMinor > 0 && e.Currency != "" {
		add(pages.Money(e.AmountMinor, e.Currency))
	}
	if e.Stock != nil {
		left := [2]string{" left, below ", " 件，低于 "}[i]
		add(strconv.Itoa(*e.Stock) + left + strconv.Itoa(e.Threshold))
	}
	add(e.Reason)
	add(e.Ticket)
	if e.Approval != "" {
		add("#" + e.Approval + " " + e.ApprovalKind)
	}
	text := "veil · " + title
	if len(parts) > 0 {
		text += "\n" + strings.Join(parts, " · ")
	}
	return text
}
