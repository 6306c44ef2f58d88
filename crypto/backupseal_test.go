package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"testing"
	"time"

	"filippo.io/age"
)

// sealedBackup writes a v3 backup of stream, whose store digest is digest,
// the genuine way: sealed by v at close, copied later without v.
func sealedBackup(t *testing.T, v *Vault, stream, digest []byte) ([]byte, *StoreSeal) {
	t.Helper()
	seal, err := SealStore(v, digest, time.Unix(1_800_000_000, 0))
	if err != nil {
		t.Fatal(err)
	}
	// The seal goes through its file form, as between close and backup.
	b, _ := seal.MarshalBinary()
	if seal, err = ParseStoreSeal(b); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := NewSealedBackupWriter(&buf, v.Backup.Recipient(), seal)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(stream)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), seal
}

// loadV3 opens a v3 backup, reads its stream to the end (the load) and
// verifies the seal against digestOf(stream) (the loaded store's digest).
func loadV3(file []byte, id *Identity, fingerprint string, digestOf func([]byte) []byte) ([]byte, *StoreSeal, error) {
	br, err := OpenBackup(bytes.NewReader(file), id, fingerprint)
	if err != nil {
		return nil, nil, err
	}
	if !br.Sealed() {
		return nil, nil, errors.New("not a v3 backup")
	}
	stream, err := io.ReadAll(br)
	if err != nil {
		return nil, nil, err
	}
	s, err := br.VerifyStore(digestOf(stream))
	return stream, s, err
}

func streamDigest(b []byte) []byte { d := sha256.Sum256(b); return d[:] }

func TestSealedBackup(t *testing.T) {
	v, err := NewVault(X25519)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := NewVault(X25519)
	fp := KeyFingerprint(v.BackupSignKey.Public().(ed25519.PublicKey))
	stream := bytes.Repeat([]byte("badger-stream "), 200_000)
	file, seal := sealedBackup(t, v, stream, streamDigest(stream))

	t.Run("genuine", func(t *testing.T) {
		got, s, err := loadV3(file, v.Backup, fp, streamDigest)
		if err != nil || !bytes.Equal(got, stream) || s.Fingerprint() != fp || !s.SealedAt.Equal(time.Unix(1_800_000_000, 0)) {
			t.Fatalf("%d bytes, %v, %v", len(got), s, err)
		}
		if _, err := VerifyBackup(bytes.NewReader(file), v.Backup, ""); !errors.Is(err, ErrSealedBackup) {
			t.Fatalf("VerifyBackup of a v3 backup: %v", err)
		}
	})
	t.Run("the seal matches its digest only", func(t *testing.T) {
		if !seal.Matches(streamDigest(stream)) || seal.Matches(streamDigest(stream[1:])) || seal.Matches(nil) {
			t.Fatal("Matches")
		}
	})
	t.Run("store altered", func(t *testing.T) {
		// Whatever the stream held, the loaded store's digest is what counts.
		if _, _, err := loadV3(file, v.Backup, "", func([]byte) []byte { return streamDigest(stream[1:]) }); !errors.Is(err, ErrBackupForged) {
			t.Fatalf("%v, want ErrBackupForged", err)
		}
	})
	t.Run("not drained", func(t *testing.T) {
		br, err := OpenBackup(bytes.NewReader(file), v.Backup, "")
		if err != nil {
			t.Fatal(err)
		}
		io.CopyN(io.Discard, br, 1000)
		if _, err := br.VerifyStore(streamDigest(stream)); !errors.Is(err, ErrBackupForged) {
			t.Fatalf("%v, want ErrBackupForged", err)
		}
	})
	t.Run("seal of another vault over the same store", func(t *testing.T) {
		// The attacker's vault seals the genuine store; the header names
		// their key, the file is sealed to the genuine recipient.
		theirs, _ := SealStore(other, streamDigest(stream), time.Now())
		forged := v3File(t, v.Backup.Recipient(), theirs.Key, stream, theirs.trailer())
		if _, _, err := loadV3(forged, v.Backup, "", streamDigest); !errors.Is(err, ErrBackupForged) {
			t.Fatalf("%v, want ErrBackupForged", err)
		}
		// Their trailer under the genuine key line fails the signature too.
		forged = v3File(t, v.Backup.Recipient(), seal.Key, stream, theirs.trailer())
		if _, _, err := loadV3(forged, v.Backup, "", streamDigest); !errors.Is(err, ErrBackupForged) {
			t.Fatalf("%v, want ErrBackupForged", err)
		}
	})
	t.Run("a store of the attacker's own, sealed by their vault", func(t *testing.T) {
		evil := []byte("the attacker's store")
		theirs, _ := SealStore(other, streamDigest(evil), time.Now())
		forged := v3File(t, v.Backup.Recipient(), theirs.Key, evil, theirs.trailer())
		if _, _, err := loadV3(forged, v.Backup, "", streamDigest); !errors.Is(err, ErrBackupForged) {
			t.Fatalf("%v, want ErrBackupForged", err)
		}
	})
	t.Run("someone who learnt the backup identity", func(t *testing.T) {
		// They can compute the tag; only the fingerprint refuses them.
		mallory, _ := NewVault(X25519)
		mallory.Backup = v.Backup
		theirs, _ := SealStore(mallory, streamDigest(stream), time.Now())
		forged := v3File(t, v.Backup.Recipient(), theirs.Key, stream, theirs.trailer())
		if _, s, err := loadV3(forged, v.Backup, "", streamDigest); err != nil || s.Fingerprint() == fp {
			t.Fatalf("tag-only check: %v", err)
		}
		var wk ErrBackupWrongKey
		if _, _, err := loadV3(forged, v.Backup, fp, streamDigest); !errors.As(err, &wk) {
			t.Fatalf("with fingerprint: %v", err)
		}
	})
	t.Run("a v2 trailer does not pass for a v3 one", func(t *testing.T) {
		v2 := sealBackup(t, v, stream)
		r, _ := age.Decrypt(bytes.NewReader(v2), v.Backup.Age())
		pt, _ := io.ReadAll(r)
		pt = append([]byte(backupMagicV3), pt[len(backupMagic):]...)
		// The v2 trailer is 96 bytes, v3's 104: the last 8 stream bytes
		// become its time.
		if _, _, err := loadV3(ageTo(t, v.Backup.Recipient(), pt), v.Backup, "", streamDigest); !errors.Is(err, ErrBackupForged) {
			t.Fatalf("%v, want ErrBackupForged", err)
		}
	})
	t.Run("truncated", func(t *testing.T) {
		if _, _, err := loadV3(file[:len(file)-200], v.Backup, "", streamDigest); err == nil {
			t.Fatal("a truncated backup verified")
		}
	})
	t.Run("seal file", func(t *testing.T) {
		b, _ := seal.MarshalBinary()
		for _, bad := range [][]byte{nil, b[:len(b)-1], append(bytes.Clone(b), 0), append([]byte("x"), b[1:]...)} {
			if _, err := ParseStoreSeal(bad); err == nil {
				t.Fatalf("parsed %d bytes of junk", len(bad))
			}
		}
		flipped := bytes.Clone(b)
		flipped[len(flipped)-60] ^= 1 // in the signature
		s, err := ParseStoreSeal(flipped)
		if err != nil || s.Matches(streamDigest(stream)) {
			t.Fatalf("a flipped signature matches: %v", err)
		}
	})
}

// v3File builds a v3 backup by hand, as an attacker can: the format, a key
// line, a stream and a trailer, sealed to recipient.
func v3File(t *testing.T, recipient string, key ed25519.PublicKey, stream, trailer []byte) []byte {
	t.Helper()
	pt := append([]byte(backupMagicV3+"key: "+base64.StdEncoding.EncodeToString(key)+"\n\n"), stream...)
	return ageTo(t, recipient, append(pt, trailer...))
}

func ageTo(t *testing.T, recipient string, pt []byte) []byte {
	t.Helper()
	r, err := ParseRecipient(recipient)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, _ := age.Encrypt(&buf, r)
	w.Write(pt)
	w.Close()
	return buf.Bytes()
}

// FuzzBackupPlain checks the backup reader on any plaintext (what is inside
// the age file): it never panics, and nothing but the genuine seeds
// verifies — a v2 backup as it is read, a v3 one against the digest of the
// stream it gave (standing in for the loaded store's).
func FuzzBackupPlain(f *testing.F) {
	v, err := NewVault(X25519)
	if err != nil {
		f.Fatal(err)
	}
	plain := func(file []byte) []byte {
		r, err := age.Decrypt(bytes.NewReader(file), v.Backup.Age())
		if err != nil {
			f.Fatal(err)
		}
		b, _ := io.ReadAll(r)
		return b
	}
	stream := []byte("a small badger stream")
	var v2 bytes.Buffer
	w, _ := NewBackupWriter(&v2, v)
	w.Write(stream)
	w.Close()
	seeds := [][]byte{plain(v2.Bytes())}
	seal, _ := SealStore(v, streamDigest(stream), time.Unix(1_800_000_000, 0))
	var v3 bytes.Buffer
	sw, _ := NewSealedBackupWriter(&v3, v.Backup.Recipient(), seal)
	sw.Write(stream)
	sw.Close()
	seeds = append(seeds, plain(v3.Bytes()))
	for _, s := range seeds {
		f.Add(s)
	}
	mac := backupMACKey(v.Backup)
	f.Fuzz(func(t *testing.T, pt []byte) {
		br, err := openBackupPlain(bytes.NewReader(pt), mac, "")
		if err != nil {
			return
		}
		got, err := io.ReadAll(br)
		if br.Sealed() && err == nil {
			_, err = br.VerifyStore(streamDigest(got))
		}
		if err == nil && !bytes.Equal(pt, seeds[0]) && !bytes.Equal(pt, seeds[1]) {
			t.Fatalf("a changed backup verified: %q", pt)
		}
	})
}

// FuzzParseStoreSeal checks that the seal file parser never panics and
// that what it accepts writes back byte for byte.
func FuzzParseStoreSeal(f *testing.F) {
	v, _ := NewVault(X25519)
	s, _ := SealStore(v, make([]byte, StoreDigestSize), time.Unix(1_800_000_000, 0))
	b, _ := s.MarshalBinary()
	f.Add(b)
	f.Add([]byte(sealFileMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := ParseStoreSeal(b)
		if err != nil {
			return
		}
		if out, _ := s.MarshalBinary(); !bytes.Equal(out, b) {
			t.Fatalf("round trip changed the seal")
		}
	})
}
