package crypto

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizeKey(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
		err  error
	}{
		{"plain", "ABCD-1234", "ABCD-1234", nil},
		{"case kept", "abCD-1234", "abCD-1234", nil},
		{"CRLF", "ABCD-1234\r\n", "ABCD-1234", nil},
		{"tabs and spaces", " \tABCD 1234\t ", "ABCD 1234", nil},
		{"BOM", "\uFEFFABCD", "ABCD", nil},
		{"NBSP", "\u00A0ABCD\u00A0", "ABCD", nil},
		{"zero-width space", "\u200BABCD\u200B", "ABCD", nil},
		{"inner spaces kept", "AB  CD", "AB  CD", nil},
		{"unicode", "ключ-ÄÖ-鍵", "ключ-ÄÖ-鍵", nil},
		{"max length", strings.Repeat("k", MaxKeyLen), strings.Repeat("k", MaxKeyLen), nil},
		{"max length after trim", " " + strings.Repeat("k", MaxKeyLen) + "\n", strings.Repeat("k", MaxKeyLen), nil},
		{"empty", "", "", ErrKeyEmpty},
		{"whitespace only", " \r\n\t\uFEFF\u00A0", "", ErrKeyEmpty},
		{"too long", strings.Repeat("k", MaxKeyLen+1), "", ErrKeyTooLong},
		{"inner tab", "AB\tCD", "", ErrKeyBadChar},
		{"inner newline", "AB\nCD", "", ErrKeyBadChar},
		{"NUL", "AB\x00CD", "", ErrKeyBadChar},
		{"DEL", "AB\x7fCD", "", ErrKeyBadChar},
		{"C1", "AB\u0085CD", "", ErrKeyBadChar},
		{"bidi override", "AB\u202ECD", "", ErrKeyBadChar},
		{"inner zero-width", "AB\u200BCD", "", ErrKeyBadChar},
		{"line separator", "AB\u2028CD", "", ErrKeyBadChar},
		{"invalid UTF-8", "AB\xffCD", "", ErrKeyBadChar},
		{"literal U+FFFD is fine", "AB\uFFFDCD", "AB\uFFFDCD", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormalizeKey(tc.in)
			if !errors.Is(err, tc.err) || got != tc.want {
				t.Fatalf("NormalizeKey(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
			}
		})
	}
}

func TestRandomID(t *testing.T) {
	tests := []struct {
		prefix string
		n      int
		length int
	}{
		{"itm_", 16, 4 + 26},
		{"", 10, 16},
		{"x", 0, 1 + 26},
		{"x", -1, 1 + 26},
		{"", 1, 2},
	}
	for _, tc := range tests {
		id := RandomID(tc.prefix, tc.n)
		if len(id) != tc.length || !strings.HasPrefix(id, tc.prefix) {
			t.Errorf("RandomID(%q, %d) = %q", tc.prefix, tc.n, id)
		}
		if strings.Trim(id[len(tc.prefix):], "0123456789abcdefghjkmnpqrstvwxyz") != "" {
			t.Errorf("RandomID(%q, %d) = %q: bad alphabet", tc.prefix, tc.n, id)
		}
	}
	if a, b := RandomID("", 16), RandomID("", 16); a == b {
		t.Error("not random")
	}
}
