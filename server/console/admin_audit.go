package console

import (
	"net/http"
	"net/url"
	"strconv"

	"veil/pages"
	"veil/server/staff"
	"veil/server/web"
)

// auditCursor reads ?cursor= of the audit log: the sequence number below
// which the page starts; "" or 0 is the newest.
func auditCursor(r *http.Request) (uint64, error) {
	v := r.URL.Query().Get("cursor")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, web.BadRequest("cursor: a sequence number")
	}
	return n, nil
}

func nextCursor(n uint64) string {
	if n == 0 {
		return ""
	}
	return strconv.FormatUint(n, 10)
}

// apiAudit is GET /api/v1/admin/audit[?cursor=&limit=]: entries newest
// first, each with its chain hash and the previous entry's hash.
func (s *Server) apiAudit(w http.ResponseWriter, r *http.Request, _ staff.Session) {
	cursor, err := auditCursor(r)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	limit, err := limitParam(r)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	entries, next, err := s.Staff.Audit(cursor, limit)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	if entries == nil {
		entries = []staff.AuditEntry{}
	}
	web.WriteJSON(w, http.StatusOK, struct {
		Entries []staff.AuditEntry `json:"entries"`
		Next    string             `json:"next"`
	}{entries, nextCursor(next)})
}

// auditCheck is the chain verification as the API reports it.
type auditCheck struct {
	OK       bool   `json:"ok"`
	Entries  int    `json:"entries"`
	FirstBad uint64 `json:"first_bad,omitempty"`
	Reason   string `json:"reason,omitempty"`
	HeadSeq  uint64 `json:"head_seq"`
	HeadHash string `json:"head_hash"`
}

func (s *Server) verifyAudit() (auditCheck, error) {
	res, err := s.Staff.VerifyAudit()
	if err != nil {
		return auditCheck{}, err
	}
	return auditCheck{OK: res.OK(), Entries: res.Entries, FirstBad: res.FirstBad, Reason: res.Reason,
		HeadSeq: res.HeadSeq, HeadHash: res.HeadHash}, nil
}

// apiAuditVerify is GET /api/v1/admin/audit/verify: the whole chain checked.
func (s *Server) apiAuditVerify(w http.ResponseWriter, r *http.Request, _ staff.Session) {
	c, err := s.verifyAudit()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, c)
}

// auditPage is GET /admin/audit[?cursor=&verify=1].
func (s *Server) auditPage(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	cursor, err := auditCursor(r)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	entries, next, err := s.Staff.Audit(cursor, pageSize)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	page := &pages.AdminAudit{AdminBase: s.adminBase(r, &sess, "audit", "")}
	for _, e := range entries {
		entry := pages.AdminAuditEntry{Seq: e.Seq, At: e.At, Actor: e.Actor,
			Action: e.Action, Ref: e.Ref, Detail: e.Detail, Hash: e.Hash, Prev: e.Prev}
		if key := "admin.audit.action." + e.Action; s.Pages.Has(key) {
			entry.ActionText = s.Pages.T(s.Lang(r), key)
		}
		page.Entries = append(page.Entries, entry)
	}
	page.Pager = s.pager(r, nextCursor(next), url.Values{})
	if r.URL.Query().Get("verify") != "" {
		c, err := s.verifyAudit()
		if err != nil {
			s.WriteError(w, r, err)
			return
		}
		page.Check = &pages.AuditCheck{OK: c.OK, Entries: c.Entries, FirstBad: c.FirstBad, Reason: c.Reason,
			HeadSeq: c.HeadSeq, HeadHash: c.HeadHash}
	}
	s.Render(w, r, http.StatusOK, page)
}
