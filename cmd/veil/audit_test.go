package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"veil/server/staff"
	"veil/server/store"
)

// seedAuditLog makes a data dir whose audit log holds five entries: the
// owner's creation and four console actions.
func seedAuditLog(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := staff.New(db, staff.Options{Argon2: staff.Argon2Params{Time: 1, MemoryKiB: 256, Threads: 1}})
	if _, _, err := st.Bootstrap("olga", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		err := db.Update(func(tx *store.Txn) error {
			return staff.AppendAudit(tx, staff.AuditEntry{
				At: time.Date(2025, 3, 1, 12, i, 0, 0, time.UTC), Actor: "staff:olga", Action: "order.refund",
				Ref: fmt.Sprintf("R-AUDIT%03d", i), Detail: fmt.Sprintf("amount_minor=%d", 100*(i+1)),
			})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func auditKey(seq int) string { return fmt.Sprintf("staff/audit/%020d", seq) }

// tamper changes the stored audit log directly, as someone with the disk
// would.
func tamper(t *testing.T, dir string, fn func(tx *store.Txn) error) {
	t.Helper()
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

func TestAuditVerifyCommand(t *testing.T) {
	dir := seedAuditLog(t)
	var out, errb bytes.Buffer
	if code := run([]string{"audit", "verify", "--data", dir}, &out, &errb); code != 0 {
		t.Fatalf("intact log: exit %d, %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "intact: 5 entries") {
		t.Fatalf("stdout %q", out.String())
	}

	for _, c := range []struct {
		name  string
		fn    func(tx *store.Txn) error
		entry string
	}{
		{"edit", func(tx *store.Txn) error {
			var e staff.AuditEntry
			if err := tx.GetJSON(auditKey(3), &e); err != nil {
				return err
			}
			e.Detail = "amount_minor=1"
			return tx.SetJSON(auditKey(3), e)
		}, "entry 3"},
		{"delete", func(tx *store.Txn) error { return tx.Delete(auditKey(2)) }, "entry 2"},
		{"reorder", func(tx *store.Txn) error {
			a, err := tx.Get(auditKey(2))
			if err != nil {
				return err
			}
			b, err := tx.Get(auditKey(4))
			if err != nil {
				return err
			}
			if err := tx.Set(auditKey(2), b); err != nil {
				return err
			}
			return tx.Set(auditKey(4), a)
		}, "entry 2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := seedAuditLog(t)
			tamper(t, dir, c.fn)
			var out, errb bytes.Buffer
			code := run([]string{"audit", "verify", "--data", dir}, &out, &errb)
			if code != 1 {
				t.Fatalf("exit %d, stderr %q", code, errb.String())
			}
			msg := errb.String()
			if !strings.Contains(msg, "audit log broken at "+c.entry) || strings.Count(msg, "\n") != 1 {
				t.Fatalf("stderr %q does not name %s on one line", msg, c.entry)
			}
		})
	}
}
