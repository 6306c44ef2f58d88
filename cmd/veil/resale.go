package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"veil/server/resale"
	"veil/server/shop"
	"veil/server/staff"
	"veil/server/store"
)

// cmdResale sets up docking (对接) from the command line while the shop is
// stopped (the data directory is locked while it serves): a reseller
// account with its API secret, a balance top-up, a product sourced from an
// upstream. Whoever runs it holds the data directory and the vault
// passphrase; each step is an approval executed at once and lands in the
// audit log (rule "veil resale"), as the console's would.
func cmdResale(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usagef("usage: veil resale account|topup|source --data DIR --passphrase-file FILE …")
	}
	fs := newFlags("resale " + args[0])
	data := fs.String("data", "", "data directory")
	ppFile := fs.String("passphrase-file", "", "file holding the vault passphrase")
	// account
	name := fs.String("name", "", "account: the reseller's name")
	recipient := fs.String("recipient", "", "account: the age recipient keys are sealed to")
	currency := fs.String("currency", "CNY", "account: the balance's currency")
	percentOff := fs.Int("percent-off", 0, "account: agent price, percent off retail")
	// topup
	keyID := fs.String("key-id", "", "topup: the account (rk_…); source: our account upstream")
	amount := fs.Int64("amount", 0, "topup: minor units")
	// source
	product := fs.String("product", "", "source: our product (id or slug)")
	upstreamURL := fs.String("upstream-url", "", "source: the upstream shop's base URL")
	upstreamProduct := fs.String("upstream-product", "", "source: the upstream's product (id or slug)")
	secretFile := fs.String("secret-file", "", "source: file holding our API secret upstream (rs_…)")
	identityFile := fs.String("identity-file", "", "source: file holding the age identity our upstream keys are sealed to")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *data == "" {
		return usagef("resale: --data and --passphrase-file are required")
	}
	passphrase, err := readSecretFile("passphrase-file", *ppFile)
	if err != nil {
		return err
	}
	a, err := openApp(*data, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer a.Close()
	if err := a.shop.Unlock(passphrase); err != nil {
		return err
	}
	approve := func(kind staff.Kind, ref, summary string, params any) error {
		return a.db.Update(func(tx *store.Txn) error {
			// "system" proposes (approvals know no "cli" proposer); the
			// rule names the command line, and the audit entry is written
			// in the same commit.
			_, err := a.staff.AutoApproveTx(tx, "system", kind, ref, summary, params, "veil resale (command line, vault passphrase)")
			return err
		})
	}
	switch args[0] {
	case "account":
		sp := shop.ResellerSpec{Name: *name, Recipient: strings.TrimSpace(*recipient), Currency: *currency, PercentOff: *percentOff}
		if err := a.shop.CheckResellerSpec(sp); err != nil {
			return usagef("resale account: %v", err)
		}
		if err := approve(staff.KindResellerCreate, sp.Name, "new reseller "+sp.Name, sp); err != nil {
			return err
		}
		rs, err := a.shop.Resellers()
		if err != nil {
			return err
		}
		var id string
		for _, r := range rs {
			if r.Name == sp.Name {
				id = r.ID
			}
		}
		secret, err := a.shop.IssueResellerSecret(id)
		if err != nil {
			return err
		}
		if err := a.staff.Record(cliActor, "reseller.secret_issued", id, ""); err != nil {
			return err
		}
		return json.NewEncoder(stdout).Encode(map[string]string{"key_id": id, "secret": secret})
	case "topup":
		r, err := a.shop.Reseller(*keyID)
		if err != nil {
			return usagef("resale topup: --key-id: %v", err)
		}
		return approve(staff.KindResellerTopUp, r.ID, fmt.Sprintf("top-up %d %s for %s", *amount, r.Currency, r.Name),
			resale.BalanceParams{Reseller: r.ID, AmountMinor: *amount, Currency: r.Currency})
	case "source":
		secret, err := readSecretFile("secret-file", *secretFile)
		if err != nil {
			return err
		}
		identity, err := readSecretFile("identity-file", *identityFile)
		if err != nil {
			return err
		}
		p, err := a.shop.Product(*product)
		if err != nil {
			return usagef("resale source: --product: %v", err)
		}
		_, err = a.shop.SetUpstream(p.ID, &shop.Upstream{BaseURL: *upstreamURL, KeyID: *keyID, Product: *upstreamProduct},
			shop.UpstreamCredentials{Secret: secret, Identity: identity})
		if err != nil {
			return err
		}
		return a.staff.Record(cliActor, "product.sourced", p.Slug, "upstream="+*upstreamURL+" product="+*upstreamProduct)
	}
	return usagef("resale: account, topup or source")
}
