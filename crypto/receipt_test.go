package crypto

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

func testReceipt() Receipt {
	at := time.Date(2026, 12, 3, 17, 42, 9, 0, time.UTC)
	r := Receipt{
		Issued: at.Add(time.Hour), Ref: "R-7K3M9Q2D", Product: "game-card-100", ProductName: "游戏点卡 100",
		Quantity: 2, AmountMinor: 1980, Currency: "CNY", Status: "delivered",
		Delivered: at, WindowEnds: at.Add(72 * time.Hour),
	}
	for _, it := range []struct{ id, key, state string }{{"b1-000001", "AAAA-BBBB-CCCC", ""}, {"b1-000002", "DDDD-EEEE-FFFF", "reported_bad"}} {
		r.Items = append(r.Items, ReceiptItem{ID: it.id, Commitment: ReceiptCommitment(r.Ref, it.id, it.key), State: it.state})
	}
	return r
}

func testReceiptKey(b byte) ed25519.PrivateKey {
	seed := make([]byte, ed25519.SeedSize)
	seed[0] = b
	return ed25519.NewKeyFromSeed(seed)
}

// The commitment's byte encoding is part of the format: a known answer
// pins it (label, NUL, then each field with a 4-byte big-endian length).
func TestReceiptCommitmentKnownAnswer(t *testing.T) {
	c := ReceiptCommitment("R-7K3M9Q2D", "b1-000001", "AAAA-BBBB-CCCC")
	if got := hex.EncodeToString(c[:]); got != receiptKAT {
		t.Fatalf("commitment %s, want %s", got, receiptKAT)
	}
	// Moving a byte from one field to the next changes the commitment.
	if ReceiptCommitment("R-7K3M9Q2", "Db1-000001", "AAAA-BBBB-CCCC") == c || ReceiptCommitment("R-7K3M9Q2D", "b1-00000", "1AAAA-BBBB-CCCC") == c {
		t.Fatal("field boundaries are ambiguous")
	}
}

// receiptKAT is sha256("veil-receipt-commit-v1\x00" ||
// "\x00\x00\x00\x0aR-7K3M9Q2D" || "\x00\x00\x00\x09b1-000001" ||
// "\x00\x00\x00\x0eAAAA-BBBB-CCCC"), computed independently with
// printf … | sha256sum.
const receiptKAT = "8221db608a3b39b1124329e7dbad9d327a85654843d39c3a37f1e1c8e6f94570"

func TestReceiptSignVerify(t *testing.T) {
	priv := testReceiptKey(0)
	block, err := SignReceipt(priv, testReceipt())
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string]string{
		"as signed":        block,
		"CRLF":             strings.ReplaceAll(block, "\n", "\r\n"),
		"blank lines":      "\n\n" + block + "\n",
		"no final newline": strings.TrimSuffix(block, "\n"),
	} {
		r, err := VerifyReceipt(in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := testReceipt()
		if r.Ref != want.Ref || r.ProductName != want.ProductName || r.Quantity != 2 || r.AmountMinor != 1980 ||
			r.Currency != "CNY" || r.Status != "delivered" || len(r.Items) != 2 || r.Items[1].State != "reported_bad" {
			t.Fatalf("%s: %+v", name, r)
		}
		if !r.Delivered.Equal(time.Date(2026, 12, 3, 17, 0, 0, 0, time.UTC)) || !r.Issued.Equal(time.Date(2026, 12, 3, 18, 0, 0, 0, time.UTC)) ||
			!r.WindowEnds.Equal(time.Date(2026, 12, 6, 17, 0, 0, 0, time.UTC)) {
			t.Fatalf("%s: times not on the hour: %v %v %v", name, r.Issued, r.Delivered, r.WindowEnds)
		}
		if r.Fingerprint != NoticeFingerprint(priv.Public().(ed25519.PublicKey)) {
			t.Fatalf("%s: fingerprint %q", name, r.Fingerprint)
		}
	}
	if strings.Contains(block, "17:42") || strings.Contains(block, "AAAA-BBBB") {
		t.Fatalf("receipt shows a key or a time finer than the hour:\n%s", block)
	}

	// Another key signs a receipt just as valid, but it shows another
	// fingerprint: the buyer compares it with the shop's.
	other, _ := SignReceipt(testReceiptKey(1), testReceipt())
	r2, err := VerifyReceipt(other)
	if err != nil || r2.Fingerprint == NoticeFingerprint(priv.Public().(ed25519.PublicKey)) {
		t.Fatalf("another key's receipt: %v, fingerprint %q", err, r2.Fingerprint)
	}
	// Swapping in the other key's signature or key line breaks it.
	ol := strings.Split(other, "\n")
	bl := strings.Split(block, "\n")
	for name, lines := range map[string][]string{
		"foreign signature": append(append(append([]string{}, bl[:len(bl)-3]...), ol[len(ol)-3]), bl[len(bl)-2:]...),
		"foreign key line":  append(append(append([]string{}, bl[:2]...), ol[2]), bl[3:]...),
	} {
		if _, err := VerifyReceipt(strings.Join(lines, "\n")); !errors.Is(err, ErrReceiptInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// Every single byte changed, anywhere in the block, makes it invalid.
func TestReceiptOneByteChanged(t *testing.T) {
	block, err := SignReceipt(testReceiptKey(0), testReceipt())
	if err != nil {
		t.Fatal(err)
	}
	end := len(strings.TrimRight(block, "\n"))
	for i := 0; i < end; i++ {
		for _, c := range []byte{'x', '0', ' ', '\n', block[i] ^ 0x20} {
			if c == block[i] {
				continue
			}
			b := []byte(block)
			b[i] = c
			if _, err := VerifyReceipt(string(b)); err == nil {
				t.Fatalf("byte %d changed from %q to %q: still valid", i, block[i], c)
			}
		}
	}
	// Dropping or adding a byte, too.
	for i := 0; i < end; i++ {
		if _, err := VerifyReceipt(block[:i] + block[i+1:]); err == nil {
			t.Fatalf("byte %d dropped: still valid", i)
		}
	}
}

func TestReceiptNotCanonical(t *testing.T) {
	priv := testReceiptKey(0)
	block, _ := SignReceipt(priv, testReceipt())
	// Re-signing a non-canonical body must not help: the verifier reads the
	// fields and insists they are written back the same way.
	resign := func(body string) string {
		sig := ed25519.Sign(priv, []byte(receiptCtx+body))
		return receiptBegin + "\n" + body + "\n" + receiptSig + "\n" + base64.StdEncoding.EncodeToString(sig) + "\n" + receiptEnd + "\n"
	}
	body := testReceipt()
	body.Key = priv.Public().(ed25519.PublicKey)
	body.Issued, body.Delivered, body.WindowEnds = body.Issued.Truncate(time.Hour), body.Delivered.Truncate(time.Hour), body.WindowEnds.Truncate(time.Hour)
	canon := body.body()
	if _, err := VerifyReceipt(resign(canon)); err != nil {
		t.Fatalf("canonical re-signed: %v", err)
	}
	if resign(canon) != block {
		t.Fatal("SignReceipt is not the canonical form")
	}
	for name, b := range map[string]string{
		"leading zero":     strings.Replace(canon, "Amount-Minor: 1980", "Amount-Minor: 01980", 1),
		"negative amount":  strings.Replace(canon, "Amount-Minor: 1980", "Amount-Minor: -1980", 1),
		"offset time":      strings.Replace(canon, "Issued: 2026-12-03T18:00:00Z", "Issued: 2026-12-04T02:00:00+08:00", 1),
		"minutes":          strings.Replace(canon, "Issued: 2026-12-03T18:00:00Z", "Issued: 2026-12-03T18:01:00Z", 1),
		"upper hex":        strings.Replace(canon, hex.EncodeToString(body.Items[0].Commitment[:]), strings.ToUpper(hex.EncodeToString(body.Items[0].Commitment[:])), 1),
		"fields swapped":   strings.Replace(strings.Replace(canon, "Currency: CNY\n", "", 1), "Amount-Minor: 1980\n", "Currency: CNY\nAmount-Minor: 1980\n", 1),
		"field twice":      strings.Replace(canon, "Status: delivered\n", "Status: delivered\nStatus: refunded\n", 1),
		"unknown field":    strings.Replace(canon, "Status: delivered\n", "Status: delivered\nNote: hi\n", 1),
		"trailing space":   strings.Replace(canon, "Ref: R-7K3M9Q2D", "Ref: R-7K3M9Q2D ", 1),
		"version 2":        strings.Replace(canon, "Version: 1", "Version: 2", 1),
		"no items":         canon[:strings.Index(canon, "\nItem: ")],
		"bidi in name":     strings.Replace(canon, "游戏点卡 100", "游戏\u202e点卡 100", 1),
		"item extra field": strings.Replace(canon, " reported_bad", " reported_bad x", 1),
	} {
		if _, err := VerifyReceipt(resign(b)); !errors.Is(err, ErrReceiptInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestReceiptMatch(t *testing.T) {
	block, _ := SignReceipt(testReceiptKey(0), testReceipt())
	r, err := VerifyReceipt(block)
	if err != nil {
		t.Fatal(err)
	}
	if it, ok := r.Match("", "DDDD-EEEE-FFFF"); !ok || it.ID != "b1-000002" {
		t.Fatalf("match any: %+v %v", it, ok)
	}
	if it, ok := r.Match("b1-000001", "AAAA-BBBB-CCCC"); !ok || it.ID != "b1-000001" {
		t.Fatalf("match item: %+v %v", it, ok)
	}
	for _, c := range [][2]string{{"b1-000002", "AAAA-BBBB-CCCC"}, {"", "AAAA-BBBB-CCCD"}, {"", "aaaa-bbbb-cccc"}, {"b9", "AAAA-BBBB-CCCC"}} {
		if _, ok := r.Match(c[0], c[1]); ok {
			t.Errorf("Match(%q, %q) matched", c[0], c[1])
		}
	}
}

func TestSignReceiptRefuses(t *testing.T) {
	priv := testReceiptKey(0)
	for name, f := range map[string]func(*Receipt){
		"newline in name":  func(r *Receipt) { r.ProductName = "a\nItem: x" },
		"space in ref":     func(r *Receipt) { r.Ref = "R-1 2" },
		"no items":         func(r *Receipt) { r.Items = nil },
		"space in item id": func(r *Receipt) { r.Items[0].ID = "a b" },
		"currency":         func(r *Receipt) { r.Currency = "cny" },
		"state":            func(r *Receipt) { r.Items[0].State = "Bad State" },
		"zero quantity":    func(r *Receipt) { r.Quantity = 0 },
	} {
		r := testReceipt()
		f(&r)
		if _, err := SignReceipt(priv, r); err == nil {
			t.Errorf("%s: signed", name)
		}
	}
	if _, err := SignReceipt(nil, testReceipt()); err == nil {
		t.Error("signed without a key")
	}
}

// The worked example of server/API.md, byte for byte: the all-zero seed's
// key signs it (ed25519 is deterministic), so the format cannot drift from
// its documentation.
func TestReceiptWorkedExample(t *testing.T) {
	const example = `-----BEGIN VEIL RECEIPT-----
Version: 1
Key: O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik=
Issued: 2026-12-03T18:00:00Z
Ref: R-7K3M9Q2D
Product: game-card-100
Product-Name: Game card 100
Quantity: 1
Amount-Minor: 990
Currency: CNY
Status: delivered
Delivered: 2026-12-03T17:00:00Z
Window-Ends: 2026-12-06T17:00:00Z
Item: b1-000001 8221db608a3b39b1124329e7dbad9d327a85654843d39c3a37f1e1c8e6f94570
-----BEGIN VEIL SIGNATURE-----
THXeihNUukhxhOyBcoTjlPt/siLAHJne+AXZx0Z/8JWMrgk5Uq/J6n6xX/g1pkV49PXOw2jtH8wNsxtd5GDhAw==
-----END VEIL RECEIPT-----
`
	at := time.Date(2026, 12, 3, 17, 0, 0, 0, time.UTC)
	r := Receipt{Issued: at.Add(time.Hour), Ref: "R-7K3M9Q2D", Product: "game-card-100", ProductName: "Game card 100",
		Quantity: 1, AmountMinor: 990, Currency: "CNY", Status: "delivered", Delivered: at, WindowEnds: at.Add(72 * time.Hour),
		Items: []ReceiptItem{{ID: "b1-000001", Commitment: ReceiptCommitment("R-7K3M9Q2D", "b1-000001", "AAAA-BBBB-CCCC")}}}
	if got, err := SignReceipt(testReceiptKey(0), r); err != nil || got != example {
		t.Fatalf("SignReceipt = %v\n%s", err, got)
	}
	v, err := VerifyReceipt(example)
	if err != nil || v.Fingerprint != "139e 3940 e64b 5491 7220 88d9 a0d7 4162" {
		t.Fatalf("verify: %v %q", err, v.Fingerprint)
	}
	if _, ok := v.Match("", "AAAA-BBBB-CCCC"); !ok {
		t.Fatal("the example's key does not match")
	}
}
