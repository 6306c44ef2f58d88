package main

import (
	"encoding/json"
	"fmt"
	"io"
)

func cmdInit(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("init")
	data := fs.String("data", "", "data directory (created if missing)")
	owner := fs.String("owner", "", "the owner's account name")
	pwFile := fs.String("password-file", "", "file holding the owner's password")
	ppFile := fs.String("passphrase-file", "", "file holding the vault passphrase")
	asJSON := fs.Bool("json", false, "print one JSON object and nothing else on stdout")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *data == "" || *owner == "" {
		return usagef("init: --data and --owner are required")
	}
	password, err := readSecretFile("password-file", *pwFile)
	if err != nil {
		return err
	}
	passphrase, err := readSecretFile("passphrase-file", *ppFile)
	if err != nil {
		return err
	}
	a, err := openApp(*data, newLogger(stderr))
	if err != nil {
		return err
	}
	defer a.Close()
	res, err := initShop(a, *owner, password, passphrase)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(stdout).Encode(res)
	}
	fmt.Fprintf(stdout, "veil initialised in %s\n\nowner:        %s\nTOTP secret:  %s\nTOTP URL:     %s\n\n",
		*data, res.Owner, res.TOTPSecret, res.OTPAuthURL)
	if err := printQR(stdout, res.OTPAuthURL); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nrecovery codes (each works once; keep them offline):\n")
	for _, c := range res.RecoveryCodes {
		fmt.Fprintf(stdout, "  %s\n", c)
	}
	fmt.Fprintf(stdout, "\nbackup identity (restores backups; store it offline, it is shown once):\n  %s\n", res.BackupIdentity)
	fmt.Fprintf(stdout, "\nbackup signing key (note it; veil restore --fingerprint refuses backups not signed by it):\n  %s\n", a.shop.BackupFingerprint())
	return nil
}

// initResult is what `veil init --json` prints, exactly these fields.
type initResult struct {
	Owner          string `json:"owner"`
	TOTPSecret     string `json:"totp_secret"`
	OTPAuthURL     string `json:"otpauth_url"`
	BackupIdentity string `json:"backup_identity"`
	// RecoveryCodes sign the owner in once each in place of a TOTP code
	// (then a new authenticator must be set up).
	RecoveryCodes []string `json:"recovery_codes"`
}

// initShop creates the vault and the first owner of an empty data dir.
func initShop(a *app, owner, password, passphrase string) (initResult, error) {
	if a.shop.Initialized() {
		return initResult{}, fmt.Errorf("the data directory already holds a shop")
	}
	v, err := a.shop.InitVault(passphrase)
	if err != nil {
		return initResult{}, err
	}
	enr, codes, err := a.staff.Bootstrap(owner, password)
	if err != nil {
		return initResult{}, err
	}
	return initResult{
		Owner: enr.Name, TOTPSecret: enr.Secret, OTPAuthURL: enr.URL,
		BackupIdentity: v.Backup.String(), RecoveryCodes: codes,
	}, nil
}
