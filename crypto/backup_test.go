package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"testing"

	"filippo.io/age"
)

// sealBackup writes a backup of data for v the genuine way.
func sealBackup(t *testing.T, v *Vault, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewBackupWriter(&buf, v)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// forgeBackup is what an attacker can build: an age file to the backup
// recipient in the signed format, signed by a key of their own, with a tag
// under macKey (a guess, unless they hold the backup identity).
func forgeBackup(t *testing.T, recipient string, data []byte, macKey []byte) ([]byte, ed25519.PublicKey) {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	r, err := ParseRecipient(recipient)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	aw, _ := age.Encrypt(&buf, r)
	w := &BackupWriter{age: aw, sum: newSHA256(), sign: priv, mac: macKey}
	w.Write([]byte(backupMagic + "key: " + base64.StdEncoding.EncodeToString(pub) + "\n\n"))
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), pub
}

func TestBackupSignature(t *testing.T) {
	v, err := NewVault(X25519)
	if err != nil {
		t.Fatal(err)
	}
	fp := KeyFingerprint(v.BackupSignKey.Public().(ed25519.PublicKey))
	data := bytes.Repeat([]byte("badger-stream "), 200_000) // several age chunks and bufio refills
	genuine := sealBackup(t, v, data)

	t.Run("genuine", func(t *testing.T) {
		for _, want := range []string{"", fp, " " + string(bytes.ToUpper([]byte(fp)))} {
			got, err := VerifyBackup(bytes.NewReader(genuine), v.Backup, want)
			if err != nil || got != fp {
				t.Fatalf("fingerprint %q: %q %v", want, got, err)
			}
		}
		br, err := OpenBackup(bytes.NewReader(genuine), v.Backup, fp)
		if err != nil {
			t.Fatal(err)
		}
		out, err := io.ReadAll(br)
		if err != nil || !bytes.Equal(out, data) {
			t.Fatalf("read back %d bytes, %v", len(out), err)
		}
	})
	t.Run("sealed by an attacker to the public recipient", func(t *testing.T) {
		forged, _ := forgeBackup(t, v.Backup.Recipient(), data, make([]byte, 32))
		if _, err := VerifyBackup(bytes.NewReader(forged), v.Backup, ""); !errors.Is(err, ErrBackupForged) {
			t.Fatalf("without fingerprint: %v, want ErrBackupForged", err)
		}
		// A reader that is not drained to the end never says io.EOF.
		br, err := OpenBackup(bytes.NewReader(forged), v.Backup, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadAll(br); !errors.Is(err, ErrBackupForged) {
			t.Fatalf("ReadAll of a forgery: %v", err)
		}
	})
	t.Run("sealed by someone who learnt the backup identity", func(t *testing.T) {
		forged, pub := forgeBackup(t, v.Backup.Recipient(), data, backupMACKey(v.Backup))
		// The tag alone cannot tell (accepted risk without --fingerprint)…
		if got, err := VerifyBackup(bytes.NewReader(forged), v.Backup, ""); err != nil || got != KeyFingerprint(pub) {
			t.Fatalf("tag-only check: %q %v", got, err)
		}
		// …the fingerprint does.
		var wk ErrBackupWrongKey
		if _, err := VerifyBackup(bytes.NewReader(forged), v.Backup, fp); !errors.As(err, &wk) || wk.Want != fp {
			t.Fatalf("with fingerprint: %v", err)
		}
	})
	t.Run("altered plaintext", func(t *testing.T) {
		// Re-sealing altered contents needs the identity; it still breaks
		// both checks.
		r, _ := age.Decrypt(bytes.NewReader(genuine), v.Backup.Age())
		pt, _ := io.ReadAll(r)
		pt[len(pt)/2] ^= 1
		var buf bytes.Buffer
		aw, _ := age.Encrypt(&buf, v.Backup.AgeRecipient())
		aw.Write(pt)
		aw.Close()
		if _, err := VerifyBackup(&buf, v.Backup, ""); !errors.Is(err, ErrBackupForged) {
			t.Fatalf("%v, want ErrBackupForged", err)
		}
	})
	t.Run("flipped ciphertext byte", func(t *testing.T) {
		bad := bytes.Clone(genuine)
		bad[len(bad)/2] ^= 1
		if _, err := VerifyBackup(bytes.NewReader(bad), v.Backup, ""); err == nil {
			t.Fatal("a flipped byte verified")
		}
	})
	t.Run("truncated", func(t *testing.T) {
		if _, err := VerifyBackup(bytes.NewReader(genuine[:len(genuine)-200]), v.Backup, ""); err == nil {
			t.Fatal("a truncated backup verified")
		}
	})
	t.Run("unsigned, as older veils wrote them", func(t *testing.T) {
		var buf bytes.Buffer
		aw, _ := age.Encrypt(&buf, v.Backup.AgeRecipient())
		aw.Write(data)
		aw.Close()
		if _, err := VerifyBackup(&buf, v.Backup, ""); !errors.Is(err, ErrBackupNotSigned) {
			t.Fatalf("%v, want ErrBackupNotSigned", err)
		}
	})
}
