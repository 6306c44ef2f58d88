package pages

import "time"

func init() { adminPageNames = append(adminPageNames, "admin_keys") }

// AdminKeys is the key rotation page: fingerprints, the progress of the
// current or last rotation, and the owner's forms (change the passphrase,
// rotate an identity, swap the 易支付 key).
type AdminKeys struct {
	AdminBase
	Owner             bool
	BackupFingerprint string
	NoticeFingerprint string
	EpayKey           bool         // the 易支付 key can be rotated here
	Rotation          *KeyRotation // nil before the first rotation
	// BackupIdentity is the new backup identity, shown once right after a
	// backup rotation.
	BackupIdentity string
}

func (*AdminKeys) page() string { return "admin_keys" }

// KeyRotation is a rotation's progress.
type KeyRotation struct {
	Which    string // inventory, support or backup
	Running  bool
	Done     int
	Total    int
	Started  time.Time
	Finished time.Time
}

// Percent is how far the rotation got, 0 to 100.
func (k *KeyRotation) Percent() int {
	if k.Total == 0 {
		return 100
	}
	return k.Done * 100 / k.Total
}
