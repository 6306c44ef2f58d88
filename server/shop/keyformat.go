package shop

import (
	"regexp"
	"unicode"
	"unicode/utf8"
)

// KeyFormat is what a product's keys look like; an import rejects each
// line that does not fit (reason too_short or pattern), so a stray "x", a
// header or a line of dashes never becomes stock.
type KeyFormat struct {
	// MinLength is the fewest characters a key has; 0 means
	// DefaultKeyMinLength.
	MinLength int `json:"min_length,omitempty"`
	// Pattern, when set, is a regular expression (RE2 syntax) the whole
	// key must match, e.g. `[A-Z0-9]{4}(-[A-Z0-9]{4}){3}`.
	Pattern string `json:"pattern,omitempty"`
	// Example is what one key looks like, shown to whoever imports keys;
	// it must fit the format itself (issue 12).
	Example string `json:"example,omitempty"`
}

// Key format bounds. Every key, whatever the product, has at least
// DefaultKeyMinLength characters and a letter or digit.
const (
	DefaultKeyMinLength = 2
	maxKeyPattern       = 200
)

func (f KeyFormat) validate() error {
	if f.MinLength < 0 || f.MinLength > 1024 {
		return inputErr("key_format.min_length: 0 to 1024")
	}
	if len(f.Pattern) > maxKeyPattern {
		return inputErr("key_format.pattern: at most %d bytes", maxKeyPattern)
	}
	if f.Pattern != "" {
		if _, err := regexp.Compile(f.Pattern); err != nil {
			return inputErr("key_format.pattern: not a regular expression (RE2 syntax)")
		}
	}
	if len(f.Example) > maxKeyPattern {
		return inputErr("key_format.example: at most %d bytes", maxKeyPattern)
	}
	if f.Example != "" {
		if reason := f.keyChecker()(f.Example); reason != "" {
			return inputErr("key_format.example: does not fit the format itself (%s)", reason)
		}
	}
	return nil
}

// keyChecker returns the check of a normalised key against f: "" if it
// fits, else the rejection reason.
func (f KeyFormat) keyChecker() func(string) string {
	minLen := max(f.MinLength, DefaultKeyMinLength)
	var re *regexp.Regexp
	if f.Pattern != "" {
		re, _ = regexp.Compile(`^(?:` + f.Pattern + `)$`) // validated on save
	}
	return func(k string) string {
		if utf8.RuneCountInString(k) < minLen {
			return "too_short"
		}
		alnum := false
		for _, r := range k {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				alnum = true
				break
			}
		}
		if !alnum {
			return "no_alnum"
		}
		if re != nil && !re.MatchString(k) {
			return "pattern"
		}
		return ""
	}
}
