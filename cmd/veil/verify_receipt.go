package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"veil/crypto"
)

// cmdVerifyReceipt checks a delivery receipt offline: its signature, with
// --fingerprint the key that signed it, and with --key that the key the
// buyer holds is one the receipt commits to (--item narrows it to one item,
// by id or by position from 1).
func cmdVerifyReceipt(args []string, stdin io.Reader, stdout io.Writer) error {
	fs := newFlags("verify-receipt")
	in := fs.String("in", "", "file holding the receipt (- for standard input)")
	want := fs.String("fingerprint", "", "the fingerprint shown in the shop's footer")
	key := fs.String("key", "", "a key you received, to prove it was delivered with this order")
	item := fs.String("item", "", "with --key: the item it was delivered as (its id, or its position from 1)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *in == "" {
		return usagef("verify-receipt: --in is required")
	}
	if *item != "" && *key == "" {
		return usagef("verify-receipt: --item needs --key")
	}
	var b []byte
	var err error
	if *in == "-" {
		b, err = io.ReadAll(io.LimitReader(stdin, crypto.MaxReceiptSize+1))
	} else {
		b, err = readLimited(*in, crypto.MaxReceiptSize+1)
	}
	if err != nil {
		return err
	}
	r, err := crypto.VerifyReceipt(string(b))
	if err != nil {
		return fmt.Errorf("the receipt is not validly signed (or was changed)")
	}
	norm := func(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), "")) }
	if *want != "" && norm(*want) != norm(r.Fingerprint) {
		return fmt.Errorf("signed by key %s, not %s", r.Fingerprint, *want)
	}
	fmt.Fprintf(stdout, "good receipt signed by key %s, issued %s\n", r.Fingerprint, r.Issued.Format("2006-01-02 15:00 UTC"))
	fmt.Fprintf(stdout, "order %s: %d × %s (%s), amount %d %s minor units, status %s\n", r.Ref, r.Quantity, r.ProductName, r.Product,
		r.AmountMinor, r.Currency, r.Status)
	fmt.Fprintf(stdout, "delivered %s; after-sales open at least until %s\n", r.Delivered.Format("2006-01-02 15:00 UTC"), r.WindowEnds.Format("2006-01-02 15:00 UTC"))
	for i, it := range r.Items {
		state := ""
		if it.State != "" {
			state = " (" + it.State + ")"
		}
		fmt.Fprintf(stdout, "  item %d: %s%s\n", i+1, it.ID, state)
	}
	if *key != "" {
		k, err := crypto.NormalizeKey(*key)
		if err != nil {
			return usagef("verify-receipt: --key: %v", err)
		}
		id := *item
		if n, ok := position(id, len(r.Items)); ok {
			id = r.Items[n-1].ID
		}
		it, ok := r.Match(id, k)
		if !ok {
			if id != "" {
				return fmt.Errorf("the key is not the one delivered as item %s of this receipt", *item)
			}
			return fmt.Errorf("the key is not one this receipt commits to")
		}
		fmt.Fprintf(stdout, "the key was delivered as item %s of order %s\n", it.ID, r.Ref)
	}
	if *want == "" {
		fmt.Fprintln(stdout, "compare the key with the fingerprint in the shop's footer (or pass --fingerprint)")
	}
	return nil
}

// position reads s as an item position from 1 to n.
func position(s string, n int) (int, bool) {
	if s == "" || len(s) > 6 {
		return 0, false
	}
	v := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, v >= 1 && v <= n
}

// readLimited reads at most max bytes of a file (a receipt larger than that
// is invalid anyway).
func readLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, max))
}
