package pay

import (
	"fmt"
	"strings"

	"github.com/boombuler/barcode/qr"
)

// qrQuiet is the quiet zone around a QR code, in modules: the four that
// scanners need.
const qrQuiet = 4

// QRSVG draws content as a QR code (error correction M) in SVG, on the
// server, so the order page needs no script and no outside service. The
// SVG is one white square and one black rect per horizontal run of dark
// modules, in module units with a 4-module quiet zone; the page sizes it
// with CSS. Its only variable parts are numbers, so it is safe to embed
// in HTML as is. It uses presentation attributes, not style, so a strict
// CSP allows it inline.
func QRSVG(content string) (string, error) {
	code, err := qr.Encode(content, qr.M, qr.Auto)
	if err != nil {
		return "", fmt.Errorf("pay: qr: %w", err)
	}
	n := code.Bounds().Dx()
	size := n + 2*qrQuiet
	dark := func(x, y int) bool {
		r, _, _, _ := code.At(x, y).RGBA()
		return r < 0x8000
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="qr" viewBox="0 0 %d %d" shape-rendering="crispEdges">`, size, size)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/>`, size, size)
	for y := 0; y < n; y++ {
		for x := 0; x < n; {
			if !dark(x, y) {
				x++
				continue
			}
			start := x
			for x < n && dark(x, y) {
				x++
			}
			fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="1" fill="#000"/>`, start+qrQuiet, y+qrQuiet, x-start)
		}
	}
	b.WriteString(`</svg>`)
	return b.String(), nil
}
