package msg

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxTextBytes is the largest message text, in bytes of UTF-8, after
// [CleanText]. It applies to every message: buyer, staff, system and
// automatic answers alike.
const MaxTextBytes = 4096

// CleanText checks a message text and returns it with line breaks
// normalised to "\n" (browsers submit form text with "\r\n"). It refuses
// text that is empty or only white space ([ErrTextEmpty]), longer than
// [MaxTextBytes] ([ErrTextTooLong]), not valid UTF-8 or holding a control
// character other than newline and tab ([ErrTextInvalid]).
func CleanText(s string) (string, error) {
	if strings.IndexByte(s, '\r') >= 0 {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
	}
	if len(s) > MaxTextBytes {
		return "", ErrTextTooLong
	}
	if !utf8.ValidString(s) {
		return "", ErrTextInvalid
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return "", ErrTextInvalid
		}
	}
	if strings.TrimSpace(s) == "" {
		return "", ErrTextEmpty
	}
	return s, nil
}
