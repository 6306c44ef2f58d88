package web

import (
	"errors"
	"slices"
	"strings"
	"veil/msg"
	"veil/server/shop"

	"filippo.io/age"
)

// maxThreadShown bounds the messages read for one answer: the newest ones.
const maxThreadShown = 500

// ThreadRecipients are the recipients of the order's thread: the order's
// own and the merchant's support recipient. ErrSupportOff when there are
// no threads or the vault has no support recipient yet.
func (s *Site) ThreadRecipients(o shop.Order) ([]string, error) {
	sup := s.Shop.Public().Support
	r := o.RecipientString()
	if s.Threads == nil || sup == "" || r == "" {
		return nil, ErrSupportOff
	}
	return []string{r, sup}, nil
}

// CleanText checks a buyer's text for the thread, naming the field in the
// error.
func CleanText(field, text string, limit int) (string, error) {
	clean, err := msg.CleanText(text)
	switch {
	case errors.Is(err, msg.ErrTextEmpty):
		return "", BadRequest("%s: empty", field)
	case errors.Is(err, msg.ErrTextTooLong) || (err == nil && len(clean) > limit):
		return "", BadRequest("%s: at most %d bytes", field, limit)
	case err != nil:
		return "", BadRequest("%s: UTF-8 text without control characters other than newline and tab", field)
	}
	return clean, nil
}

// ThreadText is a thread message as pages show it: the reason tag of a
// ticket's message ("[key_invalid] …") in words, "[Key does not work] …".
// The sealed text and the JSON API keep the code.
func (s *Site) ThreadText(lang, text string) string {
	rest, ok := strings.CutPrefix(text, "[")
	if !ok {
		return text
	}
	code, rest, ok := strings.Cut(rest, "]")
	if !ok || !slices.Contains(shop.Reasons(), shop.Reason(code)) {
		return text
	}
	return "[" + s.Pages.T(lang, "reason."+code) + "]" + rest
}

// ReadThread opens the newest messages (at most maxThreadShown) of the
// order ref's sealed thread with id: the order's identity (from its token)
// or the shop's support identity.
func (s *Site) ReadThread(ref string, id age.Identity) ([]msg.Message, error) {
	n, err := s.Threads.Count(ref)
	if err != nil || n == 0 {
		return nil, err
	}
	after := uint64(max(0, n-maxThreadShown))
	var out []msg.Message
	for {
		ms, next, err := s.Threads.Read(ref, id, after, maxThreadShown)
		if err != nil {
			return nil, err
		}
		out = append(out, ms...)
		if next == 0 || len(out) >= maxThreadShown {
			return out, nil
		}
		after = next
	}
}

// WSPath is where the chat hub is mounted (API.md: the answer's ws_path).
const WSPath = "/chat/ws"
