package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"veil/server/store"
)

// Run sends queued notifications until ctx ends.
func (n *Notifier) Run(ctx context.Context) {
	t := time.NewTicker(n.opt.Poll)
	defer t.Stop()
	stored := false // the notifications recipient is in the store
	for {
		if !stored {
			_, err := n.recipient()
			stored = err == nil
		}
		if err := n.Drain(ctx); err != nil && ctx.Err() == nil {
			n.log.Error("notify: drain", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-n.kick:
		}
	}
}

// Drain makes one attempt at every delivery that is due.
func (n *Notifier) Drain(ctx context.Context) error {
	now := n.now()
	var due []Delivery
	var set Settings
	err := n.db.View(func(tx *store.Txn) error {
		var err error
		if set, err = getSettings(tx); err != nil {
			return err
		}
		return tx.Iterate(pQueue, "", false, func(_ string, v []byte) error {
			var d Delivery
			if err := jsonUnmarshal(v, &d); err != nil {
				return err
			}
			if !d.NextAt.After(now) {
				due = append(due, d)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("notify: read queue: %w", err)
	}
	for _, d := range due {
		if ctx.Err() != nil {
			return nil
		}
		if err := n.attempt(ctx, set.channel(d.Channel), d); err != nil {
			return err
		}
	}
	return nil
}

// errPermanent marks a failure that no retry can mend.
var errPermanent = errors.New("permanent")

// attempt sends d once and records the outcome: sent, failed for good, or
// pending again after a backoff. While the secret cannot be opened (the
// vault not unlocked since start-up) it is left as it is, no attempt
// counted.
func (n *Notifier) attempt(ctx context.Context, c ChannelSettings, d Delivery) error {
	var sendErr error
	if !c.configured() {
		sendErr = fmt.Errorf("%w: channel not set up", errPermanent)
	} else {
		secret, err := n.open(c.Secret)
		if errors.Is(err, ErrLocked) {
			return nil
		}
		if err != nil {
			sendErr = fmt.Errorf("%w: %v", errPermanent, err)
		} else if d.Channel == Telegram {
			sendErr = n.sendTelegram(ctx, c, secret, d.Event)
		} else {
			sendErr = n.sendWebhook(ctx, c, secret, d.Event)
		}
		if sendErr != nil {
			sendErr = redact(sendErr, secret)
		}
	}
	if ctx.Err() != nil && sendErr != nil {
		return nil // shutting down: not the receiver's fault
	}
	now := n.now()
	d.Attempts++
	switch {
	case sendErr == nil:
		d.State, d.DoneAt, d.NextAt, d.LastError = StateSent, now, time.Time{}, ""
	case errors.Is(sendErr, errPermanent) || d.Attempts >= n.opt.MaxAttempts:
		d.State, d.DoneAt, d.NextAt, d.LastError = StateFailed, now, time.Time{}, sendErr.Error()
	default:
		d.NextAt, d.LastError = now.Add(n.backoff(d.Attempts)), sendErr.Error()
	}
	key := d.Event.ID + "/" + d.Channel
	err := n.db.Update(func(tx *store.Txn) error {
		if ok, err := tx.Has(pQueue + key); err != nil || !ok {
			return err
		}
		if d.State == StatePending {
			return tx.SetJSON(pQueue+key, d)
		}
		if err := tx.Delete(pQueue + key); err != nil {
			return err
		}
		if err := tx.SetJSON(pLog+key, d); err != nil {
			return err
		}
		return n.prune(tx)
	})
	if err != nil {
		return fmt.Errorf("notify: record delivery %s: %w", key, err)
	}
	switch d.State {
	case StateSent:
		n.log.Info("notify: sent", "channel", d.Channel, "event", string(d.Event.Kind), "ref", d.Event.Ref, "attempts", d.Attempts)
	case StateFailed:
		n.log.Warn("notify: failed for good", "channel", d.Channel, "event", string(d.Event.Kind), "ref", d.Event.Ref,
			"attempts", d.Attempts, "err", d.LastError)
	default:
		n.log.Info("notify: will retry", "channel", d.Channel, "event", string(d.Event.Kind), "ref", d.Event.Ref,
			"attempts", d.Attempts, "err", d.LastError)
	}
	return nil
}

func (n *Notifier) backoff(attempts int) time.Duration {
	b := n.opt.Backoff
	for i := 1; i < attempts && b < n.opt.MaxBackoff; i++ {
		b *= 2
	}
	return min(b, n.opt.MaxBackoff)
}

// prune keeps the newest Keep finished deliveries.
func (n *Notifier) prune(tx *store.Txn) error {
	var keys []string
	err := tx.Iterate(pLog, "", true, func(k string, _ []byte) error {
		keys = append(keys, k)
		return nil
	})
	if err != nil {
		return err
	}
	for i := 0; i < len(keys)-n.opt.Keep; i++ {
		if err := tx.Delete(keys[i]); err != nil {
			return err
		}
	}
	return nil
}

// redact removes the secret from an error's text and keeps it short. The
// transport's own errors are replaced by httpError before they get here,
// since they quote the URL, and a Bot API URL holds the token.
func redact(err error, secret string) error {
	msg := err.Error()
	if secret != "" {
		msg = strings.ReplaceAll(msg, secret, "…")
	}
	msg = truncate(msg, 200)
	if errors.Is(err, errPermanent) {
		return fmt.Errorf("%w: %s", errPermanent, strings.TrimPrefix(msg, "permanent: "))
	}
	return errors.New(msg)
}

// httpError classifies a failed request without its URL.
func httpError(err error) error {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return errors.New("timed out")
	case errors.Is(err, context.Canceled):
		return errors.New("cancelled")
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return fmt.Errorf("%s failed: %v", op.Op, op.Err)
	}
	return errors.New("request failed")
}

func statusError(resp *http.Response, body []byte) error {
	err := fmt.Errorf("answered %d", resp.StatusCode)
	if resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != 408 && resp.StatusCode != 429 {
		return fmt.Errorf("%w: %v", errPermanent, err)
	}
	return err
}

func (n *Notifier) sendTelegram(ctx context.Context, c ChannelSettings, token string, e Event) error {
	body, err := json.Marshal(map[string]any{
		"chat_id": c.Target, "text": Text(e, c.Lang), "disable_web_page_preview": true,
	})
	if err != nil {
		return err
	}
	u := strings.TrimRight(n.opt.TelegramAPI, "/") + "/bot" + token + "/sendMessage"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: bad Bot API address", errPermanent)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := n.opt.Client.Do(req)
	if err != nil {
		return httpError(err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return statusError(resp, rb)
	}
	var ok struct {
		OK bool `json:"ok"`
	}
	if json.Unmarshal(rb, &ok) != nil || !ok.OK {
		return errors.New("the Bot API did not answer ok")
	}
	return nil
}

// Webhook headers.
const (
	HeaderSignature = "X-Veil-Signature"
	HeaderEvent     = "X-Veil-Event"
	HeaderID        = "X-Veil-Event-Id"
)

// Sign returns the X-Veil-Signature value of a webhook body sent at ts:
// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<unix seconds>.<body>")>".
// A receiver recomputes it over the raw body, compares in constant time
// and refuses a t far from its clock (replays).
func Sign(secret string, ts time.Time, body []byte) string {
	t := strconv.FormatInt(ts.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(t))
	m.Write([]byte("."))
	m.Write(body)
	return "t=" + t + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a webhook's signature header against body and secret,
// accepting a timestamp at most tolerance away from now. Receivers written
// in Go may use it; it documents the check for the others.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) bool {
	var ts int64
	var sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts, _ = strconv.ParseInt(v, 10, 64)
		case "v1":
			sig = v
		}
	}
	if ts == 0 || sig == "" {
		return false
	}
	at := time.Unix(ts, 0)
	if at.Before(now.Add(-tolerance)) || at.After(now.Add(tolerance)) {
		return false
	}
	want := Sign(secret, at, body)
	_, wantSig, _ := strings.Cut(want, ",v1=")
	return hmac.Equal([]byte(wantSig), []byte(sig))
}

func (n *Notifier) sendWebhook(ctx context.Context, c ChannelSettings, secret string, e Event) error {
	body, err := json.Marshal(e)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.Target, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: bad webhook URL", errPermanent)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "veil-webhook/1")
	req.Header.Set(HeaderEvent, string(e.Kind))
	req.Header.Set(HeaderID, e.ID)
	req.Header.Set(HeaderSignature, Sign(secret, n.now(), body))
	resp, err := n.opt.Client.Do(req)
	if err != nil {
		return httpError(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return statusError(resp, nil)
	}
	return nil
}

// Deliveries lists deliveries for the console, newest first: those still
// queued, then the last finished ones, at most limit (≤ 0: 50).
func (n *Notifier) Deliveries(limit int) ([]Delivery, error) {
	if limit <= 0 {
		limit = 50
	}
	var q, done []Delivery
	err := n.db.View(func(tx *store.Txn) error {
		for _, p := range []struct {
			prefix string
			into   *[]Delivery
		}{{pQueue, &q}, {pLog, &done}} {
			err := tx.Iterate(p.prefix, "", false, func(_ string, v []byte) error {
				var d Delivery
				if err := jsonUnmarshal(v, &d); err != nil {
					return err
				}
				*p.into = append(*p.into, d)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("notify: deliveries: %w", err)
	}
	var out []Delivery
	for i := len(q) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, q[i])
	}
	for i := len(done) - 1; i >= 0 && len(out) < limit; i-- {
		out = append(out, done[i])
	}
	return out, nil
}

// ErrNotConfigured: the channel has no target or no secret.
var ErrNotConfigured = errors.New("notify: channel not set up")

// SendTest queues a test message to one channel, whatever its events.
func (n *Notifier) SendTest(channel string) (Event, error) {
	if channel != Telegram && channel != Webhook {
		return Event{}, invalid("channel: telegram or webhook")
	}
	var e Event
	err := n.db.Update(func(tx *store.Txn) error {
		set, err := getSettings(tx)
		if err != nil {
			return err
		}
		if !set.channel(channel).configured() {
			return ErrNotConfigured
		}
		now := n.now()
		e = Event{Kind: Test, ID: newEventID(now), At: now.Truncate(time.Second)}
		return n.enqueueTo(tx, e, channel)
	})
	if err != nil {
		return Event{}, err
	}
	n.wake()
	return e, nil
}
