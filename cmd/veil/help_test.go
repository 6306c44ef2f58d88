package main

import (
	"bytes"
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
