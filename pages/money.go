package pages

import (
	"strconv"
	"strings"
)

// currencies knows the symbol and minor-unit digits of the currencies a
// shop of this kind meets; others show as "12.50 XYZ".
var currencies = map[string]struct {
	symbol string
	digits int
}{
	"CNY":  {"¥", 2},
	"USD":  {"$", 2},
	"EUR":  {"€", 2},
	"GBP":  {"£", 2},
	"HKD":  {"HK$", 2},
	"JPY":  {"JP¥", 0},
	"USDT": {"", 2},
}

// Money formats an amount in minor units: Money(990, "CNY") is "¥9.90".
func Money(minor int64, currency string) string {
	c, known := currencies[strings.ToUpper(currency)]
	digits := 2
	if known {
		digits = c.digits
	}
	neg := minor < 0
	if neg {
		minor = -minor
	}
	s := strconv.FormatInt(minor, 10)
	if digits > 0 {
		for len(s) <= digits {
			s = "0" + s
		}
		s = s[:len(s)-digits] + "." + s[len(s)-digits:]
	}
	if neg {
		s = "-" + s
	}
	if known && c.symbol != "" {
		if neg {
			return "-" + c.symbol + s[1:]
		}
		return c.symbol + s
	}
	return s + " " + strings.ToUpper(currency)
}

// Permille formats a rate in tenths of a percent: Permille(15) is "1.5%".
func Permille(p int) string {
	return strconv.Itoa(p/10) + "." + strconv.Itoa(p%10) + "%"
}

// Decimal formats an amount in minor units as a plain number in major
// units, without symbol or grouping: Decimal(-1990, "CNY") is "-19.90"
// (exports, where the currency has a column of its own).
func Decimal(minor int64, currency string) string {
	digits := 2
	if c, known := currencies[strings.ToUpper(currency)]; known {
		digits = c.digits
	}
	neg := minor < 0
	if neg {
		minor = -minor
	}
	s := strconv.FormatInt(minor, 10)
	if digits > 0 {
		for len(s) <= digits {
			s = "0" + s
		}
		s = s[:len(s)-digits] + "." + s[len(s)-digits:]
	}
	if neg {
		s = "-" + s
	}
	return s
}
