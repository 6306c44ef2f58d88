// Package answers gives buyers' standard after-sales questions an
// automatic first answer from the shop's own data (issue 13 §6).
//
// Match sorts a question, in Chinese or English, into one of a small set of
// intents with a weighted cue table; Answer then writes the reply from the
// order's product (validity, regions, devices, usage guide, after-sales
// policy) and the order itself (its state, its after-sales window). When
// the question matches no intent clearly — nothing matches, or two intents
// score alike — the intent is Unsure: the reply says a person will answer,
// and the caller tells staff. Guessing wrong costs a buyer more than
// waiting for a person, so a tie is never broken by luck.
//
// The table is small on purpose and measured: answers_test.go keeps a set
// of real-sounding questions in both languages with the intent a person
// would give them, and prints the share Match gets right.
package answers

import (
	"strings"
	"unicode"
)

// Intent is what a buyer's question is about.
type Intent string

// Intents.
const (
	RedeemHow   Intent = "redeem_how"   // how to use or redeem the key
	Expired     Intent = "expired"      // validity, expiry
	WrongRegion Intent = "wrong_region" // region or device limits
	AlreadyUsed Intent = "already_used" // the key was used before
	Invalid     Intent = "invalid"      // the key does not work, no cause named
	Refund      Intent = "refund"       // money back
	NotReceived Intent = "not_received" // paid, nothing came
	WhereKey    Intent = "where_key"    // where to find the delivered key
	Unsure      Intent = "unsure"       // a person answers
)

// Intents lists every intent but Unsure.
func Intents() []Intent {
	return []Intent{RedeemHow, Expired, WrongRegion, AlreadyUsed, Invalid, Refund, NotReceived, WhereKey}
}

// cue is a pattern in a question and how strongly it points at an
// intent. A pattern is groups joined by "+", each group alternatives
// joined by "|": it matches when every group has an alternative somewhere
// in the question ("already+used|redeemed" matches "used already"), so
// one line covers the word orders buyers use. Weights: 4 a specific cause
// (already used, expired, region), 3 a clear question, 1–2 a word that
// only leans; a negative weight is a word that points away (asking where
// to *enter* a code is not asking where the code is).
type cue struct {
	text   string
	weight int
}

// minScore is the least score an intent needs to be answered.
const minScore = 3

// Shared alternatives.
const (
	keyWords    = "key|code|card|voucher|serial|卡密|卡号|激活码|兑换码|卡"
	useVerbs    = "redeem|activate|use|enter|paste|type|put|add|apply|claim|兑换|激活|使用|输入|充值|绑定|用"
	usedWords   = "used|redeemed|activated|claimed|使用|兑换|激活|用过|被用"
	devices     = "iphone|ipad|ios|android|mac|macbook|linux|ps4|ps5|playstation|xbox|switch|苹果|安卓|手机|电脑|平板|鸿蒙"
	canUseQuery = "can i use it|can i use this|does it work|will it work|work on|works on|use it on|run on|compatible|能不能用|可以用吗|能用吗|支持|适用|可以用在"
	failWords   = "不了|不对|失败|无效|错误|不能用|没用|报错"
	negation    = "n't|not|no |never|nothing|没|未|还没|一直没|呢"
	places      = "japan|taiwan|hong kong|korea|europe|eu|usa|uk|china|mainland|russia|turkey|brazil|india|argentina|canada|australia|日本|台湾|香港|澳门|韩国|美国|欧洲|英国|大陆|内地|海外|俄罗斯|土耳其|巴西|印度|阿根廷"
)

var cues = map[Intent][]cue{
	RedeemHow: {
		{"how+" + useVerbs, 3}, {"where do i|where should i|where to|which page|what page+enter|paste|type|put|redeem|activate|add", 3},
		{"what do i do with|what to do with", 3}, {"instructions|steps|tutorial|guide|manual|process", 3}, {"how does it work", 3},
		{"怎么|如何|怎样|哪个页面|在哪|在哪里|去哪|什么地方|哪儿+" + useVerbs, 3}, {"用法|使用说明|使用方法|说明|教程|步骤|怎么操作|如何操作|流程", 3},
		{"redeem|activate|兑换|激活|输入|充值", 1},
		{failWords + "|expire|过期|到期|多久|能不能用|可以用吗|能用吗", -3},
	},
	Expired: {
		{"expire|expiry|expiration|out of date|validity|过期|有效期|到期|时效", 4},
		{"how long|how many days|how many months|多久|多长时间|几天|多少天|几个月+valid|last|use|membership|subscription|vip|用|有效|会员|卡|月", 4},
		{"valid until|valid for|still valid|天吗|天的吗|个月吗|月卡|年卡|周卡", 3},
		{"within+time|days|month|week|hours", 3}, {"how long is|多久", 2}, {"valid", 1},
		{"stop working|stops working|time limit|deadline|期限|时间限制|有时间|一年|一个月|半年|一周|month or|months", 3},
		{"when+stop|end|run out|expire", 2},
		{"wait|等了|等", -2}, {"not valid|invalid", -4},
	},
	WrongRegion: {
		{"region|country|countries|国家|地区|区域|国区|外区|锁区|美区|港区|日区|台区|欧区|俄区|土区|阿区|国服|外服|港服|区服", 4},
		{"will this work in|does this work in|work in|available in|usable in|use it in|use this in", 3},
		{places + "+" + canUseQuery + "|work|activate|用|激活|兑换|in ", 4},
		{"us account|uk account|eu account|china account|cn account", 4},
		{canUseQuery + "+" + devices, 4}, {"which device|which platform|what device|what platform|哪些设备|什么设备|什么平台|哪个平台|平台", 3},
		{devices, 1},
	},
	AlreadyUsed: {
		{"already|已|been+" + usedWords, 4}, {"used by|someone|somebody|different account|another account|别人|他人+" + usedWords, 4},
		{"被别人|被人用|用过了|被用了|被使用|已被|用掉", 4}, {"in use", 2},
		{"previously|before|earlier|shows as|show as|marked as|status+" + usedWords, 4},
	},
	Invalid: {
		{"invalid|not valid|doesn't work|does not work|not working|won't work|didn't work|did not work|isn't working", 3},
		{"error|incorrect|wrong code|wrong key|is wrong|not accepted|rejected|fails|failed|broken|fake|doesn't accept|does not accept|won't accept", 3},
		{"无效|不能用|用不了|错误|不正确|失败|不对|无法使用|不可用|报错|不好使|坏的|假的|失效", 3},
		{"wrong|没用", 1}, {"能不能用", -3},
	},
	Refund: {
		{"refund|money back|reimburse|chargeback|cancel the order|cancel my order|cancel order|reverse the payment|reverse my payment|dispute", 3},
		{"return+it|this|money|order", 2}, {"my money|give back", 2},
		{"退款|退钱|退货|退我|能退|可以退|取消订单|退了|退吧", 3}, {"退回|赔", 2}, {"退", 1},
	},
	NotReceived: {
		{"not received|didn't receive|did not receive|haven't received|have not received|never received|didn't get|did not get|haven't got|haven't gotten", 3},
		{"nothing came|nothing arrived|not delivered|no delivery|still waiting|never came|never arrived|got nothing", 3},
		{"paid|charged|payment|付了钱|付钱|付完|付了|付款|支付|扣款|扣钱|钱扣|扣了+" + negation, 3},
		{"没收到|没有收到|未收到|还没到|没到账|没发货|没有发货|未发货|不发货|还没发|一直在等|一直没有|没收到东西", 3},
		{"no key|no code|没有卡密|没卡密", 2}, {"paid|charged|付款|支付|付了", 1},
	},
	WhereKey: {
		{"where+key|keys|code|codes|card|order|bought|purchase", 4},
		{"find|lost|see|view|show|look at|get back+my key|my keys|the key|the code|my code|my order|keys", 3},
		{"can't find|cannot find|closed the page|lost the page|lost my", 3},
		{"卡密在哪|卡密呢|找不到|看不到|页面关了|哪里找|哪里看|去哪看|去哪找|在哪看|在哪里看|在哪里找", 4},
		{"在哪|哪里|去哪+卡密|订单|页面|买的", 3}, {"查看|怎么看+卡密|订单|买的", 3},
		{"enter|paste|type|put|redeem|activate|输入|兑换|激活|充值", -3},
	},
}

// compiled is cues parsed into groups of alternatives.
type compiled struct {
	groups [][]string
	weight int
}

var table = func() map[Intent][]compiled {
	t := map[Intent][]compiled{}
	for in, cs := range cues {
		for _, c := range cs {
			var groups [][]string
			for _, g := range strings.Split(c.text, "+") {
				groups = append(groups, strings.Split(g, "|"))
			}
			t[in] = append(t[in], compiled{groups, c.weight})
		}
	}
	return t
}()

func (c compiled) matches(q string) bool {
	for _, g := range c.groups {
		found := false
		for _, alt := range g {
			if containsWord(q, alt) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// containsWord reports whether q holds alt; an alternative that starts
// with an ASCII letter must start a word ("how" is not in "shows", "us" not
// in "use"), Chinese has no word breaks and matches anywhere.
func containsWord(q, alt string) bool {
	if alt == "" {
		return false
	}
	if !isASCIILetter(alt[0]) {
		return strings.Contains(q, alt)
	}
	for i := 0; ; {
		j := strings.Index(q[i:], alt)
		if j < 0 {
			return false
		}
		at := i + j
		if at == 0 || !isASCIILetter(q[at-1]) {
			return true
		}
		i = at + 1
	}
}

func isASCIILetter(b byte) bool { return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' }

// Normalize folds a question for matching: full-width forms to ASCII,
// lower case, curly apostrophes to straight ones, runs of space to one.
func Normalize(text string) string {
	var b strings.Builder
	space := false
	for _, r := range text {
		switch {
		case r >= 0xFF01 && r <= 0xFF5E:
			r -= 0xFEE0
		case r == 0x3000:
			r = ' '
		case r == '\u2019' || r == '\u2018':
			r = '\''
		}
		r = unicode.ToLower(r)
		if unicode.IsSpace(r) {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}

// Score is one intent's score for a question.
type Score struct {
	Intent Intent
	Score  int
}

// Scores returns each intent's score for text, highest first (ties in
// Intents order).
func Scores(text string) []Score {
	q := Normalize(text)
	out := make([]Score, 0, len(cues))
	for _, in := range Intents() {
		n := 0
		for _, c := range table[in] {
			if c.matches(q) {
				n += c.weight
			}
		}
		out = append(out, Score{in, n})
	}
	// insertion sort: eight entries, stable
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Score > out[j-1].Score; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// Match returns the intent of a question, or Unsure when no intent reaches
// the minimum score or the best two score alike. It is the strict reading
// the question tables measure.
func Match(text string) Intent {
	s := Scores(text)
	if s[0].Score < minScore || s[1].Score == s[0].Score {
		return Unsure
	}
	return s[0].Intent
}

// maxAnswered bounds the topics one answer covers.
const maxAnswered = 3

// Matches returns every intent that reaches the minimum score, best
// first, at most three: a message may ask two things ("how long is it
// valid, and which regions?"), and answering each from the shop's data
// does no harm. Empty: nothing matched, a person answers.
func Matches(text string) []Intent {
	var out []Intent
	for _, s := range Scores(text) {
		if s.Score >= minScore && len(out) < maxAnswered {
			out = append(out, s.Intent)
		}
	}
	return out
}

// Lang is the language to answer text in: Chinese when it holds a Han
// character, English otherwise.
func Lang(text string) string {
	for _, r := range text {
		if unicode.Is(unicode.Han, r) {
			return "zh-CN"
		}
	}
	return "en"
}
