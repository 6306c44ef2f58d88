package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

func digestOf(t *testing.T, db *DB) []byte {
	t.Helper()
	d, err := db.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func set(t *testing.T, db *DB, kv ...string) {
	t.Helper()
	err := db.Update(func(tx *Txn) error {
		for i := 0; i < len(kv); i += 2 {
			if err := tx.Set(kv[i], []byte(kv[i+1])); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDigest checks that the digest depends on the logical content alone:
// the same keys and values reached by different histories, reopened, or
// moved through Backup and Load digest alike, and any change to a key, a
// value, or an expiry changes it.
func TestDigest(t *testing.T) {
	a := open(t, t.TempDir())
	defer a.Close()
	set(t, a, "order/1", "one", "order/2", "two", "vault", "sealed")
	want := digestOf(t, a)

	// The spec, written out again.
	h := sha256.New()
	h.Write([]byte("veil-store-digest v1\n"))
	for _, kv := range [][2]string{{"v1/order/1", "one"}, {"v1/order/2", "two"}, {"v1/vault", "sealed"}} {
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(kv[0]))))
		h.Write([]byte(kv[0]))
		h.Write(make([]byte, 1+8))
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(kv[1]))))
		h.Write([]byte(kv[1]))
	}
	h.Write(binary.BigEndian.AppendUint64(nil, 3))
	if !bytes.Equal(want, h.Sum(nil)) {
		t.Fatal("the digest is not the documented one")
	}

	dir := t.TempDir()
	b := open(t, dir)
	set(t, b, "vault", "old", "order/2", "two", "gone", "x")
	set(t, b, "vault", "sealed", "order/1", "one")
	if err := b.Update(func(tx *Txn) error { return tx.Delete("gone") }); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(digestOf(t, b), want) {
		t.Fatal("another history of the same content digests differently")
	}
	b.Close()
	b = open(t, dir)
	if !bytes.Equal(digestOf(t, b), want) {
		t.Fatal("reopening changed the digest")
	}
	var stream bytes.Buffer
	if err := b.Backup(&stream); err != nil {
		t.Fatal(err)
	}
	b.Close()
	c := open(t, t.TempDir())
	defer c.Close()
	if err := c.Load(bytes.NewReader(stream.Bytes())); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(digestOf(t, c), want) {
		t.Fatal("backup and load changed the digest")
	}

	for name, change := range map[string]func(db *DB){
		"value":       func(db *DB) { set(t, db, "order/2", "twO") },
		"added key":   func(db *DB) { set(t, db, "order/3", "") },
		"deleted key": func(db *DB) { db.Update(func(tx *Txn) error { return tx.Delete("order/1") }) },
		"key moved": func(db *DB) {
			set(t, db, "order/10", "one")
			db.Update(func(tx *Txn) error { return tx.Delete("order/1") })
		},
		"outside v1/": func(db *DB) { rawUpdate(t, db, func(tx *badger.Txn) error { return tx.Set([]byte("v2/x"), nil) }) },
		"expiry added": func(db *DB) {
			rawUpdate(t, db, func(tx *badger.Txn) error {
				return tx.SetEntry(badger.NewEntry([]byte("v1/vault"), []byte("sealed")).WithTTL(time.Hour))
			})
		},
		"user meta": func(db *DB) {
			rawUpdate(t, db, func(tx *badger.Txn) error {
				return tx.SetEntry(badger.NewEntry([]byte("v1/vault"), []byte("sealed")).WithMeta(1))
			})
		},
	} {
		t.Run(name, func(t *testing.T) {
			db := open(t, t.TempDir())
			defer db.Close()
			set(t, db, "order/1", "one", "order/2", "two", "vault", "sealed")
			if !bytes.Equal(digestOf(t, db), want) {
				t.Fatal("setup")
			}
			change(db)
			if bytes.Equal(digestOf(t, db), want) {
				t.Fatal("the change left the digest as it was")
			}
		})
	}
}

// rawUpdate writes straight to Badger (what veil never does: keys outside
// the keyspace, TTLs, user meta), at a version past everything, and moves
// the store's clock there so that reads see it.
func rawUpdate(t *testing.T, db *DB, fn func(*badger.Txn) error) {
	t.Helper()
	ts := db.bdb.MaxVersion() + 1
	txn := db.bdb.NewTransactionAt(ts, true)
	defer txn.Discard()
	if err := fn(txn); err != nil {
		t.Fatal(err)
	}
	if err := txn.CommitAt(ts, nil); err != nil {
		t.Fatal(err)
	}
	db.refreshClock()
}
