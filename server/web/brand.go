package web

import (
	"net/url"

	"veil/pages"
)

// The merchant's branding on every page (issue 12).

// ImagePrefix is where stored images are served: /img/<sha256 hex>, a
// content-hashed name, cached for good.
const ImagePrefix = "/img/"

// ImageURL is the URL of a stored image.
func ImageURL(name string) string { return ImagePrefix + name }

// BrandOf is the page data of the branding in force, in lang. A store
// error shows the shop unbranded rather than failing the page.
func (s *Site) BrandOf(lang string) pages.Brand {
	b, err := s.Shop.Branding()
	if err != nil {
		s.Log.Error("branding unavailable", "err", err)
		return pages.Brand{Terms: true}
	}
	out := pages.Brand{
		Name:         b.Name.In(lang),
		Description:  b.Description.In(lang),
		Announcement: b.AnnouncementAt(s.Now(), lang),
		Terms:        true,
	}
	if b.Logo != "" {
		out.LogoURL = ImageURL(b.Logo)
	}
	c := b.Contacts
	if c.Telegram != "" {
		out.Contacts = append(out.Contacts, pages.Contact{Kind: "telegram", Value: "@" + c.Telegram, URL: "https://t.me/" + c.Telegram})
	}
	if c.Email != "" {
		out.Contacts = append(out.Contacts, pages.Contact{Kind: "email", Value: c.Email, URL: (&url.URL{Scheme: "mailto", Opaque: c.Email}).String()})
	}
	if c.QQ != "" {
		out.Contacts = append(out.Contacts, pages.Contact{Kind: "qq", Value: c.QQ})
	}
	if c.WeChat != "" {
		out.Contacts = append(out.Contacts, pages.Contact{Kind: "wechat", Value: c.WeChat})
	}
	if o := c.Other.In(lang); o != "" {
		out.Contacts = append(out.Contacts, pages.Contact{Kind: "other", Value: o})
	}
	return out
}

// defaultLang is the shop's default language (shop settings), else
// pages.DefaultLang.
func (s *Site) defaultLang() string {
	if b, err := s.Shop.Branding(); err == nil && b.DefaultLang != "" {
		return b.DefaultLang
	}
	return pages.DefaultLang
}

func imageURLs(names []string) []string {
	if len(names) == 0 {
		return nil
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = ImageURL(n)
	}
	return out
}
