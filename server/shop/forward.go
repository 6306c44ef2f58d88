package shop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"veil/crypto"
	"veil/server/store"
)

// After-sales up the chain (resale, downstream side): a buyer's ticket on a
// key bought upstream is forwarded to the upstream as a ticket of its own;
// the upstream's remedy comes back. A replacement key is opened with our
// identity there and sealed to the buyer's order as a new delivery; a
// refund to our balance there leaves the ticket answered, for staff to
// refund the buyer through the usual remedy. The buyer's own words never
// leave the shop: staff write what is forwarded.

// ForwardedTicket is a ticket's twin at the upstream.
type ForwardedTicket struct {
	IdemKey string `json:"idem_key"`
	Ticket  string `json:"ticket,omitempty"` // the upstream's ticket id
	// Status and Remedy are the upstream ticket's, as last seen; Done is
	// set once its outcome reached the buyer's order.
	Status      TicketStatus `json:"status,omitempty"`
	Remedy      Remedy       `json:"remedy,omitempty"`
	AmountMinor int64        `json:"amount_minor,omitempty"`
	Done        bool         `json:"done,omitempty"`
}

// UpstreamTicket is an upstream ticket's progress.
type UpstreamTicket struct {
	ID          string
	Status      TicketStatus
	Remedy      Remedy
	AmountMinor int64
}

// TicketForwarder is what forwarding needs of the upstream client (package
// resale's Sourcer implements it).
type TicketForwarder interface {
	OpenTicket(ctx context.Context, up Upstream, secret, idemKey, order, item string, reason Reason, detail string) (UpstreamTicket, error)
	Ticket(ctx context.Context, up Upstream, secret, id string) (UpstreamTicket, error)
}

const pForward = "upfwd/" // upfwd/<ticket id> -> "" while a forwarded ticket's outcome has not reached the buyer

// ErrNotSourced: the ticket's order was not bought upstream (409 not_sourced).
var ErrNotSourced = errors.New("shop: the order was not sourced upstream")

// ForwardTicket forwards a buyer's ticket on a sourced order to the
// upstream, with note (written by staff, at most 4 KiB) as its detail. It
// is idempotent: the upstream ticket is opened with an Idempotency-Key
// derived from the ticket, recorded before the call, so a retry or a crash
// never opens two. ErrNotSourced, ErrTicketClosed, ErrLocked.
func (s *Shop) ForwardTicket(ctx context.Context, ticketID, note string) (Ticket, error) {
	if len(note) > MaxDetail || !utf8.ValidString(note) {
		return Ticket{}, inputErr("note: at most %d bytes of UTF-8", MaxDetail)
	}
	fw, ok := s.getSourcer().(TicketForwarder)
	if !ok {
		return Ticket{}, ErrNotSourced
	}
	var t Ticket
	var o Order
	var prod Product
	err := s.db.Update(func(tx *store.Txn) error {
		if err := getTicket(tx, ticketID, &t); err != nil {
			return err
		}
		if t.closed() {
			return ErrTicketClosed
		}
		var err error
		if o, _, err = getOrderByRef(tx, t.Ref); err != nil {
			return err
		}
		p, ok := s.catalog.get(o.ProductID)
		if !ok || p.Upstream == nil || o.Upstream == nil || o.Upstream.Order == "" {
			return ErrNotSourced
		}
		prod = p
		if t.ItemID == "" && len(o.Items) > 0 {
			t.ItemID = o.Items[0]
		}
		if !slices.Contains(o.Items, t.ItemID) {
			return inputErr("item_id: not a current item of this order")
		}
		if t.Upstream == nil {
			t.Upstream = &ForwardedTicket{IdemKey: "veil-fwd-" + t.ID}
			if err := tx.Set(pForward+t.ID, nil); err != nil {
				return err
			}
		}
		return tx.SetJSON(pTicket+t.ID, t)
	})
	if err != nil {
		return Ticket{}, err
	}
	if t.Upstream.Ticket != "" {
		return t, nil // forwarded already
	}
	cred, _, err := s.upstreamCredentials(prod.ID)
	if err != nil {
		return Ticket{}, err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	ut, err := fw.OpenTicket(cctx, *prod.Upstream, cred.Secret, t.Upstream.IdemKey, o.Upstream.Order, t.ItemID, t.Reason, note)
	cancel()
	if err != nil {
		return Ticket{}, fmt.Errorf("shop: forward ticket %s: %w", t.ID, err)
	}
	err = s.db.Update(func(tx *store.Txn) error {
		if err := getTicket(tx, ticketID, &t); err != nil {
			return err
		}
		t.Upstream.Ticket, t.Upstream.Status = ut.ID, ut.Status
		t.UpdatedAt = s.now().Truncate(timeUnit)
		return tx.SetJSON(pTicket+t.ID, t)
	})
	if err == nil {
		s.log.Info("shop: ticket forwarded upstream", "ref", t.Ref, "ticket", t.ID, "upstream_ticket", ut.ID)
	}
	return t, err
}

// SyncForwarded reads the upstream's progress on every forwarded ticket
// whose outcome has not reached the buyer yet, and brings a resolved
// one's remedy home: a replacement key is delivered to the buyer's order
// (the old key marked reported_bad) and the ticket resolved; a refund or
// a rejection leaves the ticket answered for staff. It returns how many
// tickets it finished.
func (s *Shop) SyncForwarded(ctx context.Context) (int, error) {
	fw, ok := s.getSourcer().(TicketForwarder)
	if !ok || s.Locked() {
		return 0, nil
	}
	var ids []string
	err := s.db.View(func(tx *store.Txn) error {
		return tx.Iterate(pForward, "", true, func(k string, _ []byte) error {
			ids = append(ids, strings.TrimPrefix(k, pForward))
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	done := 0
	var errs []error
	for _, id := range ids {
		if ctx.Err() != nil {
			break
		}
		ok, err := s.syncOne(ctx, fw, id)
		if err != nil {
			errs = append(errs, fmt.Errorf("ticket %s: %w", id, err))
		}
		if ok {
			done++
		}
	}
	return done, errors.Join(errs...)
}

func (s *Shop) syncOne(ctx context.Context, fw TicketForwarder, id string) (bool, error) {
	t, err := s.Ticket(id)
	if err != nil {
		return false, err
	}
	if t.Upstream == nil || t.Upstream.Ticket == "" {
		return false, nil // not forwarded yet (ForwardTicket again)
	}
	o, err := s.OrderByRef(t.Ref)
	if err != nil {
		return false, err
	}
	prod, ok := s.catalog.get(o.ProductID)
	if !ok || prod.Upstream == nil {
		return false, ErrNotSourced
	}
	cred, ident, err := s.upstreamCredentials(prod.ID)
	if err != nil {
		return false, err
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ut, err := fw.Ticket(cctx, *prod.Upstream, cred.Secret, t.Upstream.Ticket)
	if err != nil {
		return false, err
	}
	var fresh []Item
	if ut.Status == TicketResolved && ut.Remedy == RemedyReplace {
		src := s.getSourcer()
		buy, err := src.Order(cctx, *prod.Upstream, cred.Secret, o.Upstream.Order)
		if err != nil {
			return false, err
		}
		for _, d := range buy.Deliveries[min(o.Upstream.Deliveries, len(buy.Deliveries)):] {
			b, err := crypto.Open(d, ident.Age())
			if err != nil {
				return false, fmt.Errorf("open upstream replacement: %w", err)
			}
			var part []Item
			err = json.Unmarshal(b, &part)
			wipe(b)
			if err != nil {
				return false, err
			}
			fresh = append(fresh, part...)
		}
		if len(fresh) == 0 {
			return false, errors.New("upstream resolved with a replacement but delivered none yet")
		}
		defer func() {
			for i := range fresh {
				fresh[i].Key = ""
			}
		}()
	}
	var sealed []byte
	if len(fresh) > 0 {
		b, err := json.Marshal(fresh)
		if err != nil {
			return false, err
		}
		r, err := o.ageRecipient()
		if err != nil {
			return false, err
		}
		sealed, err = crypto.Seal(b, r)
		wipe(b)
		if err != nil {
			return false, err
		}
	}
	finished := false
	err = s.withOrder(t.Ref, func(tx *store.Txn, o *Order, _ Product, _ *[]string) error {
		var cur Ticket
		if err := getTicket(tx, id, &cur); err != nil {
			return err
		}
		if cur.Upstream == nil || cur.Upstream.Done {
			return errSkip
		}
		now := s.now().Truncate(timeUnit)
		cur.Upstream.Status, cur.Upstream.Remedy, cur.Upstream.AmountMinor = ut.Status, ut.Remedy, ut.AmountMinor
		cur.UpdatedAt = now
		switch {
		case sealed != nil:
			if o.Bad == nil {
				o.Bad = map[string]KeyState{}
			}
			o.Bad[cur.ItemID] = KeyReportedBad
			if i := slices.Index(o.Items, cur.ItemID); i >= 0 {
				o.Items[i] = fresh[0].ID
			}
			o.Payloads = append(o.Payloads, Payload{Sealed: sealed})
			o.Upstream.Deliveries += 1
			o.Status = StatusReplaced
			o.Notices = append(o.Notices, Notice{Code: "replaced", At: now})
			cur.Status, cur.Remedy = TicketResolved, RemedyReplace
			cur.Upstream.Done = true
		case ut.Status == TicketResolved || ut.Status == TicketRejected:
			// Refunded to our balance there, or refused: staff decide
			// what the buyer gets, through the usual remedies.
			if cur.Status == TicketOpen {
				cur.Status = TicketAnswered
			}
			cur.Upstream.Done = true
		default:
			if err := tx.SetJSON(pTicket+cur.ID, cur); err != nil {
				return err
			}
			return errNoSave
		}
		finished = true
		if err := tx.Delete(pForward + cur.ID); err != nil {
			return err
		}
		return tx.SetJSON(pTicket+cur.ID, cur)
	})
	if errors.Is(err, errSkip) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if finished {
		s.log.Info("shop: upstream ticket outcome applied", "ref", t.Ref, "ticket", id, "remedy", string(ut.Remedy))
	}
	return finished, nil
}
