package crypto

import (
	"errors"
	"fmt"

	"filippo.io/age"
)

// Rotating an identity replaces it in the vault with a fresh one. For the
// inventory and support identities, things sealed to the old one (batch data
// keys, thread messages) must be re-sealed first, so a rotation has two
// vaults: "during", where the new identity is current (everything new is
// sealed to it) and the old one is kept to open what is not re-sealed yet,
// and "after", without the old one. The caller seals both at the start, with
// the passphrase, and swaps in "after" once everything is re-sealed: the old
// identity is then gone from the store without asking for the passphrase
// again. The backup identity seals nothing at rest, so its rotation is
// immediate (during and after are the same).

// Which identities [Vault.Rotate] can replace.
const (
	RotateInventory = "inventory"
	RotateSupport   = "support"
	RotateBackup    = "backup"
)

// ErrRotating is a second rotation asked for while one is under way.
var ErrRotating = errors.New("crypto: a rotation is under way")

// Rotate returns the vault with a fresh identity of the given kind for
// which (RotateInventory, RotateSupport or RotateBackup): during keeps the
// old one as OldInventory or OldSupport, after does not. v is unchanged.
func (v *Vault) Rotate(which string, kind Kind) (during, after *Vault, err error) {
	if v.OldInventory != nil || v.OldSupport != nil {
		return nil, nil, ErrRotating
	}
	id, err := NewIdentity(kind)
	if err != nil {
		return nil, nil, fmt.Errorf("crypto: rotate: %w", err)
	}
	during, after = v.clone(), v.clone()
	switch which {
	case RotateInventory:
		during.Inventory, during.OldInventory, after.Inventory = id, v.Inventory, id
	case RotateSupport:
		during.Support, during.OldSupport, after.Support = id, v.Support, id
	case RotateBackup:
		during.Backup, after.Backup = id, id
	default:
		return nil, nil, fmt.Errorf("crypto: rotate: unknown identity %q", which)
	}
	return during, after, nil
}

// Retire returns the vault without the identities a rotation replaced.
func (v *Vault) Retire() *Vault {
	c := v.clone()
	c.OldInventory, c.OldSupport = nil, nil
	return c
}

func (v *Vault) clone() *Vault {
	c := *v
	return &c
}

// InventoryIdentity opens batch data keys: the current inventory identity
// and, during a rotation, the one being replaced.
func (v *Vault) InventoryIdentity() age.Identity { return either(v.Inventory, v.OldInventory) }

// SupportIdentity opens support threads: the current support identity and,
// during a rotation, the one being replaced.
func (v *Vault) SupportIdentity() age.Identity { return either(v.Support, v.OldSupport) }

func either(cur, old *Identity) age.Identity {
	if old == nil {
		return cur.Age()
	}
	return identities{cur.Age(), old.Age()}
}

// identities is an age.Identity that tries each of its members.
type identities []age.Identity

func (ids identities) Unwrap(stanzas []*age.Stanza) ([]byte, error) {
	for _, id := range ids {
		k, err := id.Unwrap(stanzas)
		if err == nil {
			return k, nil
		}
		if !errors.Is(err, age.ErrIncorrectIdentity) {
			return nil, err
		}
	}
	return nil, age.ErrIncorrectIdentity
}

func secretOrEmpty(id *Identity) string {
	if id == nil {
		return ""
	}
	return id.String()
}
