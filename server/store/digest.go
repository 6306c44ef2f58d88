package store

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash"

	"github.com/dgraph-io/badger/v4"
)

// digestDomain starts every store digest; a new layout of the digest gets a
// new line.
const digestDomain = "veil-store-digest v1\n"

// Digest is the canonical SHA-256 of the store's logical content: every
// live key in key order (all of them, not only this keyspace version's),
// its latest value, and the two per-key attributes Badger keeps beside a
// value (user meta and expiry, which veil never sets, so that a loaded store
// cannot hide a key that vanishes later), each length-prefixed:
//
//	"veil-store-digest v1\n"
//	per key: u32 len(key) || key || u8 user meta || u64 expires-at || u64 len(value) || value
//	u64 number of keys
//
// Two stores with the same digest answer every read alike, however their
// files differ (versions, compaction, value-log layout). Backups sealed
// without the passphrase are checked against it (crypto.StoreSeal). It reads
// one snapshot; a store that panics on a corrupt value (a loaded, forged
// backup) is an error, not a crash.
func (db *DB) Digest() (sum []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("store: digest: corrupt store: %v", p)
		}
	}()
	h := sha256.New()
	h.Write([]byte(digestDomain))
	var n uint64
	err = db.View(func(tx *Txn) error {
		it := tx.t.NewIterator(badger.IteratorOptions{PrefetchValues: false})
		defer it.Close()
		var buf []byte
		for it.Rewind(); it.Valid(); it.Next() {
			item := it.Item()
			var err error
			if buf, err = item.ValueCopy(buf[:0]); err != nil {
				return fmt.Errorf("store: digest: %w", err)
			}
			digestEntry(h, item.Key(), item.UserMeta(), item.ExpiresAt(), buf)
			n++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	h.Write(binary.BigEndian.AppendUint64(nil, n))
	return h.Sum(nil), nil
}

func digestEntry(h hash.Hash, key []byte, userMeta byte, expiresAt uint64, value []byte) {
	var hdr [4 + 1 + 8 + 8]byte
	binary.BigEndian.PutUint32(hdr[0:], uint32(len(key)))
	h.Write(hdr[:4])
	h.Write(key)
	hdr[4] = userMeta
	binary.BigEndian.PutUint64(hdr[5:], expiresAt)
	binary.BigEndian.PutUint64(hdr[13:], uint64(len(value)))
	h.Write(hdr[4:])
	h.Write(value)
}
