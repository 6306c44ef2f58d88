package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"strings"

	"veil/crypto"
	"veil/server/pay"
	"veil/server/shop"
	"veil/server/store"
)

func cmdDemo(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo")
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	data := fs.String("data", "", "data directory (a fresh temp dir if empty)")
	if err := parse(fs, args); err != nil {
		return err
	}
	dir := *data
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "veil-demo-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	} else if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return usagef("demo: %s is not empty; give a new directory, or run veil serve on it", dir)
	}
	a, err := openApp(dir, newLogger(stderr))
	if err != nil {
		return err
	}
	defer a.Close()

	password, passphrase := rand.Text()[:16], rand.Text()
	res, err := initShop(a, "owner", password, passphrase)
	if err != nil {
		return err
	}
	stock, err := seedDemo(a.shop)
	if err != nil {
		return fmt.Errorf("demo catalog: %w", err)
	}
	if err := seedDemoFastTrack(a); err != nil {
		return fmt.Errorf("demo fast track: %w", err)
	}
	return a.serveHTTP(context.Background(), serveConfig{
		addr: *addr, payments: pay.Demo{}, demo: true, rateLimit: defaultRateLimit,
		ready: func(bound string) {
			fmt.Fprintf(stdout, "\nveil demo shop: http://%s/\n", bound)
			fmt.Fprintf(stdout, "data dir:       %s (removed on exit unless --data)\n", dir)
			fmt.Fprintf(stdout, "stock:          %s\n\n", stock)
			fmt.Fprintf(stdout, "demo owner      %s\npassword        %s\nvault passphrase %s\nTOTP secret     %s\n\n",
				res.Owner, password, passphrase, res.TOTPSecret)
			_ = printQR(stdout, res.OTPAuthURL)
			fmt.Fprintf(stdout, "\nbackup identity (opens this shop's backups):\n  %s\n", res.BackupIdentity)
			fmt.Fprintf(stdout, "\nScan the code (or type the secret) in an authenticator app to sign in to the console.\n")
			fmt.Fprintf(stdout, "Payments are simulated: the pay button marks an order paid. Ctrl-C stops.\n\n")
		},
	})
}

type demoProduct struct {
	p    shop.Product
	keys int
}

// seedDemo creates a small catalog in both languages, with stock.
func seedDemo(sh *shop.Shop) (string, error) {
	guide := func(en, zh string) shop.Text { return shop.Text{"en": en, "zh-CN": zh} }
	products := []demoProduct{
		{shop.Product{
			Slug: "nebula-50", Name: guide("Nebula Games ¥50 card", "星云游戏 50 元点卡"),
			Description: guide("A prepaid card for the Nebula Games store.", "星云游戏商城预付点卡。"),
			PriceMinor:  4850, Currency: "CNY", Kind: shop.Unique, MaxPerOrder: 5,
			Disclosure: shop.Disclosure{
				Validity:            guide("Redeem within 12 months of purchase.", "购买后 12 个月内兑换有效。"),
				Regions:             guide("Mainland China accounts only.", "仅限中国大陆账号。"),
				Devices:             guide("Any device with the Nebula app.", "任意安装星云应用的设备。"),
				UsageGuide:          guide("Open Nebula → Wallet → Redeem code, paste the key.", "打开星云 → 钱包 → 兑换码，粘贴卡密。"),
				FailureRatePermille: 3,
			},
			Policy: shop.Policy{WindowHours: 72, Remedies: []shop.Remedy{shop.RemedyReplace, shop.RemedyRefund}, CoolingOffMinutes: 30, AutoApproveTier: 2},
		}, 60},
		{shop.Product{
			Slug: "aurora-music-1m", Name: guide("Aurora Music Premium, 1 month", "极光音乐 会员月卡"),
			PriceMinor: 1500, Currency: "CNY", Kind: shop.Unique, MaxPerOrder: 3,
			Disclosure: shop.Disclosure{
				Validity:            guide("30 days from activation; activate within 90 days.", "激活后 30 天；需在 90 天内激活。"),
				Regions:             guide("Works worldwide.", "全球可用。"),
				Devices:             guide("Phone, desktop and web.", "手机、电脑与网页。"),
				UsageGuide:          guide("Sign in at aurora.example → Account → Redeem.", "登录 aurora.example → 账户 → 兑换。"),
				FailureRatePermille: 10,
			},
			Policy: shop.Policy{WindowHours: 168, Remedies: []shop.Remedy{shop.RemedyReplace, shop.RemedyPartialRefund, shop.RemedyRefund}, AutoApproveTier: 1},
		}, 40},
		{shop.Product{
			Slug: "quill-office-2026", Name: guide("Quill Office 2026 licence", "羽笔办公 2026 激活码"),
			PriceMinor: 9900, Currency: "CNY", Kind: shop.Unique, MaxPerOrder: 2,
			Disclosure: shop.Disclosure{
				Validity:            guide("Perpetual licence for one computer.", "单台电脑永久授权。"),
				Regions:             guide("Global key; Chinese and English editions.", "全球通用，中英文版均可。"),
				Devices:             guide("One Windows or macOS computer.", "一台 Windows 或 macOS 电脑。"),
				UsageGuide:          guide("Install Quill Office, then Help → Activate and enter the key.", "安装羽笔办公后，帮助 → 激活，输入激活码。"),
				FailureRatePermille: 5,
			},
			Policy: shop.Policy{WindowHours: 720, Remedies: []shop.Remedy{shop.RemedyReplace, shop.RemedyRefund}},
		}, 25},
		{shop.Product{
			Slug: "skyline-vpn-shared", Name: guide("Skyline VPN shared account, 30 days", "天际 VPN 共享账号 30 天"),
			PriceMinor: 800, Currency: "CNY", Kind: shop.Shared,
			Disclosure: shop.Disclosure{
				Validity:   guide("Valid for 30 days; the password is rotated monthly.", "30 天有效，每月更换密码。"),
				Devices:    guide("Shared: do not change the password.", "共享账号：请勿修改密码。"),
				UsageGuide: guide("Sign in to the Skyline app with the account and password.", "使用账号和密码登录天际客户端。"),
			},
			Policy: shop.Policy{WindowHours: 24, Remedies: []shop.Remedy{shop.RemedyRefund}},
		}, 1},
	}
	var summary []string
	for _, dp := range products {
		p, err := sh.CreateProduct(dp.p)
		if err != nil {
			return "", err
		}
		keys := make([]string, dp.keys)
		for i := range keys {
			keys[i] = demoKey(p.Slug)
		}
		info := shop.BatchInfo{Supplier: "demo supplier", CostMinor: p.PriceMinor * 8 / 10}
		if _, err := sh.ImportKeys(p.ID, info, strings.NewReader(strings.Join(keys, "\n"))); err != nil {
			return "", err
		}
		stocked, err := sh.Product(p.ID) // a shared key counts its seats
		if err != nil {
			return "", err
		}
		summary = append(summary, fmt.Sprintf("%s %d", p.Slug, stocked.InStock))
	}
	return strings.Join(summary, ", "), nil
}

// seedDemoFastTrack sets fast-track bounds, so that the demo's trusted
// buyers see remedies approved by policy: replacements and partial
// refunds up to ¥50 an order and ¥200 a day. A real shop sets its own
// through a settings approval.
func seedDemoFastTrack(a *app) error {
	f := shop.FastTrack{Remedies: []shop.Remedy{shop.RemedyReplace, shop.RemedyPartialRefund}, MaxOrderMinor: 5000, MaxDayMinor: 20000}
	return a.db.Update(func(tx *store.Txn) error { return a.shop.SetFastTrackTx(tx, f) })
}

func demoKey(slug string) string {
	if strings.Contains(slug, "shared") {
		return "skyline-demo@example.com / " + crypto.RandomID("", 6)
	}
	s := strings.ToUpper(crypto.RandomID("", 10))
	return s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16]
}
