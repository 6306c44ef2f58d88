package storefront

import (
	"context"
	"fmt"
	"math/bits"
	"time"

	"veil/server/pay"
	"veil/server/shop"
)

// MoneroPoll is how often the watcher asks the wallet
// (server.Config.MoneroPoll overrides it).
const MoneroPoll = 20 * time.Second

// WatchMonero polls the view-only wallet for the watched orders'
// subaddresses once and applies what it counted (confirmed transfers
// only, --monero-confirmations) through shop.ApplyPayment:
//
//   - confirmed sum ≥ the order's XMR amount: a payment of the order's
//     exact amount, trade xmr-<index> — paid and delivered if pending, the
//     late-payment rules if expired; anything more (worth at least one
//     minor unit at the order's own rate) is a second payment, trade
//     xmr-<index>-excess, which ApplyPayment records as owed back;
//   - less, once the order's payment window is over: the sum's worth
//     (rounded down) as a payment, trade xmr-<index> — another amount, so
//     payment_held for staff, like 易支付. Before the window ends the
//     watcher waits for the rest;
//   - nothing: the order stays watched while it exists (a late payment
//     still counts) and is dropped when purged.
//
// The order records are the durable state: the watch list
// (shop.MoneroWatched) is written with the invoice, each application is
// idempotent by its trade number (the subaddress index is never reused),
// and an order leaves the list only after every application for it
// succeeded. So a restart, or a crash between two applications, repeats at
// most a no-op; no height cursor is needed because the wallet's
// get_transfers answers the whole history of each subaddress every time.
// A wallet error returns before any application: the next tick retries.
func (s *Server) WatchMonero(ctx context.Context) error {
	m := s.payments.Monero()
	if m == nil {
		return nil
	}
	orders, err := s.Shop.MoneroWatched()
	if err != nil {
		return err
	}
	if len(orders) == 0 {
		return nil
	}
	want := make(map[uint32]uint64, len(orders))
	for _, o := range orders {
		want[o.Invoice.Index] = o.Invoice.Atomic
	}
	ctx, cancel := context.WithTimeout(ctx, pay.DefaultGatewayTimeout)
	defer cancel()
	if err := m.Wallet().Refresh(ctx); err != nil {
		return fmt.Errorf("monero wallet refresh: %w", err)
	}
	_, tallies, err := m.Wallet().Scan(ctx, want, m.Confirmations())
	if err != nil {
		return fmt.Errorf("monero wallet scan: %w", err)
	}
	for _, o := range orders {
		if err := s.applyMonero(o, tallies[o.Invoice.Index]); err != nil {
			s.Log.Error("monero payment not applied", "ref", o.Ref, "err", err)
		}
	}
	return nil
}

// applyMonero applies one order's tally (see WatchMonero).
func (s *Server) applyMonero(o shop.Order, t pay.Tally) error {
	inv := o.Invoice
	trade := moneroTrade(inv.Index)
	apply := func(tradeNo string, minor int64) error {
		res, err := s.applyNotification("monero", pay.Notification{Ref: o.Ref, TradeNo: tradeNo, AmountMinor: minor, Currency: o.Currency})
		if err != nil {
			return err
		}
		s.Log.Info("monero payment", "ref", o.Ref, "outcome", string(res.Outcome), "status", string(res.Order.Status))
		return nil
	}
	switch {
	case t.Confirmed >= inv.Atomic:
		if err := apply(trade, o.AmountMinor); err != nil {
			return err
		}
		if excess := worth(t.Confirmed-inv.Atomic, o.AmountMinor, inv.Atomic); excess > 0 {
			if err := apply(trade+"-excess", excess); err != nil {
				return err
			}
		}
	case t.Confirmed > 0 && !s.Now().Before(o.ExpiresAt):
		minor := worth(t.Confirmed, o.AmountMinor, inv.Atomic)
		if minor == 0 {
			return nil // dust worth less than a minor unit: keep watching
		}
		if err := apply(trade, minor); err != nil {
			return err
		}
	case o.Status != shop.StatusPending && o.Status != shop.StatusExpired:
		// Paid, refunded or abandoned some other way: nothing to watch.
	default:
		return nil
	}
	return s.Shop.Unwatch(o.Ref)
}

// worth is what atomic piconero are worth at an order's own rate
// (amountMinor for dueAtomic), rounded down so that nothing is credited
// beyond what was paid: floor(atomic × amountMinor / dueAtomic), capped.
func worth(atomic uint64, amountMinor int64, dueAtomic uint64) int64 {
	if atomic == 0 || amountMinor <= 0 || dueAtomic == 0 {
		return 0
	}
	hi, lo := bits.Mul64(atomic, uint64(amountMinor))
	if hi >= dueAtomic {
		return shop.MaxPriceMinor
	}
	q, _ := bits.Div64(hi, lo, dueAtomic)
	if q > uint64(shop.MaxPriceMinor) {
		return shop.MaxPriceMinor
	}
	return int64(q)
}

// RunMonero runs WatchMonero every poll until ctx ends. An outage is
// logged once when it starts and once when it ends; it only delays.
func (s *Server) RunMonero(ctx context.Context) {
	if s.payments.Monero() == nil {
		return
	}
	t := time.NewTicker(s.moneroPoll)
	defer t.Stop()
	down := false
	for {
		err := s.WatchMonero(ctx)
		switch {
		case err != nil && !down:
			down = true
			s.Log.Warn("monero watcher: wallet unreachable, retrying", "err", err)
		case err == nil && down:
			down = false
			s.Log.Info("monero watcher: wallet back")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
