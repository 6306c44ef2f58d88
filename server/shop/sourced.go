package shop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"veil/crypto"
	"veil/server/store"
)

// Resale (对接, downstream side): a product sourced from an upstream veil.
// It holds no local keys: a paid order is bought from the upstream with an
// idempotency key derived from the order, the keys are opened with the
// shop's identity at the upstream and sealed to the buyer's order like
// local stock. The order carries a durable "purchasing" mark from before
// the upstream call until the delivery commits, so a crash in between
// repeats the call with the same key — the upstream answers the first
// order — and never buys twice.

// Upstream says where a sourced product comes from. Its credentials (the
// API secret and the age identity) are sealed apart (SetUpstreamCredentials).
type Upstream struct {
	BaseURL string `json:"base_url"` // the upstream shop
	KeyID   string `json:"key_id"`   // our account there (rk_…)
	Product string `json:"product"`  // the upstream product's id or slug
	// MaxUnitMinor refuses to buy when the agent price rose above it (0:
	// any price).
	MaxUnitMinor int64 `json:"max_unit_minor,omitempty"`
}

// UpstreamCredentials are what a sourced product needs to buy: the API
// secret at the upstream and the age identity its keys are sealed to.
type UpstreamCredentials struct {
	Secret   string `json:"secret"`
	Identity string `json:"identity"`
}

// UpstreamOrder is the durable state of buying an order's keys upstream.
type UpstreamOrder struct {
	// Purchasing is set, and committed, before the upstream is called; it
	// is cleared when the delivery commits.
	Purchasing bool   `json:"purchasing,omitempty"`
	IdemKey    string `json:"idem_key"`
	Order      string `json:"order,omitempty"` // the upstream's order id
	Attempts   int    `json:"attempts,omitempty"`
	// Deliveries counts the upstream deliveries already sealed to the
	// order (a replacement upstream adds one).
	Deliveries int `json:"deliveries,omitempty"`
}

// UpstreamBuy is what an upstream answered to a purchase.
type UpstreamBuy struct {
	Order      string
	Deliveries [][]byte // age files sealed to our identity there, JSON []Item
}

// ErrUpstreamRefused wraps an upstream's definite answer that nothing was
// bought (out of stock, insufficient balance, …); any other error leaves
// the outcome unknown.
var ErrUpstreamRefused = errors.New("shop: upstream refused the purchase")

// errSourced: a sourced product's order is delivered by the purchaser, not
// from local keys.
var errSourced = errors.New("shop: sourced upstream")

// Sourcer talks to upstream shops (package resale implements it).
type Sourcer interface {
	// Buy places (or, with the same idemKey, repeats) an order upstream.
	Buy(ctx context.Context, up Upstream, secret, idemKey string, qty int) (UpstreamBuy, error)
	// Order fetches an upstream order (its deliveries, for replacements).
	Order(ctx context.Context, up Upstream, secret, id string) (UpstreamBuy, error)
	// Available is the upstream product's stock.
	Available(ctx context.Context, up Upstream, secret string) (int, error)
}

const pUpCred = "up/cred/" // up/cred/<product id> -> age file (vault's upstream key) of UpstreamCredentials

// upstreamState is memory only: cached availability and retry backoff.
type upstreamState struct {
	mu      sync.Mutex
	avail   map[string]availEntry // product id -> last known upstream stock
	backoff map[string]retry      // order ref -> next attempt
	lastErr map[string]upError    // product id -> the upstream's last failure (console)
}

type availEntry struct {
	n  int
	at time.Time
}

type retry struct {
	next  time.Time
	delay time.Duration
}

// AvailabilityTTL is how long an upstream's stock count is shown before it
// is asked again.
const AvailabilityTTL = 30 * time.Second

func (u *upstreamState) init() {
	if u.avail == nil {
		u.avail, u.backoff, u.lastErr = map[string]availEntry{}, map[string]retry{}, map[string]upError{}
	}
}

// SetSourcer plugs in the upstream client; without one sourced orders wait.
func (s *Shop) SetSourcer(src Sourcer) {
	s.up.mu.Lock()
	defer s.up.mu.Unlock()
	s.sourcer = src
}

func (s *Shop) getSourcer() Sourcer {
	s.up.mu.Lock()
	defer s.up.mu.Unlock()
	return s.sourcer
}

func (u *Upstream) validate() error {
	pu, err := url.Parse(u.BaseURL)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" || pu.User != nil || pu.RawQuery != "" {
		return inputErr("upstream base_url: an absolute http(s) URL without credentials or query")
	}
	if !resellerIDRE.MatchString(u.KeyID) {
		return inputErr("upstream key_id: rk_ and 20 symbols")
	}
	if u.Product == "" || len(u.Product) > 64 || strings.ContainsAny(u.Product, "/?#") {
		return inputErr("upstream product: its id or slug")
	}
	if u.MaxUnitMinor < 0 {
		return inputErr("upstream max_unit_minor: ≥ 0")
	}
	return nil
}

// SetUpstream makes a unique product sourced from an upstream (or local
// again with up nil), sealing its credentials with the vault (ErrLocked
// while locked). A sourced product sells no local keys.
func (s *Shop) SetUpstream(pid string, up *Upstream, cred UpstreamCredentials) (Product, error) {
	s.mu.RLock()
	v := s.vault
	s.mu.RUnlock()
	if v == nil {
		return Product{}, ErrLocked
	}
	var sealed []byte
	if up != nil {
		if err := up.validate(); err != nil {
			return Product{}, err
		}
		if !strings.HasPrefix(cred.Secret, "rs_") || len(cred.Secret) > 128 {
			return Product{}, inputErr("upstream secret: rs_… as the upstream showed it")
		}
		if _, err := crypto.ParseIdentity(cred.Identity); err != nil {
			return Product{}, inputErr("upstream identity: an age identity (AGE-SECRET-KEY-…)")
		}
		b, _ := json.Marshal(cred)
		var err error
		if sealed, err = crypto.Seal(b, crypto.NewSymmetricRecipient(v.UpstreamKey())); err != nil {
			return Product{}, err
		}
		wipe(b)
	}
	var out Product
	err := s.db.Update(func(tx *store.Txn) error {
		var p Product
		if err := getProduct(tx, pid, &p); err != nil {
			return err
		}
		if up != nil && p.Kind != Unique {
			return inputErr("only a product of unique keys can be sourced upstream")
		}
		p.Upstream = up
		if up == nil {
			if err := tx.Delete(pUpCred + p.ID); err != nil {
				return err
			}
		} else if err := tx.Set(pUpCred+p.ID, sealed); err != nil {
			return err
		}
		out = p
		return tx.SetJSON(pProduct+p.ID, p)
	})
	if err != nil {
		return Product{}, err
	}
	s.catalog.put(out)
	s.up.mu.Lock()
	s.up.init()
	delete(s.up.avail, pid)
	s.up.mu.Unlock()
	return out, nil
}

// upstreamCredentials opens a sourced product's credentials (ErrLocked).
func (s *Shop) upstreamCredentials(pid string) (UpstreamCredentials, *crypto.Identity, error) {
	s.mu.RLock()
	v := s.vault
	s.mu.RUnlock()
	if v == nil {
		return UpstreamCredentials{}, nil, ErrLocked
	}
	var sealed []byte
	err := s.db.View(func(tx *store.Txn) error {
		var err error
		sealed, err = tx.Get(pUpCred + pid)
		return err
	})
	if err != nil {
		return UpstreamCredentials{}, nil, fmt.Errorf("shop: upstream credentials of %s: %w", pid, err)
	}
	b, err := crypto.Open(sealed, crypto.NewSymmetricIdentity(v.UpstreamKey()))
	if err != nil {
		return UpstreamCredentials{}, nil, fmt.Errorf("shop: open upstream credentials of %s: %w", pid, err)
	}
	defer wipe(b)
	var c UpstreamCredentials
	if err := json.Unmarshal(b, &c); err != nil {
		return c, nil, err
	}
	id, err := crypto.ParseIdentity(c.Identity)
	return c, id, err
}

// upstreamAvailable is the cached upstream stock of a sourced product (0
// until first asked).
func (s *Shop) upstreamAvailable(pid string) int {
	s.up.mu.Lock()
	defer s.up.mu.Unlock()
	return s.up.avail[pid].n
}

// RefreshUpstreamStock asks the upstream of every sourced product whose
// cached count is older than AvailabilityTTL (all with force).
func (s *Shop) RefreshUpstreamStock(ctx context.Context, force bool) {
	src := s.getSourcer()
	if src == nil {
		return
	}
	now := s.now()
	for _, p := range s.catalog.all() {
		if p.Upstream == nil {
			continue
		}
		s.up.mu.Lock()
		s.up.init()
		fresh := now.Sub(s.up.avail[p.ID].at) < AvailabilityTTL
		s.up.mu.Unlock()
		if fresh && !force {
			continue
		}
		cred, _, err := s.upstreamCredentials(p.ID)
		if err != nil {
			continue
		}
		n, err := src.Available(ctx, *p.Upstream, cred.Secret)
		if err != nil {
			s.log.Warn("shop: upstream stock unknown", "product", p.Slug, "err", err)
			s.noteUpstreamError(p.ID, err)
			n = 0
		}
		s.up.mu.Lock()
		s.up.avail[p.ID] = availEntry{n: n, at: now}
		s.up.mu.Unlock()
	}
}

// upstreamIdemKey is the Idempotency-Key of an order's upstream purchase:
// derived from the order alone, so every attempt — after a timeout, a
// crash, a restart — sends the same one.
func upstreamIdemKey(o Order) string {
	return "veil-" + o.Ref + "-" + strconv.FormatInt(o.CreatedAt.Unix(), 10)
}

// PurchaseResult counts what one pass of PurchaseQueued did.
type PurchaseResult struct {
	Delivered, Waiting, RefundDue int
}

// PurchaseQueued buys the paid orders of sourced products upstream and
// delivers them. Each order is marked purchasing (committed) before the
// upstream is called; the delivery commits after. A failure is retried
// with backoff (5 s doubling to 2 min, memory only); once the delivery
// deadline has passed and the upstream definitely refused (nothing
// bought), the order becomes refund_due as for local stock. An unknown
// outcome (the upstream did not answer) is retried with the same key even
// past the deadline, so a purchase that did happen is delivered, never
// lost nor bought again.
func (s *Shop) PurchaseQueued(ctx context.Context) (PurchaseResult, error) {
	var res PurchaseResult
	src := s.getSourcer()
	if src == nil || s.Locked() {
		return res, nil
	}
	var refs []string
	err := s.db.View(func(tx *store.Txn) error {
		return tx.Iterate(pDeliver, "", true, func(k string, _ []byte) error {
			refs = append(refs, strings.TrimPrefix(k, pDeliver))
			return nil
		})
	})
	if err != nil {
		return res, err
	}
	for _, ref := range refs {
		if ctx.Err() != nil {
			break
		}
		o, err := s.OrderByRef(ref)
		if err != nil {
			continue
		}
		prod, ok := s.catalog.get(o.ProductID)
		if !ok || prod.Upstream == nil || o.Status != StatusPaid {
			continue
		}
		now := s.now()
		s.up.mu.Lock()
		s.up.init()
		r := s.up.backoff[ref]
		s.up.mu.Unlock()
		if now.Before(r.next) {
			res.Waiting++
			continue
		}
		switch st, err := s.purchaseOne(ctx, src, ref, prod); {
		case err == nil && st == StatusDelivered:
			res.Delivered++
			s.up.mu.Lock()
			delete(s.up.backoff, ref)
			s.up.mu.Unlock()
		case err == nil && st == StatusRefundDue:
			res.RefundDue++
		default:
			if err != nil {
				s.log.Warn("shop: upstream purchase failed, retrying", "ref", ref, "err", err)
				s.noteUpstreamError(prod.ID, err)
			}
			r.delay = min(max(2*r.delay, 5*time.Second), 2*time.Minute)
			r.next = now.Add(r.delay)
			s.up.mu.Lock()
			s.up.backoff[ref] = r
			s.up.mu.Unlock()
			res.Waiting++
		}
	}
	return res, nil
}

// purchaseOne buys one order upstream and delivers it.
func (s *Shop) purchaseOne(ctx context.Context, src Sourcer, ref string, prod Product) (Status, error) {
	cred, id, err := s.upstreamCredentials(prod.ID)
	if err != nil {
		return "", err
	}
	// 1. The durable mark, before anything leaves the shop.
	var o Order
	err = s.withOrder(ref, func(tx *store.Txn, x *Order, _ Product, _ *[]string) error {
		if x.Status != StatusPaid {
			return errSkip
		}
		if x.Upstream == nil {
			x.Upstream = &UpstreamOrder{IdemKey: upstreamIdemKey(*x)}
		}
		x.Upstream.Purchasing = true
		x.Upstream.Attempts++
		o = *x
		return nil
	})
	if errors.Is(err, errSkip) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	// 2. The upstream call: the same key every time.
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	buy, err := src.Buy(cctx, *prod.Upstream, cred.Secret, o.Upstream.IdemKey, o.Quantity)
	cancel()
	if err != nil {
		if errors.Is(err, ErrUpstreamRefused) && s.now().After(o.DeliverBy) {
			return s.upstreamGaveUp(ref, err)
		}
		return "", err
	}
	if s.cfg.AfterUpstreamPurchase != nil {
		s.cfg.AfterUpstreamPurchase(ref) // tests: a crash right here
	}
	// 3. Open with our identity there, seal to the buyer's order, commit.
	var items []Item
	for _, d := range buy.Deliveries {
		b, err := crypto.Open(d, id.Age())
		if err != nil {
			return "", fmt.Errorf("open upstream delivery: %w", err)
		}
		var part []Item
		err = json.Unmarshal(b, &part)
		wipe(b)
		if err != nil {
			return "", fmt.Errorf("decode upstream delivery: %w", err)
		}
		items = append(items, part...)
	}
	if len(items) != o.Quantity {
		return "", fmt.Errorf("upstream delivered %d keys for %d", len(items), o.Quantity)
	}
	payload, err := json.Marshal(items)
	if err != nil {
		return "", err
	}
	defer wipe(payload)
	rcpt, err := o.ageRecipient()
	if err != nil {
		return "", err
	}
	sealed, err := crypto.Seal(payload, rcpt)
	if err != nil {
		return "", err
	}
	var st Status
	err = s.withOrder(ref, func(tx *store.Txn, x *Order, _ Product, _ *[]string) error {
		if x.Status != StatusPaid || x.Upstream == nil {
			// Refunded meanwhile: the purchase is recorded, the keys are
			// not shown (staff may resell or claim them upstream).
			if x.Upstream != nil {
				x.Upstream.Order, x.Upstream.Purchasing = buy.Order, false
			}
			st = x.Status
			return nil
		}
		now := s.now().Truncate(timeUnit)
		x.Items = x.Items[:0]
		for _, it := range items {
			x.Items = append(x.Items, it.ID)
		}
		x.Payloads = append(x.Payloads, Payload{Sealed: sealed})
		x.Upstream.Order, x.Upstream.Purchasing, x.Upstream.Deliveries = buy.Order, false, len(buy.Deliveries)
		x.Status, x.DeliveredAt = StatusDelivered, now
		x.WindowEnds = now.Add(time.Duration(prod.Policy.WindowHours) * time.Hour)
		st = x.Status
		if err := tx.Delete(pDeliver + x.Ref); err != nil {
			return err
		}
		if err := s.proposeIfLate(tx, x); err != nil { // a slow upstream is the shop's fault too
			return err
		}
		return s.scheduleSettle(tx, x)
	})
	if err != nil {
		return "", err
	}
	for i := range items {
		items[i].Key = ""
	}
	s.log.Info("shop: sourced order delivered", "ref", ref, "upstream_order", buy.Order)
	return st, nil
}

// upstreamGaveUp turns an order the upstream definitely could not serve
// into refund_due once its deadline passed (the existing refund path).
func (s *Shop) upstreamGaveUp(ref string, cause error) (Status, error) {
	var st Status
	err := s.withOrder(ref, func(tx *store.Txn, o *Order, _ Product, _ *[]string) error {
		if o.Status != StatusPaid {
			return errSkip
		}
		now := s.now().Truncate(timeUnit)
		o.Status, o.Items = StatusRefundDue, nil
		if o.Upstream != nil {
			o.Upstream.Purchasing = false
		}
		o.Notices = append(o.Notices, Notice{Code: "delivery_deadline", At: now})
		st = o.Status
		if err := s.refundDue(tx, o, true); err != nil {
			return err
		}
		return tx.Delete(pDeliver + o.Ref)
	})
	if errors.Is(err, errSkip) {
		return "", nil
	}
	if err == nil {
		s.log.Warn("shop: upstream could not deliver before the deadline, refund due", "ref", ref, "err", cause)
	}
	return st, err
}
