package crypto

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestNoticeSignVerify(t *testing.T) {
	seed := make([]byte, ed25519.SeedSize)
	priv := ed25519.NewKeyFromSeed(seed)
	at := time.Date(2026, 11, 22, 20, 0, 0, 0, time.UTC)
	block, err := SignNotice(priv, "We moved.\r\nNew address: http://example.onion/  ", at)
	if err != nil {
		t.Fatal(err)
	}
	n, err := VerifyNotice("some forum text\n" + strings.ReplaceAll(block, "\n", "\r\n") + "\nmore")
	if err != nil {
		t.Fatal(err)
	}
	if n.Text != "We moved.\nNew address: http://example.onion/" || !n.Date.Equal(at) {
		t.Fatalf("notice %+v", n)
	}
	// Known answer: the fingerprint of the all-zero seed's key.
	if n.Fingerprint != NoticeFingerprint(priv.Public().(ed25519.PublicKey)) || len(n.Fingerprint) != 39 {
		t.Fatalf("fingerprint %q", n.Fingerprint)
	}
	for name, bad := range map[string]string{
		"text changed": strings.Replace(block, "We moved.", "We did not move.", 1),
		"date changed": strings.Replace(block, "2026-11-22", "2026-11-23", 1),
		"key swapped":  strings.Replace(block, "Key: ", "Key: A", 1),
		"no signature": strings.Replace(block, noticeSig, "", 1),
		"empty":        "",
	} {
		if _, err := VerifyNotice(bad); !errors.Is(err, ErrNoticeInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	other := ed25519.NewKeyFromSeed(append([]byte{1}, seed[1:]...))
	forged, _ := SignNotice(other, "We moved.\nNew address: http://evil.onion/", at)
	n2, err := VerifyNotice(forged)
	if err != nil || n2.Fingerprint == n.Fingerprint {
		t.Fatal("a notice by another key shows the same fingerprint")
	}
}

func TestVaultKeepsNoticeKey(t *testing.T) {
	v, err := NewVault(X25519)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := v.SealWorkFactor("pass phrase", 10)
	if err != nil {
		t.Fatal(err)
	}
	w, err := OpenVault(sealed, "pass phrase")
	if err != nil {
		t.Fatal(err)
	}
	if !w.NoticeKey.Equal(v.NoticeKey) || w.Public().Notice == "" || NoticeFingerprintOf(w.Public().Notice) == "" {
		t.Fatal("notice key lost through seal and open")
	}
}
