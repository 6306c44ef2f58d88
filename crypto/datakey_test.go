package crypto

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestDataKey(t *testing.T) {
	for _, kind := range []Kind{Hybrid, X25519} {
		t.Run(kind.String(), func(t *testing.T) {
			inv := mustIdentity(t, kind)
			dk, err := NewDataKey()
			if err != nil {
				t.Fatal(err)
			}
			sealed, err := dk.Seal(inv.AgeRecipient())
			if err != nil {
				t.Fatal(err)
			}
			ct1, err := dk.SealItem("itm_1", []byte("KEY-ONE"))
			if err != nil {
				t.Fatal(err)
			}
			if len(ct1) != len("KEY-ONE")+41 || ct1[0] != itemVersion {
				t.Fatalf("ciphertext layout: %d bytes, version %d", len(ct1), ct1[0])
			}
			ct2, _ := dk.SealItem("itm_2", []byte("KEY-TWO"))

			dk2, err := OpenDataKey(sealed, inv.Age())
			if err != nil {
				t.Fatal(err)
			}
			if got, err := dk2.OpenItem("itm_1", ct1); err != nil || string(got) != "KEY-ONE" {
				t.Fatalf("OpenItem = %q, %v", got, err)
			}
			if got, err := dk2.OpenItem("itm_2", ct2); err != nil || string(got) != "KEY-TWO" {
				t.Fatalf("OpenItem = %q, %v", got, err)
			}
			// Swapped ciphertexts are refused thanks to the AAD.
			if _, err := dk2.OpenItem("itm_2", ct1); !errors.Is(err, ErrItemOpen) {
				t.Fatalf("swap: error = %v, want ErrItemOpen", err)
			}
			if _, err := OpenDataKey(sealed, mustIdentity(t, kind).Age()); !errors.Is(err, ErrWrongIdentity) {
				t.Fatalf("wrong identity: error = %v", err)
			}
		})
	}
}

func TestDataKeyRejects(t *testing.T) {
	dk, _ := NewDataKey()
	other, _ := NewDataKey()
	ct, _ := dk.SealItem("itm_1", []byte("secret"))
	flip := func(i int) []byte { b := bytes.Clone(ct); b[i] ^= 1; return b }
	tests := []struct {
		name string
		dk   *DataKey
		id   string
		ct   []byte
	}{
		{"other key", other, "itm_1", ct},
		{"other id", dk, "itm_10", ct},
		{"empty id", dk, "", ct},
		{"version", dk, "itm_1", flip(0)},
		{"nonce", dk, "itm_1", flip(5)},
		{"body", dk, "itm_1", flip(len(ct) - 20)},
		{"tag", dk, "itm_1", flip(len(ct) - 1)},
		{"truncated", dk, "itm_1", ct[:len(ct)-1]},
		{"short", dk, "itm_1", ct[:40]},
		{"nil", dk, "itm_1", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.dk.OpenItem(tc.id, tc.ct); !errors.Is(err, ErrItemOpen) {
				t.Fatalf("error = %v, want ErrItemOpen", err)
			}
		})
	}
}

func TestDataKeyNoncesDiffer(t *testing.T) {
	dk, _ := NewDataKey()
	a, _ := dk.SealItem("x", []byte("same"))
	b, _ := dk.SealItem("x", []byte("same"))
	if bytes.Equal(a, b) {
		t.Fatal("two seals of the same item are equal: nonce reuse")
	}
}

func TestDataKeyWipe(t *testing.T) {
	dk, _ := NewDataKey()
	ct, _ := dk.SealItem("x", []byte("k"))
	dk.Wipe()
	if dk.k != [32]byte{} {
		t.Fatal("key bytes not zeroed")
	}
	if _, err := dk.OpenItem("x", ct); !errors.Is(err, ErrDataKeyWiped) {
		t.Fatalf("OpenItem after Wipe: %v", err)
	}
	if _, err := dk.SealItem("x", nil); !errors.Is(err, ErrDataKeyWiped) {
		t.Fatalf("SealItem after Wipe: %v", err)
	}
	if _, err := dk.Seal(mustIdentity(t, X25519).AgeRecipient()); !errors.Is(err, ErrDataKeyWiped) {
		t.Fatalf("Seal after Wipe: %v", err)
	}
}

func TestDataKeyRedacted(t *testing.T) {
	dk, _ := NewDataKey()
	for _, s := range []string{fmt.Sprint(dk), fmt.Sprintf("%v %+v %s", dk, dk, dk)} {
		if !strings.Contains(s, "redacted") || strings.Contains(s, fmt.Sprint(dk.k[0])+" ") {
			t.Fatalf("printed: %s", s)
		}
	}
}
