package crypto

import (
	"fmt"
	"os"
	"strconv"
	"testing"

	"filippo.io/age"
)

var kinds = []Kind{Hybrid, X25519}

var sinkToken Token

func BenchmarkNewToken(b *testing.B) {
	for b.Loop() {
		sinkToken, _ = NewToken()
	}
}

func BenchmarkParseToken(b *testing.B) {
	s := katToken(0).String()
	for b.Loop() {
		sinkToken, _ = ParseToken(s)
	}
}

func BenchmarkTokenString(b *testing.B) {
	tok := katToken(0)
	for b.Loop() {
		_ = tok.String()
	}
}

func BenchmarkDerive(b *testing.B) {
	tok := katToken(0)
	b.Run("LookupKey", func(b *testing.B) {
		for b.Loop() {
			tok.LookupKey()
		}
	})
	b.Run("Ref", func(b *testing.B) {
		for b.Loop() {
			tok.Ref()
		}
	})
	b.Run("IdentitySeed", func(b *testing.B) {
		for b.Loop() {
			tok.IdentitySeed()
		}
	})
	b.Run("RetrievalKey", func(b *testing.B) {
		for b.Loop() {
			tok.RetrievalKey()
		}
	})
}

func BenchmarkIdentityFromSeed(b *testing.B) {
	seed := katToken(0).IdentitySeed()
	for _, kind := range kinds {
		b.Run(kind.String(), func(b *testing.B) {
			for b.Loop() {
				if _, err := IdentityFromSeed(kind, seed); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIdentityRecipient measures building the recipient string, which
// IdentityFromSeed defers.
func BenchmarkIdentityRecipient(b *testing.B) {
	seed := katToken(0).IdentitySeed()
	for _, kind := range kinds {
		b.Run(kind.String(), func(b *testing.B) {
			for b.Loop() {
				id, _ := IdentityFromSeed(kind, seed)
				_ = id.Recipient()
			}
		})
	}
}

func BenchmarkParseRecipient(b *testing.B) {
	for _, kind := range kinds {
		s := mustIdentity(b, kind).Recipient()
		b.Run(kind.String(), func(b *testing.B) {
			for b.Loop() {
				if _, err := ParseRecipient(s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

var payload = []byte("AAAAA-BBBBB-CCCCC-DDDDD-EEEEE") // a typical licence key

func BenchmarkSeal(b *testing.B) {
	for _, kind := range kinds {
		r := mustIdentity(b, kind).AgeRecipient()
		b.Run(kind.String(), func(b *testing.B) {
			for b.Loop() {
				if _, err := Seal(payload, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	r := NewSymmetricRecipient(katToken(0).RetrievalKey())
	b.Run("symmetric", func(b *testing.B) {
		for b.Loop() {
			if _, err := Seal(payload, r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkOpen(b *testing.B) {
	for _, kind := range kinds {
		id := mustIdentity(b, kind)
		ct, _ := Seal(payload, id.AgeRecipient())
		b.Run(kind.String(), func(b *testing.B) {
			for b.Loop() {
				if _, err := Open(ct, id.Age()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(ct)), "file-bytes")
		})
	}
	key := katToken(0).RetrievalKey()
	ct, _ := Seal(payload, NewSymmetricRecipient(key))
	id := NewSymmetricIdentity(key)
	b.Run("symmetric", func(b *testing.B) {
		for b.Loop() {
			if _, err := Open(ct, id); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(ct)), "file-bytes")
	})
}

// BenchmarkRetrieve is a whole retrieval from the token: derive the order
// identity and open, versus derive the retrieval key and open.
func BenchmarkRetrieve(b *testing.B) {
	tok := katToken(0)
	for _, kind := range kinds {
		id, _ := tok.Identity(kind)
		ct, _ := Seal(payload, id.AgeRecipient())
		b.Run(kind.String(), func(b *testing.B) {
			for b.Loop() {
				id, _ := tok.Identity(kind)
				if _, err := Open(ct, id.Age()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	ct, _ := Seal(payload, NewSymmetricRecipient(tok.RetrievalKey()))
	b.Run("symmetric", func(b *testing.B) {
		for b.Loop() {
			if _, err := Open(ct, NewSymmetricIdentity(tok.RetrievalKey())); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkDataKey(b *testing.B) {
	dk, _ := NewDataKey()
	b.Run("New", func(b *testing.B) {
		for b.Loop() {
			NewDataKey()
		}
	})
	for _, kind := range kinds {
		id := mustIdentity(b, kind)
		sealed, _ := dk.Seal(id.AgeRecipient())
		b.Run("Seal/"+kind.String(), func(b *testing.B) {
			for b.Loop() {
				if _, err := dk.Seal(id.AgeRecipient()); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("Open/"+kind.String(), func(b *testing.B) {
			for b.Loop() {
				if _, err := OpenDataKey(sealed, id.Age()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	ct, _ := dk.SealItem("itm_0123456789abcdefghjkmnpq", payload)
	b.Run("SealItem", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		for b.Loop() {
			if _, err := dk.SealItem("itm_0123456789abcdefghjkmnpq", payload); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("OpenItem", func(b *testing.B) {
		b.SetBytes(int64(len(payload)))
		for b.Loop() {
			if _, err := dk.OpenItem("itm_0123456789abcdefghjkmnpq", ct); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkVault runs at the test work factor (2^10). To measure the
// production cost set VEIL_BENCH_VAULT_LOGN=18 and use a small -benchtime:
// each operation then takes about a second.
func BenchmarkVault(b *testing.B) {
	logN := vaultWorkFactor
	if s := os.Getenv("VEIL_BENCH_VAULT_LOGN"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > vaultMaxWorkFactor {
			b.Fatalf("bad VEIL_BENCH_VAULT_LOGN %q", s)
		}
		logN = n
	}
	old := vaultWorkFactor
	vaultWorkFactor = logN
	defer func() { vaultWorkFactor = old }()
	for _, kind := range kinds {
		v, _ := NewVault(kind)
		sealed, err := v.Seal("passphrase")
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("Seal/%s/logN=%d", kind, logN), func(b *testing.B) {
			for b.Loop() {
				if _, err := v.Seal("passphrase"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("Open/%s/logN=%d", kind, logN), func(b *testing.B) {
			for b.Loop() {
				if _, err := OpenVault(sealed, "passphrase"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkFingerprint(b *testing.B) {
	v, _ := NewVault(X25519)
	for b.Loop() {
		v.Fingerprint(string(payload))
	}
}

func BenchmarkNormalizeKey(b *testing.B) {
	s := " " + string(payload) + "\r\n"
	for b.Loop() {
		if _, err := NormalizeKey(s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRandomID(b *testing.B) {
	for b.Loop() {
		RandomID("itm_", 16)
	}
}

// Interfaces are satisfied as documented.
var (
	_ age.Recipient = NewSymmetricRecipient([32]byte{})
	_ age.Identity  = NewSymmetricIdentity([32]byte{})
)
