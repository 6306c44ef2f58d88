package staff

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"veil/server/store"
)

// seedAudit appends n entries through AppendAudit inside ordinary
// transactions, the way other packages do.
func seedAudit(t *testing.T, e *env, n int) {
	t.Helper()
	for i := range n {
		err := e.db.Update(func(tx *store.Txn) error {
			return AppendAudit(tx, AuditEntry{
				At:     time.Date(2025, 3, 1, 12, i, 0, 123, time.UTC),
				Actor:  "staff:olga",
				Action: "order.refund",
				Ref:    fmt.Sprintf("R-AUDIT%03d", i+1),
				Detail: fmt.Sprintf("amount_minor=%d", 100*(i+1)),
			})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func readEntry(t *testing.T, tx *store.Txn, seq uint64) AuditEntry {
	t.Helper()
	var a AuditEntry
	if err := tx.GetJSON(auditKey(seq), &a); err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAuditChain(t *testing.T) {
	e := newEnv(t)
	seedAudit(t, e, 5)
	entries := e.auditEntries()
	if len(entries) != 5 {
		t.Fatalf("%d entries", len(entries))
	}
	for i, a := range entries { // newest first
		if a.Seq != uint64(5-i) {
			t.Fatalf("entry %d has seq %d", i, a.Seq)
		}
		if a.At.Nanosecond() != 0 || a.At.Location() != time.UTC {
			t.Fatalf("time not UTC seconds: %v", a.At)
		}
		if i+1 < len(entries) && a.Prev != entries[i+1].Hash {
			t.Fatalf("entry %d does not chain", a.Seq)
		}
	}
	if entries[4].Prev != "" {
		t.Fatal("first entry has a prev")
	}
	r, err := VerifyAudit(e.db)
	if err != nil || !r.OK() || r.Entries != 5 || r.HeadSeq != 5 || r.HeadHash != entries[0].Hash {
		t.Fatalf("verify %+v %v", r, err)
	}
	page, next, err := e.s.Audit(4, 2)
	if err != nil || len(page) != 2 || page[0].Seq != 3 || page[1].Seq != 2 || next != 2 {
		t.Fatalf("page %+v next %d %v", page, next, err)
	}
}

func TestAuditEmpty(t *testing.T) {
	e := newEnv(t)
	r, err := VerifyAudit(e.db)
	if err != nil || !r.OK() || r.Entries != 0 {
		t.Fatalf("%+v %v", r, err)
	}
}

func TestVerifyAuditDetectsTampering(t *testing.T) {
	tests := []struct {
		name     string
		tamper   func(t *testing.T, tx *store.Txn)
		firstBad uint64
		reason   string
	}{
		{"edit detail", func(t *testing.T, tx *store.Txn) {
			a := readEntry(t, tx, 3)
			a.Detail = "amount_minor=1"
			must(t, tx.SetJSON(auditKey(3), a))
		}, 3, "edited"},
		{"edit actor", func(t *testing.T, tx *store.Txn) {
			a := readEntry(t, tx, 1)
			a.Actor = "staff:mallory"
			must(t, tx.SetJSON(auditKey(1), a))
		}, 1, "edited"},
		{"edit time", func(t *testing.T, tx *store.Txn) {
			a := readEntry(t, tx, 4)
			a.At = a.At.Add(time.Hour)
			must(t, tx.SetJSON(auditKey(4), a))
		}, 4, "edited"},
		{"edit and rehash", func(t *testing.T, tx *store.Txn) {
			a := readEntry(t, tx, 2)
			a.Detail = "nothing to see"
			a.Hash = a.hash()
			must(t, tx.SetJSON(auditKey(2), a))
		}, 2, "broken"},
		{"delete middle", func(t *testing.T, tx *store.Txn) {
			must(t, tx.Delete(auditKey(3)))
		}, 3, "missing"},
		{"delete first", func(t *testing.T, tx *store.Txn) {
			must(t, tx.Delete(auditKey(1)))
		}, 1, "missing"},
		{"delete last", func(t *testing.T, tx *store.Txn) {
			must(t, tx.Delete(auditKey(6)))
		}, 6, "missing"},
		{"delete middle and renumber", func(t *testing.T, tx *store.Txn) {
			for seq := uint64(4); seq <= 6; seq++ {
				a := readEntry(t, tx, seq)
				a.Seq = seq - 1
				a.Hash = a.hash()
				must(t, tx.SetJSON(auditKey(seq-1), a))
			}
			must(t, tx.Delete(auditKey(6)))
		}, 2, "broken"},
		{"swap two", func(t *testing.T, tx *store.Txn) {
			a, b := readEntry(t, tx, 2), readEntry(t, tx, 3)
			must(t, tx.SetJSON(auditKey(2), b))
			must(t, tx.SetJSON(auditKey(3), a))
		}, 2, "reordered"},
		{"move one to the end", func(t *testing.T, tx *store.Txn) {
			moved := readEntry(t, tx, 2)
			for seq := uint64(3); seq <= 6; seq++ {
				must(t, tx.SetJSON(auditKey(seq-1), readEntry(t, tx, seq)))
			}
			must(t, tx.SetJSON(auditKey(6), moved))
		}, 2, "reordered"},
		{"head wrong", func(t *testing.T, tx *store.Txn) {
			must(t, tx.SetJSON(auditHeadKey, auditHead{Seq: 6, Hash: strings.Repeat("0", 64)}))
		}, 6, "head"},
		{"head deleted", func(t *testing.T, tx *store.Txn) {
			must(t, tx.Delete(auditHeadKey))
		}, 1, "head"},
		{"garbage value", func(t *testing.T, tx *store.Txn) {
			must(t, tx.Set(auditKey(5), []byte("{")))
		}, 5, "decode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			seedAudit(t, e, 6)
			if err := e.db.Update(func(tx *store.Txn) error { tt.tamper(t, tx); return nil }); err != nil {
				t.Fatal(err)
			}
			r, err := VerifyAudit(e.db)
			if err != nil {
				t.Fatal(err)
			}
			if r.OK() || r.FirstBad != tt.firstBad || !strings.Contains(r.Reason, tt.reason) {
				t.Fatalf("got %+v; want first bad %d with %q", r, tt.firstBad, tt.reason)
			}
		})
	}
}

func TestStaffActionsAudited(t *testing.T) {
	e := newEnv(t)
	e.owner("olga")
	e.user("sam", RoleSupport)
	e.nextStep()
	sess, err := e.s.Login("olga", testPassword, e.code("olga", 0))
	if err != nil {
		t.Fatal(err)
	}
	a, err := e.s.Propose("staff:sam", KindReplacement, "R-ABCD2345", "replace key", nil)
	if err != nil {
		t.Fatal(err)
	}
	e.nextStep()
	if _, err := e.s.Decide(t.Context(), a.ID, "olga", Approve, e.code("olga", 0)); err != nil {
		t.Fatal(err)
	}
	if err := e.s.SetRole("staff:olga", "sam", RoleOwner); err != nil {
		t.Fatal(err)
	}
	if err := e.s.Logout(sess.ID); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range e.auditEntries() {
		got = append([]string{a.Action + " " + a.Actor + " " + a.Ref}, got...)
	}
	want := []string{
		"staff.user_create system olga",
		"staff.user_create cli sam",
		"staff.user_enrol staff:sam sam",
		"staff.login staff:olga olga",
		"approval.propose staff:sam R-ABCD2345",
		"approval.approve staff:olga R-ABCD2345",
		"staff.user_role staff:olga sam",
		"staff.logout staff:olga olga",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Nothing secret in the log: no password, session id, csrf token or TOTP secret.
	raw, _ := json.Marshal(e.auditEntries())
	for _, secret := range []string{testPassword, sess.ID, sess.CSRF, e.secrets["olga"], e.secrets["sam"]} {
		if strings.Contains(string(raw), secret) {
			t.Fatalf("audit log contains a secret")
		}
	}
	if r, err := VerifyAudit(e.db); err != nil || !r.OK() || r.Entries != len(want) {
		t.Fatalf("verify %+v %v", r, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
