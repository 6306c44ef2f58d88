package shop

// DefaultTerms is the after-sales rules page until the merchant writes
// their own (the console's shop page starts from it). It follows the
// shape of a trade "after-sales white paper" — scope, timing, remedies,
// compensation — and promises only what veil itself enforces.
var DefaultTerms = Text{
	"zh-CN": `售后服务规则

一、适用范围
本店出售的卡密、激活码、礼品卡等虚拟商品均适用本规则。每件商品页面写明的有效期、地区与设备限制、使用说明和已知失效率,是本规则的一部分,请在付款前阅读。
因买家自身原因造成的问题(如购买了不适用于自己地区或设备的商品、把卡密交给他人)不在售后范围内,但我们仍会尽力协助。

二、时效
· 付款成功后自动发货。若 30 分钟内未能发货,订单自动转为待退款,全额退还。
· 每件商品的售后期限写在商品页面上,从发货时开始计算。期限内可在订单页提交问题。
· 我们会尽快回复工单;处理进度在订单页随时可查。

三、处理方式
· 卡密无效、已被使用、地区不符或未收到:核实后补发新卡密,或部分/全额退款(以商品页面列出的方式为准)。
· 带有冷静期的商品:在冷静期内且从未查看卡密,可无理由退款。
· 退款与补发都需要店主以动态验证码确认,并记录在不可篡改的审计日志中。

四、补偿
因本店原因(系统故障、供应商整批失效)造成的损失,我们主动补发或退款,不需要买家反复申诉。整批失效的卡密会被召回,受影响的订单一并处理。

五、隐私
本店不需要账号、手机号或邮箱。订单凭据只有下单时显示的订单令牌,请妥善保存;我们无法找回丢失的令牌。`,
	"en": `After-sales rules

1. Scope
These rules cover every virtual good this shop sells: keys, activation codes, gift cards. What each product page states — validity, region and device limits, the usage guide and the known failure rate — is part of these rules; please read it before paying.
Problems of the buyer's own making (a product bought for another region or device, a key handed to someone else) are outside after-sales, though we will still try to help.

2. Timing
- Keys are delivered automatically once the payment clears. If they cannot be delivered within 30 minutes, the order becomes refund-due and is refunded in full.
- Each product page states its after-sales window, counted from delivery. Within it, report a problem from the order page.
- We answer tickets as soon as we can; the order page always shows where a ticket stands.

3. Remedies
- A key that is invalid, already used, for the wrong region or not received: once checked, a replacement key, or a partial or full refund (as the product page lists).
- Products with a cooling-off period: refundable without a reason while the keys were never revealed.
- Every refund and replacement is confirmed by the owner with a one-time code and recorded in a tamper-evident audit log.

4. Compensation
Where we are at fault (a system failure, a supplier batch gone bad), we replace or refund on our own initiative; you should not have to ask twice. A bad batch is recalled and every order it touched is dealt with.

5. Privacy
This shop needs no account, phone number or e-mail. Your order token, shown once when you order, is all you need; keep it safe — we cannot recover a lost token.`,
}
