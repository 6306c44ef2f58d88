package crypto

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxKeyLen is the largest licence key [NormalizeKey] accepts, in bytes.
const MaxKeyLen = 512

// Errors from [NormalizeKey].
var (
	ErrKeyEmpty   = errors.New("crypto: licence key is empty")
	ErrKeyTooLong = errors.New("crypto: licence key is too long")
	ErrKeyBadChar = errors.New("crypto: licence key contains a control or invalid character")
)

// NormalizeKey prepares an imported licence key for storage and
// fingerprinting. It trims surrounding whitespace (including \r, a byte-order
// mark, no-break and zero-width spaces, as left by spreadsheets and
// clipboards), and returns [ErrKeyEmpty] if nothing is left, [ErrKeyTooLong]
// beyond [MaxKeyLen] bytes, and [ErrKeyBadChar] for invalid UTF-8 or any
// control, format (such as bidi overrides) or line-separator character inside.
// Nothing inside the key is changed: keys are case-sensitive and inner spaces
// are kept.
func NormalizeKey(s string) (string, error) {
	s = strings.TrimFunc(s, isTrimmable)
	switch {
	case s == "":
		return "", ErrKeyEmpty
	case len(s) > MaxKeyLen:
		return "", ErrKeyTooLong
	}
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n <= 1 {
				return "", ErrKeyBadChar
			}
		}
		if unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) {
			return "", ErrKeyBadChar
		}
	}
	return s, nil
}

func isTrimmable(r rune) bool {
	return unicode.IsSpace(r) || r == '\uFEFF' || r == '\u200B'
}
