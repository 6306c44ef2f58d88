package shop

import (
	"encoding/binary"
	"errors"

	"veil/server/store"
)

// How an inventory key is stored (issue 15, "write less"): key/<kid> holds
// keyRecordFormat, then id, product, batch, state, order and the
// ciphertext, each a uvarint length and the bytes (about 130 bytes for a
// key in stock, 80 once delivered, against 220 and 130 as JSON with the
// ciphertext in base64). A purchase writes a key's record twice (reserved,
// delivered). Records written before are JSON (a value starting with '{')
// and are read as such; the next write of a key stores it in binary.
const keyRecordFormat = 0x01

var errKeyRecord = errors.New("shop: decode key record: malformed")

// getKeyRec reads the record of the key kid into rec.
func getKeyRec(tx *store.Txn, kid string, rec *keyRecord) error {
	v, err := tx.Get(pKey + kid)
	if err != nil {
		return err
	}
	return decodeKeyRec(v, rec)
}

// putKeyRec writes rec as the record of the key kid.
func putKeyRec(tx *store.Txn, kid string, rec keyRecord) error {
	return tx.Set(pKey+kid, encodeKeyRec(rec))
}

func encodeKeyRec(r keyRecord) []byte {
	b := make([]byte, 0, 16+len(r.ID)+len(r.Product)+len(r.Batch)+len(r.State)+len(r.Order)+len(r.CT))
	b = append(b, keyRecordFormat)
	for _, s := range []string{r.ID, r.Product, r.Batch, string(r.State), r.Order} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = binary.AppendUvarint(b, uint64(len(r.CT)))
	return append(b, r.CT...)
}

func decodeKeyRec(v []byte, rec *keyRecord) error {
	if len(v) > 0 && v[0] == '{' {
		*rec = keyRecord{}
		return jsonUnmarshal(v, rec)
	}
	if len(v) == 0 || v[0] != keyRecordFormat {
		return errKeyRecord
	}
	d := decoder{b: v[1:]}
	r := keyRecord{ID: d.str(), Product: d.str(), Batch: d.str(), State: KeyState(d.str()), Order: d.str()}
	if ct := d.bytes(); len(ct) > 0 {
		r.CT = append([]byte(nil), ct...)
	}
	if d.err != nil || len(d.b) != 0 {
		return errKeyRecord
	}
	*rec = r
	return nil
}
