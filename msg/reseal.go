package msg

import (
	"encoding/json"
	"fmt"
	"strings"

	"filippo.io/age"

	"veil/crypto"
	"veil/server/store"
)

// CountSealed counts the messages of every thread (the total a support key
// rotation re-seals).
func (t *Threads) CountSealed() (n int, err error) {
	err = t.db.View(func(tx *store.Txn) error {
		return tx.Iterate("thread/", "", true, func(k string, _ []byte) error {
			if isMsgKey(k) {
				n++
			}
			return nil
		})
	})
	return n, err
}

// isMsgKey tells thread/<ref>/<seq> from the head thread/<ref>.
func isMsgKey(k string) bool { return strings.Count(k, "/") == 2 }

// ResealTx re-seals, inside tx, up to limit messages of all threads after
// the store key after ("" for the first): each is opened with open (the
// merchant's support identities, old and new) and sealed again, with the
// same plaintext, to the recipients to returns for its thread's order (none:
// the message is left as it is). It returns the last key handled and how
// many keys it handled; fewer than limit means the end was reached. The
// support key rotation calls it with its durable cursor.
func (t *Threads) ResealTx(tx *store.Txn, after string, limit int, open age.Identity,
	to func(ref string) ([]age.Recipient, error)) (last string, n int, err error) {
	type file struct{ k, ref string }
	var files []file
	start := ""
	if after != "" {
		start = after + "\x00"
	}
	var cts [][]byte
	err = tx.Iterate("thread/", start, false, func(k string, v []byte) error {
		if len(files) == limit {
			return store.ErrStop
		}
		if !isMsgKey(k) {
			return nil
		}
		ref := strings.Split(k, "/")[1]
		files = append(files, file{k, ref})
		cts = append(cts, v)
		return nil
	})
	if err != nil {
		return "", 0, fmt.Errorf("msg: reseal: %w", err)
	}
	for i, f := range files {
		rs, err := to(f.ref)
		if err != nil {
			return "", 0, err
		}
		last = f.k
		if len(rs) == 0 {
			continue
		}
		pt, err := crypto.Open(cts[i], open)
		if err != nil {
			return "", 0, fmt.Errorf("msg: reseal %s of %s: %w", f.k[strings.LastIndexByte(f.k, '/')+1:], f.ref, err)
		}
		if !json.Valid(pt) {
			clear(pt)
			return "", 0, fmt.Errorf("msg: reseal a message of %s: %w", f.ref, ErrThreadCorrupt)
		}
		ct, err := crypto.Seal(pt, rs...)
		clear(pt)
		if err != nil {
			return "", 0, err
		}
		if err := tx.Set(f.k, ct); err != nil {
			return "", 0, err
		}
	}
	return last, len(files), nil
}
