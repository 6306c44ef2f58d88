package crypto

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Signed notices let a merchant tell buyers something they must be able to
// trust — "we moved to a new address" — even when the message reaches them
// through a forum post or a mirror. Every page shows the fingerprint of the
// notice key; a buyer (or `veil verify-notice`) checks that a notice was
// signed by the key with that fingerprint.
//
// A notice is plain text in a block that survives copy and paste:
//
//	-----BEGIN VEIL NOTICE-----
//	Date: 2026-11-22T20:00:00Z
//	Key: <base64 ed25519 public key>
//
//	<the text>
//	-----BEGIN VEIL SIGNATURE-----
//	<base64 ed25519 signature>
//	-----END VEIL NOTICE-----
//
// The signature covers "veil-notice-v1\n" followed by everything between
// the first line and the signature line, with line endings normalised to
// "\n" and trailing spaces removed, so a notice re-wrapped by a mail client
// as CRLF still verifies.

const (
	noticeBegin = "-----BEGIN VEIL NOTICE-----"
	noticeSig   = "-----BEGIN VEIL SIGNATURE-----"
	noticeEnd   = "-----END VEIL NOTICE-----"
	noticeCtx   = "veil-notice-v1\n"
	// MaxNoticeText bounds a notice's text.
	MaxNoticeText = 8 << 10
)

// ErrNoticeInvalid is a notice that is malformed or whose signature does
// not verify.
var ErrNoticeInvalid = errors.New("crypto: notice invalid")

// Notice is a verified notice.
type Notice struct {
	Text        string
	Date        time.Time
	Key         ed25519.PublicKey
	Fingerprint string
}

// NoticeFingerprint is how a notice key is shown to people: the first 16
// bytes of its SHA-256, hex, in groups of four.
func NoticeFingerprint(pub ed25519.PublicKey) string {
	h := sha256.Sum256(pub)
	x := hex.EncodeToString(h[:16])
	var b strings.Builder
	for i := 0; i < len(x); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(x[i : i+4])
	}
	return b.String()
}

// NoticeFingerprintOf is NoticeFingerprint of a base64 public key (as in
// VaultPublic.Notice); "" if it is not one.
func NoticeFingerprintOf(pubB64 string) string {
	b, err := base64.StdEncoding.DecodeString(pubB64)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return ""
	}
	return NoticeFingerprint(ed25519.PublicKey(b))
}

func normaliseNotice(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.Trim(strings.Join(lines, "\n"), "\n")
}

// SignNotice signs text with the notice key and returns the block.
func SignNotice(priv ed25519.PrivateKey, text string, at time.Time) (string, error) {
	text = normaliseNotice(text)
	if text == "" || len(text) > MaxNoticeText {
		return "", fmt.Errorf("crypto: notice text must be 1 to %d bytes", MaxNoticeText)
	}
	if strings.Contains(text, "-----") {
		return "", errors.New("crypto: notice text must not contain -----")
	}
	pub := priv.Public().(ed25519.PublicKey)
	body := "Date: " + at.UTC().Format(time.RFC3339) + "\nKey: " + base64.StdEncoding.EncodeToString(pub) + "\n\n" + text
	sig := ed25519.Sign(priv, []byte(noticeCtx+body))
	return noticeBegin + "\n" + body + "\n" + noticeSig + "\n" + base64.StdEncoding.EncodeToString(sig) + "\n" + noticeEnd + "\n", nil
}

// VerifyNotice checks a notice block (surrounding text is ignored) and
// returns what it says. It proves only that the holder of Key signed it:
// compare Fingerprint with the one the shop's pages show.
func VerifyNotice(block string) (Notice, error) {
	block = normaliseNotice(block)
	i := strings.Index(block, noticeBegin)
	j := strings.Index(block, noticeSig)
	k := strings.Index(block, noticeEnd)
	if i < 0 || j < i || k < j {
		return Notice{}, ErrNoticeInvalid
	}
	body := strings.Trim(block[i+len(noticeBegin):j], "\n")
	sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(block[j+len(noticeSig) : k]))
	if err != nil || len(sig) != ed25519.SignatureSize {
		return Notice{}, ErrNoticeInvalid
	}
	head, text, ok := strings.Cut(body, "\n\n")
	if !ok {
		return Notice{}, ErrNoticeInvalid
	}
	var n Notice
	for _, line := range strings.Split(head, "\n") {
		name, val, _ := strings.Cut(line, ": ")
		switch name {
		case "Date":
			if n.Date, err = time.Parse(time.RFC3339, val); err != nil {
				return Notice{}, ErrNoticeInvalid
			}
		case "Key":
			b, err := base64.StdEncoding.DecodeString(val)
			if err != nil || len(b) != ed25519.PublicKeySize {
				return Notice{}, ErrNoticeInvalid
			}
			n.Key = b
		default:
			return Notice{}, ErrNoticeInvalid
		}
	}
	if n.Key == nil || n.Date.IsZero() || !ed25519.Verify(n.Key, []byte(noticeCtx+body), sig) {
		return Notice{}, ErrNoticeInvalid
	}
	n.Text, n.Fingerprint = text, NoticeFingerprint(n.Key)
	return n, nil
}

// noticeSeed is what the vault stores of the notice key (nil for none).
func noticeSeed(k ed25519.PrivateKey) []byte {
	if k == nil {
		return nil
	}
	return k.Seed()
}
