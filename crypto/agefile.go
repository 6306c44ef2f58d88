package crypto

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"filippo.io/age"
	"golang.org/x/crypto/chacha20poly1305"
)

// Whole age files in memory. Seal and Open handle small byte slices (a
// delivery, a thread message, a data key), and age's streaming writer and
// reader each allocate 64 KiB buffers per file whatever its size: a
// purchase sealed and opened three files and allocated ≈ 300 KiB for a few
// hundred bytes of keys, which showed up as garbage collection in the
// profiles (issue 15). These functions write and read the same format
// (age-encryption.org/v1, C2SP age) straight into a buffer of the file's
// own size. The recipients' stanzas and the identities' unwrapping are
// still age's (or ours, for the hybrid ones), and the header is parsed by
// age. TestAgeFileInterop checks both directions against age itself.
//
// The format, as this file writes it:
//
//	age-encryption.org/v1
//	-> TYPE ARG...          one per stanza, then its body in unpadded
//	BODY (64 columns)       base64, 64 columns a line, the last line
//	...                     shorter (possibly empty)
//	--- MAC                 HMAC-SHA256 over everything up to "---", key
//	                        HKDF-SHA256(file key, no salt, "header")
//	NONCE (16 bytes) then the payload in chunks of 64 KiB, each sealed with
//	ChaCha20-Poly1305 under HKDF-SHA256(file key, NONCE, "payload") and the
//	nonce chunk number (11 bytes, big-endian) || 1 for the last chunk, else
//	0. An empty plaintext is one empty last chunk.

const (
	ageIntro      = "age-encryption.org/v1\n"
	ageFileKey    = 16
	ageNonce      = 16
	ageChunk      = 64 << 10
	ageChunkSeal  = ageChunk + chacha20poly1305.Overhead
	ageBodyColumn = 64
)

// sealFile encrypts plaintext to the recipients as one age file.
func sealFile(plaintext []byte, recipients []age.Recipient) ([]byte, error) {
	fileKey := make([]byte, ageFileKey)
	rand.Read(fileKey)
	defer wipe(fileKey)

	var hdr bytes.Buffer
	hdr.WriteString(ageIntro)
	var labels []string
	for i, r := range recipients {
		var stanzas []*age.Stanza
		var l []string
		var err error
		if rl, ok := r.(age.RecipientWithLabels); ok {
			stanzas, l, err = rl.WrapWithLabels(fileKey)
		} else {
			stanzas, err = r.Wrap(fileKey)
		}
		if err != nil {
			return nil, fmt.Errorf("wrap the file key for recipient %d: %w", i, err)
		}
		// Recipients must agree on their labels: a post-quantum one with a
		// classic one would leave the file open to the classic attack.
		l = slices.Sorted(slices.Values(l))
		if i == 0 {
			labels = l
		} else if !slices.Equal(labels, l) {
			return nil, fmt.Errorf("incompatible recipients: labels %q and %q (post-quantum and classic recipients cannot share a file)", labels, l)
		}
		for _, s := range stanzas {
			if err := writeStanza(&hdr, s); err != nil {
				return nil, err
			}
		}
	}
	hdr.WriteString("---")
	mac := hmac.New(sha256.New, fileSubkey(fileKey, nil, "header"))
	mac.Write(hdr.Bytes())
	hdr.WriteByte(' ')
	hdr.WriteString(base64.RawStdEncoding.EncodeToString(mac.Sum(nil)))
	hdr.WriteByte('\n')

	chunks := max(1, (len(plaintext)+ageChunk-1)/ageChunk)
	out := make([]byte, 0, hdr.Len()+ageNonce+len(plaintext)+chunks*chacha20poly1305.Overhead)
	out = append(out, hdr.Bytes()...)
	nonce := make([]byte, ageNonce)
	rand.Read(nonce)
	out = append(out, nonce...)
	aead, err := chacha20poly1305.New(fileSubkey(fileKey, nonce, "payload"))
	if err != nil {
		return nil, err
	}
	for i := range chunks {
		end := min(len(plaintext), (i+1)*ageChunk)
		out = aead.Seal(out, chunkNonce(i, i == chunks-1), plaintext[i*ageChunk:end], nil)
	}
	return out, nil
}

// writeStanza appends one stanza in age's canonical form.
func writeStanza(b *bytes.Buffer, s *age.Stanza) error {
	if !ageToken(s.Type) {
		return fmt.Errorf("malformed stanza type %q", s.Type)
	}
	b.WriteString("-> ")
	b.WriteString(s.Type)
	for _, a := range s.Args {
		if !ageToken(a) {
			return fmt.Errorf("malformed stanza argument in %s", s.Type)
		}
		b.WriteByte(' ')
		b.WriteString(a)
	}
	b.WriteByte('\n')
	body := base64.RawStdEncoding.EncodeToString(s.Body)
	for len(body) >= ageBodyColumn {
		b.WriteString(body[:ageBodyColumn])
		b.WriteByte('\n')
		body = body[ageBodyColumn:]
	}
	b.WriteString(body) // shorter than a full line, possibly empty
	b.WriteByte('\n')
	return nil
}

// ageToken reports whether s may be a stanza type or argument: non-empty
// printable ASCII without spaces.
func ageToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 33 || s[i] > 126 {
			return false
		}
	}
	return true
}

// errNotOurs means openFile cannot read the file's header; Open then hands
// the file to age.Decrypt, whose error says what is wrong with it.
var errNotOurs = errors.New("crypto: not a canonical age header")

// openFile decrypts a whole age file with the first identity that matches.
// age parses the header (once) and unwraps the file key, checking the
// header's MAC; the payload is decrypted here into a buffer of its exact
// size.
func openFile(ciphertext []byte, identities []age.Identity) ([]byte, error) {
	// The header ends with its MAC line, the first line starting "--- "
	// (a stanza line starts "-> ", a body line is base64, without '-').
	i := bytes.Index(ciphertext, []byte("\n--- "))
	if i < 0 {
		return nil, errNotOurs
	}
	j := bytes.IndexByte(ciphertext[i+1:], '\n')
	if j < 0 {
		return nil, errNotOurs
	}
	header := ciphertext[:i+1+j+1]
	fileKey, err := age.DecryptHeader(header, identities...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", errNotOurs, err)
	}
	defer wipe(fileKey)
	payload := ciphertext[len(header):]
	if len(payload) < ageNonce+chacha20poly1305.Overhead {
		return nil, errors.New("truncated payload")
	}
	nonce, body := payload[:ageNonce], payload[ageNonce:]
	chunks := (len(body) + ageChunkSeal - 1) / ageChunkSeal
	size := len(body) - chunks*chacha20poly1305.Overhead
	// A file whose last chunk would be empty (other than the only one) is
	// not one age writes: its size says there is one chunk too many.
	if size < 0 || (chunks > 1 && len(body)%ageChunkSeal == chacha20poly1305.Overhead) {
		return nil, errors.New("malformed payload size")
	}
	if size > MaxPlaintextSize {
		return nil, ErrTooLarge
	}
	aead, err := chacha20poly1305.New(fileSubkey(fileKey, nonce, "payload"))
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, size)
	for i := range chunks {
		end := min(len(body), (i+1)*ageChunkSeal)
		if out, err = aead.Open(out, chunkNonce(i, i == chunks-1), body[i*ageChunkSeal:end], nil); err != nil {
			wipe(out)
			return nil, errors.New("payload authentication failed")
		}
	}
	return out, nil
}

// fileSubkey is HKDF-SHA256(fileKey, salt, info), 32 bytes.
func fileSubkey(fileKey, salt []byte, info string) []byte {
	k, err := hkdf.Key(sha256.New, fileKey, salt, info, 32)
	if err != nil {
		panic("crypto: hkdf: " + err.Error())
	}
	return k
}

// chunkNonce is the STREAM nonce of chunk i: its number in 11 big-endian
// bytes, then 1 for the last chunk.
func chunkNonce(i int, last bool) []byte {
	n := make([]byte, chacha20poly1305.NonceSize)
	binary.BigEndian.PutUint64(n[3:11], uint64(i))
	if last {
		n[11] = 1
	}
	return n
}

func wipe(b []byte) { clear(b[:cap(b)]) }
