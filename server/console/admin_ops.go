package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"veil/crypto"
	"veil/pages"
	"veil/server/shop"
	"veil/server/staff"
	"veil/server/store"
	"veil/server/web"
)

// Sensitive operations (API.md "Merchant"): each becomes an approval. With
// a valid "totp" from someone who may approve it alone, it executes at
// once (200); otherwise it waits in the queue (202 {"approval_id"}).

// Approval params, as stored with the approval and shown to staff: names,
// refs, amounts, never a secret.
type refundParams struct {
	Ref         string `json:"ref"`
	Product     string `json:"product"`
	AmountMinor int64  `json:"amount_minor"` // 0 = all that is left
	Currency    string `json:"currency"`
	Reason      string `json:"reason"`
	Ticket      string `json:"ticket,omitempty"` // resolved with the refund
}

type exportParams struct {
	Product   string `json:"product"`
	Batch     string `json:"batch,omitempty"`
	Recipient string `json:"recipient"` // an age public key
	ExportID  string `json:"export_id"`
}

type deleteParams struct {
	Product string `json:"product"`
	Batch   string `json:"batch,omitempty"`
}

type settingsParams struct {
	TwoPerson map[staff.Kind]bool `json:"two_person"`
	// Tiers, when set, replaces the trust tier rules (admin_trust.go).
	Tiers *shop.TierRules `json:"tiers,omitempty"`
	// TimeZone and RetentionDays, when set, replace the shop's time zone
	// and its retention of settled and refunded orders.
	TimeZone      string `json:"time_zone,omitempty"`
	RetentionDays int    `json:"retention_days,omitempty"`
	// FastTrack, when set, replaces the bounds of remedies approved by
	// policy (shop.FastTrack).
	FastTrack *shop.FastTrack `json:"fast_track,omitempty"`
	// XMRRate, when set, sets these currencies' XMR rates (minor units
	// per XMR; 0 unsets one), for the monero rail.
	XMRRate map[string]int64 `json:"xmr_rate,omitempty"`
	// Shop, when set, replaces the storefront's branding (brand.go).
	Shop *shop.Branding `json:"shop,omitempty"`
	// Compensation, when set, replaces the owner's proactive
	// compensation rule (commerce.go).
	Compensation *shop.CompensationRule `json:"compensation,omitempty"`
}

// registerConsoleExecutors plugs in the kinds the console proposes. Each
// runs inside the approving transaction and acts only through it; a domain
// refusal (not refundable, bad input) fails the approval for good, while a
// locked vault or a store error leaves it pending for a retry.
func (s *Server) registerConsoleExecutors() {
	refund := func(tx *store.Txn, a staff.Approval) (string, error) {
		var p refundParams
		if err := json.Unmarshal(a.Params, &p); err != nil {
			return "", fmt.Errorf("%w: params: %v", staff.ErrExecFailed, err)
		}
		refund := s.Shop.RefundTx
		if p.Reason == coolingOffReason {
			// Re-checked inside this transaction: keys shown meanwhile
			// end the offer.
			refund = func(tx *store.Txn, ref string, _ int64) (shop.Order, error) {
				return s.Shop.CoolingOffRefundTx(tx, ref)
			}
		}
		before, err := s.Shop.OrderByRefTx(tx, p.Ref)
		if err != nil {
			return "", permanent(err)
		}
		o, err := refund(tx, p.Ref, p.AmountMinor)
		if err != nil {
			return "", permanent(err)
		}
		given := shop.RemedyPartialRefund
		if o.Refunded() >= o.AmountMinor {
			given = shop.RemedyRefund
		}
		if err := s.Shop.GiveRemedyTx(tx, p.Ticket, given, o.Refunded()-before.Refunded()); err != nil {
			return "", permanent(err)
		}
		return refundResult(o), nil
	}
	s.Staff.RegisterExecutor(staff.KindRefund, staff.RoleOwner, refund)
	s.Staff.RegisterExecutor(staff.KindPartialRefund, staff.RoleOwner, refund)
	s.Staff.RegisterExecutor(staff.KindExport, staff.RoleOwner, func(tx *store.Txn, a staff.Approval) (string, error) {
		var p exportParams
		if err := json.Unmarshal(a.Params, &p); err != nil {
			return "", fmt.Errorf("%w: params: %v", staff.ErrExecFailed, err)
		}
		n, err := s.Shop.ExportTx(tx, p.Product, p.Batch, p.Recipient, p.ExportID)
		if err != nil {
			return "", permanent(err)
		}
		return fmt.Sprintf("exported %d keys of %s as %s", n, p.Product, p.ExportID), nil
	})
	s.Staff.RegisterExecutor(staff.KindInventoryDelete, staff.RoleOwner, func(tx *store.Txn, a staff.Approval) (string, error) {
		var p deleteParams
		if err := json.Unmarshal(a.Params, &p); err != nil {
			return "", fmt.Errorf("%w: params: %v", staff.ErrExecFailed, err)
		}
		n, err := s.Shop.DeleteKeysTx(tx, p.Product, p.Batch)
		if err != nil {
			return "", permanent(err)
		}
		return fmt.Sprintf("deleted %d unsold keys of %s", n, p.Product), nil
	})
	s.Staff.RegisterExecutor(staff.KindSettings, staff.RoleOwner, func(tx *store.Txn, a staff.Approval) (string, error) {
		var p settingsParams
		if err := json.Unmarshal(a.Params, &p); err != nil {
			return "", fmt.Errorf("%w: params: %v", staff.ErrExecFailed, err)
		}
		kinds := make([]staff.Kind, 0, len(p.TwoPerson))
		for k := range p.TwoPerson {
			kinds = append(kinds, k)
		}
		slices.Sort(kinds)
		for _, k := range kinds {
			if err := s.Staff.SetTwoPersonTx(tx, a.DecidedBy, k, p.TwoPerson[k]); err != nil {
				return "", permanent(err)
			}
		}
		if p.Tiers != nil {
			if err := s.Shop.SetTierRulesTx(tx, *p.Tiers); err != nil {
				return "", permanent(err)
			}
		}
		if p.TimeZone != "" {
			if err := s.Shop.SetTimeZoneTx(tx, p.TimeZone); err != nil {
				return "", permanent(err)
			}
		}
		if p.RetentionDays != 0 {
			if err := s.Shop.SetRetentionDaysTx(tx, p.RetentionDays); err != nil {
				return "", permanent(err)
			}
		}
		if p.FastTrack != nil {
			if err := s.Shop.SetFastTrackTx(tx, *p.FastTrack); err != nil {
				return "", permanent(err)
			}
		}
		if len(p.XMRRate) > 0 {
			if err := s.Shop.SetXMRRatesTx(tx, p.XMRRate); err != nil {
				return "", permanent(err)
			}
		}
		if p.Shop != nil {
			if err := s.Shop.SetBrandingTx(tx, *p.Shop); err != nil {
				return "", permanent(err)
			}
		}
		if p.Compensation != nil {
			if err := s.Shop.SetCompensationRuleTx(tx, *p.Compensation); err != nil {
				return "", permanent(err)
			}
		}
		return settingsSummary(p), nil
	})
}

// refundResult says what a refund did, money formatted: "R-… refunded in
// full (¥48.50)" or "R-… partly refunded: ¥12.00 of ¥48.50".
func refundResult(o shop.Order) string {
	if o.Refunded() >= o.AmountMinor {
		return fmt.Sprintf("%s refunded in full (%s)", o.Ref, pages.Money(o.AmountMinor, o.Currency))
	}
	return fmt.Sprintf("%s partly refunded: %s of %s", o.Ref, pages.Money(o.Refunded(), o.Currency), pages.Money(o.AmountMinor, o.Currency))
}

// permanent marks refusals no retry can fix (the client-error kind: not
// refundable, bad input, unknown product) so the approval fails for good;
// a locked vault (503) or a store error stays retryable.
func permanent(err error) error {
	if p := web.Classify(err); p.Status >= 400 && p.Status < 500 {
		return fmt.Errorf("%w: %w", staff.ErrExecFailed, err)
	}
	return err
}

// afterApproval runs once an approval has executed and committed: the
// stock pools of a product whose keys moved inside the transaction are
// rebuilt from the store.
func (s *Server) afterApproval(a staff.Approval) {
	if s.afterDecision != nil {
		s.afterDecision(a) // a rejected held payment is owed back
	}
	s.afterRemedyDecision(a) // a rejected remedy leaves its ticket answerable
	if a.Status != staff.StatusApproved {
		return
	}
	var p struct {
		Product string `json:"product"`
	}
	if json.Unmarshal(a.Params, &p) != nil || p.Product == "" {
		return
	}
	if err := s.Shop.Reconcile(p.Product); err != nil {
		s.Log.Error("reconcile after approval", "approval", a.ID, "kind", string(a.Kind), "product", p.Product, "err", err)
	}
}

// proposeOp creates the approval for a sensitive operation and executes it
// at once when totp is given and the caller may approve it alone.
func (s *Server) proposeOp(sess staff.Session, kind staff.Kind, ref, summary string, params any, totp string) (staff.Approval, error) {
	a, err := s.Staff.ProposeAndExecute(sess.User, kind, ref, summary, params, totp)
	if err != nil {
		return a, err
	}
	s.Log.Info("approval "+string(a.Status), "approval", a.ID, "kind", string(kind), "ref", ref, "staff", sess.User)
	s.afterApproval(a)
	return a, nil
}

// opAnswer is the answer of a sensitive operation.
type opAnswer struct {
	ApprovalID string `json:"approval_id"`
	Status     string `json:"status"`
	Result     string `json:"result,omitempty"`
	Download   string `json:"download,omitempty"` // an executed export's one-time URL
	// EnrolmentSecret is an approved staff_add's one-time secret for the
	// new member, shown to the approver in this answer only.
	EnrolmentSecret string `json:"enrolment_secret,omitempty"`
}

func opAnswerOf(a staff.Approval) (int, opAnswer) {
	ans := opAnswer{ApprovalID: a.ID, Status: string(a.Status), Result: a.Result, EnrolmentSecret: a.EnrolmentSecret}
	if a.Status == staff.StatusPending {
		return http.StatusAccepted, ans
	}
	ans.Download = exportDownload(a)
	return http.StatusOK, ans
}

// exportDownload is the download URL of an approved export, "" otherwise.
func exportDownload(a staff.Approval) string {
	if a.Kind != staff.KindExport || a.Status != staff.StatusApproved {
		return ""
	}
	var p exportParams
	if json.Unmarshal(a.Params, &p) != nil || p.ExportID == "" {
		return ""
	}
	return "/api/v1/admin/exports/" + p.ExportID
}

func (s *Server) writeOp(w http.ResponseWriter, a staff.Approval) {
	status, ans := opAnswerOf(a)
	web.WriteJSON(w, status, ans)
}

// opRedirect answers a console form that proposed an operation: to the
// queue when it waits, back to the page it came from when it ran.
func (s *Server) opRedirect(w http.ResponseWriter, r *http.Request, a staff.Approval, back string) {
	switch {
	case a.Status == staff.StatusPending:
		s.redirectNotice(w, r, "/admin/approvals", "queued")
	case a.Kind == staff.KindExport:
		s.redirectNotice(w, r, "/admin/approvals", "export_ready")
	default:
		s.redirectNotice(w, r, back, "done")
	}
}

func checkText(field, v string, maxRunes int, required bool) (string, error) {
	v = strings.TrimSpace(v)
	if required && v == "" {
		return v, web.BadRequest("%s is required", field)
	}
	if !utf8.ValidString(v) || utf8.RuneCountInString(v) > maxRunes {
		return v, web.BadRequest("%s: at most %d characters", field, maxRunes)
	}
	return v, nil
}

// refundRequest is POST /api/v1/admin/refunds.
type refundRequest struct {
	Ref         string `json:"ref"`
	AmountMinor int64  `json:"amount_minor"`
	Reason      string `json:"reason"`
	TOTP        string `json:"totp"`
}

func (s *Server) proposeRefund(sess staff.Session, req refundRequest) (staff.Approval, error) {
	ref := strings.TrimSpace(req.Ref)
	reason, err := checkText("reason", req.Reason, 200, true)
	if err != nil {
		return staff.Approval{}, err
	}
	if ref == "" {
		return staff.Approval{}, web.BadRequest("ref is required")
	}
	if req.AmountMinor < 0 {
		return staff.Approval{}, web.BadRequest("amount_minor: 0 (all) or more")
	}
	o, err := s.Shop.OrderByRef(ref)
	if err != nil {
		return staff.Approval{}, err
	}
	kind, what := staff.KindRefund, "all that is left"
	if req.AmountMinor > 0 {
		kind, what = staff.KindPartialRefund, pages.Money(req.AmountMinor, o.Currency)
	}
	p := refundParams{Ref: o.Ref, Product: o.ProductID, AmountMinor: req.AmountMinor, Currency: o.Currency, Reason: reason}
	// A refund is the answer to the order's open ticket, if it has one:
	// the approval resolves it, and the buyer sees the ticket closed.
	ticket, err := s.openTicketOf(o.Ref)
	if err != nil {
		return staff.Approval{}, err
	}
	summary := fmt.Sprintf("refund %s of %s: %s", what, o.Ref, reason)
	if ticket != "" {
		p.Ticket = ticket
		summary += " (ticket " + ticket + ")"
	}
	return s.proposeOp(sess, kind, o.Ref, summary, p, req.TOTP)
}

// openTicketOf is the oldest ticket of the order still waiting for an
// answer or a remedy (open or answered; a proposed one has its own
// approval), "" if none.
func (s *Server) openTicketOf(ref string) (string, error) {
	ts, err := s.Shop.TicketsOf(ref)
	if err != nil {
		return "", err
	}
	for _, t := range ts {
		if t.Status == shop.TicketOpen || t.Status == shop.TicketAnswered {
			return t.ID, nil
		}
	}
	return "", nil
}

// refundSubmit is POST /admin/refunds (ref, amount in major units, reason,
// totp).
func (s *Server) refundSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	f := r.PostForm
	req := refundRequest{Ref: f.Get("ref"), Reason: f.Get("reason"), TOTP: f.Get("totp")}
	if amt := strings.TrimSpace(f.Get("amount")); amt != "" {
		o, err := s.Shop.OrderByRef(strings.TrimSpace(req.Ref))
		if err != nil {
			s.WriteError(w, r, err)
			return
		}
		if req.AmountMinor, err = parseMoney(amt, o.Currency); err != nil {
			s.WriteError(w, r, err)
			return
		}
	}
	a, err := s.proposeRefund(sess, req)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.opRedirect(w, r, a, "/admin/orders")
}

// exportRequest is POST /api/v1/admin/exports.
type exportRequest struct {
	Product   string `json:"product"`
	Batch     string `json:"batch"`
	Recipient string `json:"recipient"`
	TOTP      string `json:"totp"`
}

func (s *Server) proposeExport(sess staff.Session, req exportRequest) (staff.Approval, error) {
	prod, err := s.Shop.Product(strings.TrimSpace(req.Product))
	if err != nil {
		return staff.Approval{}, err
	}
	batch, err := s.checkBatch(prod.ID, req.Batch)
	if err != nil {
		return staff.Approval{}, err
	}
	rcpt := strings.TrimSpace(req.Recipient)
	if len(rcpt) > 4096 {
		return staff.Approval{}, web.BadRequest("recipient too long")
	}
	if _, err := crypto.ParseRecipient(rcpt); err != nil {
		return staff.Approval{}, web.BadRequest("recipient: not an age recipient (age1…)")
	}
	p := exportParams{Product: prod.ID, Batch: batch, Recipient: rcpt, ExportID: crypto.RandomID("x", 12)}
	return s.proposeOp(sess, staff.KindExport, prod.ID, fmt.Sprintf("export unsold keys of %s (%s)", prod.Slug, batchLabel(batch)), p, req.TOTP)
}

func batchLabel(b string) string {
	if b == "" {
		return "all batches"
	}
	return "batch " + b
}

// checkBatch returns batch when it is one of the product's ("" = all).
func (s *Server) checkBatch(productID, batch string) (string, error) {
	batch = strings.TrimSpace(batch)
	if batch == "" {
		return "", nil
	}
	bs, err := s.Shop.Batches(productID)
	if err != nil {
		return "", err
	}
	for _, b := range bs {
		if b.ID == batch {
			return batch, nil
		}
	}
	return "", web.BadRequest("batch: not a batch of this product")
}

func (s *Server) exportSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	f := r.PostForm
	a, err := s.proposeExport(sess, exportRequest{Product: f.Get("product"), Batch: f.Get("batch"), Recipient: f.Get("recipient"), TOTP: f.Get("totp")})
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.opRedirect(w, r, a, "/admin/products")
}

// apiExportDownload is GET /api/v1/admin/exports/:id: the export's age
// file, once; owners only, like the export itself.
func (s *Server) apiExportDownload(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	if err := requireOwner(sess); err != nil {
		s.WriteError(w, r, err)
		return
	}
	id := param(r, "id")
	if id == "" || len(id) > 64 || strings.Trim(id, "0123456789abcdefghjkmnpqrstvwxyz") != "" {
		s.WriteError(w, r, errNoExport)
		return
	}
	b, err := s.Shop.TakeExport(id)
	if err != nil {
		if isNotFound(err) {
			err = errNoExport
		}
		s.WriteError(w, r, err)
		return
	}
	s.record(sess, "export.download", id, fmt.Sprintf("%d bytes", len(b)))
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="veil-export-`+id+`.age"`)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// deleteRequest is POST /api/v1/admin/inventory/delete.
type deleteRequest struct {
	Product string `json:"product"`
	Batch   string `json:"batch"`
	TOTP    string `json:"totp"`
}

func (s *Server) proposeDelete(sess staff.Session, req deleteRequest) (staff.Approval, error) {
	prod, err := s.Shop.Product(strings.TrimSpace(req.Product))
	if err != nil {
		return staff.Approval{}, err
	}
	batch, err := s.checkBatch(prod.ID, req.Batch)
	if err != nil {
		return staff.Approval{}, err
	}
	p := deleteParams{Product: prod.ID, Batch: batch}
	return s.proposeOp(sess, staff.KindInventoryDelete, prod.ID, fmt.Sprintf("delete unsold keys of %s (%s)", prod.Slug, batchLabel(batch)), p, req.TOTP)
}

func (s *Server) deleteSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	f := r.PostForm
	a, err := s.proposeDelete(sess, deleteRequest{Product: f.Get("product"), Batch: f.Get("batch"), TOTP: f.Get("totp")})
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.opRedirect(w, r, a, "/admin/products")
}

// staffRequest is POST /api/v1/admin/staff. There is no password: a new
// member chooses their own when enrolling, with the enrolment secret the
// approval hands the approver.
type staffRequest struct {
	Action string `json:"action"` // add, remove, role
	Name   string `json:"name"`
	Role   string `json:"role"`
	TOTP   string `json:"totp"`
}

func (s *Server) proposeStaff(r *http.Request, sess staff.Session, req staffRequest) (staff.Approval, error) {
	name := strings.ToLower(strings.TrimSpace(req.Name))
	role := staff.Role(req.Role)
	switch req.Action {
	case "add":
		a, err := s.Staff.ProposeAddUser(staff.StaffActor(sess.User), name, role)
		if err != nil || strings.TrimSpace(req.TOTP) == "" || !s.mayApproveAlone(sess, staff.KindStaffAdd) {
			return a, err
		}
		// The name is reserved outside the params (see staff), so this
		// kind cannot go through ProposeAndExecute: approve the fresh
		// proposal with the same code instead.
		d, err := s.Staff.Decide(r.Context(), a.ID, sess.User, staff.Approve, req.TOTP)
		if err != nil {
			return d, err
		}
		s.afterApproval(d)
		return d, nil
	case "remove":
		return s.proposeOp(sess, staff.KindStaffRemove, name, "remove staff member "+name,
			staff.StaffRemoveParams{Name: name}, req.TOTP)
	case "role":
		return s.proposeOp(sess, staff.KindStaffRole, name, fmt.Sprintf("make %s %s", name, role),
			staff.StaffRoleParams{Name: name, Role: role}, req.TOTP)
	}
	return staff.Approval{}, web.BadRequest("action: add, remove or role")
}

// mayApproveAlone reports whether sess may approve its own proposal of kind.
func (s *Server) mayApproveAlone(sess staff.Session, kind staff.Kind) bool {
	if !s.Staff.CanDecide(sess.Role, kind) {
		return false
	}
	on, err := s.Staff.TwoPerson(kind)
	return err == nil && !on
}

func (s *Server) staffSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	f := r.PostForm
	a, err := s.proposeStaff(r, sess, staffRequest{Action: f.Get("action"), Name: f.Get("name"),
		Role: f.Get("role"), TOTP: f.Get("totp")})
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	if a.EnrolmentSecret != "" {
		s.enrolHandover(w, r, sess, a)
		return
	}
	s.opRedirect(w, r, a, "/admin/staff")
}

// enrolHandover shows the approver of a new member, once, the one-time
// enrolment secret to hand over (in person or another private channel).
// It is a page, not a redirect: the secret must never be in a URL.
func (s *Server) enrolHandover(w http.ResponseWriter, r *http.Request, sess staff.Session, a staff.Approval) {
	page := &pages.AdminEnrol{AdminBase: s.adminBase(r, &sess, "staff", "/admin/staff"), Step: "handover",
		Name: a.Ref, EnrolSecret: a.EnrolmentSecret}
	s.Render(w, r, http.StatusOK, page)
}

// settingsRequest is POST /api/v1/admin/settings: any of its settings,
// at least one.
type settingsRequest struct {
	TwoPerson     map[string]bool  `json:"two_person"`
	Tiers         *shop.TierRules  `json:"tiers"`
	TimeZone      *string          `json:"time_zone"`
	RetentionDays *int             `json:"retention_days"`
	FastTrack     *shop.FastTrack  `json:"fast_track"`
	XMRRate       map[string]int64 `json:"xmr_rate"`
	// Shop is the storefront's branding (brand.go); fields left out keep
	// their value.
	Shop         *brandingRequest       `json:"shop"`
	Compensation *shop.CompensationRule `json:"compensation"`
	TOTP         string                 `json:"totp"`
}

func (s *Server) proposeSettings(sess staff.Session, req settingsRequest) (staff.Approval, error) {
	if len(req.TwoPerson) == 0 && req.Tiers == nil && req.TimeZone == nil && req.RetentionDays == nil && req.FastTrack == nil && req.XMRRate == nil && req.Shop == nil && req.Compensation == nil {
		return staff.Approval{}, web.BadRequest("at least one setting: two_person, tiers, time_zone, retention_days, fast_track, xmr_rate, shop or compensation")
	}
	p := settingsParams{TwoPerson: map[staff.Kind]bool{}}
	for k, on := range req.TwoPerson {
		if !slices.Contains(staff.Kinds(), staff.Kind(k)) {
			return staff.Approval{}, web.BadRequest("two_person: unknown kind %q", k)
		}
		p.TwoPerson[staff.Kind(k)] = on
	}
	// Kinds that pay money out share one switch: on when any of them is
	// asked on (the form sends every kind, checked or not).
	money, asked := false, false
	for k, on := range p.TwoPerson {
		if staff.MoneyOut(k) {
			money, asked = money || on, true
		}
	}
	if asked {
		for _, k := range staff.Kinds() {
			if staff.MoneyOut(k) {
				p.TwoPerson[k] = money
			}
		}
	}
	if req.Tiers != nil {
		if err := checkTierRules(*req.Tiers); err != nil {
			return staff.Approval{}, err
		}
		p.Tiers = req.Tiers
	}
	if req.TimeZone != nil {
		if err := shop.CheckTimeZone(*req.TimeZone); err != nil {
			return staff.Approval{}, err
		}
		p.TimeZone = *req.TimeZone
	}
	if req.RetentionDays != nil {
		if d := *req.RetentionDays; d < shop.MinRetentionDays || d > shop.MaxRetentionDays {
			return staff.Approval{}, web.BadRequest("retention_days: %d to %d", shop.MinRetentionDays, shop.MaxRetentionDays)
		}
		p.RetentionDays = *req.RetentionDays
	}
	if req.FastTrack != nil {
		if err := req.FastTrack.Validate(); err != nil {
			return staff.Approval{}, err
		}
		p.FastTrack = req.FastTrack
	}
	if req.XMRRate != nil {
		if err := shop.CheckXMRRates(req.XMRRate); err != nil {
			return staff.Approval{}, err
		}
		p.XMRRate = req.XMRRate
	}
	if req.Shop != nil {
		b, err := s.brandingOf(*req.Shop)
		if err != nil {
			return staff.Approval{}, err
		}
		p.Shop = b
	}
	if req.Compensation != nil {
		if err := req.Compensation.Validate(); err != nil {
			return staff.Approval{}, err
		}
		p.Compensation = req.Compensation
	}
	ref := "shop"
	switch {
	case len(p.TwoPerson) > 0:
		ref = "two_person"
	case p.Tiers != nil:
		ref = "tiers"
	case p.FastTrack != nil:
		ref = "fast_track"
	case p.XMRRate != nil:
		ref = "xmr_rate"
	case p.Shop != nil:
		ref = "branding"
	case p.Compensation != nil:
		ref = "compensation"
	}
	return s.proposeOp(sess, staff.KindSettings, ref, settingsSummary(p), p, req.TOTP)
}

// settingsSummary says what a settings approval changes, for people.
func settingsSummary(p settingsParams) string {
	var parts []string
	if len(p.TwoPerson) > 0 {
		parts = append(parts, "two-person rule: "+twoPersonSummary(p.TwoPerson))
	}
	if p.Tiers != nil {
		parts = append(parts, "trust tier rules: "+tierSummary(*p.Tiers))
	}
	if p.TimeZone != "" {
		parts = append(parts, "time zone: "+p.TimeZone)
	}
	if p.RetentionDays != 0 {
		parts = append(parts, fmt.Sprintf("retention: %d days", p.RetentionDays))
	}
	if p.FastTrack != nil {
		parts = append(parts, "fast track: "+fastTrackSummary(*p.FastTrack))
	}
	if c := p.Compensation; c != nil {
		parts = append(parts, fmt.Sprintf("compensation: %d%% voucher (late from %d min: %v; refund due: %v)", c.Percent, c.LateMinutes, c.Late, c.RefundDue))
	}
	if len(p.XMRRate) > 0 {
		cs := make([]string, 0, len(p.XMRRate))
		for c, r := range p.XMRRate {
			cs = append(cs, fmt.Sprintf("%s %d", c, r))
		}
		slices.Sort(cs)
		parts = append(parts, "XMR rate (minor units per XMR): "+strings.Join(cs, ", "))
	}
	if p.Shop != nil {
		parts = append(parts, brandingSummary(*p.Shop))
	}
	out := strings.Join(parts, "; ")
	if len(out) > 500 { // an approval's summary holds 512 bytes; the params hold it all
		cut := 497
		for cut > 0 && !utf8.RuneStart(out[cut]) {
			cut--
		}
		out = out[:cut] + "…"
	}
	return out
}

func fastTrackSummary(f shop.FastTrack) string {
	return fmt.Sprintf("remedies %s, at most %d per order and %d per day (minor units)",
		remedyNames(f.Remedies), f.MaxOrderMinor, f.MaxDayMinor)
}

// apiFastTrack is GET /api/v1/admin/fast-track: the bounds in force.
// Change them with POST /api/v1/admin/settings {"fast_track":{…},"totp"}.
func (s *Server) apiFastTrack(w http.ResponseWriter, r *http.Request, _ staff.Session) {
	f, err := s.Shop.FastTrack()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	if f.Remedies == nil {
		f.Remedies = []shop.Remedy{}
	}
	web.WriteJSON(w, http.StatusOK, f)
}

func twoPersonSummary(m map[staff.Kind]bool) string {
	// The kinds switched on, by name; the rest counted. The form sends
	// every kind, and naming them all outgrew an approval's summary (512
	// bytes) as features added kinds.
	var on []string
	off := 0
	for k, v := range m {
		if v {
			on = append(on, string(k))
		} else {
			off++
		}
	}
	slices.Sort(on)
	out := "on for " + strings.Join(on, ", ")
	if len(on) == 0 {
		out = "on for none"
	}
	if off > 0 {
		out += fmt.Sprintf("; off for %d other kinds", off)
	}
	return out
}

// settingsSubmit is POST /admin/settings: every kind's checkbox, so an
// unchecked one turns the rule off.
//
// The shop form (form=shop) sets the time zone and the retention instead.
func (s *Server) settingsSubmit(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	req := settingsRequest{TwoPerson: map[string]bool{}, TOTP: r.PostForm.Get("totp")}
	switch r.PostForm.Get("form") {
	case "xmr":
		// One currency's price of one XMR, typed in major units; empty
		// or 0 unsets it.
		req.TwoPerson = nil
		cur := strings.ToUpper(strings.TrimSpace(r.PostForm.Get("xmr_currency")))
		rate, err := parseMoney(r.PostForm.Get("xmr_rate"), cur)
		if err != nil {
			s.WriteError(w, r, web.BadRequest("xmr_rate: an amount such as 1200.00"))
			return
		}
		req.XMRRate = map[string]int64{cur: rate}
	case "shop":
		req.TwoPerson = nil
		tz := strings.TrimSpace(r.PostForm.Get("time_zone"))
		req.TimeZone = &tz
		days, err := strconv.Atoi(strings.TrimSpace(r.PostForm.Get("retention_days")))
		if err != nil {
			s.WriteError(w, r, web.BadRequest("retention_days: a whole number of days"))
			return
		}
		req.RetentionDays = &days
	default:
		for _, k := range staff.Kinds() {
			req.TwoPerson[string(k)] = false
		}
		for _, k := range r.PostForm["two_person"] {
			req.TwoPerson[k] = true
		}
	}
	a, err := s.proposeSettings(sess, req)
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	s.opRedirect(w, r, a, "/admin/staff")
}

// opJSON serves a sensitive operation's JSON route: decode the body, then
// propose it (or, with a valid code from someone who may approve alone,
// execute it) and answer 202 or 200.
func opJSON[Req any](s *Server, propose func(staff.Session, Req) (staff.Approval, error)) func(http.ResponseWriter, *http.Request, staff.Session) {
	return func(w http.ResponseWriter, r *http.Request, sess staff.Session) {
		var req Req
		if err := web.DecodeJSON(r, &req); err != nil {
			s.WriteError(w, r, err)
			return
		}
		a, err := propose(sess, req)
		if err != nil {
			s.WriteError(w, r, err)
			return
		}
		s.writeOp(w, a)
	}
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// apiStaff is POST /api/v1/admin/staff (its proposal needs the request).
func (s *Server) apiStaff(w http.ResponseWriter, r *http.Request, sess staff.Session) {
	opJSON(s, func(sess staff.Session, req staffRequest) (staff.Approval, error) {
		return s.proposeStaff(r, sess, req)
	})(w, r, sess)
}

// settingsJSON is GET /api/v1/admin/settings.
type settingsJSON struct {
	TimeZone      string          `json:"time_zone"`
	RetentionDays int             `json:"retention_days"`
	TwoPerson     map[string]bool `json:"two_person"`
	// XMRRate is the XMR rate of each currency that has one ({} for none).
	XMRRate map[string]int64 `json:"xmr_rate"`
	// Shop is the storefront's branding in force (brand.go).
	Shop shop.Branding `json:"shop"`
	// Compensation is the proactive-compensation rule (commerce.go).
	Compensation shop.CompensationRule `json:"compensation"`
}

// apiSettings is GET /api/v1/admin/settings: the settings in force.
func (s *Server) apiSettings(w http.ResponseWriter, r *http.Request, _ staff.Session) {
	out := settingsJSON{TimeZone: s.Shop.TimeZone(), RetentionDays: s.Shop.RetentionDays(), TwoPerson: map[string]bool{}}
	for _, k := range staff.Kinds() {
		on, err := s.Staff.TwoPerson(k)
		if err != nil {
			s.WriteError(w, r, err)
			return
		}
		out.TwoPerson[string(k)] = on
	}
	rates, err := s.Shop.XMRRates()
	if err != nil {
		s.WriteError(w, r, err)
		return
	}
	out.XMRRate = rates
	if out.Shop, err = s.Shop.Branding(); err != nil {
		s.WriteError(w, r, err)
		return
	}
	out.Compensation = s.Shop.CompensationRule()
	web.WriteJSON(w, http.StatusOK, out)
}
