package main

import (
	"context"
	"io"

	"veil/server/pay"
)

// defaultRateLimit is requests per minute per client address on buyer
// routes: generous for people, tight for scrapers and token guessers.
const defaultRateLimit = 120

func cmdServe(args []string, _, stderr io.Writer) error {
	fs := newFlags("serve")
	data := fs.String("data", "", "data directory")
	addr := fs.String("addr", "127.0.0.1:8080", "listen address")
	passFile := fs.String("passphrase-file", "", "file holding the vault passphrase (unlocks at start)")
	payments := fs.String("payments", "demo", "payment provider: demo, epay or manual")
	fs.String("epay-pid", "", "易支付 merchant id")
	fs.String("epay-key-file", "", "file holding the 易支付 merchant key")
	fs.String("epay-gateway", "", "易支付 gateway submit URL")
	rate := fs.Int("rate-limit", defaultRateLimit, "requests per minute per client address on buyer routes (0 = off)")
	behindTLS := fs.Bool("behind-tls", false, "the shop is served over TLS by a proxy (Secure cookies, HSTS)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *rate < 0 {
		return usagef("--rate-limit must be 0 or more")
	}
	var provider pay.Provider
	switch *payments {
	case "demo":
		provider = pay.Demo{}
	case "epay", "manual":
		return usagef("--payments %s is not supported by this build yet; use demo", *payments)
	default:
		return usagef("--payments must be demo, epay or manual")
	}
	var passphrase string
	if *passFile != "" {
		var err error
		if passphrase, err = readSecretFile("passphrase-file", *passFile); err != nil {
			return err
		}
	}
	log := newLogger(stderr)
	a, err := openApp(*data, log)
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
		addr: *addr, payments: provider, demo: *payments == "demo", rateLimit: *rate, behindTLS: *behindTLS,
	})
}
