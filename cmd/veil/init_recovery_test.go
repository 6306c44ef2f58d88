package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// Issue 10 item 12: `veil init --json` prints the owner's recovery codes
// with the rest, exactly the contract's fields, and a printed code signs
// the owner in once.
func TestInitJSONRecoveryCodes(t *testing.T) {
	dir, tmp := filepath.Join(t.TempDir(), "data"), t.TempDir()
	pw, pp := filepath.Join(tmp, "pw"), filepath.Join(tmp, "pp")
	os.WriteFile(pw, []byte("owner password long\n"), 0o600)
	os.WriteFile(pp, []byte("vault passphrase\n"), 0o600)
	var out, errb bytes.Buffer
	if code := run([]string{"init", "--data", dir, "--owner", "olga", "--password-file", pw, "--passphrase-file", pp, "--json"}, &out, &errb); code != 0 {
		t.Fatalf("init: %d %s", code, errb.String())
	}
	var res struct {
		Owner          string   `json:"owner"`
		TOTPSecret     string   `json:"totp_secret"`
		OTPAuthURL     string   `json:"otpauth_url"`
		BackupIdentity string   `json:"backup_identity"`
		RecoveryCodes  []string `json:"recovery_codes"`
	}
	dec := json.NewDecoder(bytes.NewReader(out.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&res); err != nil || dec.More() {
		t.Fatalf("not one JSON object of the contract's fields: %v\n%s", err, out.String())
	}
	if res.Owner != "olga" || res.TOTPSecret == "" || len(res.RecoveryCodes) != 10 {
		t.Fatalf("init --json: %+v", res)
	}
	a, err := openApp(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	sess, err := a.staff.LoginRecovery("olga", "owner password long", res.RecoveryCodes[0])
	if err != nil || !sess.Reenrol {
		t.Fatalf("sign in with a printed recovery code: %+v %v", sess, err)
	}
	if _, err := a.staff.LoginRecovery("olga", "owner password long", res.RecoveryCodes[0]); err == nil {
		t.Fatal("a recovery code worked twice")
	}
}
