package main

import (
	"context"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"veil/msg"
	"veil/server"
	"veil/server/pay"
	"veil/server/shop"
	"veil/server/store"
)

// defaultRateLimit is requests per minute per client address on buyer
// routes: generous for people, tight for scrapers and token guessers.
const defaultRateLimit = 120

// paymentFlags configure the payment provider of serve.
type paymentFlags struct {
	provider     string // a comma list of demo, epay, epusdt, monero, manual
	epusdtURL    string
	epusdtToken  string // file
	moneroRPC    string // monero-wallet-rpc base URL
	moneroLogin  string // file: user:password
	moneroConfs  uint64
	moneroPoll   time.Duration // tests: how often the watcher polls
	epayPID      string
	epayKeyFile  string
	epayGateway  string
	epayType     string
	publicURL    string // the shop's address as buyers and the gateway reach it
	instructions string // file with the manual provider's instructions
}

func cmdServe(args []string, _, stderr io.Writer) error {
	fs := newFlags("serve")
	data := fs.String("data", "", "data directory")
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	passFile := fs.String("passphrase-file", "", "file holding the vault passphrase (unlocks at start)")
	var pf paymentFlags
	fs.StringVar(&pf.provider, "payments", "demo", "payment providers the buyer chooses from, a comma list of demo, epay, epusdt, monero, manual (the first is the default)")
	fs.StringVar(&pf.epayPID, "epay-pid", "", "易支付 merchant id")
	fs.StringVar(&pf.epayKeyFile, "epay-key-file", "", "file holding the 易支付 merchant key")
	fs.StringVar(&pf.epayGateway, "epay-gateway", "", "易支付 gateway submit URL, e.g. https://pay.example/submit.php")
	fs.StringVar(&pf.epayType, "epay-type", "alipay", "易支付 payment type asked of the gateway (alipay, wxpay, …; empty lets the buyer choose there)")
	fs.StringVar(&pf.epusdtURL, "epusdt-url", "", "epusdt-compatible gateway base URL (epusdt, BEpusdt, UPay), e.g. https://usdt.example")
	fs.StringVar(&pf.epusdtToken, "epusdt-token-file", "", "file holding the epusdt gateway's API token")
	fs.StringVar(&pf.moneroRPC, "monero-wallet-rpc", "", "monero-wallet-rpc base URL of the shop's view-only wallet, e.g. http://127.0.0.1:18083")
	fs.StringVar(&pf.moneroLogin, "monero-rpc-login-file", "", "file holding the wallet RPC's --rpc-login (one line user:password)")
	fs.Uint64Var(&pf.moneroConfs, "monero-confirmations", pay.DefaultMoneroConfirmations, "blocks that must hold a Monero payment before it counts")
	fs.StringVar(&pf.publicURL, "public-url", "", "the shop's public base URL, e.g. https://shop.example (required with epay and epusdt: notify and return URLs; the chat accepts only this origin)")
	fs.StringVar(&pf.instructions, "manual-instructions-file", "", "file with the payment instructions buyers see (manual payments)")
	rate := fs.Int("rate-limit", defaultRateLimit, "requests per minute per client address on buyer routes (0 = off)")
	behindTLS := fs.Bool("behind-tls", false, "the shop is served over TLS by a proxy (Secure cookies, HSTS)")
	tor := fs.Bool("tor", false, "an onion service: every client shares one address (no per-address limits; a global request budget; the hoarding guard protects stock)")
	minFree := fs.Int("min-free-mb", 128, "MiB that must stay free on the data directory's filesystem: below it writes answer 503 storage_unavailable until space returns (reads go on)")
	trustProxy := fs.Bool("trust-proxy", false, "take the client address from the proxy's X-Forwarded-For (only behind a proxy you run)")
	if err := parse(fs, args); err != nil {
		return err
	}
	// VEIL_MONERO_POLL (a duration) is for tests: a faster watcher.
	if v := os.Getenv("VEIL_MONERO_POLL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 100*time.Millisecond {
			return usagef("VEIL_MONERO_POLL must be a duration of at least 100ms")
		}
		pf.moneroPoll = d
	}
	if *rate < 0 {
		return usagef("--rate-limit must be 0 or more")
	}
	if *minFree < 1 {
		return usagef("--min-free-mb must be at least 1")
	}
	providers, err := pf.buildAll()
	if err != nil {
		return err
	}
	if pf.publicURL != "" {
		if _, err := msg.PublicOrigin(pf.publicURL); err != nil {
			return usagef("--public-url must be an absolute http(s) URL such as https://shop.example")
		}
	}
	var passphrase string
	if *passFile != "" {
		var err error
		if passphrase, err = readSecretFile("passphrase-file", *passFile); err != nil {
			return err
		}
	}
	log := newLogger(stderr)
	a, err := openAppStore(*data, log, shop.Config{Logger: log}, store.Options{MinFree: int64(*minFree) << 20})
	if err != nil {
		return err
	}
	defer a.Close()
	if !a.shop.Initialized() {
		return usagef("%s holds no shop yet: run veil init first", *data)
	}
	if passphrase != "" {
		if err := a.shop.Unlock(passphrase); err != nil {
			return err
		}
	} else {
		log.Warn("veil: vault locked: deliveries queue until a merchant unlocks it")
	}
	return a.serveHTTP(context.Background(), serveConfig{
		addr: *addr, providers: providers, demo: hasProvider(providers, "demo"), rateLimit: *rate, behindTLS: *behindTLS, trustProxy: *trustProxy,
		publicURL: pf.publicURL, tor: *tor, moneroPoll: pf.moneroPoll,
	})
}

// buildAll makes every provider of the --payments list, in its order.
func (pf paymentFlags) buildAll() ([]pay.Provider, error) {
	var out []pay.Provider
	for _, name := range strings.Split(pf.provider, ",") {
		name = strings.TrimSpace(name)
		if hasProvider(out, name) {
			return nil, usagef("--payments names %s twice", name)
		}
		p, err := pf.build(name)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

func hasProvider(ps []pay.Provider, name string) bool {
	for _, p := range ps {
		if p.Name() == name {
			return true
		}
	}
	return false
}

// build checks the flags one provider needs and makes it.
func (pf paymentFlags) build(name string) (pay.Provider, error) {
	switch name {
	case "demo":
		return pay.Demo{}, nil
	case "epay":
		if pf.epayPID == "" || pf.epayKeyFile == "" || pf.epayGateway == "" || pf.publicURL == "" {
			return nil, usagef("--payments epay needs --epay-pid, --epay-key-file, --epay-gateway and --public-url")
		}
		base, err := url.Parse(pf.publicURL)
		if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" || base.RawQuery != "" {
			return nil, usagef("--public-url must be an absolute http(s) URL such as https://shop.example")
		}
		key, err := readSecretFile("epay-key-file", pf.epayKeyFile)
		if err != nil {
			return nil, err
		}
		root := strings.TrimRight(pf.publicURL, "/")
		p, err := pay.NewEpay(pay.EpayConfig{
			PID: pf.epayPID, Key: key, KeyFile: pf.epayKeyFile, Gateway: pf.epayGateway, Type: pf.epayType,
			NotifyURL: root + "/pay/epay/notify", ReturnURL: root + "/pay/epay/return",
		})
		if err != nil {
			return nil, usagef("%v", err)
		}
		return p, nil
	case "manual":
		if pf.instructions == "" {
			return nil, usagef("--payments manual needs --manual-instructions-file")
		}
		text, err := readSecretFile("manual-instructions-file", pf.instructions)
		if err != nil {
			return nil, err
		}
		p, err := pay.NewManual(text)
		if err != nil {
			return nil, usagef("%v", err)
		}
		return p, nil
	case "epusdt":
		if pf.epusdtURL == "" || pf.epusdtToken == "" || pf.publicURL == "" {
			return nil, usagef("--payments epusdt needs --epusdt-url, --epusdt-token-file and --public-url")
		}
		base, err := url.Parse(pf.publicURL)
		if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" || base.RawQuery != "" {
			return nil, usagef("--public-url must be an absolute http(s) URL such as https://shop.example")
		}
		token, err := readSecretFile("epusdt-token-file", pf.epusdtToken)
		if err != nil {
			return nil, err
		}
		root := strings.TrimRight(pf.publicURL, "/")
		e, err := pay.NewEpusdt(pay.EpusdtConfig{URL: pf.epusdtURL, Token: token,
			NotifyURL: root + "/pay/epusdt/notify", RedirectURL: root + "/order"})
		if err != nil {
			return nil, usagef("%v", err)
		}
		return server.EpusdtRail{Epusdt: e}, nil
	case "monero":
		if pf.moneroRPC == "" {
			return nil, usagef("--payments monero needs --monero-wallet-rpc")
		}
		c := pay.MoneroWalletConfig{URL: pf.moneroRPC}
		if pf.moneroLogin != "" {
			login, err := readSecretFile("monero-rpc-login-file", pf.moneroLogin)
			if err != nil {
				return nil, err
			}
			if c.Username, c.Password, err = pay.ParseRPCLogin([]byte(login)); err != nil {
				return nil, usagef("%v", err)
			}
		}
		w, err := pay.NewMoneroWallet(c)
		if err != nil {
			return nil, usagef("%v", err)
		}
		return server.MoneroRail{Monero: pay.NewMonero(w, pf.moneroConfs)}, nil
	}
	return nil, usagef("--payments: each must be demo, epay, epusdt, monero or manual")
}
