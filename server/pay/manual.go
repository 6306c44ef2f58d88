package pay

import (
	"errors"
	"net/url"
	"strings"
	"unicode/utf8"

	"veil/server/shop"
)

// MaxInstructions bounds the merchant's payment instructions.
const MaxInstructions = 4 << 10

// Manual is the manual provider: the buyer pays the way the merchant's
// instructions say (a bank transfer, a crypto address), writing the
// order's ref with the payment; staff confirm receipt through a
// payment_confirm approval with a TOTP code, which then delivers.
type Manual struct {
	instructions string
}

var _ Provider = (*Manual)(nil)

// NewManual checks the instructions text: not empty, UTF-8, at most
// MaxInstructions bytes.
func NewManual(instructions string) (*Manual, error) {
	instructions = strings.TrimSpace(strings.ReplaceAll(instructions, "\r\n", "\n"))
	if instructions == "" || len(instructions) > MaxInstructions || !utf8.ValidString(instructions) {
		return nil, errors.New("pay: manual instructions: 1 to 4096 bytes of UTF-8 text")
	}
	return &Manual{instructions: instructions}, nil
}

// Name implements Provider.
func (*Manual) Name() string { return "manual" }

// Start implements Provider: veil's own page with the instructions and the
// order's ref.
func (*Manual) Start(o shop.Order, _ shop.Product) (Start, error) {
	return Start{Provider: "manual", URL: "/pay/manual?ref=" + url.QueryEscape(o.Ref)}, nil
}

// Instructions returns the merchant's text, one entry per non-empty line.
func (m *Manual) Instructions() []string {
	var lines []string
	for l := range strings.SplitSeq(m.instructions, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return lines
}
