package console

import (
	"net/http"
	"net/url"

	"veil/pages"
	"veil/server/staff"
	"veil/server/web"
)

// approvalStatus reads ?status= of an approvals list: pending (the
// default), approved, rejected, failed, or all.
func approvalStatus(r *http.Request) (staff.Status, error) {
	switch v := r.URL.Query().Get("status"); v {
	case "", string(staff.StatusPending):
		return staff.StatusPending, nil
	case "all":
		return "", nil
	case string(staff.StatusApproved), string(staff.StatusRejected), string(staff.StatusFailed):
		return staff.Status(v), nil
	}
	return "", web.BadRequest("status: pending, approved, rejected, failed or all")
}

// apiApprovals is GET /api/v1/admin/approvals[?status=&cursor=&limit=]:
// newest first; "next" continues the list ("" at the end).
func (s *Server) apiApprovals(w http.ResponseWriter, r *http.Request, _ staff.Session) {
	st, err := approvalStatus(r)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	cursor, limit, err := pageParams(r)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	list, next, err := s.Staff.List(staff.Filter{Status: st}, cursor, limit)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	if list == nil {
		list = []staff.Approval{}
	}
	web.WriteJSON(w, http.StatusOK, struct {
		Approvals []staff.Approval `json:"approvals"`
		Next      string           `json:"next"`
	}{list, next})
}

// apiApproval is GET /api/v1/admin/approvals/:id.
func (s *Server) apiApproval(w http.ResponseWriter, r *http.Request, _ staff.Session) {
	a, err := s.Staff.Get(param(r, "id"))
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, a)
}

// decide approves or rejects with a fresh code; an executed approval's
// effects on stock are reconciled after the commit.
func (s *Server) decide(r *http.Request, sess staff.Session, id, decision, totp string) (staff.Approval, error) {
	if decision != staff.Approve && decision != staff.Reject {
		return staff.Approval{}, web.BadRequest("decision: approve or reject")
	}
	a, err := s.Staff.Decide(r.Context(), id, sess.User, decision, totp)
	if err != nil {
		return a, err
	}
	s.Log.Info("approval decided", "approval", a.ID, "kind", string(a.Kind), "status", string(a.Status), "staff", sess.User)
	s.afterApproval(a)
	return a, nil
}

// apiDecide is POST /api/v1/admin/approvals/:id {"decision","totp"}.
func (s *Server) apiDecide(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	var req struct {
		Decision string `json:"decision"`
		TOTP     string `json:"totp"`
	}
	if err := web.DecodeJSON(r, &req); err != nil {
		s.WriteError(w, r, err)
		return
	}
	a, err := s.decide(r, sess, param(r, "id"), req.Decision, req.TOTP)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, struct {
		ID       string `json:"id"`
		Status   string `json:"status"`
		Result   string `json:"result,omitempty"`
		Download string `json:"download,omitempty"`
		// An approved staff_add's one-time secret for the new member,
		// shown to the approver here only.
		EnrolmentSecret string `json:"enrolment_secret,omitempty"`
	}{a.ID, string(a.Status), a.Result, exportDownload(a), a.EnrolmentSecret})
}

// decideSubmit is POST /admin/approvals/:id (decision, totp).
func (s *Server) decideSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	a, err := s.decide(r, sess, param(r, "id"), r.PostForm.Get("decision"), r.PostForm.Get("totp"))
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	if a.EnrolmentSecret != "" {
		s.enrolHandover(w, r, sess, a)
		return
	}
	notice := string(a.Status)
	if a.Kind == staff.KindExport && a.Status == staff.StatusApproved {
		notice = "export_ready"
	}
	s.redirectNotice(w, r, "/admin/approvals", notice)
}

// approvalsPage is GET /admin/approvals: the queue, with a decision form
// for each the member may decide, and the history below, paginated.
func (s *Server) approvalsPage(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	cursor, err := cursorParam(r)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	queue, err := s.Staff.Pending()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	hist, next, err := s.Staff.List(staff.Filter{}, cursor, pageSize)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	lang := s.Lang(r)
	page := &pages.AdminApprovals{AdminBase: s.adminBase(r, &sess, "approvals", "")}
	for _, a := range queue {
		page.Queue = append(page.Queue, s.approvalRow(lang, sess, a))
	}
	for _, a := range hist {
		page.History = append(page.History, s.approvalRow(lang, sess, a))
	}
	page.Pager = s.pager(r, next, url.Values{})
	s.Render(w, r, http.StatusOK, page)
}

func (s *Server) approvalRow(lang string, sess staff.Session, a staff.Approval) pages.AdminApproval {
	row := pages.AdminApproval{
		ID: a.ID, Kind: string(a.Kind), KindText: s.kindText(lang, a.Kind), Ref: a.Ref, Summary: a.Summary,
		ProposedBy: a.ProposedBy, Status: string(a.Status), StatusText: s.Pages.T(lang, "admin.approval_status."+string(a.Status)),
		CreatedAt: a.CreatedAt, DecidedAt: a.DecidedAt, DecidedBy: a.DecidedBy, Result: a.Result,
		CanDecide: s.Staff.CanDecide(sess.Role, a.Kind),
		Self:      a.ProposedBy == staff.StaffActor(sess.User),
	}
	row.Details = s.approvalDetails(lang, a)
	if d := exportDownload(a); d != "" {
		row.DownloadURL = d
	}
	return row
}

// kindText names an approval kind in lang.
func (s *Server) kindText(lang string, k staff.Kind) string {
	if s.Pages.Has("admin.kind." + string(k)) {
		return s.Pages.T(lang, "admin.kind."+string(k))
	}
	return string(k)
}
