package crypto

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Delivery receipts let a buyer prove, to anyone and without the shop's
// help, what the shop delivered to an order: which product, how many, for
// how much, when (to the hour), until when problems may be reported, and —
// for each key — a commitment that matches the key the buyer holds without
// revealing it. The shop signs the receipt with its notice key, the same
// key whose fingerprint every page shows.
//
// A receipt is a text block in one canonical form (format version 1):
//
//	-----BEGIN VEIL RECEIPT-----
//	Version: 1
//	Key: <base64 ed25519 public key>
//	Issued: 2026-12-03T18:00:00Z
//	Ref: R-7K3M9Q2D
//	Product: game-card-100
//	Product-Name: Game card 100
//	Quantity: 2
//	Amount-Minor: 1980
//	Currency: CNY
//	Status: delivered
//	Delivered: 2026-12-03T17:00:00Z
//	Window-Ends: 2026-12-06T17:00:00Z
//	Item: <item id> <64 hex digits: the commitment>[ <state>]
//	-----BEGIN VEIL SIGNATURE-----
//	<base64 ed25519 signature>
//	-----END VEIL RECEIPT-----
//
// Every field appears once and in this order, then one Item line per key
// delivered (a key that after-sales took back carries its state,
// reported_bad or recalled). Times are UTC on the hour. The signature covers
// "veil-receipt-v1\n" followed by the lines between the first line and the
// signature line, joined by "\n" (no final newline). A verifier accepts only
// the canonical form — CRLF line ends and blank lines around the block
// aside — so one changed byte makes a receipt invalid.
//
// The commitment to a key is
//
//	SHA-256("veil-receipt-commit-v1" || 0x00 || u32be(len ref) || ref ||
//	        u32be(len id) || id || u32be(len key) || key)
//
// over the UTF-8 bytes of the order ref, the item id and the key exactly as
// delivered; the lengths make the encoding unambiguous. It hides a key only
// as well as the key's own randomness: a short or guessable code can be
// found from its commitment by trying candidates.

const (
	receiptBegin = "-----BEGIN VEIL RECEIPT-----"
	receiptSig   = "-----BEGIN VEIL SIGNATURE-----"
	receiptEnd   = "-----END VEIL RECEIPT-----"
	receiptCtx   = "veil-receipt-v1\n"
	commitLabel  = "veil-receipt-commit-v1"
	// ReceiptVersion is the format version SignReceipt writes.
	ReceiptVersion = 1
	// MaxReceiptSize bounds a receipt's text.
	MaxReceiptSize = 1 << 20
	// MaxReceiptItems bounds a receipt's Item lines.
	MaxReceiptItems = 5000
	maxReceiptName  = 256
	maxReceiptID    = 64
)

// ErrReceiptInvalid is a receipt that is malformed, not canonical, or
// whose signature does not verify.
var ErrReceiptInvalid = errors.New("crypto: receipt invalid")

// Receipt is what a delivery receipt states.
type Receipt struct {
	Issued      time.Time // when it was signed, on the hour
	Ref         string    // the public order reference
	Product     string    // the product's slug
	ProductName string
	Quantity    int
	AmountMinor int64
	Currency    string
	Status      string    // the order's status when issued
	Delivered   time.Time // on the hour
	WindowEnds  time.Time // the after-sales window is open at least until then (on the hour)
	Items       []ReceiptItem

	// Key and Fingerprint are the signer's, set by VerifyReceipt.
	Key         ed25519.PublicKey
	Fingerprint string
}

// ReceiptItem is one delivered key as a receipt names it.
type ReceiptItem struct {
	ID         string
	Commitment [32]byte
	State      string // "" for a good key; reported_bad or recalled
}

// ReceiptCommitment is the commitment to key delivered as item id of the
// order ref (see the format above).
func ReceiptCommitment(ref, id, key string) [32]byte {
	h := sha256.New()
	h.Write([]byte(commitLabel))
	h.Write([]byte{0})
	var n [4]byte
	for _, s := range []string{ref, id, key} {
		binary.BigEndian.PutUint32(n[:], uint32(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// Match returns the item whose commitment key matches, trying only the
// item with id when id is not "".
func (r Receipt) Match(id, key string) (ReceiptItem, bool) {
	for _, it := range r.Items {
		if id != "" && it.ID != id {
			continue
		}
		if it.Commitment == ReceiptCommitment(r.Ref, it.ID, key) {
			return it, true
		}
	}
	return ReceiptItem{}, false
}

// SignReceipt signs r with the notice key and returns the block. r's times
// are truncated to the hour; its Key and Fingerprint are ignored.
func SignReceipt(priv ed25519.PrivateKey, r Receipt) (string, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return "", errors.New("crypto: receipt: no signing key")
	}
	r.Issued = r.Issued.UTC().Truncate(time.Hour)
	r.Delivered = r.Delivered.UTC().Truncate(time.Hour)
	r.WindowEnds = r.WindowEnds.UTC().Truncate(time.Hour)
	r.Key = priv.Public().(ed25519.PublicKey)
	if err := r.check(); err != nil {
		return "", err
	}
	body := r.body()
	sig := ed25519.Sign(priv, []byte(receiptCtx+body))
	return receiptBegin + "\n" + body + "\n" + receiptSig + "\n" + base64.StdEncoding.EncodeToString(sig) + "\n" + receiptEnd + "\n", nil
}

// body is the canonical signed text of r.
func (r Receipt) body() string {
	var b strings.Builder
	line := func(name, val string) {
		b.WriteString(name)
		b.WriteString(": ")
		b.WriteString(val)
		b.WriteByte('\n')
	}
	line("Version", strconv.Itoa(ReceiptVersion))
	line("Key", base64.StdEncoding.EncodeToString(r.Key))
	line("Issued", r.Issued.Format(time.RFC3339))
	line("Ref", r.Ref)
	line("Product", r.Product)
	line("Product-Name", r.ProductName)
	line("Quantity", strconv.Itoa(r.Quantity))
	line("Amount-Minor", strconv.FormatInt(r.AmountMinor, 10))
	line("Currency", r.Currency)
	line("Status", r.Status)
	line("Delivered", r.Delivered.Format(time.RFC3339))
	line("Window-Ends", r.WindowEnds.Format(time.RFC3339))
	for _, it := range r.Items {
		v := it.ID + " " + hex.EncodeToString(it.Commitment[:])
		if it.State != "" {
			v += " " + it.State
		}
		line("Item", v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// check refuses what the canonical form cannot carry unambiguously.
func (r Receipt) check() error {
	bad := func(field string) error { return fmt.Errorf("crypto: receipt: %s not representable", field) }
	switch {
	case !receiptToken(r.Ref, 32):
		return bad("ref")
	case !receiptToken(r.Product, maxReceiptID):
		return bad("product")
	case !receiptName(r.ProductName):
		return bad("product name")
	case r.Quantity < 1 || r.Quantity > 1_000_000:
		return bad("quantity")
	case r.AmountMinor < 0 || r.AmountMinor > 1e15:
		return bad("amount")
	case !receiptCurrency(r.Currency):
		return bad("currency")
	case !receiptWord(r.Status):
		return bad("status")
	case len(r.Items) < 1 || len(r.Items) > MaxReceiptItems:
		return bad("items")
	}
	for _, t := range []time.Time{r.Issued, r.Delivered, r.WindowEnds} {
		if t.Year() < 2000 || t.Year() > 9999 || !t.Equal(t.Truncate(time.Hour)) {
			return bad("time")
		}
	}
	for _, it := range r.Items {
		if !receiptToken(it.ID, maxReceiptID) || (it.State != "" && !receiptWord(it.State)) {
			return bad("item")
		}
	}
	return nil
}

// receiptToken: 1 to max printable ASCII characters, no space.
func receiptToken(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// receiptWord: 1 to 32 of a-z and _.
func receiptWord(s string) bool {
	if s == "" || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if (s[i] < 'a' || s[i] > 'z') && s[i] != '_' {
			return false
		}
	}
	return true
}

func receiptCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// receiptName: valid UTF-8, no control or format characters (which could
// hide text or reorder it on screen), no space at either end.
func receiptName(s string) bool {
	if s == "" || len(s) > maxReceiptName || !utf8.ValidString(s) || strings.TrimSpace(s) != s {
		return false
	}
	for _, c := range s {
		if !ReceiptNameRune(c) {
			return false
		}
	}
	return true
}

// ReceiptNameRune reports whether c may appear in a receipt's product
// name; callers drop the others before signing.
func ReceiptNameRune(c rune) bool {
	return c != utf8.RuneError && !unicode.IsControl(c) && !unicode.Is(unicode.Cf, c) &&
		(c == ' ' || !unicode.IsSpace(c))
}

// VerifyReceipt checks a receipt block and returns what it states. It
// proves only that the holder of Key signed it: compare Fingerprint with
// the one the shop's pages show.
func VerifyReceipt(text string) (Receipt, error) {
	if len(text) > MaxReceiptSize {
		return Receipt{}, ErrReceiptInvalid
	}
	text = strings.ReplaceAll(text, "\r\n", "\n")
	text = strings.Trim(text, "\n")
	lines := strings.Split(text, "\n")
	n := len(lines)
	if n < 5 || lines[0] != receiptBegin || lines[n-3] != receiptSig || lines[n-1] != receiptEnd {
		return Receipt{}, ErrReceiptInvalid
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(lines[n-2])
	if err != nil || len(sig) != ed25519.SignatureSize || strings.ContainsAny(lines[n-2], "\r\n") {
		return Receipt{}, ErrReceiptInvalid
	}
	body := lines[1 : n-3]
	r, err := parseReceiptBody(body)
	if err != nil {
		return Receipt{}, ErrReceiptInvalid
	}
	joined := strings.Join(body, "\n")
	if r.body() != joined || !ed25519.Verify(r.Key, []byte(receiptCtx+joined), sig) {
		return Receipt{}, ErrReceiptInvalid
	}
	r.Fingerprint = NoticeFingerprint(r.Key)
	return r, nil
}

// parseReceiptBody reads the fields in their fixed order; VerifyReceipt
// then insists that writing them out again gives the same text.
func parseReceiptBody(lines []string) (Receipt, error) {
	fixed := []string{"Version", "Key", "Issued", "Ref", "Product", "Product-Name", "Quantity",
		"Amount-Minor", "Currency", "Status", "Delivered", "Window-Ends"}
	if len(lines) <= len(fixed) || len(lines)-len(fixed) > MaxReceiptItems {
		return Receipt{}, ErrReceiptInvalid
	}
	val := func(i int, name string) (string, bool) {
		return strings.CutPrefix(lines[i], name+": ")
	}
	var r Receipt
	var err error
	when := func(s string) time.Time {
		t, e := time.Parse(time.RFC3339, s)
		if e != nil {
			err = e
		}
		return t.UTC()
	}
	for i, name := range fixed {
		v, ok := val(i, name)
		if !ok {
			return Receipt{}, ErrReceiptInvalid
		}
		switch name {
		case "Version":
			if v != strconv.Itoa(ReceiptVersion) {
				return Receipt{}, ErrReceiptInvalid
			}
		case "Key":
			b, e := base64.StdEncoding.Strict().DecodeString(v)
			if e != nil || len(b) != ed25519.PublicKeySize {
				return Receipt{}, ErrReceiptInvalid
			}
			r.Key = b
		case "Issued":
			r.Issued = when(v)
		case "Ref":
			r.Ref = v
		case "Product":
			r.Product = v
		case "Product-Name":
			r.ProductName = v
		case "Quantity":
			r.Quantity, err = strconv.Atoi(v)
		case "Amount-Minor":
			r.AmountMinor, err = strconv.ParseInt(v, 10, 64)
		case "Currency":
			r.Currency = v
		case "Status":
			r.Status = v
		case "Delivered":
			r.Delivered = when(v)
		case "Window-Ends":
			r.WindowEnds = when(v)
		}
		if err != nil {
			return Receipt{}, ErrReceiptInvalid
		}
	}
	for i := len(fixed); i < len(lines); i++ {
		v, ok := val(i, "Item")
		if !ok {
			return Receipt{}, ErrReceiptInvalid
		}
		f := strings.Split(v, " ")
		if len(f) < 2 || len(f) > 3 || len(f[1]) != 64 {
			return Receipt{}, ErrReceiptInvalid
		}
		var it ReceiptItem
		it.ID = f[0]
		if _, e := hex.Decode(it.Commitment[:], []byte(f[1])); e != nil {
			return Receipt{}, ErrReceiptInvalid
		}
		if len(f) == 3 {
			it.State = f[2]
		}
		r.Items = append(r.Items, it)
	}
	if r.check() != nil {
		return Receipt{}, ErrReceiptInvalid
	}
	return r, nil
}
