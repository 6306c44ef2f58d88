// Package shop is veil's domain: the catalog, inventory batches and keys,
// orders and their state machine, reservation, delivery and retrieval.
//
// Every state change is one store transaction. Reservation is serialised per
// product in memory (the process owns the data directory exclusively), so the
// optimistic transactions rarely conflict even under a flash sale; Badger's
// conflict detection stays on underneath as the safety net.
package shop

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"filippo.io/age"

	"veil/crypto"
	"veil/server/notify"
	"veil/server/store"
)

// Config tunes a Shop; zero values pick defaults.
type Config struct {
	ReservationTTL   time.Duration    // unpaid orders hold their keys this long (15 min)
	DeliveryDeadline time.Duration    // after payment, deliver within this or refund_due (30 min)
	MaxQuantity      int              // per order, all products (100)
	Now              func() time.Time // clock, for tests
	Logger           *slog.Logger
	// Kind is the age key kind for new order identities (crypto.DefaultKind).
	Kind crypto.Kind
	// Retention keeps a settled or refunded order this long before purging
	// it until the merchant sets retention_days (DefaultRetentionDays);
	// ExpiredRetention keeps an order that was never paid (7 days).
	Retention        time.Duration
	ExpiredRetention time.Duration
	// OnPurge runs just before an order is purged, so its support thread
	// goes first (a crash between the two leaves the order to the next
	// purge, never an orphaned thread).
	OnPurge func(ref string) error
	// OnRefundDue runs inside the transaction that makes an order
	// refund_due (delivery deadline, late payment without stock, recall), so
	// the approvals queue can take it up in the same commit.
	OnRefundDue func(tx *store.Txn, o Order) error
	// OnCompensate (commerce: vouchers.go) runs inside the transaction in
	// which the owner's compensation rule proposes a voucher for an order,
	// so the approval commits with it.
	OnCompensate func(tx *store.Txn, c VoucherProposal) error
	// VaultWorkFactor is the scrypt cost of a new vault; 0 means the
	// default (2^18, about a second). Tests lower it.
	VaultWorkFactor int
	// Threads re-seals support threads when the support identity rotates
	// (nil: support rotations are refused).
	Threads ThreadResealer
	// OnRotationDone runs after a rotation's job destroyed the old identity
	// (the audit log records it).
	OnRotationDone func(Rotation)
	// AfterUpstreamPurchase runs between a sourced order's upstream
	// purchase and its local commit (tests crash the process there).
	AfterUpstreamPurchase func(ref string)
	// ForwardPoll is how often forwarded tickets are read upstream (30 s).
	ForwardPoll time.Duration
	// OnBatchFrozen runs inside the transaction that freezes a supplier
	// batch automatically (issue 13 §2, freeze.go), so the owner's
	// notification commits with the freeze or not at all.
	OnBatchFrozen func(tx *store.Txn, f Freeze) error
	// Notify queues merchant notifications in the transactions that cause
	// them (nil: none). Merchant notifications (issue 12).
	Notify *notify.Notifier
}

// Shop is the domain service. It is safe for concurrent use.
type Shop struct {
	db  *store.DB
	cfg Config
	log *slog.Logger

	locks   sync.Map // product id -> *sync.Mutex: serialises a shared product's seats
	pools   sync.Map // product id -> *pool: a unique product's available keys
	catalog *catalog
	proofs  *proofUses // per-proof daily uses, memory only
	holders *holders   // unpaid orders per client, memory only
	unpaid  onHold     // unpaid holds per product, memory only (unpaid.go)
	zones   zoneCache  // loaded time zones (timezone.go)
	// What the sweep waits for (schedule.go): pending orders by expiry,
	// delivered ones by the end of their window.
	expiring, settling dueList
	sweepMu            sync.Mutex
	nextSweepFrom      time.Time // when the sweep's mark may move next
	// Case library (cases.go): every product's after-sales figures, cached.
	figures figuresCache

	mu      sync.RWMutex
	vault   *crypto.Vault              // nil while locked
	pub     crypto.VaultPublic         // recipients, known even while locked
	invRcpt age.Recipient              // parsed pub.Inventory
	dataKey map[string]*crypto.DataKey // batch id -> opened data key (only while unlocked)

	kick chan struct{} // wakes the delivery worker

	// beforeRecord, when set (tests only), runs between a retrieval's
	// snapshot and the write that records it (RetrieveToken).
	beforeRecord func()
	// Deliveries sealed ahead of their payment's commit (preseal.go).
	presealMu sync.Mutex
	presealed map[string]presealEntry
	rotMu     sync.Mutex    // one rotation step, start or passphrase change at a time
	rotKick   chan struct{} // wakes the rotation job

	// Resale (issue 14): the upstream client and its memory (sourced.go).
	up      upstreamState
	sourcer Sourcer
}

// Store keys (under store.Version). Order records are keyed by the token's
// lookup key, the only token-derived value that is stored.
const (
	kVault    = "vault"     // the sealed vault
	kVaultPub = "vault-pub" // its recipients
	pProduct  = "prod/"     // prod/<id> -> Product
	pSlug     = "slug/"     // slug/<slug> -> id
	pStock    = "stock/"    // stock/<pid> -> available count (decimal)
	pBatch    = "batch/"    // batch/<bid> -> Batch
	pKey      = "key/"      // key/<kid> -> keyRecord (keyrec.go)
	pAvail    = "avail/"    // avail/<pid>/<kid> -> "" (FIFO by kid)
	pFP       = "fp/"       // fp/<hmac hex> -> kid: fingerprints of keys imported before fpr/ (inventory.go pFPRaw)
	pOrder    = "order/"    // order/<ref> -> lookup key + Order; order/<lookup hex> -> Order in older stores (orderstore.go)
	pRef      = "ref/"      // ref/<ref> -> lookup key (+ recipient): older stores only (orderstore.go)
	pExpiry   = "expiry/"   // expiry/<unix>/<ref> while pending_payment: stores written before schedule.go
	pDeliver  = "deliver/"  // deliver/<ref> while paid and undelivered
	pSettle   = "settle/"   // settle/<unix>/<ref> while delivered: stores written before schedule.go
	pTrade    = "trade/"    // trade/<provider>/<trade no> -> ref (idempotency)
)

// New returns a shop over db. It starts locked.
func New(db *store.DB, cfg Config) (*Shop, error) {
	if cfg.ReservationTTL <= 0 {
		cfg.ReservationTTL = 15 * time.Minute
	}
	if cfg.DeliveryDeadline <= 0 {
		cfg.DeliveryDeadline = 30 * time.Minute
	}
	if cfg.ExpiredRetention <= 0 {
		cfg.ExpiredRetention = 7 * 24 * time.Hour
	}
	if cfg.ForwardPoll <= 0 {
		cfg.ForwardPoll = 30 * time.Second
	}
	if cfg.MaxQuantity <= 0 {
		cfg.MaxQuantity = 100
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Kind == 0 {
		cfg.Kind = crypto.DefaultKind
	}
	s := &Shop{db: db, cfg: cfg, log: cfg.Logger, kick: make(chan struct{}, 1), rotKick: make(chan struct{}, 1),
		proofs: newProofUses(), holders: newHolders()}
	err := db.View(func(tx *store.Txn) error {
		err := tx.GetJSON(kVaultPub, &s.pub)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("shop: load vault recipients: %w", err)
	}
	if err := s.loadCatalog(); err != nil {
		return nil, fmt.Errorf("shop: load catalog: %w", err)
	}
	if err := s.loadPools(); err != nil {
		return nil, err
	}
	if err := s.migrateRetention(); err != nil {
		return nil, err
	}
	if err := s.loadSchedule(); err != nil {
		return nil, fmt.Errorf("shop: load the sweep's schedule: %w", err)
	}
	if s.pub.Inventory != "" {
		if s.invRcpt, err = crypto.ParseRecipient(s.pub.Inventory); err != nil {
			return nil, fmt.Errorf("shop: inventory recipient: %w", err)
		}
	}
	return s, nil
}

func (s *Shop) now() time.Time { return s.cfg.Now().UTC() }

// productLock returns the mutex that serialises stock changes of a product.
func (s *Shop) productLock(pid string) *sync.Mutex {
	m, _ := s.locks.LoadOrStore(pid, new(sync.Mutex))
	return m.(*sync.Mutex)
}

// Initialized reports whether a vault exists.
func (s *Shop) Initialized() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.pub.Inventory != ""
}

// InitVault creates the merchant vault sealed with passphrase; it fails if
// one exists. The shop is unlocked afterwards. It returns the vault so the
// caller can show the backup identity once.
func (s *Shop) InitVault(passphrase string) (*crypto.Vault, error) {
	if len(passphrase) < 8 {
		return nil, inputErr("the passphrase must have at least 8 characters")
	}
	v, err := crypto.NewVault(s.cfg.Kind)
	if err != nil {
		return nil, fmt.Errorf("shop: new vault: %w", err)
	}
	var sealed []byte
	if s.cfg.VaultWorkFactor > 0 {
		sealed, err = v.SealWorkFactor(passphrase, s.cfg.VaultWorkFactor)
	} else {
		sealed, err = v.Seal(passphrase)
	}
	if err != nil {
		return nil, fmt.Errorf("shop: seal vault: %w", err)
	}
	pub := v.Public()
	err = s.db.Update(func(tx *store.Txn) error {
		if ok, err := tx.Has(kVault); err != nil || ok {
			if err == nil {
				err = errors.New("shop: a vault exists already")
			}
			return err
		}
		if err := tx.Set(kVault, sealed); err != nil {
			return err
		}
		return tx.SetJSON(kVaultPub, pub)
	})
	if err != nil {
		return nil, err
	}
	return v, s.setVault(v)
}

// Unlock opens the vault (ErrWrongPassphrase) and flushes queued deliveries.
func (s *Shop) Unlock(passphrase string) error {
	var sealed []byte
	err := s.db.View(func(tx *store.Txn) error {
		var err error
		sealed, err = tx.Get(kVault)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return errors.New("shop: no vault: run veil init first")
	}
	if err != nil {
		return err
	}
	v, err := crypto.OpenVault(sealed, passphrase)
	if errors.Is(err, crypto.ErrWrongPassphrase) {
		return ErrWrongPassphrase
	}
	if err != nil {
		return fmt.Errorf("shop: open vault: %w", err)
	}
	if v.NoticeKey == nil || v.BackupSignKey == nil {
		if err := s.addNoticeKey(v, passphrase); err != nil {
			return fmt.Errorf("shop: add notice key: %w", err)
		}
	}
	return s.setVault(v)
}

func (s *Shop) setVault(v *crypto.Vault) error {
	r, err := crypto.ParseRecipient(v.Public().Inventory)
	if err != nil {
		return fmt.Errorf("shop: inventory recipient: %w", err)
	}
	s.mu.Lock()
	s.vault = v
	s.pub = v.Public()
	s.invRcpt = r
	s.dataKey = map[string]*crypto.DataKey{}
	s.mu.Unlock()
	s.wake()
	s.wakeRotation()
	return nil
}

// Lock forgets the vault's identities; deliveries queue until Unlock.
func (s *Shop) Lock() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, dk := range s.dataKey {
		dk.Wipe()
	}
	s.vault, s.dataKey = nil, nil
}

// Locked reports whether the vault is locked.
func (s *Shop) Locked() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.vault == nil
}

// Public returns the vault's recipients (empty before init).
func (s *Shop) Public() crypto.VaultPublic {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.pub
}

// batchKey returns the opened data key of a batch; ErrLocked while locked.
// Opening costs one age decryption per batch per unlock.
func (s *Shop) batchKey(b *Batch) (*crypto.DataKey, error) {
	s.mu.RLock()
	v, dk := s.vault, s.dataKey[b.ID]
	s.mu.RUnlock()
	if v == nil {
		return nil, ErrLocked
	}
	if dk != nil {
		return dk, nil
	}
	dk, err := crypto.OpenDataKey(b.SealedDataKey, v.InventoryIdentity())
	if err != nil {
		return nil, fmt.Errorf("shop: open data key of batch %s: %w", b.ID, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.vault == nil {
		return nil, ErrLocked
	}
	if old := s.dataKey[b.ID]; old != nil {
		return old, nil
	}
	s.dataKey[b.ID] = dk
	return dk, nil
}

// fingerprint is the HMAC of a normalised key; ErrLocked while locked.
func (s *Shop) fingerprinter() (func(string) [32]byte, error) {
	s.mu.RLock()
	v := s.vault
	s.mu.RUnlock()
	if v == nil {
		return nil, ErrLocked
	}
	return v.Fingerprint, nil
}

func (s *Shop) wake() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// SupportIdentity opens support threads for staff; ErrLocked while the
// vault is locked.
func (s *Shop) SupportIdentity() (age.Identity, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.vault == nil {
		return nil, ErrLocked
	}
	return s.vault.SupportIdentity(), nil
}
