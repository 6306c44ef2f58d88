package staff

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"veil/server/store"
)

// StaffAddParams are the params of a staff_add approval. The password hash
// is not among them (params are shown to all staff): it waits under
// staff/invite/<name> until the approval is decided.
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

type invite struct {
	PasswordHash string `json:"password_hash"`
}

// ProposeAddUser queues a staff_add approval. The password is hashed now
// and kept out of the approval's params. Once approved, the new member
// opens PendingEnrolment with the password, scans the QR code and finishes
// with FinishEnrolment.
func (s *Service) ProposeAddUser(proposer, name, password string, role Role) (Approval, error) {
	name, err := validateNew(name, password, role)
	if err != nil {
		return Approval{}, err
	}
	hash := s.hashPassword(password)
	summary := fmt.Sprintf("add %s as %s", name, role)
	var a Approval
	err = s.db.Update(func(tx *store.Txn) error {
		if err := nameTaken(tx, name); err != nil {
			return err
		}
		if err := tx.SetJSON(inviteKey(name), invite{PasswordHash: hash}); err != nil {
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
	s.RegisterExecutor(KindStaffAdd, RoleOwner, s.execStaffAdd)
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

func (s *Service) execStaffAdd(tx *store.Txn, a Approval) (string, error) {
	var p StaffAddParams
	if err := json.Unmarshal(a.Params, &p); err != nil {
		return "", fmt.Errorf("%w: params: %v", ErrExecFailed, err)
	}
	var inv invite
	if err := tx.GetJSON(inviteKey(p.Name), &inv); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return "", fmt.Errorf("%w: no pending invite for %s", ErrExecFailed, p.Name)
		}
		return "", err
	}
	if has, err := tx.Has(userKey(p.Name)); err != nil || has {
		if err == nil {
			err = fmt.Errorf("%w: %s exists", ErrExecFailed, p.Name)
		}
		return "", err
	}
	key, err := s.newTOTPKey(p.Name, nil)
	if err != nil {
		return "", err
	}
	u := userRecord{Name: p.Name, Role: p.Role, PasswordHash: inv.PasswordHash, TOTPSecret: key.Secret(),
		CreatedAt: s.now().Truncate(time.Second), CreatedBy: a.DecidedBy}
	if err := tx.SetJSON(userKey(p.Name), u); err != nil {
		return "", err
	}
	if err := tx.Delete(inviteKey(p.Name)); err != nil {
		return "", err
	}
	if err := s.audit(tx, a.DecidedBy, ActionUserCreate, p.Name, "role="+string(p.Role)+" approval="+a.ID); err != nil {
		return "", err
	}
	return fmt.Sprintf("added %s as %s; enrolment pending", p.Name, p.Role), nil
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
