package crypto

import "strings"

// A minimal Bech32 (BIP 173) encoder, enough to build age's key encodings
// from raw bytes; age keeps its own in an internal package. Decoding is left
// to age's parsers, which is also what checks this encoder's output.
const bech32Charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

func bech32Polymod(values []byte) uint32 {
	gen := [5]uint32{0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3}
	chk := uint32(1)
	for _, v := range values {
		top := chk >> 25
		chk = (chk&0x1ffffff)<<5 ^ uint32(v)
		for i := range 5 {
			if (top>>i)&1 == 1 {
				chk ^= gen[i]
			}
		}
	}
	return chk
}

// bech32Encode encodes data under hrp. Like age (and unlike BIP 173) it does
// not limit the length, since ML-KEM keys are long. upper selects the
// upper-case form used for secret keys.
func bech32Encode(hrp string, data []byte, upper bool) string {
	hrp = strings.ToLower(hrp)
	// Regroup 8-bit bytes into 5-bit values, zero-padding the tail.
	values := make([]byte, 0, (len(data)*8+4)/5)
	var acc uint32
	var bits uint
	for _, b := range data {
		acc = acc<<8 | uint32(b)
		bits += 8
		for bits >= 5 {
			bits -= 5
			values = append(values, byte(acc>>bits)&31)
		}
	}
	if bits > 0 {
		values = append(values, byte(acc<<(5-bits))&31)
	}

	pre := make([]byte, 0, 2*len(hrp)+1+len(values)+6)
	for i := 0; i < len(hrp); i++ {
		pre = append(pre, hrp[i]>>5)
	}
	pre = append(pre, 0)
	for i := 0; i < len(hrp); i++ {
		pre = append(pre, hrp[i]&31)
	}
	pre = append(pre, values...)
	pre = append(pre, 0, 0, 0, 0, 0, 0)
	mod := bech32Polymod(pre) ^ 1

	var sb strings.Builder
	sb.Grow(len(hrp) + 1 + len(values) + 6)
	sb.WriteString(hrp)
	sb.WriteByte('1')
	for _, v := range values {
		sb.WriteByte(bech32Charset[v])
	}
	for i := range 6 {
		sb.WriteByte(bech32Charset[(mod>>(5*(5-i)))&31])
	}
	if upper {
		return strings.ToUpper(sb.String())
	}
	return sb.String()
}
