package crypto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

func TestMain(m *testing.M) {
	// Keep tests fast: 2^10 instead of 2^18 scrypt iterations. The cost is
	// read from the file, so OpenVault exercises the same code path.
	vaultWorkFactor = 10
	os.Exit(m.Run())
}

func TestVault(t *testing.T) {
	for _, kind := range []Kind{Hybrid, X25519} {
		t.Run(kind.String(), func(t *testing.T) {
			v, err := NewVault(kind)
			if err != nil {
				t.Fatal(err)
			}
			sealed, err := v.Seal("correct horse battery staple")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(sealed, []byte("age-encryption.org/v1\n-> scrypt ")) {
				t.Fatal("not an age scrypt file")
			}
			if bytes.Contains(sealed, []byte("AGE-SECRET-KEY")) {
				t.Fatal("secret key in the clear")
			}
			got, err := OpenVault(sealed, "correct horse battery staple")
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range [][2]*Identity{{v.Inventory, got.Inventory}, {v.Support, got.Support}, {v.Backup, got.Backup}} {
				if p[0].String() != p[1].String() || p[1].Kind() != kind {
					t.Fatal("identity differs after round trip")
				}
			}
			if got.FingerprintKey != v.FingerprintKey || got.Public() != v.Public() {
				t.Fatal("vault differs after round trip")
			}
			if v.Inventory.String() == v.Support.String() || v.Support.String() == v.Backup.String() {
				t.Fatal("identities are not distinct")
			}
			pub, err := json.Marshal(v.Public())
			if err != nil || !strings.Contains(string(pub), `"inventory":"age1`) || strings.Contains(string(pub), "SECRET") {
				t.Fatalf("Public JSON = %.80s, %v", pub, err)
			}
		})
	}
}

func TestVaultWrongPassphrase(t *testing.T) {
	v, _ := NewVault(X25519)
	sealed, err := v.Seal("right")
	if err != nil {
		t.Fatal(err)
	}
	for _, pass := range []string{"wrong", "Right", "right ", ""} {
		if _, err := OpenVault(sealed, pass); !errors.Is(err, ErrWrongPassphrase) {
			t.Errorf("OpenVault(%q) error = %v, want ErrWrongPassphrase", pass, err)
		}
	}
	// A damaged vault is not a wrong passphrase.
	bad := bytes.Clone(sealed)
	bad[len(bad)-1] ^= 1
	if _, err := OpenVault(bad, "right"); err == nil || errors.Is(err, ErrWrongPassphrase) {
		t.Errorf("damaged vault error = %v", err)
	}
	// A file sealed to a key, not a passphrase, is not a vault.
	ct, _ := Seal([]byte("{}"), v.Inventory.AgeRecipient())
	if _, err := OpenVault(ct, "right"); err == nil {
		t.Error("opened a non-vault")
	}
	if _, err := v.Seal(""); err == nil {
		t.Error("sealed with an empty passphrase")
	}
}

func TestVaultRefusesExcessiveWorkFactor(t *testing.T) {
	v, _ := NewVault(X25519)
	sealed, err := v.Seal("p")
	if err != nil {
		t.Fatal(err)
	}
	// Rewrite the stanza's cost to 2^23: OpenVault must refuse before running
	// scrypt (which would take 8 GiB), so this test returns at once.
	line := fmt.Sprintf(" %d\n", vaultWorkFactor)
	i := bytes.Index(sealed, []byte(line))
	if i < 0 {
		t.Fatal("work factor not found in header")
	}
	crafted := append(append(bytes.Clone(sealed[:i]), fmt.Sprintf(" %d\n", vaultMaxWorkFactor+1)...), sealed[i+len(line):]...)
	if _, err := OpenVault(crafted, "p"); err == nil || !strings.Contains(err.Error(), "work factor") {
		t.Fatalf("error = %v, want a refusal", err)
	}
}

func TestVaultFingerprint(t *testing.T) {
	v, _ := NewVault(X25519)
	w, _ := NewVault(X25519)
	a := v.Fingerprint("AAAA-BBBB")
	if a != v.Fingerprint("AAAA-BBBB") {
		t.Fatal("not deterministic")
	}
	if a == v.Fingerprint("aaaa-bbbb") {
		t.Fatal("case folded")
	}
	if a == w.Fingerprint("AAAA-BBBB") {
		t.Fatal("independent of the key")
	}
	// Known answer: HMAC-SHA256 with key 00..1f over "AAAA-BBBB".
	var k Vault
	const fingerprintKAT = "cdf7ec81d3785fce1ae89e5a77230e3f097f753379fa51a93d82c4212907fb33"
	for i := range k.FingerprintKey {
		k.FingerprintKey[i] = byte(i)
	}
	if got := fmt.Sprintf("%x", k.Fingerprint("AAAA-BBBB")); got != fingerprintKAT {
		t.Fatalf("Fingerprint = %s, want %s", got, fingerprintKAT)
	}
}

func TestVaultRedacted(t *testing.T) {
	v, _ := NewVault(X25519)
	s := fmt.Sprintf("%v %+v %s", v, v, v)
	if strings.Contains(s, "AGE-SECRET") || !strings.Contains(s, "redacted") {
		t.Fatalf("printed: %s", s)
	}
}
