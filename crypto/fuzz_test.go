package crypto

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzNormalizeKey checks that NormalizeKey never panics, refuses only with
// its three errors, and that what it accepts is the input with its edges
// trimmed and nothing else: valid UTF-8 within MaxKeyLen, unchanged by a
// second pass and by more white space around it.
func FuzzNormalizeKey(f *testing.F) {
	f.Add("ABCD-1234")
	f.Add(" \tABCD 1234\r\n")
	f.Add("\uFEFF\u200BXXXX-YYYY\u00A0")
	f.Add("ab\x00cd")
	f.Add("ab\u202Ecd")
	f.Add("\xff\xfe")
	f.Add("")
	f.Add(strings.Repeat("K", MaxKeyLen+1))
	f.Fuzz(func(t *testing.T, s string) {
		out, err := NormalizeKey(s)
		if err != nil {
			if !errors.Is(err, ErrKeyEmpty) && !errors.Is(err, ErrKeyTooLong) && !errors.Is(err, ErrKeyBadChar) {
				t.Fatalf("NormalizeKey(%q): unexpected error %v", s, err)
			}
			if out != "" {
				t.Fatalf("NormalizeKey(%q) = %q with error %v", s, out, err)
			}
			return
		}
		if out == "" || len(out) > MaxKeyLen || !utf8.ValidString(out) {
			t.Fatalf("NormalizeKey(%q) accepted %q", s, out)
		}
		if out != strings.TrimFunc(s, isTrimmable) {
			t.Fatalf("NormalizeKey(%q) = %q: changed more than the edges", s, out)
		}
		again, err := NormalizeKey(out)
		if err != nil || again != out {
			t.Fatalf("not idempotent: NormalizeKey(%q) = %q, %v; want %q", out, again, err, out)
		}
		if padded, err := NormalizeKey("\uFEFF \t" + out + "\u00A0\r\n"); err != nil || padded != out {
			t.Fatalf("padding changed the key: %q, %v; want %q", padded, err, out)
		}
	})
}

// FuzzVerifyReceipt checks that VerifyReceipt never panics, refuses with
// ErrReceiptInvalid only, and that what it accepts is canonical: written
// out again from the fields it read, it is the same text, signed by the
// key it names.
func FuzzVerifyReceipt(f *testing.F) {
	valid, err := SignReceipt(testReceiptKey(0), testReceipt())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(strings.ReplaceAll(valid, "\n", "\r\n"))
	f.Add(strings.Replace(valid, "Quantity: 2", "Quantity: 3", 1))
	f.Add(strings.Replace(valid, "Item: ", "Item:  ", 1))
	f.Add(receiptBegin + "\n" + receiptSig + "\n\n" + receiptEnd)
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := VerifyReceipt(s)
		if err != nil {
			if !errors.Is(err, ErrReceiptInvalid) || r.Ref != "" || r.Key != nil {
				t.Fatalf("VerifyReceipt: %v with %+v", err, r)
			}
			return
		}
		lines := strings.Split(strings.Trim(strings.ReplaceAll(s, "\r\n", "\n"), "\n"), "\n")
		if got := receiptBegin + "\n" + r.body() + "\n" + receiptSig + "\n" + lines[len(lines)-2] + "\n" + receiptEnd; got != strings.Join(lines, "\n") {
			t.Fatalf("accepted a non-canonical receipt:\n%s\nvs\n%s", s, got)
		}
		if r.check() != nil || r.Fingerprint != NoticeFingerprint(r.Key) {
			t.Fatalf("accepted %+v", r)
		}
	})
}
