package shop

import (
	"errors"
	"fmt"
	"testing"

	"veil/crypto"
	"veil/msg"
	"veil/server/store"
)

// openRotEnv opens dir with the support threads wired in, as veil does.
func openRotEnv(t *testing.T, dir string, c *clock, done ...func(Rotation)) (*env, *msg.Threads) {
	t.Helper()
	var onDone func(Rotation)
	if len(done) > 0 {
		onDone = done[0]
	}
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	th := msg.NewThreads(db, nil)
	sh, err := New(db, Config{Now: c.Now, VaultWorkFactor: 10, Threads: th, OnRotationDone: onDone})
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, dir: dir, db: db, shop: sh, clock: c}, th
}

// storedVault opens the vault as stored, with the passphrase.
func storedVault(t *testing.T, e *env, pass string) *crypto.Vault {
	t.Helper()
	v, next, err := e.shop.openSealed(pass)
	if err != nil {
		t.Fatal(err)
	}
	if next != nil {
		t.Fatal("a finished rotation left its next vault behind")
	}
	return v
}

// TestInventoryRotationResumesAfterCrash: the job re-seals batch data keys
// in chunks with a durable cursor; stopped after one chunk and reopened, it
// resumes, and at the end the old identity is gone and every key still
// sells.
func TestInventoryRotationResumesAfterCrash(t *testing.T) {
	dir, c := t.TempDir(), newClock()
	e, _ := openRotEnv(t, dir, c)
	if _, err := e.shop.InitVault(testPass); err != nil {
		t.Fatal(err)
	}
	p := e.product("game", Unique)
	const batches = rotationChunk + 8
	keys := keyList("ROT", batches)
	for _, k := range keys {
		e.importKeys(p.ID, []string{k})
	}
	old := storedVault(t, e, testPass).Inventory
	if _, _, err := e.shop.StartRotation("inventory", "wrong passphrase"); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong passphrase: %v", err)
	}
	r, _, err := e.shop.StartRotation("inventory", testPass)
	if err != nil || r.State != RotationRunning || r.Total != batches {
		t.Fatalf("start: %+v %v", r, err)
	}
	if _, _, err := e.shop.StartRotation("support", testPass); !errors.Is(err, ErrRotationRunning) {
		t.Fatalf("second rotation while one runs: %v", err)
	}
	if r, err = e.shop.RotationStep(); err != nil || r.Done != rotationChunk || r.State != RotationRunning {
		t.Fatalf("first chunk: %+v %v", r, err)
	}
	// Stop mid-way, as a crash would, and start again.
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	var finished []Rotation
	e, _ = openRotEnv(t, dir, c, func(r Rotation) { finished = append(finished, r) })
	defer e.db.Close()
	if r, err := e.shop.RotationStep(); !errors.Is(err, ErrLocked) || r.Done != rotationChunk {
		t.Fatalf("locked after the restart: %+v %v", r, err)
	}
	if err := e.shop.Unlock(testPass); err != nil {
		t.Fatal(err)
	}
	// A key of a batch the job has not reached yet still sells.
	pl := e.buy(p.ID, 1)
	e.pay(pl.Order)
	sold := map[string]bool{}
	for _, k := range e.keysOf(pl.Token) {
		sold[k] = true
	}
	if len(sold) != 1 {
		t.Fatalf("sold mid-rotation: %v", sold)
	}
	for r.State == RotationRunning {
		if r, err = e.shop.RotationStep(); err != nil {
			t.Fatal(err)
		}
	}
	if r.Done != batches || r.Finished.IsZero() {
		t.Fatalf("done: %+v", r)
	}
	if len(finished) != 1 || finished[0].Which != "inventory" {
		t.Fatalf("OnRotationDone (the audit entry) ran for %+v", finished)
	}
	v := storedVault(t, e, testPass)
	if v.OldInventory != nil || v.Inventory.Recipient() == old.Recipient() || e.shop.Public().Inventory != v.Inventory.Recipient() {
		t.Fatal("the old inventory identity is still in the vault, or the new one is not current")
	}
	n := 0
	err = e.db.View(func(tx *store.Txn) error {
		return tx.Iterate(pBatch, "", false, func(k string, val []byte) error {
			var b Batch
			if err := tx.GetJSON(k, &b); err != nil {
				return err
			}
			if _, err := crypto.OpenDataKey(b.SealedDataKey, v.Inventory.Age()); err != nil {
				return fmt.Errorf("batch %s does not open with the new identity: %w", b.ID, err)
			}
			if _, err := crypto.OpenDataKey(b.SealedDataKey, old.Age()); err == nil {
				return fmt.Errorf("batch %s still opens with the old identity", b.ID)
			}
			n++
			return nil
		})
	})
	if err != nil || n != batches {
		t.Fatalf("%d batches checked: %v", n, err)
	}
	// Every key in stock still opens after the old identity is gone (fresh
	// unlock: no data key cached from before).
	e.shop.Lock()
	if err := e.shop.Unlock(testPass); err != nil {
		t.Fatal(err)
	}
	err = e.db.View(func(tx *store.Txn) error {
		return tx.Iterate(pKey, "", false, func(k string, val []byte) error {
			var rec keyRecord
			var b Batch
			if err := decodeKeyRec(val, &rec); err != nil || rec.CT == nil {
				return err
			}
			if err := tx.GetJSON(pBatch+rec.Batch, &b); err != nil {
				return err
			}
			dk, err := e.shop.batchKey(&b)
			if err != nil {
				return err
			}
			pt, err := dk.OpenItem(rec.ID, rec.CT)
			if err != nil {
				return err
			}
			sold[string(pt)] = true
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if !sold[k] {
			t.Fatalf("key %s neither sold nor readable in stock after the rotation", k)
		}
	}
}

// TestSupportRotation: threads are re-sealed to the new support identity;
// the buyer still reads them with the order identity, staff with the new
// support identity, and the old one opens nothing.
func TestSupportRotation(t *testing.T) {
	dir, c := t.TempDir(), newClock()
	e, th := openRotEnv(t, dir, c)
	defer func() { e.db.Close() }()
	if _, err := e.shop.InitVault(testPass); err != nil {
		t.Fatal(err)
	}
	p := e.product("game", Unique)
	e.importKeys(p.ID, keyList("SUP", 1))
	pl := e.buy(p.ID, 1)
	e.pay(pl.Order)
	const msgs = rotationChunk + 3
	for i := range msgs {
		if _, err := th.Append(pl.Order.Ref, []string{pl.Order.RecipientString(), e.shop.Public().Support},
			msg.Message{From: msg.FromBuyer, Text: fmt.Sprintf("message %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	old := storedVault(t, e, testPass).Support
	r, _, err := e.shop.StartRotation("support", testPass)
	if err != nil || r.Total != msgs {
		t.Fatalf("start: %+v %v", r, err)
	}
	if _, err := e.shop.RotationStep(); err != nil {
		t.Fatal(err)
	}
	// Mid-way, staff read the whole thread (old and new identity).
	sup, _ := e.shop.SupportIdentity()
	if got, _, err := th.Read(pl.Order.Ref, sup, 0, 100); err != nil || len(got) != msgs {
		t.Fatalf("staff read mid-rotation: %d %v", len(got), err)
	}
	// A passphrase change during the rotation carries over to its end.
	if err := e.shop.ChangePassphrase(testPass, "a new passphrase"); err != nil {
		t.Fatal(err)
	}
	for r.State == RotationRunning {
		if r, err = e.shop.RotationStep(); err != nil {
			t.Fatal(err)
		}
	}
	v := storedVault(t, e, "a new passphrase")
	if v.OldSupport != nil || v.Support.Recipient() == old.Recipient() {
		t.Fatal("old support identity kept")
	}
	if got, _, err := th.Read(pl.Order.Ref, v.Support.Age(), 0, 100); err != nil || len(got) != msgs || got[msgs-1].Text != fmt.Sprintf("message %d", msgs-1) {
		t.Fatalf("staff read with the new identity: %d %v", len(got), err)
	}
	tok, _ := crypto.ParseToken(pl.Token)
	oid, _ := tok.Identity(crypto.DefaultKind)
	if got, _, err := th.Read(pl.Order.Ref, oid.Age(), 0, 100); err != nil || len(got) != msgs {
		t.Fatalf("buyer read: %d %v", len(got), err)
	}
	if _, _, err := th.Read(pl.Order.Ref, old.Age(), 0, 100); err == nil {
		t.Fatal("the old support identity still opens the thread")
	}
}

// TestPassphraseAndBackupRotation: the passphrase changes only with the
// old one; a backup rotation is immediate and returns the new identity.
func TestPassphraseAndBackupRotation(t *testing.T) {
	e := newEnv(t)
	if err := e.shop.ChangePassphrase("not the passphrase", "another passphrase"); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("wrong old passphrase: %v", err)
	}
	var ie *InputError
	if err := e.shop.ChangePassphrase(testPass, "short"); !errors.As(err, &ie) {
		t.Fatalf("short passphrase: %v", err)
	}
	if err := e.shop.ChangePassphrase(testPass, "another passphrase"); err != nil {
		t.Fatal(err)
	}
	e.shop.Lock()
	if err := e.shop.Unlock(testPass); !errors.Is(err, ErrWrongPassphrase) {
		t.Fatalf("old passphrase after the change: %v", err)
	}
	if err := e.shop.Unlock("another passphrase"); err != nil {
		t.Fatal(err)
	}
	old := e.shop.Public().Backup
	r, id, err := e.shop.StartRotation("backup", "another passphrase")
	if err != nil || r.State != RotationDone || id == nil || id.Recipient() == old || e.shop.Public().Backup != id.Recipient() {
		t.Fatalf("backup rotation: %+v %v", r, err)
	}
	if v := storedVault(t, e, "another passphrase"); v.Backup.String() != id.String() {
		t.Fatal("the stored vault does not hold the new backup identity")
	}
	if _, _, err := e.shop.StartRotation("everything", "another passphrase"); err == nil {
		t.Fatal("unknown identity accepted")
	}
}
