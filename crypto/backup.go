package crypto

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"filippo.io/age"
)

// A backup is an age file sealed to the vault's Backup recipient. Sealing
// alone does not make it genuine: the recipient is stored in the clear, so
// anyone who has read the data directory can seal a store of their own
// making (with their own owner and vault) and pass it off as a backup.
// So the plaintext is authenticated twice, with secrets a disk reader lacks:
//
//	veil-backup v2\n
//	key: <base64 ed25519 public key of the vault's backup-signing key>\n
//	\n
//	<the store's backup stream>
//	<ed25519 signature, 64 bytes><HMAC-SHA256 tag, 32 bytes>
//
// Both cover D = SHA-256 of everything before them (header included, so the
// key line cannot be swapped): the signature is over "veil-backup-v2\n" || D
// by the backup-signing key, which lives only in the sealed vault; the tag is
// HMAC(K, "veil-backup-v2\n" || D) with K = HKDF-SHA256(backup identity,
// "veil/v1/backup-mac"). The tag needs nothing but the backup identity, which
// restoring needs anyway, so a plain `veil restore` refuses a forgery; the
// signature, checked against a fingerprint the operator recorded, also
// refuses one made by someone who learnt the backup identity (it opens
// backups, and the vault inside them is still sealed with the passphrase).
const (
	backupMagic   = "veil-backup v2\n"
	backupCtx     = "veil-backup-v2\n"
	labelBackup   = "veil/v1/backup-mac"
	backupTrailer = ed25519.SignatureSize + sha256.Size
	maxBackupHead = 256
)

// ErrBackupNotSigned is a file that opens with the backup identity but is
// not a signed veil backup (one made before backups were signed, or not a
// backup at all).
var ErrBackupNotSigned = errors.New("crypto: not a signed veil backup")

// ErrBackupForged is a backup whose signature or tag does not verify: it was
// altered, or sealed by someone without the vault's keys. Nothing of it may
// be used.
var ErrBackupForged = errors.New("crypto: the backup is forged or altered")

// ErrBackupWrongKey is a backup validly signed by a key other than the one
// whose fingerprint the operator gave.
type ErrBackupWrongKey struct{ Got, Want string }

func (e ErrBackupWrongKey) Error() string {
	return fmt.Sprintf("crypto: the backup is signed by key %s, not %s", e.Got, e.Want)
}

// KeyFingerprint is how an ed25519 public key (the notice key, the backup
// signing key) is shown to people: the first 16 bytes of its SHA-256, hex,
// in groups of four.
func KeyFingerprint(pub ed25519.PublicKey) string { return NoticeFingerprint(pub) }

func backupMACKey(id *Identity) []byte {
	k, err := hkdf.Key(sha256.New, []byte(id.String()), nil, labelBackup, 32)
	if err != nil {
		panic("crypto: hkdf: " + err.Error())
	}
	return k
}

// BackupWriter streams a signed backup ([NewBackupWriter]).
type BackupWriter struct {
	age  io.WriteCloser
	sum  hash.Hash
	sign ed25519.PrivateKey
	mac  []byte
}

// NewBackupWriter starts a backup written to w, sealed to the vault's
// Backup recipient and signed by its backup-signing key. Write the store's
// backup stream to it, then Close it (Close does not close w).
func NewBackupWriter(w io.Writer, v *Vault) (*BackupWriter, error) {
	if v.Backup == nil || v.BackupSignKey == nil {
		return nil, errors.New("crypto: backup: the vault has no backup keys")
	}
	aw, err := age.Encrypt(w, v.Backup.AgeRecipient())
	if err != nil {
		return nil, fmt.Errorf("crypto: backup: %w", err)
	}
	b := &BackupWriter{age: aw, sum: sha256.New(), sign: v.BackupSignKey, mac: backupMACKey(v.Backup)}
	head := backupMagic + "key: " + base64.StdEncoding.EncodeToString(v.BackupSignKey.Public().(ed25519.PublicKey)) + "\n\n"
	if _, err := b.Write([]byte(head)); err != nil {
		return nil, err
	}
	return b, nil
}

// Write passes p into the sealed backup.
func (b *BackupWriter) Write(p []byte) (int, error) {
	b.sum.Write(p)
	return b.age.Write(p)
}

// Close signs what was written and finishes the age file.
func (b *BackupWriter) Close() error {
	msg := append([]byte(backupCtx), b.sum.Sum(nil)...)
	m := hmac.New(sha256.New, b.mac)
	m.Write(msg)
	trailer := append(ed25519.Sign(b.sign, msg), m.Sum(nil)...)
	if _, err := b.age.Write(trailer); err != nil {
		return err
	}
	return b.age.Close()
}

// BackupReader reads the store's backup stream out of a signed backup
// ([OpenBackup]). For a v2 backup it returns io.EOF only after the signature
// and the tag verified; until then the data it has returned is
// unauthenticated, so read it all with [VerifyBackup] before acting on any
// of it. A v3 backup ([BackupReader.Sealed]) is verified only once loaded:
// load it into an empty store, then [BackupReader.VerifyStore] the store's
// digest, and throw the store away if that fails.
type BackupReader struct {
	r    *bufio.Reader
	sum  hash.Hash
	pub  ed25519.PublicKey
	mac  []byte
	want string
	err  error
	// v3 (backupseal.go): the trailer is the store's seal, checked
	// against the loaded store by [BackupReader.VerifyStore].
	v3   bool
	tail []byte
}

// OpenBackup opens a backup with the backup identity. fingerprint, if not
// empty, is the [KeyFingerprint] the signing key must have (spaces and case
// do not matter). It reads only the header; the rest is checked as it is
// read.
func OpenBackup(r io.Reader, id *Identity, fingerprint string) (*BackupReader, error) {
	ar, err := age.Decrypt(r, id.Age())
	if err != nil {
		if errors.Is(err, age.ErrIncorrectIdentity) {
			return nil, errors.New("crypto: the backup is not sealed to this backup identity")
		}
		return nil, fmt.Errorf("crypto: open backup: %w", err)
	}
	return openBackupPlain(ar, backupMACKey(id), fingerprint)
}

// openBackupPlain is OpenBackup after age: r is the plaintext.
func openBackupPlain(r io.Reader, mac []byte, fingerprint string) (*BackupReader, error) {
	br := &BackupReader{r: bufio.NewReaderSize(r, 1<<20), sum: sha256.New(), mac: mac, want: fingerprint}
	head, err := br.r.Peek(len(backupMagic))
	if err != nil {
		return nil, ErrBackupNotSigned
	}
	switch string(head) {
	case backupMagic:
	case backupMagicV3:
		br.v3 = true
	default:
		return nil, ErrBackupNotSigned
	}
	var hdr bytes.Buffer
	for hdr.Len() < maxBackupHead {
		line, err := br.r.ReadString('\n')
		if err != nil {
			return nil, ErrBackupNotSigned
		}
		hdr.WriteString(line)
		if line == "\n" {
			break
		}
		if k, ok := strings.CutPrefix(line, "key: "); ok {
			pub, err := base64.StdEncoding.DecodeString(strings.TrimSpace(k))
			if err != nil || len(pub) != ed25519.PublicKeySize {
				return nil, ErrBackupNotSigned
			}
			br.pub = pub
		}
	}
	if br.pub == nil || !strings.HasSuffix(hdr.String(), "\n\n") {
		return nil, ErrBackupNotSigned
	}
	br.sum.Write(hdr.Bytes())
	if fingerprint != "" && normFingerprint(fingerprint) != normFingerprint(KeyFingerprint(br.pub)) {
		return nil, ErrBackupWrongKey{Got: KeyFingerprint(br.pub), Want: fingerprint}
	}
	return br, nil
}

func normFingerprint(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), "")) }

// Fingerprint is the [KeyFingerprint] of the key the backup names as its
// signer (verified only once the reader reached io.EOF).
func (b *BackupReader) Fingerprint() string { return KeyFingerprint(b.pub) }

// Read returns the backup stream, holding back the trailer; at the end of a
// v2 backup it verifies the signature and the tag and returns
// [ErrBackupForged] instead of io.EOF if either fails. At the end of a v3
// backup it returns io.EOF with nothing verified yet: see
// [BackupReader.VerifyStore].
func (b *BackupReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	// Whatever lies more than the trailer's length before the end is data.
	// (A Peek beyond the buffer's size would hide the end of the stream.)
	trailer := backupTrailer
	if b.v3 {
		trailer = sealTrailer
	}
	peek, err := b.r.Peek(min(trailer+len(p), b.r.Size()))
	if n := len(peek) - trailer; n > 0 {
		n = min(n, len(p))
		copy(p, peek[:n])
		b.sum.Write(p[:n])
		b.r.Discard(n)
		return n, nil
	}
	if err == nil {
		err = io.ErrUnexpectedEOF // unreachable: the buffer is larger than the trailer
	}
	if !errors.Is(err, io.EOF) {
		b.err = fmt.Errorf("crypto: read backup: %w", err)
		return 0, b.err
	}
	if b.v3 {
		// Nothing to check yet: the seal covers the loaded store, not
		// these bytes ([BackupReader.VerifyStore]).
		if len(peek) != sealTrailer {
			b.err = ErrBackupForged
			return 0, b.err
		}
		b.tail = bytes.Clone(peek)
		b.err = io.EOF
		return 0, b.err
	}
	b.err = b.verify(peek)
	return 0, b.err
}

func (b *BackupReader) verify(trailer []byte) error {
	if len(trailer) != backupTrailer {
		return ErrBackupForged
	}
	msg := append([]byte(backupCtx), b.sum.Sum(nil)...)
	m := hmac.New(sha256.New, b.mac)
	m.Write(msg)
	if !hmac.Equal(m.Sum(nil), trailer[ed25519.SignatureSize:]) || !ed25519.Verify(b.pub, msg, trailer[:ed25519.SignatureSize]) {
		return ErrBackupForged
	}
	return io.EOF
}

// VerifyBackup reads a whole backup and checks it ([OpenBackup] and every
// Read to the end), discarding the data. It returns the signing key's
// fingerprint. Restore a backup only after it verified, then load it from a
// second [OpenBackup], whose reader checks it again.
//
// A v3 backup ([BackupReader.Sealed]) cannot be verified this way: it
// returns [ErrSealedBackup] without reading it.
func VerifyBackup(r io.Reader, id *Identity, fingerprint string) (string, error) {
	br, err := OpenBackup(r, id, fingerprint)
	if err != nil {
		return "", err
	}
	if br.v3 {
		return "", ErrSealedBackup
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		return "", err
	}
	return br.Fingerprint(), nil
}

func newSHA256() hash.Hash { return sha256.New() }
