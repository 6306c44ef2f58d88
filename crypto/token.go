package crypto

import (
	"crypto/rand"
	"errors"
	"log/slog"
)

// Token is an order token: 160 random bits, the buyer's only credential for an
// order. It is never stored; only values derived from it are (see
// [Token.LookupKey]). Never put a Token in a URL, a log line or an error.
//
// The text form is 32 Crockford base32 symbols plus one check symbol, grouped
// in fours: "ABCD-EFGH-JKMN-PQRS-TVWX-YZ01-2345-6789-C".
type Token [20]byte

// ErrTokenMalformed is returned by [ParseToken] for input that cannot be a
// token: wrong length, a character outside the alphabet, or a check symbol
// mismatch (almost always a typo). It lets the caller tell a typo apart from a
// well-formed but unknown token.
var ErrTokenMalformed = errors.New("crypto: malformed token")

const (
	// crockford is the Crockford base32 alphabet: digits and upper-case
	// letters without I, L, O and U.
	crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

	tokenSymbols = 32               // 160 bits / 5 bits per symbol, no padding
	tokenTextLen = tokenSymbols + 1 // plus the check symbol
	// maxTokenInput bounds the work done on hostile input; a token with
	// generous separators and spaces is well under it.
	maxTokenInput = 256
)

// crockfordDecode maps an input byte to its symbol value, or 0xff. It folds
// case and the confusables I, L -> 1 and O -> 0. U is deliberately invalid.
var crockfordDecode = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i := 0; i < len(crockford); i++ {
		c := crockford[i]
		t[c] = byte(i)
		if c >= 'A' && c <= 'Z' {
			t[c+'a'-'A'] = byte(i)
		}
	}
	t['I'], t['i'], t['L'], t['l'] = 1, 1, 1, 1
	t['O'], t['o'] = 0, 0
	return t
}()

// NewToken returns a fresh random token from crypto/rand.
func NewToken() (Token, error) {
	var t Token
	if _, err := rand.Read(t[:]); err != nil {
		return Token{}, err
	}
	return t, nil
}

// ParseToken parses the text form of a token as typed by a person. It ignores
// case, spaces, dashes and underscores, reads I and L as 1 and O as 0, and
// verifies the check symbol. Any failure is [ErrTokenMalformed].
func ParseToken(s string) (Token, error) {
	if len(s) > maxTokenInput {
		return Token{}, ErrTokenMalformed
	}
	var sym [tokenTextLen]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case ' ', '\t', '\r', '\n', '-', '_':
			continue
		}
		v := crockfordDecode[c]
		if v == 0xff || n == tokenTextLen {
			return Token{}, ErrTokenMalformed
		}
		sym[n] = v
		n++
	}
	if n != tokenTextLen || checkSymbol(sym[:tokenSymbols]) != sym[tokenSymbols] {
		return Token{}, ErrTokenMalformed
	}
	var t Token
	// 8 symbols (40 bits) make 5 bytes.
	for g := range 4 {
		var acc uint64
		for _, v := range sym[g*8 : g*8+8] {
			acc = acc<<5 | uint64(v)
		}
		for j := range 5 {
			t[g*5+j] = byte(acc >> (32 - 8*j))
		}
	}
	return t, nil
}

// symbols returns the 32 five-bit symbols of t, most significant first.
func (t Token) symbols() (sym [tokenSymbols]byte) {
	for g := range 4 {
		var acc uint64
		for _, b := range t[g*5 : g*5+5] {
			acc = acc<<8 | uint64(b)
		}
		for j := range 8 {
			sym[g*8+j] = byte(acc>>(35-5*j)) & 31
		}
	}
	return sym
}

// String returns the canonical text form: upper-case Crockford base32 of the
// 160 bits, then the check symbol, in groups of four joined by '-'.
func (t Token) String() string {
	sym := t.symbols()
	var b [tokenTextLen + tokenTextLen/4]byte // symbols plus 8 dashes
	n := 0
	for i, v := range sym {
		if i > 0 && i%4 == 0 {
			b[n] = '-'
			n++
		}
		b[n] = crockford[v]
		n++
	}
	b[n] = '-'
	b[n+1] = crockford[checkSymbol(sym[:])]
	return string(b[:n+2])
}

// LogValue implements [slog.LogValuer] so that a token handed to a logger by
// mistake is redacted. Log [Token.Ref] instead.
func (t Token) LogValue() slog.Value { return slog.StringValue("[token redacted]") }

// The check symbol.
//
// Crockford's own check symbol is the 160-bit number mod 37, which needs five
// extra symbols (*~$=U) that are awkward to type, read aloud or select with a
// double click. A plain mod-31 sum over the 32-symbol alphabet would not do
// either: 0 and Z (31) are congruent mod 31, so that substitution would pass.
//
// Instead the check symbol c is a linear code over the field GF(32), whose 32
// elements are exactly the 32 symbols. With α a primitive element (the field
// is GF(2)[x]/(x^5+x^2+1), α = x, of multiplicative order 31) and d_0..d_31
// the data symbols:
//
//	c = Σ α^(i+2) · d_i
//
// so the whole 33-symbol word s satisfies Σ w_j·s_j = 0 with weights
// w_j = α^(j+2) for the data and w_32 = 1 for the check symbol.
//
//   - Substituting e ≠ 0 into position j changes the sum by w_j·e, which is
//     non-zero in a field because every weight is non-zero. Every single
//     substitution, the check symbol included, is detected.
//   - Swapping unequal symbols a, b at positions j, k changes the sum by
//     (w_j − w_k)·(a − b), non-zero whenever w_j ≠ w_k. Neighbouring weights
//     always differ (α^(j+2) ≠ α^(j+3); w_31 = α^2 ≠ 1), and so do weights two
//     apart, so every adjacent transposition (ab → ba) and every jump
//     transposition (abc → cba) is detected.
//
// 33 positions cannot all get distinct weights from the 31 non-zero elements;
// the exponent offset of 2 puts the two unavoidable clashes far apart, so
// only swaps between positions 0 and 31, or 29 and 32, go unnoticed.
// TestTokenTypos checks all of this exhaustively.
func checkSymbol(sym []byte) byte {
	// Horner's rule from the last symbol: (((d_31·α + d_30)·α + …)·α + d_0)·α²,
	// addition in GF(32) being XOR.
	var c byte
	for i := len(sym) - 1; i >= 0; i-- {
		c = gf32MulAlpha(c ^ sym[i])
	}
	return gf32MulAlpha(c)
}

// gf32MulAlpha multiplies v by α = x in GF(2)[x]/(x^5+x^2+1).
func gf32MulAlpha(v byte) byte {
	v <<= 1
	if v&0x20 != 0 {
		v ^= 0x25
	}
	return v
}
