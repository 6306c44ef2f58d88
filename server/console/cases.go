package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"veil/server/shop"
	"veil/server/staff"
	"veil/server/store"
	"veil/server/web"
)

// The case library's console side (issue 13 §4): staff propose to publish a
// resolved ticket as an anonymised case (an approval, case_publish, owners
// decide), and owners withdraw a published case.

var (
	errCasePublished = web.NewError(http.StatusConflict, "case_published", "the ticket is published as a case already")
	errCaseNotFound  = web.NewError(http.StatusNotFound, "case_not_found", "no such case")
)

// caseRequest is POST /api/v1/admin/cases.
type caseRequest struct {
	Ticket string    `json:"ticket"`
	Text   shop.Text `json:"text"`
	TOTP   string    `json:"totp"`
}

// caseParams are a case_publish approval's params: what the case will
// show, so the approver reads it; the ticket id is staff's own reference
// and is not published.
type caseParams struct {
	Ticket  string    `json:"ticket"`
	Product string    `json:"product"`
	Reason  string    `json:"reason"`
	Remedy  string    `json:"remedy,omitempty"`
	Text    shop.Text `json:"text"`
}

func caseErr(err error) error {
	switch {
	case errors.Is(err, shop.ErrCasePublished):
		return errCasePublished
	case errors.Is(err, shop.ErrCaseNotFound):
		return errCaseNotFound
	}
	return err
}

// registerCaseExecutor plugs in case_publish: the case is published inside
// the approving transaction, after the draft is checked again.
func (s *Server) registerCaseExecutor() {
	s.Staff.RegisterExecutor(staff.KindCasePublish, staff.RoleOwner, func(tx *store.Txn, a staff.Approval) (string, error) {
		var p caseParams
		if err := json.Unmarshal(a.Params, &p); err != nil {
			return "", fmt.Errorf("%w: params: %v", staff.ErrExecFailed, err)
		}
		c, err := s.Shop.PublishCaseTx(tx, shop.CaseDraft{Ticket: p.Ticket, Text: p.Text})
		if err != nil {
			return "", permanent(caseErr(err))
		}
		return "published as case " + c.ID, nil
	})
}

// proposeCase checks the draft and proposes it; with an owner's TOTP code
// it is published at once.
func (s *Server) proposeCase(sess staff.Session, req caseRequest) (staff.Approval, error) {
	t, err := s.Shop.CheckCase(shop.CaseDraft{Ticket: strings.TrimSpace(req.Ticket), Text: req.Text})
	if err != nil {
		return staff.Approval{}, caseErr(err)
	}
	o, err := s.Shop.OrderByRef(t.Ref)
	if err != nil {
		return staff.Approval{}, err
	}
	p := caseParams{Ticket: t.ID, Product: o.ProductID, Reason: string(t.Reason), Remedy: string(t.Remedy), Text: req.Text}
	return s.proposeOp(sess, staff.KindCasePublish, o.Ref, "publish ticket "+t.ID+" as a public case", p, req.TOTP)
}

// apiWithdrawCase is POST /api/v1/admin/cases/:id/withdraw (owners,
// audited).
func (s *Server) apiWithdrawCase(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	if sess.Role != staff.RoleOwner {
		s.WriteError(w, r, staff.ErrForbidden)
		return
	}
	c, err := s.Shop.WithdrawCase(param(r, "id"))
	if err != nil {
		s.WriteError(w, r, caseErr(err))
		return
	}
	if err := s.Staff.Record(staff.StaffActor(sess.User), "case.withdraw", "", "case="+c.ID); err != nil {
		s.Log.Error("audit case withdrawal", "err", err)
	}
	web.WriteJSON(w, http.StatusOK, map[string]string{"withdrawn": c.ID})
}

// caseSubmit is the resolved ticket page's case form.
func (s *Server) caseSubmit(sess staff.Session, id string, f url.Values) (staff.Approval, error) {
	text := shop.Text{}
	if v := strings.TrimSpace(f.Get("text_en")); v != "" {
		text["en"] = v
	}
	if v := strings.TrimSpace(f.Get("text_zh")); v != "" {
		text["zh-CN"] = v
	}
	return s.proposeCase(sess, caseRequest{Ticket: id, Text: text, TOTP: strings.TrimSpace(f.Get("totp"))})
}
