package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"filippo.io/age"
)

// A backup without the passphrase (format v3).
//
// A v2 backup is signed as it is written, which needs the vault's keys and
// so the passphrase. A v3 backup instead carries a seal made earlier, while
// the vault was open: when the shop closes cleanly with its vault unlocked
// it computes a canonical digest D of the store's logical content (every
// live key and value; server/store.Digest) and writes next to the store a
// [StoreSeal]:
//
//	msg = "veil-backup-v3\n" || backup-signing public key (32) || sealed-at (8, unix seconds, big-endian) || D
//	sig = ed25519 signature of msg by the vault's backup-signing key
//	tag = HMAC-SHA256(K, msg), K = HKDF-SHA256(backup identity, "veil/v1/backup-mac") as in v2
//
// The seal is a signature over the store exactly as it is: someone who reads
// it from the disk learns nothing they could not compute from the store
// itself, and it is good for no other content. `veil backup` (no passphrase)
// checks that the store it streams still has the sealed digest, then writes
//
//	veil-backup v3\n
//	key: <base64 backup-signing public key>\n
//	\n
//	<the store's backup stream>
//	<sealed-at (8)><sig (64)><tag (32)>
//
// sealed to the backup recipient. The stream itself is not authenticated
// byte by byte (it was not signed as written), so `veil restore` loads it
// into an empty store, reopens it, computes D over what the store now holds
// and checks sig and tag over msg ([BackupReader.VerifyStore]); on any
// failure it deletes everything it loaded. A forged or altered file thus
// restores nothing, and the tag still needs the backup identity and the
// signature the vault. The context string differs from v2's, so a v2
// trailer cannot pass for a v3 one or back.
const (
	backupMagicV3 = "veil-backup v3\n"
	sealCtx       = "veil-backup-v3\n"
	sealFileMagic = "veil-backup-seal v3\n"
	sealTrailer   = 8 + ed25519.SignatureSize + sha256.Size
	// StoreDigestSize is the size of the store digest a seal covers.
	StoreDigestSize = sha256.Size
)

// ErrSealedBackup is returned by [VerifyBackup] for a v3 backup, which can
// only be verified against the store it loads into.
var ErrSealedBackup = errors.New("crypto: a v3 backup is verified after it is loaded")

// StoreSeal is a vault's signature and tag over one store digest (see the
// v3 format above). Its file form is [StoreSeal.MarshalBinary].
type StoreSeal struct {
	Key      ed25519.PublicKey // the backup-signing key
	SealedAt time.Time         // whole seconds
	sig      []byte
	tag      []byte
}

func sealMsg(pub ed25519.PublicKey, at time.Time, digest []byte) []byte {
	m := make([]byte, 0, len(sealCtx)+ed25519.PublicKeySize+8+len(digest))
	m = append(m, sealCtx...)
	m = append(m, pub...)
	m = binary.BigEndian.AppendUint64(m, uint64(at.Unix()))
	return append(m, digest...)
}

// SealStore seals a store digest with the vault's backup keys.
func SealStore(v *Vault, digest []byte, at time.Time) (*StoreSeal, error) {
	if v.Backup == nil || v.BackupSignKey == nil {
		return nil, errors.New("crypto: seal: the vault has no backup keys")
	}
	if len(digest) != StoreDigestSize {
		return nil, errors.New("crypto: seal: bad digest size")
	}
	at = time.Unix(at.Unix(), 0).UTC()
	pub := v.BackupSignKey.Public().(ed25519.PublicKey)
	msg := sealMsg(pub, at, digest)
	m := hmac.New(sha256.New, backupMACKey(v.Backup))
	m.Write(msg)
	return &StoreSeal{Key: pub, SealedAt: at, sig: ed25519.Sign(v.BackupSignKey, msg), tag: m.Sum(nil)}, nil
}

// Matches reports whether the seal's signature covers digest. It needs no
// secret, so `veil backup` uses it to check that the store is still the one
// sealed; it proves nothing to a restore, which checks the tag too.
func (s *StoreSeal) Matches(digest []byte) bool {
	return len(digest) == StoreDigestSize && ed25519.Verify(s.Key, sealMsg(s.Key, s.SealedAt, digest), s.sig)
}

// Fingerprint is the [KeyFingerprint] of the seal's signing key.
func (s *StoreSeal) Fingerprint() string { return KeyFingerprint(s.Key) }

// MarshalBinary is the seal file: a magic line, the key, the time, the
// signature and the tag.
func (s *StoreSeal) MarshalBinary() ([]byte, error) {
	b := append([]byte(sealFileMagic), s.Key...)
	return append(b, s.trailer()...), nil
}

func (s *StoreSeal) trailer() []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(s.SealedAt.Unix()))
	b = append(b, s.sig...)
	return append(b, s.tag...)
}

func parseTrailer(pub ed25519.PublicKey, t []byte) *StoreSeal {
	at := int64(binary.BigEndian.Uint64(t))
	return &StoreSeal{Key: pub, SealedAt: time.Unix(at, 0).UTC(),
		sig: bytes.Clone(t[8 : 8+ed25519.SignatureSize]), tag: bytes.Clone(t[8+ed25519.SignatureSize:])}
}

// ParseStoreSeal reads a seal file. It checks only the form: the signature
// means something only against a digest ([StoreSeal.Matches]).
func ParseStoreSeal(b []byte) (*StoreSeal, error) {
	if len(b) != len(sealFileMagic)+ed25519.PublicKeySize+sealTrailer || !bytes.HasPrefix(b, []byte(sealFileMagic)) {
		return nil, errors.New("crypto: not a veil backup seal")
	}
	b = b[len(sealFileMagic):]
	return parseTrailer(bytes.Clone(b[:ed25519.PublicKeySize]), b[ed25519.PublicKeySize:]), nil
}

// SealedBackupWriter streams a v3 backup ([NewSealedBackupWriter]).
type SealedBackupWriter struct {
	age  io.WriteCloser
	seal *StoreSeal
}

// NewSealedBackupWriter starts a v3 backup of the store that seal covers,
// written to w and sealed to recipient (the vault's public backup
// recipient). Write the store's backup stream to it, then Close it (Close
// does not close w). The caller must have checked that the store it streams
// [StoreSeal.Matches]: restore refuses the file otherwise.
func NewSealedBackupWriter(w io.Writer, recipient string, seal *StoreSeal) (*SealedBackupWriter, error) {
	r, err := ParseRecipient(recipient)
	if err != nil {
		return nil, fmt.Errorf("crypto: backup: %w", err)
	}
	aw, err := age.Encrypt(w, r)
	if err != nil {
		return nil, fmt.Errorf("crypto: backup: %w", err)
	}
	head := backupMagicV3 + "key: " + base64.StdEncoding.EncodeToString(seal.Key) + "\n\n"
	if _, err := aw.Write([]byte(head)); err != nil {
		return nil, err
	}
	return &SealedBackupWriter{age: aw, seal: seal}, nil
}

// Write passes p into the sealed backup.
func (b *SealedBackupWriter) Write(p []byte) (int, error) { return b.age.Write(p) }

// Close appends the seal and finishes the age file.
func (b *SealedBackupWriter) Close() error {
	if _, err := b.age.Write(b.seal.trailer()); err != nil {
		return err
	}
	return b.age.Close()
}

// Sealed reports whether the backup is a v3 one, verified after loading
// ([BackupReader.VerifyStore]) rather than as it is read.
func (b *BackupReader) Sealed() bool { return b.v3 }

// VerifyStore checks a v3 backup's seal against the digest of the store it
// was loaded into (read to io.EOF first): the tag with the backup identity
// and the signature with the key the header names (whose fingerprint
// OpenBackup already compared, if given). It returns the verified seal (its
// SealedAt is the store's time), or [ErrBackupForged]: then delete
// everything that was loaded.
func (b *BackupReader) VerifyStore(digest []byte) (*StoreSeal, error) {
	if !b.v3 || b.tail == nil || len(digest) != StoreDigestSize {
		return nil, ErrBackupForged
	}
	s := parseTrailer(b.pub, b.tail)
	msg := sealMsg(s.Key, s.SealedAt, digest)
	m := hmac.New(sha256.New, b.mac)
	m.Write(msg)
	if !hmac.Equal(m.Sum(nil), s.tag) || !ed25519.Verify(s.Key, msg, s.sig) {
		return nil, ErrBackupForged
	}
	return s, nil
}
