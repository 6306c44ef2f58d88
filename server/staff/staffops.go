package staff

import (
	"encoding/json"
	"errors"
	"fmt"

	"veil/server/store"
)

// StaffAddParams are the params of a staff_add approval. No password: the
// new member chooses it when enrolling, with the one-time enrolment secret
// that approving hands to the approver alone (Approval.EnrolmentSecret).
type StaffAddParams struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
}

// StaffRemoveParams are the params of a staff_remove approval.
type StaffRemoveParams struct {
	Name string `json:"name"`
}

// StaffRoleParams are the params of a staff_role approval.
type StaffRoleParams struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
}

// invite reserves the name of a proposed member until the approval is
// decided, so two proposals cannot race for one name.
type invite struct {
	Role Role `json:"role"`
}

// ProposeAddUser queues a staff_add approval. The proposer chooses no
// password and learns no secret: approving creates the account and hands
// the approver (only) a one-time enrolment secret, with which the new
// member sets their own password and TOTP (PendingEnrolment,
// FinishEnrolment). So a proposer cannot enrol in the new member's place.
func (s *Service) ProposeAddUser(proposer, name string, role Role) (Approval, error) {
	name, err := validateMember(name, role)
	if err != nil {
		return Approval{}, err
	}
	summary := fmt.Sprintf("add %s as %s", name, role)
	var a Approval
	err = s.db.Update(func(tx *store.Txn) error {
		if err := nameTaken(tx, name); err != nil {
			return err
		}
		if err := tx.SetJSON(inviteKey(name), invite{Role: role}); err != nil {
			return err
		}
		var err error
		a, err = s.ProposeTx(tx, proposer, KindStaffAdd, name, summary, StaffAddParams{Name: name, Role: role})
		return err
	})
	if err != nil {
		return Approval{}, wrapf(err, "propose adding %s", name)
	}
	return a, nil
}

func (s *Service) registerStaffExecutors() {
	s.RegisterExecutor(KindStaffAdd, RoleOwner, func(tx *store.Txn, a Approval) (string, error) {
		res, _, err := s.execStaffAdd(tx, a)
		return res, err
	})
	// The decision itself calls the form that hands the secret back.
	s.executors[KindStaffAdd] = executorEntry{minRole: RoleOwner, fn: s.executors[KindStaffAdd].fn, private: s.execStaffAdd}
	s.RegisterExecutor(KindStaffRemove, RoleOwner, func(tx *store.Txn, a Approval) (string, error) {
		var p StaffRemoveParams
		if err := json.Unmarshal(a.Params, &p); err != nil {
			return "", fmt.Errorf("%w: params: %v", ErrExecFailed, err)
		}
		if err := s.removeUserTx(tx, a.DecidedBy, p.Name); err != nil {
			return "", permanent(err)
		}
		return "removed " + p.Name, nil
	})
	s.RegisterExecutor(KindStaffRole, RoleOwner, func(tx *store.Txn, a Approval) (string, error) {
		var p StaffRoleParams
		if err := json.Unmarshal(a.Params, &p); err != nil {
			return "", fmt.Errorf("%w: params: %v", ErrExecFailed, err)
		}
		if err := s.setRoleTx(tx, a.DecidedBy, p.Name, p.Role); err != nil {
			return "", permanent(err)
		}
		return fmt.Sprintf("%s is now %s", p.Name, p.Role), nil
	})
}

// execStaffAdd creates the approved member, unenrolled and without a
// password, and returns the one-time enrolment secret as its private
// result: the caller of the decision shows it to the approver once; it is
// never stored in the clear, audited or put in the approval.
func (s *Service) execStaffAdd(tx *store.Txn, a Approval) (result, secret string, err error) {
	var p StaffAddParams
	if err := json.Unmarshal(a.Params, &p); err != nil {
		return "", "", fmt.Errorf("%w: params: %v", ErrExecFailed, err)
	}
	if has, err := tx.Has(inviteKey(p.Name)); err != nil || !has {
		if err == nil {
			err = fmt.Errorf("%w: no pending invite for %s", ErrExecFailed, p.Name)
		}
		return "", "", err
	}
	if has, err := tx.Has(userKey(p.Name)); err != nil || has {
		if err == nil {
			err = fmt.Errorf("%w: %s exists", ErrExecFailed, p.Name)
		}
		return "", "", err
	}
	secret, err = s.createMemberTx(tx, p.Name, p.Role, a.DecidedBy, "role="+string(p.Role)+" approval="+a.ID)
	if err != nil {
		return "", "", err
	}
	if err := tx.Delete(inviteKey(p.Name)); err != nil {
		return "", "", err
	}
	return fmt.Sprintf("added %s as %s; enrolment pending", p.Name, p.Role), secret, nil
}

// permanent marks staff refusals (last owner, unknown user, bad role) as
// failures that no retry can fix; store errors stay retryable.
func permanent(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return fmt.Errorf("%w: %w", ErrExecFailed, err)
	}
	return err
}
