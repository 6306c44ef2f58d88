package crypto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"
)

// Vault holds the merchant's secrets. At rest it is sealed with the unlock
// passphrase ([Vault.Seal]); the server keeps the opened Vault in memory only
// while unlocked.
type Vault struct {
	Inventory *Identity // data keys of imported inventory are sealed to it
	Support   *Identity // support threads are sealed to it (and the order)
	Backup    *Identity // backups are sealed to it
	// FingerprintKey keys [Vault.Fingerprint]. Kept secret so a dump of the
	// fingerprints cannot be checked against guessed licence keys.
	FingerprintKey [32]byte
	// NoticeKey signs the merchant's public notices ([SignNotice]). Vaults
	// sealed before notices existed open with it nil; the caller adds one.
	NoticeKey ed25519.PrivateKey
	// BackupSignKey signs backups ([NewBackupWriter]), so that a restore can
	// tell them from a store sealed to the (public) backup recipient by
	// someone else. A key of its own rather than the notice key: notice
	// signatures are published to anyone, backup signatures go only to the
	// operator, and either key can be replaced without touching the other's
	// fingerprint. Nil for vaults sealed before backups were signed, until
	// the caller adds one.
	BackupSignKey ed25519.PrivateKey
	// OldInventory and OldSupport are the identities being replaced while a
	// rotation re-seals what was sealed to them ([Vault.Rotate]); nil
	// otherwise.
	OldInventory *Identity
	OldSupport   *Identity
}

// VaultPublic is the public half of a [Vault]: the age recipients, safe to
// store in the clear so that sealing works while the vault is locked.
type VaultPublic struct {
	Inventory string `json:"inventory"`
	Support   string `json:"support"`
	Backup    string `json:"backup"`
	// Notice is the notice-signing public key, base64 (empty for a vault
	// sealed before notices existed, until its next unlock adds one).
	Notice string `json:"notice,omitempty"`
	// BackupSign is the backup-signing public key, base64.
	BackupSign string `json:"backup_sign,omitempty"`
}

// ErrWrongPassphrase is returned by [OpenVault] when the passphrase does not
// open the vault.
var ErrWrongPassphrase = errors.New("crypto: wrong passphrase")

// vaultWorkFactor is the scrypt cost, log2(N), of [Vault.Seal]: N = 2^18 with
// r = 8 takes 256 MiB and roughly a second on current hardware — age's own
// default. Unlocking is rare (at start-up, by a person), so a second is
// cheap for us and expensive for someone guessing passphrases offline from a
// stolen data directory. Tests lower it.
var vaultWorkFactor = 18

// vaultMaxWorkFactor is the highest cost [OpenVault] accepts, leaving room to
// raise vaultWorkFactor later while refusing a crafted file that would make
// an unlock take hours.
const vaultMaxWorkFactor = 22

// vaultVersion is the version of the JSON inside the age file.
const vaultVersion = 1

type vaultJSON struct {
	Version        int    `json:"version"`
	Inventory      string `json:"inventory"`
	Support        string `json:"support"`
	Backup         string `json:"backup"`
	FingerprintKey []byte `json:"fingerprint_key"`
	NoticeSeed     []byte `json:"notice_seed,omitempty"`
	BackupSignSeed []byte `json:"backup_sign_seed,omitempty"`
	OldInventory   string `json:"old_inventory,omitempty"`
	OldSupport     string `json:"old_support,omitempty"`
}

// NewVault returns a vault with fresh identities of the given kind and a
// fresh fingerprint key.
func NewVault(kind Kind) (v *Vault, err error) {
	v = new(Vault)
	for _, p := range []**Identity{&v.Inventory, &v.Support, &v.Backup} {
		id, err := NewIdentity(kind)
		if err != nil {
			return nil, fmt.Errorf("crypto: new vault: %w", err)
		}
		*p = id
	}
	if _, err := rand.Read(v.FingerprintKey[:]); err != nil {
		return nil, fmt.Errorf("crypto: new vault: %w", err)
	}
	if _, v.NoticeKey, err = ed25519.GenerateKey(rand.Reader); err != nil {
		return nil, fmt.Errorf("crypto: new vault: %w", err)
	}
	if _, v.BackupSignKey, err = ed25519.GenerateKey(rand.Reader); err != nil {
		return nil, fmt.Errorf("crypto: new vault: %w", err)
	}
	return v, nil
}

// Seal returns the vault as an age file encrypted with passphrase (age's
// scrypt recipient). Inside is a versioned JSON document. Choosing a strong
// passphrase, and refusing weak ones, is the caller's job.
func (v *Vault) Seal(passphrase string) ([]byte, error) {
	return v.SealWorkFactor(passphrase, vaultWorkFactor)
}

// SealWorkFactor is [Vault.Seal] with an explicit scrypt cost, log2(N),
// between 10 and the most [OpenVault] accepts (22). Only tests and
// benchmarks should go below the default of 18.
func (v *Vault) SealWorkFactor(passphrase string, logN int) ([]byte, error) {
	if logN < 10 || logN > vaultMaxWorkFactor {
		return nil, fmt.Errorf("crypto: seal vault: work factor %d outside 10..%d", logN, vaultMaxWorkFactor)
	}
	if v.Inventory == nil || v.Support == nil || v.Backup == nil {
		return nil, errors.New("crypto: seal vault: missing identity")
	}
	r, err := age.NewScryptRecipient(passphrase)
	if err != nil {
		return nil, fmt.Errorf("crypto: seal vault: %w", err)
	}
	r.SetWorkFactor(logN)
	pt, err := json.Marshal(vaultJSON{
		Version:        vaultVersion,
		Inventory:      v.Inventory.String(),
		Support:        v.Support.String(),
		Backup:         v.Backup.String(),
		FingerprintKey: v.FingerprintKey[:],
		NoticeSeed:     noticeSeed(v.NoticeKey),
		BackupSignSeed: noticeSeed(v.BackupSignKey),
		OldInventory:   secretOrEmpty(v.OldInventory),
		OldSupport:     secretOrEmpty(v.OldSupport),
	})
	if err != nil {
		return nil, fmt.Errorf("crypto: seal vault: %w", err)
	}
	defer clear(pt)
	return Seal(pt, r)
}

// OpenVault opens a vault sealed with [Vault.Seal]. A wrong passphrase is
// [ErrWrongPassphrase]; other errors mean the data is damaged or not a vault.
// It takes as long as the scrypt work factor (about a second): callers should
// allow one unlock at a time.
func OpenVault(sealed []byte, passphrase string) (*Vault, error) {
	id, err := age.NewScryptIdentity(passphrase)
	if err != nil {
		return nil, ErrWrongPassphrase // empty passphrase
	}
	id.SetMaxWorkFactor(vaultMaxWorkFactor)
	r, err := age.Decrypt(bytes.NewReader(sealed), id)
	if err != nil {
		if errors.Is(err, age.ErrIncorrectIdentity) {
			return nil, ErrWrongPassphrase
		}
		return nil, fmt.Errorf("crypto: open vault: %w", err)
	}
	pt, err := io.ReadAll(io.LimitReader(r, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("crypto: open vault: %w", err)
	}
	defer clear(pt)
	var j vaultJSON
	if err := json.Unmarshal(pt, &j); err != nil {
		return nil, errors.New("crypto: open vault: malformed contents")
	}
	defer clear(j.FingerprintKey)
	if j.Version != vaultVersion {
		return nil, fmt.Errorf("crypto: open vault: unsupported version %d", j.Version)
	}
	if len(j.FingerprintKey) != 32 {
		return nil, errors.New("crypto: open vault: malformed fingerprint key")
	}
	v := new(Vault)
	for _, f := range []struct {
		dst **Identity
		s   string
	}{{&v.Inventory, j.Inventory}, {&v.Support, j.Support}, {&v.Backup, j.Backup}} {
		if *f.dst, err = ParseIdentity(f.s); err != nil {
			return nil, fmt.Errorf("crypto: open vault: %w", err)
		}
	}
	for _, f := range []struct {
		dst **Identity
		s   string
	}{{&v.OldInventory, j.OldInventory}, {&v.OldSupport, j.OldSupport}} {
		if f.s == "" {
			continue
		}
		if *f.dst, err = ParseIdentity(f.s); err != nil {
			return nil, fmt.Errorf("crypto: open vault: %w", err)
		}
	}
	copy(v.FingerprintKey[:], j.FingerprintKey)
	if len(j.NoticeSeed) == ed25519.SeedSize {
		v.NoticeKey = ed25519.NewKeyFromSeed(j.NoticeSeed)
		clear(j.NoticeSeed)
	}
	if len(j.BackupSignSeed) == ed25519.SeedSize {
		v.BackupSignKey = ed25519.NewKeyFromSeed(j.BackupSignSeed)
		clear(j.BackupSignSeed)
	}
	return v, nil
}

// Public returns the vault's recipients.
func (v *Vault) Public() VaultPublic {
	p := VaultPublic{
		Inventory: v.Inventory.Recipient(),
		Support:   v.Support.Recipient(),
		Backup:    v.Backup.Recipient(),
	}
	if v.NoticeKey != nil {
		p.Notice = base64.StdEncoding.EncodeToString(v.NoticeKey.Public().(ed25519.PublicKey))
	}
	if v.BackupSignKey != nil {
		p.BackupSign = base64.StdEncoding.EncodeToString(v.BackupSignKey.Public().(ed25519.PublicKey))
	}
	return p
}

// Fingerprint returns HMAC-SHA256(FingerprintKey, normalizedKey): a stable,
// secret-keyed fingerprint of a licence key that detects duplicate imports
// and re-imports of sold keys without storing the key. Pass the output of
// [NormalizeKey], so that stray whitespace does not defeat it.
func (v *Vault) Fingerprint(normalizedKey string) [32]byte {
	m := hmac.New(sha256.New, v.FingerprintKey[:])
	m.Write([]byte(normalizedKey))
	var out [32]byte
	m.Sum(out[:0])
	return out
}

// String redacts the vault, so printing one does not leak its secrets.
func (v *Vault) String() string { return "crypto.Vault[redacted]" }
