package staff

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"veil/server/store"
)

const (
	auditPrefix  = "staff/audit/"
	auditHeadKey = "staff/audit-head"
	maxAuditText = 1024
)

// Audit actions appended by this package.
const (
	ActionLogin           = "staff.login"
	ActionLoginFailed     = "staff.login_failed"
	ActionLogout          = "staff.logout"
	ActionLocked          = "staff.locked_out"
	ActionUserCreate      = "staff.user_create"
	ActionUserEnrol       = "staff.user_enrol"
	ActionUserRole        = "staff.user_role"
	ActionUserRemove      = "staff.user_remove"
	ActionRecoveryUsed    = "staff.recovery_used"
	ActionTOTPReenrol     = "staff.totp_reenrol"
	ActionApprovalPropose = "approval.propose"
	ActionApprovalApprove = "approval.approve"
	ActionApprovalReject  = "approval.reject"
	ActionApprovalFail    = "approval.fail"
	ActionTwoPerson       = "settings.two_person"
)

// AuditEntry is one link of the audit chain.
type AuditEntry struct {
	Seq    uint64    `json:"seq"`
	At     time.Time `json:"at"` // UTC, whole seconds
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Ref    string    `json:"ref,omitempty"`
	Detail string    `json:"detail,omitempty"`
	Prev   string    `json:"prev"` // hex SHA-256 of the previous entry; "" for the first
	Hash   string    `json:"hash"` // hex SHA-256 over every field above
}

type auditHead struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

func auditKey(seq uint64) string { return fmt.Sprintf("%s%020d", auditPrefix, seq) }

// hash is SHA-256 over a canonical, length-prefixed encoding, so no two
// different entries encode alike whatever their text contains.
func (e *AuditEntry) hash() string {
	h := sha256.New()
	var buf [8]byte
	h.Write([]byte("veil-audit-v1"))
	binary.BigEndian.PutUint64(buf[:], e.Seq)
	h.Write(buf[:])
	binary.BigEndian.PutUint64(buf[:], uint64(e.At.Unix()))
	h.Write(buf[:])
	for _, f := range []string{e.Actor, e.Action, e.Ref, e.Detail, e.Prev} {
		binary.BigEndian.PutUint32(buf[:4], uint32(len(f)))
		h.Write(buf[:4])
		h.Write([]byte(f))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// AppendAudit appends e to the audit chain inside tx, so an action and its
// entry commit together. Seq, Prev and Hash are filled in; a zero At means
// now. The chain head is read and written in tx, so concurrent appends
// conflict and the store retries one of them.
//
// Rule for callers: Actor, Ref and Detail name staff ("staff:alice"),
// order references (R-…), approval ids and kinds — never an order token, a
// key, a secret, a password, an IP or any other address. The log is kept
// forever and is shown to every staff member.
func AppendAudit(tx *store.Txn, e AuditEntry) error {
	_, err := appendAudit(tx, e, time.Now())
	return err
}

func appendAudit(tx *store.Txn, e AuditEntry, now time.Time) (AuditEntry, error) {
	if e.Actor == "" || e.Action == "" {
		return e, fmt.Errorf("staff: audit entry needs an actor and an action")
	}
	if len(e.Actor) > 128 || len(e.Action) > 128 || len(e.Ref) > 256 || len(e.Detail) > maxAuditText {
		return e, fmt.Errorf("staff: audit entry too long")
	}
	if e.At.IsZero() {
		e.At = now
	}
	e.At = e.At.UTC().Truncate(time.Second)
	var head auditHead
	if err := tx.GetJSON(auditHeadKey, &head); err != nil && !errors.Is(err, store.ErrNotFound) {
		return e, fmt.Errorf("staff: audit head: %w", err)
	}
	e.Seq = head.Seq + 1
	e.Prev = head.Hash
	e.Hash = e.hash()
	if err := tx.SetJSON(auditKey(e.Seq), e); err != nil {
		return e, fmt.Errorf("staff: audit append: %w", err)
	}
	if err := tx.SetJSON(auditHeadKey, auditHead{Seq: e.Seq, Hash: e.Hash}); err != nil {
		return e, fmt.Errorf("staff: audit head: %w", err)
	}
	return e, nil
}

func (s *Service) audit(tx *store.Txn, actor, action, ref, detail string) error {
	_, err := appendAudit(tx, AuditEntry{Actor: actor, Action: action, Ref: ref, Detail: detail}, s.now())
	return err
}

// Audit returns up to limit entries, newest first, starting below cursor
// (0 = from the newest). next is the cursor for the following page, 0 at
// the end. limit ≤ 0 means 50; at most 500.
func (s *Service) Audit(cursor uint64, limit int) (entries []AuditEntry, next uint64, err error) {
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	err = s.db.View(func(tx *store.Txn) error {
		var head auditHead
		if err := tx.GetJSON(auditHeadKey, &head); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			return err
		}
		seq := head.Seq
		if cursor > 0 {
			seq = min(seq, cursor-1)
		}
		for ; seq >= 1 && len(entries) < limit; seq-- {
			var e AuditEntry
			err := tx.GetJSON(auditKey(seq), &e)
			if errors.Is(err, store.ErrNotFound) {
				continue // a hole is VerifyAudit's to report
			}
			if err != nil {
				return err
			}
			entries = append(entries, e)
		}
		if seq >= 1 {
			next = seq + 1
		}
		return nil
	})
	return entries, next, wrapf(err, "audit list")
}

// VerifyResult is the outcome of VerifyAudit.
type VerifyResult struct {
	Entries  int    // entries checked
	FirstBad uint64 // sequence number of the first bad entry; 0 = chain intact
	Reason   string // why FirstBad is bad
	HeadSeq  uint64 // the head as stored, so operators can note it elsewhere
	HeadHash string
}

// OK reports whether the chain verified.
func (r VerifyResult) OK() bool { return r.FirstBad == 0 }

// VerifyAudit walks the whole chain and reports the first entry that was
// edited (its hash does not match its fields), deleted (a sequence gap, or
// the head pointing past the last entry), reordered (an entry stored under
// another entry's sequence number) or cut off. The chain cannot protect
// against someone who rewrites every entry and the head consistently;
// HeadHash is returned so an operator can record it outside the data dir
// and compare later. The error is for store failures only.
func VerifyAudit(db *store.DB) (VerifyResult, error) {
	var r VerifyResult
	err := db.View(func(tx *store.Txn) error {
		r = VerifyResult{}
		var head auditHead
		headErr := tx.GetJSON(auditHeadKey, &head)
		if headErr != nil && !errors.Is(headErr, store.ErrNotFound) {
			return headErr
		}
		r.HeadSeq, r.HeadHash = head.Seq, head.Hash
		var prevSeq uint64
		prevHash := ""
		bad := func(seq uint64, reason string, a ...any) error {
			r.FirstBad, r.Reason = seq, fmt.Sprintf(reason, a...)
			return store.ErrStop
		}
		err := tx.Iterate(auditPrefix, "", false, func(k string, v []byte) error {
			keySeq, err := strconv.ParseUint(strings.TrimPrefix(k, auditPrefix), 10, 64)
			if err != nil || keySeq == 0 {
				return bad(prevSeq+1, "stray key after entry %d", prevSeq)
			}
			if keySeq != prevSeq+1 {
				return bad(prevSeq+1, "entry %d is missing (next stored is %d)", prevSeq+1, keySeq)
			}
			var e AuditEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return bad(keySeq, "entry %d does not decode", keySeq)
			}
			switch {
			case e.Seq != keySeq:
				return bad(keySeq, "position %d holds entry %d (reordered)", keySeq, e.Seq)
			case e.Hash != e.hash():
				return bad(keySeq, "entry %d was edited (hash mismatch)", keySeq)
			case e.Prev != prevHash && prevSeq == 0:
				return bad(keySeq, "entry %d does not start the chain", keySeq)
			case e.Prev != prevHash:
				// Both entries are self-consistent: one was rewritten with a
				// fresh hash, or one was removed and the rest renumbered. The
				// chain cannot tell which, so name the earlier suspect.
				return bad(prevSeq, "chain broken between entries %d and %d: one was rewritten or removed", prevSeq, keySeq)
			}
			r.Entries++
			prevSeq, prevHash = keySeq, e.Hash
			return nil
		})
		if err != nil || r.FirstBad != 0 {
			return err
		}
		switch {
		case errors.Is(headErr, store.ErrNotFound) && prevSeq != 0:
			r.FirstBad, r.Reason = 1, "the chain head is missing"
		case head.Seq > prevSeq:
			r.FirstBad, r.Reason = prevSeq+1, fmt.Sprintf("entries %d to %d are missing (cut off)", prevSeq+1, head.Seq)
		case head.Seq < prevSeq:
			r.FirstBad, r.Reason = head.Seq+1, fmt.Sprintf("entries after %d are not covered by the head", head.Seq)
		case head.Hash != prevHash:
			r.FirstBad, r.Reason = prevSeq, fmt.Sprintf("entry %d does not match the chain head", prevSeq)
		}
		return nil
	})
	if err != nil {
		return VerifyResult{}, fmt.Errorf("staff: verify audit: %w", err)
	}
	return r, nil
}

// Record appends one audit entry in its own transaction, for staff actions
// that are not approvals (product edits, imports, vault lock and unlock,
// export downloads). detail names refs and ids, never tokens, keys or
// addresses.
func (s *Service) Record(actor, action, ref, detail string) error {
	err := s.db.Update(func(tx *store.Txn) error { return s.audit(tx, actor, action, ref, detail) })
	if err != nil {
		return wrapf(err, "record %s", action)
	}
	return nil
}

// VerifyAudit checks the whole chain of this service's store.
func (s *Service) VerifyAudit() (VerifyResult, error) { return VerifyAudit(s.db) }
