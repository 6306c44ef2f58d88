package shop

import (
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode"

	"veil/server/store"
)

// Branding is what makes the storefront the merchant's own: its name and
// description, logo, announcement, contact channels, terms page and
// default language. Buyers see every field, so it changes only through a
// settings approval (SetBrandingTx). Contacts are the merchant's: buyers
// are never asked for any.
type Branding struct {
	// Name replaces "veil" in the header and the page title; empty keeps
	// DefaultShopName.
	Name        Text `json:"name,omitempty"`
	Description Text `json:"description,omitempty"`
	// Logo is a stored image's name (images.go); empty for none.
	Logo         string       `json:"logo,omitempty"`
	Announcement Announcement `json:"announcement,omitzero"`
	Contacts     Contacts     `json:"contacts,omitzero"`
	// Terms is the after-sales rules page; empty shows DefaultTerms.
	Terms Text `json:"terms,omitempty"`
	// DefaultLang is the buyer's language when neither ?lang nor
	// Accept-Language picks one ("" keeps zh-CN).
	DefaultLang string `json:"default_lang,omitempty"`
}

// Announcement is a banner over every storefront page until Ends (zero:
// until removed).
type Announcement struct {
	Text Text      `json:"text,omitempty"`
	Ends time.Time `json:"ends,omitzero"`
}

// Contacts are the merchant's support channels, shown on the storefront
// and the order pages.
type Contacts struct {
	Telegram string `json:"telegram,omitempty"` // a username, without @
	QQ       string `json:"qq,omitempty"`
	WeChat   string `json:"wechat,omitempty"`
	Email    string `json:"email,omitempty"`
	Other    Text   `json:"other,omitempty"` // free text
}

// DefaultShopName is the shop's name until the merchant sets one.
const DefaultShopName = "veil"

// Branding limits (bytes).
const (
	maxShopName     = 60
	maxShopDesc     = 300
	maxAnnouncement = 500
	maxContactOther = 500
	MaxTerms        = 16 << 10
)

const kBranding = "setting/branding"

var (
	telegramRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{4,31}$`)
	qqRE       = regexp.MustCompile(`^[1-9][0-9]{4,11}$`)
	wechatRE   = regexp.MustCompile(`^[A-Za-z][-_A-Za-z0-9]{5,19}$`)
)

// Empty reports whether no channel is set.
func (c Contacts) Empty() bool {
	return c.Telegram == "" && c.QQ == "" && c.WeChat == "" && c.Email == "" && c.Other.In("en") == ""
}

// ShopName is the shop's name in lang.
func (b Branding) ShopName(lang string) string {
	if n := b.Name.In(lang); n != "" {
		return n
	}
	return DefaultShopName
}

// TermsIn is the terms page in lang: the merchant's text, else the
// template.
func (b Branding) TermsIn(lang string) string {
	if t := b.Terms.In(lang); t != "" {
		return t
	}
	return DefaultTerms.In(lang)
}

// AnnouncementAt is the banner's text in lang while it runs at now, else
// "".
func (b Branding) AnnouncementAt(now time.Time, lang string) string {
	if !b.Announcement.Ends.IsZero() && !now.Before(b.Announcement.Ends) {
		return ""
	}
	return b.Announcement.Text.In(lang)
}

// Normalize trims b's fields and checks them; a Telegram name loses its @
// and link prefix. *InputError.
func (b *Branding) Normalize() error {
	for _, f := range []struct {
		name string
		t    Text
		max  int
	}{
		{"shop.name", b.Name, maxShopName},
		{"shop.description", b.Description, maxShopDesc},
		{"shop.announcement.text", b.Announcement.Text, maxAnnouncement},
		{"shop.contacts.other", b.Contacts.Other, maxContactOther},
		{"shop.terms", b.Terms, MaxTerms},
	} {
		for l, s := range f.t {
			f.t[l] = strings.TrimSpace(s)
			if f.t[l] == "" {
				delete(f.t, l)
			}
		}
		if err := checkText(f.name, f.t, f.max, false); err != nil {
			return err
		}
	}
	for l, n := range b.Name {
		if strings.ContainsFunc(n, unicode.IsControl) {
			return inputErr("shop.name: one line of text (%s)", l)
		}
	}
	for l, n := range b.Announcement.Text {
		if strings.ContainsFunc(n, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }) {
			return inputErr("shop.announcement.text: text without control characters (%s)", l)
		}
	}
	c := &b.Contacts
	c.Telegram = strings.TrimSpace(c.Telegram)
	for _, p := range []string{"https://t.me/", "http://t.me/", "t.me/", "@"} {
		c.Telegram = strings.TrimPrefix(c.Telegram, p)
	}
	c.QQ, c.WeChat, c.Email = strings.TrimSpace(c.QQ), strings.TrimSpace(c.WeChat), strings.TrimSpace(c.Email)
	if c.Telegram != "" && !telegramRE.MatchString(c.Telegram) {
		return inputErr("shop.contacts.telegram: a Telegram username (5-32 letters, digits or _)")
	}
	if c.QQ != "" && !qqRE.MatchString(c.QQ) {
		return inputErr("shop.contacts.qq: a QQ number (5-12 digits)")
	}
	if c.WeChat != "" && !wechatRE.MatchString(c.WeChat) {
		return inputErr("shop.contacts.wechat: a WeChat ID (6-20 letters, digits, - or _, starting with a letter)")
	}
	if c.Email != "" {
		a, err := mail.ParseAddress(c.Email)
		if err != nil || a.Address != c.Email || len(c.Email) > 254 {
			return inputErr("shop.contacts.email: an e-mail address such as support@example.com")
		}
	}
	switch b.DefaultLang {
	case "", "en", "zh-CN":
	default:
		return inputErr("shop.default_lang: en or zh-CN")
	}
	if b.Logo != "" && !imageNameRE.MatchString(b.Logo) {
		return inputErr("shop.logo: an uploaded image's name")
	}
	b.Announcement.Ends = b.Announcement.Ends.UTC().Truncate(time.Minute)
	return nil
}

// Branding is the branding in force.
func (s *Shop) Branding() (Branding, error) {
	var b Branding
	err := s.db.View(func(tx *store.Txn) error {
		var err error
		b, err = s.brandingTx(tx)
		return err
	})
	if err != nil {
		return Branding{}, fmt.Errorf("shop: branding: %w", err)
	}
	return b, nil
}

func (s *Shop) brandingTx(tx *store.Txn) (Branding, error) {
	var b Branding
	err := tx.GetJSON(kBranding, &b)
	if errors.Is(err, store.ErrNotFound) {
		return Branding{}, nil
	}
	return b, err
}

// SetBrandingTx replaces the branding (a settings approval). The logo
// must have been uploaded (StoreLogo); a logo it replaces is deleted
// unless a product shows it.
func (s *Shop) SetBrandingTx(tx *store.Txn, b Branding) error {
	if err := b.Normalize(); err != nil {
		return err
	}
	if b.Logo != "" {
		if ok, err := tx.Has(pImage + b.Logo); err != nil || !ok {
			if err == nil {
				err = inputErr("shop.logo: no such image (upload it again)")
			}
			return err
		}
	}
	old, err := s.brandingTx(tx)
	if err != nil {
		return err
	}
	if err := tx.SetJSON(kBranding, b); err != nil {
		return err
	}
	if old.Logo != "" && old.Logo != b.Logo {
		return s.dropImageUnlessUsedTx(tx, old.Logo, "")
	}
	return nil
}

// StoreLogo cleans and stores an uploaded logo and returns its name, for
// a settings approval to put in force. Until then buyers see nothing of
// it. ErrImageTooLarge, ErrImageInvalid.
func (s *Shop) StoreLogo(data []byte) (string, error) {
	clean, _, err := CleanImage(data)
	if err != nil {
		return "", err
	}
	var name string
	err = s.db.Update(func(tx *store.Txn) error {
		var err error
		name, err = putImageTx(tx, clean)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("shop: store logo: %w", err)
	}
	return name, nil
}
