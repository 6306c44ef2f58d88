package crypto

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"
)

// MaxPlaintextSize is the largest plaintext [Open] returns. Everything veil
// seals (keys, threads, vault, data keys) is far smaller; the limit stops a
// crafted or corrupted file from making the server allocate without bound.
// Backups, which can be larger, should stream with age.Decrypt directly.
const MaxPlaintextSize = 16 << 20

// ErrTooLarge is returned by [Open] when the plaintext exceeds
// [MaxPlaintextSize].
var ErrTooLarge = errors.New("crypto: plaintext too large")

// ErrWrongIdentity is returned (wrapped) by [Open] when none of the given
// identities can open the file: a wrong key, not a damaged file.
var ErrWrongIdentity = errors.New("crypto: no identity matches")

// Seal encrypts plaintext to the recipients and returns a binary age file.
// Each recipient can open it alone. age refuses to mix a post-quantum
// recipient ([Hybrid], [NewSymmetricRecipient]) with an [X25519] one in one
// file, since the classic one would void the post-quantum protection.
func Seal(plaintext []byte, recipients ...age.Recipient) ([]byte, error) {
	if len(recipients) == 0 {
		return nil, errors.New("crypto: seal: no recipients")
	}
	out, err := sealFile(plaintext, recipients)
	if err != nil {
		return nil, fmt.Errorf("crypto: seal: %w", err)
	}
	return out, nil
}

// Open decrypts an age file made by [Seal] with the first identity that
// matches. It returns an error wrapping [ErrWrongIdentity] if none does and
// [ErrTooLarge] beyond [MaxPlaintextSize]. The whole payload is
// authenticated before Open returns, so a truncated or altered file is an
// error, never partial plaintext.
func Open(ciphertext []byte, identities ...age.Identity) ([]byte, error) {
	if len(identities) == 0 {
		return nil, errors.New("crypto: open: no identities")
	}
	out, err := openFile(ciphertext, identities)
	switch {
	case err == nil:
		return out, nil
	case errors.Is(err, ErrTooLarge):
		return nil, err
	case !errors.Is(err, errNotOurs):
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			return nil, fmt.Errorf("crypto: open: %w", ErrWrongIdentity)
		}
		return nil, fmt.Errorf("crypto: open: %w", err)
	}
	// A header age parses but does not write back byte for byte: read the
	// file with age's streaming reader.
	r, err := age.Decrypt(bytes.NewReader(ciphertext), identities...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			return nil, fmt.Errorf("crypto: open: %w", ErrWrongIdentity)
		}
		return nil, fmt.Errorf("crypto: open: %w", err)
	}
	// The plaintext is never larger than the ciphertext.
	out = make([]byte, 0, min(len(ciphertext), MaxPlaintextSize+1))
	out, err = readAllInto(out, io.LimitReader(r, MaxPlaintextSize+1))
	if err != nil {
		return nil, fmt.Errorf("crypto: open: %w", err)
	}
	if len(out) > MaxPlaintextSize {
		return nil, ErrTooLarge
	}
	return out, nil
}

func readAllInto(b []byte, r io.Reader) ([]byte, error) {
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
