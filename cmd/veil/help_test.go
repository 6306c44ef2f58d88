package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestEpayNeedsPublicURL: --help says that --payments epay requires
// --public-url, and serve refuses the combination without it (exit 2, naming
// the flag) before touching the data directory.
func TestEpayNeedsPublicURL(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"--help"}, &out, &errb); code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	if !strings.Contains(out.String(), "--payments epay requires --public-url") {
		t.Fatalf("--help does not say that epay needs --public-url:\n%s", out.String())
	}
	out.Reset()
	dir := t.TempDir() + "/never"
	code := run([]string{"serve", "--data", dir, "--payments", "epay", "--epay-pid", "1001",
		"--epay-key-file", "/nonexistent", "--epay-gateway", "https://pay.example/submit.php"}, &out, &errb)
	if code != 2 || !strings.Contains(errb.String(), "--public-url") {
		t.Fatalf("serve without --public-url: exit %d, stderr %q", code, errb.String())
	}
}

// TestMoneroFlags: --payments monero needs --monero-wallet-rpc, a sound
// URL and a well-formed login file; each refusal is exit 2 naming what is
// wrong, before the data directory is touched.
func TestMoneroFlags(t *testing.T) {
	dir := t.TempDir()
	bad := dir + "/login"
	if err := os.WriteFile(bad, []byte("no-colon\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--payments", "monero"}, "--monero-wallet-rpc"},
		{[]string{"--payments", "demo,monero", "--monero-wallet-rpc", "ftp://wallet"}, "wallet RPC URL"},
		{[]string{"--payments", "monero", "--monero-wallet-rpc", "http://user:pw@127.0.0.1:18083"}, "wallet RPC URL"},
		{[]string{"--payments", "monero", "--monero-wallet-rpc", "http://127.0.0.1:18083", "--monero-rpc-login-file", bad}, "user:password"},
	} {
		var out, errb bytes.Buffer
		code := run(append([]string{"serve", "--data", dir + "/never"}, c.args...), &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("serve %v: exit %d, stderr %q", c.args, code, errb.String())
		}
		if _, err := os.Stat(dir + "/never"); err == nil {
			t.Fatalf("serve %v touched the data directory", c.args)
		}
	}
}
