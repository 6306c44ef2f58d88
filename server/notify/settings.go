package notify

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"veil/crypto"
	"veil/server/store"
)

// Channel names.
const (
	Telegram = "telegram"
	Webhook  = "webhook"
)

var channelNames = []string{Telegram, Webhook}

// ChannelSettings is one channel as stored. Secret is the bot token or
// the webhook signing secret, age-sealed to the notifications recipient;
// Hint shows a little of it so the merchant can tell which one is set.
type ChannelSettings struct {
	// Target is the Telegram chat id, or the webhook URL.
	Target string `json:"target,omitempty"`
	Secret []byte `json:"secret,omitempty"`
	Hint   string `json:"hint,omitempty"`
	Events []Kind `json:"events,omitempty"`
	// Lang is the language of Telegram messages: "zh-CN" (default) or "en".
	Lang string `json:"lang,omitempty"`
}

func (c ChannelSettings) configured() bool { return c.Target != "" && len(c.Secret) > 0 }

// Settings is the notification set-up, stored under notify/settings.
type Settings struct {
	Telegram ChannelSettings `json:"telegram"`
	Webhook  ChannelSettings `json:"webhook"`
	// Thresholds: product id -> stock_low below this many.
	Thresholds map[string]int `json:"thresholds,omitempty"`
}

func (s *Settings) channel(name string) ChannelSettings {
	if name == Telegram {
		return s.Telegram
	}
	return s.Webhook
}

func (s *Settings) setChannel(name string, c ChannelSettings) {
	if name == Telegram {
		s.Telegram = c
	} else {
		s.Webhook = c
	}
}

func getSettings(tx *store.Txn) (Settings, error) {
	var s Settings
	err := tx.GetJSON(kSettings, &s)
	if errors.Is(err, store.ErrNotFound) {
		return Settings{}, nil
	}
	return s, err
}

// ChannelView is a channel as the console shows it: never the secret.
type ChannelView struct {
	Name       string `json:"name"`
	Target     string `json:"target"`
	SecretHint string `json:"secret_hint"` // "" when no secret is set
	Events     []Kind `json:"events"`
	Lang       string `json:"lang,omitempty"`
	Configured bool   `json:"configured"`
}

// View is the settings as the console shows them.
type View struct {
	Channels   []ChannelView  `json:"channels"`
	Thresholds map[string]int `json:"thresholds"`
}

// Settings returns the set-up without its secrets.
func (n *Notifier) Settings() (View, error) {
	var s Settings
	err := n.db.View(func(tx *store.Txn) error {
		var err error
		s, err = getSettings(tx)
		return err
	})
	if err != nil {
		return View{}, fmt.Errorf("notify: settings: %w", err)
	}
	v := View{Thresholds: map[string]int{}}
	for k, t := range s.Thresholds {
		v.Thresholds[k] = t
	}
	for _, name := range channelNames {
		c := s.channel(name)
		ev := c.Events
		if ev == nil {
			ev = []Kind{}
		}
		v.Channels = append(v.Channels, ChannelView{Name: name, Target: c.Target, SecretHint: c.Hint,
			Events: ev, Lang: c.Lang, Configured: c.configured()})
	}
	return v, nil
}

// ChannelChange is what a merchant asks to change on one channel; nil
// fields are kept. Secret "" with Target "" turns the channel off.
type ChannelChange struct {
	Target *string `json:"target,omitempty"` // chat id, or webhook URL
	Secret *string `json:"secret,omitempty"` // bot token, or webhook secret
	Events *[]Kind `json:"events,omitempty"`
	Lang   *string `json:"lang,omitempty"`
}

// Change is a settings change as submitted (secrets in the clear: it is
// never stored). Prepare turns it into approval parameters.
type Change struct {
	Telegram *ChannelChange `json:"telegram,omitempty"`
	Webhook  *ChannelChange `json:"webhook,omitempty"`
	// Thresholds sets a product's low-stock threshold; 0 removes it.
	Thresholds map[string]int `json:"thresholds,omitempty"`
}

// Params are the parameters of a notify_settings approval: the change
// with each secret sealed and hinted. They hold no secret in the clear.
type Params struct {
	Telegram   *channelParams `json:"telegram,omitempty"`
	Webhook    *channelParams `json:"webhook,omitempty"`
	Thresholds map[string]int `json:"thresholds,omitempty"`
}

type channelParams struct {
	Target *string `json:"target,omitempty"`
	// SecretID names the new secret, stored sealed to the notifications
	// recipient under notify/sealed/<id> until the approval applies it (kept
	// out of the params so the approval shows people no ciphertext); Clear
	// removes the secret.
	SecretID string  `json:"secret_id,omitempty"`
	Hint     string  `json:"hint,omitempty"`
	Clear    bool    `json:"clear,omitempty"`
	Events   *[]Kind `json:"events,omitempty"`
	Lang     *string `json:"lang,omitempty"`
}

// ErrSecretGone: the approval's sealed secret was used already (the
// approval cannot apply twice) or never stored.
var ErrSecretGone = errors.New("notify: the sealed secret of this change is gone")

// ErrInvalid is a change the merchant must correct; its text says what
// and names no secret.
type ErrInvalid struct{ Msg string }

func (e *ErrInvalid) Error() string { return "notify: " + e.Msg }

func invalid(f string, a ...any) error { return &ErrInvalid{Msg: fmt.Sprintf(f, a...)} }

var (
	reBotToken = regexp.MustCompile(`^[0-9]{1,20}:[A-Za-z0-9_-]{20,100}$`)
	reChatID   = regexp.MustCompile(`^(-?[0-9]{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31})$`)
	reProdID   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

// Prepare checks a change and seals its secrets, giving the approval's
// parameters and a summary for people (no secret in either). Sealing needs
// the notifications recipient: stored at the first unlock, else ErrLocked.
func (n *Notifier) Prepare(c Change) (Params, string, error) {
	var p Params
	var parts []string
	for _, name := range channelNames {
		cc := c.Telegram
		if name == Webhook {
			cc = c.Webhook
		}
		if cc == nil {
			continue
		}
		cp, err := n.prepareChannel(name, cc)
		if err != nil {
			return Params{}, "", err
		}
		if name == Telegram {
			p.Telegram = cp
		} else {
			p.Webhook = cp
		}
		parts = append(parts, name)
	}
	if len(c.Thresholds) > 0 {
		if len(c.Thresholds) > 500 {
			return Params{}, "", invalid("thresholds: at most 500 products at once")
		}
		p.Thresholds = map[string]int{}
		for id, t := range c.Thresholds {
			if !reProdID.MatchString(id) || t < 0 || t > 1_000_000 {
				return Params{}, "", invalid("thresholds: a product id and a number from 0 to 1000000")
			}
			p.Thresholds[id] = t
		}
		parts = append(parts, "stock thresholds")
	}
	if len(parts) == 0 {
		return Params{}, "", invalid("nothing to change")
	}
	return p, "notifications: " + strings.Join(parts, ", "), nil
}

func (n *Notifier) prepareChannel(name string, cc *ChannelChange) (*channelParams, error) {
	cp := &channelParams{Target: cc.Target, Events: cc.Events, Lang: cc.Lang}
	if cc.Target != nil {
		t := strings.TrimSpace(*cc.Target)
		cp.Target = &t
		if t != "" {
			if err := checkTarget(name, t); err != nil {
				return nil, err
			}
		}
	}
	if cc.Events != nil {
		seen := map[Kind]bool{}
		for _, k := range *cc.Events {
			if k == Test || !k.valid() || seen[k] {
				return nil, invalid("events: unknown or repeated event %q", truncate(string(k), 32))
			}
			seen[k] = true
		}
	}
	if cc.Lang != nil && *cc.Lang != "" && *cc.Lang != "en" && *cc.Lang != "zh-CN" {
		return nil, invalid("lang: en or zh-CN")
	}
	if cc.Secret != nil {
		sec := strings.TrimSpace(*cc.Secret)
		if sec == "" {
			cp.Clear = true
		} else {
			if err := checkSecret(name, sec); err != nil {
				return nil, err
			}
			sealed, err := n.seal(sec)
			if err != nil {
				return nil, err
			}
			id := crypto.RandomID("", 12)
			if err := n.db.Update(func(tx *store.Txn) error { return tx.Set(pSealed+id, sealed) }); err != nil {
				return nil, fmt.Errorf("notify: store sealed secret: %w", err)
			}
			cp.SecretID, cp.Hint = id, hint(name, sec)
		}
	}
	return cp, nil
}

func checkTarget(name, t string) error {
	if name == Telegram {
		if !reChatID.MatchString(t) {
			return invalid("chat id: a number such as -1001234567890, or @channelname")
		}
		return nil
	}
	u, err := url.Parse(t)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		u.Fragment != "" || len(t) > 2048 {
		return invalid("webhook URL: an absolute http(s) URL without credentials, at most 2048 characters")
	}
	return nil
}

func checkSecret(name, s string) error {
	if name == Telegram {
		if !reBotToken.MatchString(s) {
			return invalid("bot token: the token @BotFather gave, such as 123456789:AA…")
		}
		return nil
	}
	if len(s) < 16 || len(s) > 256 || strings.ContainsFunc(s, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		return invalid("webhook secret: 16 to 256 printable ASCII characters, no spaces")
	}
	return nil
}

// hint shows a bot's id (public: it is the bot's user id) and the last
// four characters of the secret.
func hint(name, s string) string {
	last := s[len(s)-4:]
	if name == Telegram {
		id, _, _ := strings.Cut(s, ":")
		return id + ":…" + last
	}
	return "…" + last
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// recipient returns the notifications recipient: stored, or derived from
// the unlocked vault and stored now.
func (n *Notifier) recipient() (string, error) {
	var r string
	err := n.db.View(func(tx *store.Txn) error {
		b, err := tx.Get(kRcpt)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		r = string(b)
		return err
	})
	if err != nil || r != "" {
		return r, err
	}
	id, err := n.opt.Identity()
	if err != nil {
		return "", ErrLocked
	}
	r = id.Recipient()
	return r, n.db.Update(func(tx *store.Txn) error { return tx.Set(kRcpt, []byte(r)) })
}

// Unlocked is called once the vault is open: it stores the notifications
// recipient if it was not yet, so that secrets can be sealed while locked
// later, and wakes the sender.
func (n *Notifier) Unlocked() {
	if n == nil {
		return
	}
	if _, err := n.recipient(); err != nil {
		n.log.Error("notify: store recipient", "err", err)
	}
	n.wake()
}

func (n *Notifier) seal(secret string) ([]byte, error) {
	rs, err := n.recipient()
	if err != nil {
		return nil, err
	}
	r, err := crypto.ParseRecipient(rs)
	if err != nil {
		return nil, fmt.Errorf("notify: recipient: %w", err)
	}
	return crypto.Seal([]byte(secret), r)
}

// open returns the plaintext of a sealed secret, opening it with the
// vault's identity the first time and from memory after that.
func (n *Notifier) open(sealed []byte) (string, error) {
	n.mu.Lock()
	s, ok := n.secrets[string(sealed)]
	n.mu.Unlock()
	if ok {
		return s, nil
	}
	id, err := n.opt.Identity()
	if err != nil {
		return "", ErrLocked
	}
	pt, err := crypto.Open(sealed, id.Age())
	if err != nil {
		return "", fmt.Errorf("notify: open secret: %w", err)
	}
	s = string(pt)
	clear(pt)
	n.mu.Lock()
	n.secrets[string(sealed)] = s
	n.mu.Unlock()
	return s, nil
}

// ApplyTx applies a notify_settings approval's parameters inside tx (the
// approval's executor). The result names what changed, with no secret.
func (n *Notifier) ApplyTx(tx *store.Txn, raw json.RawMessage) (string, error) {
	var p Params
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return "", fmt.Errorf("notify: approval params: %w", err)
	}
	set, err := getSettings(tx)
	if err != nil {
		return "", err
	}
	var done []string
	for _, name := range channelNames {
		cp := p.Telegram
		if name == Webhook {
			cp = p.Webhook
		}
		if cp == nil {
			continue
		}
		c := set.channel(name)
		if cp.Target != nil {
			c.Target = *cp.Target
		}
		switch {
		case cp.Clear:
			c.Secret, c.Hint = nil, ""
		case cp.SecretID != "":
			b, err := tx.Get(pSealed + cp.SecretID)
			if errors.Is(err, store.ErrNotFound) {
				return "", ErrSecretGone
			}
			if err != nil {
				return "", err
			}
			if err := tx.Delete(pSealed + cp.SecretID); err != nil {
				return "", err
			}
			c.Secret, c.Hint = b, cp.Hint
		}
		if cp.Events != nil {
			c.Events = slices.Clone(*cp.Events)
		}
		if cp.Lang != nil {
			c.Lang = *cp.Lang
		}
		set.setChannel(name, c)
		state := "off"
		if c.configured() {
			state = fmt.Sprintf("on, %d events", len(c.Events))
		}
		done = append(done, name+" "+state)
	}
	if len(p.Thresholds) > 0 {
		if set.Thresholds == nil {
			set.Thresholds = map[string]int{}
		}
		for id, t := range p.Thresholds {
			if t == 0 {
				delete(set.Thresholds, id)
				if err := tx.Delete(pLow + id); err != nil {
					return "", err
				}
			} else {
				set.Thresholds[id] = t
			}
		}
		done = append(done, fmt.Sprintf("%d stock thresholds", len(p.Thresholds)))
	}
	if err := tx.SetJSON(kSettings, set); err != nil {
		return "", err
	}
	return strings.Join(done, "; "), nil
}
