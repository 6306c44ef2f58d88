package main

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"veil/crypto"
)

// TestVerifyReceiptCommand: exit 0 for a genuine receipt (and a key it
// commits to), 1 for a changed byte, another key's fingerprint or a key it
// does not commit to, 2 for bad usage.
func TestVerifyReceiptCommand(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	at := time.Date(2026, 12, 3, 17, 0, 0, 0, time.UTC)
	r := crypto.Receipt{Issued: at, Ref: "R-7K3M9Q2D", Product: "card", ProductName: "Card", Quantity: 2, AmountMinor: 1980,
		Currency: "CNY", Status: "delivered", Delivered: at, WindowEnds: at.Add(72 * time.Hour)}
	for _, it := range [][2]string{{"b1-000001", "AAAA-BBBB"}, {"b1-000002", "CCCC-DDDD"}} {
		r.Items = append(r.Items, crypto.ReceiptItem{ID: it[0], Commitment: crypto.ReceiptCommitment(r.Ref, it[0], it[1])})
	}
	block, err := crypto.SignReceipt(priv, r)
	if err != nil {
		t.Fatal(err)
	}
	fp := crypto.NoticeFingerprint(priv.Public().(ed25519.PublicKey))
	dir := t.TempDir()
	good, changed := filepath.Join(dir, "good.txt"), filepath.Join(dir, "changed.txt")
	os.WriteFile(good, []byte(block), 0o600)
	os.WriteFile(changed, []byte(strings.Replace(block, "Quantity: 2", "Quantity: 3", 1)), 0o600)
	for _, c := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"--in", good}, 0, "good receipt signed by key " + fp},
		{[]string{"--in", good, "--fingerprint", strings.ToUpper(fp)}, 0, "order R-7K3M9Q2D: 2 × Card"},
		{[]string{"--in", good, "--key", " CCCC-DDDD\n"}, 0, "the key was delivered as item b1-000002 of order R-7K3M9Q2D"},
		{[]string{"--in", good, "--key", "AAAA-BBBB", "--item", "1"}, 0, "item b1-000001"},
		{[]string{"--in", good, "--key", "AAAA-BBBB", "--item", "b1-000001"}, 0, "item b1-000001"},
		{[]string{"--in", good, "--key", "AAAA-BBBB", "--item", "2"}, 1, ""},
		{[]string{"--in", good, "--key", "AAAA-BBBC"}, 1, ""},
		{[]string{"--in", good, "--fingerprint", "0000 0000 0000 0000"}, 1, ""},
		{[]string{"--in", changed}, 1, ""},
		{[]string{"--in", filepath.Join(dir, "missing")}, 1, ""},
		{[]string{}, 2, ""},
		{[]string{"--in", good, "--item", "1"}, 2, ""},
		{[]string{"--in", good, "extra"}, 2, ""},
	} {
		var out, errb bytes.Buffer
		code := run(append([]string{"verify-receipt"}, c.args...), &out, &errb)
		if code != c.code || !strings.Contains(out.String(), c.out) {
			t.Errorf("%v: exit %d (want %d), out %q, err %q", c.args, code, c.code, out.String(), errb.String())
		}
		if c.code != 0 && strings.Contains(errb.String(), "AAAA") {
			t.Errorf("%v: the key in an error: %q", c.args, errb.String())
		}
	}
}
