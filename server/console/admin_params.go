package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"veil/pages"
	"veil/server/shop"
	"veil/server/staff"
)

// Approval params are stored as JSON (refs, amounts, names; never a
// secret). The console shows them to people as translated label–value
// pairs: money formatted, "the whole amount" for a refund of all that is
// left, kinds, roles and reasons in words — never raw JSON.

// paramOrder puts the usual params first; others follow by name.
var paramOrder = []string{"ref", "product", "amount_minor", "price_minor", "reason", "ticket", "item_id", "batch",
	"provider", "trade_no", "note", "name", "role", "mode", "recipient", "export_id",
	"two_person", "tiers", "time_zone", "retention_days"}

// hiddenParams are folded into another (currency into amounts) or say
// nothing to a person.
var hiddenParams = map[string]bool{"currency": true, "approval_id": true}

func (s *Server) approvalDetails(lang string, a staff.Approval) []pages.Detail {
	if len(a.Params) == 0 {
		return nil
	}
	var m map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(a.Params))
	dec.UseNumber()
	if dec.Decode(&m) != nil {
		return nil
	}
	var currency string
	_ = json.Unmarshal(m["currency"], &currency)
	keys := make([]string, 0, len(m))
	for k := range m {
		if !hiddenParams[k] {
			keys = append(keys, k)
		}
	}
	rank := func(k string) int {
		if i := slices.Index(paramOrder, k); i >= 0 {
			return i
		}
		return len(paramOrder)
	}
	slices.SortFunc(keys, func(x, y string) int {
		if d := rank(x) - rank(y); d != 0 {
			return d
		}
		return strings.Compare(x, y)
	})
	var out []pages.Detail
	for _, k := range keys {
		v := s.paramValue(lang, a.Kind, k, m[k], currency)
		if v == "" {
			continue
		}
		label := k
		if s.Pages.Has("admin.param." + k) {
			label = s.Pages.T(lang, "admin.param."+k)
		}
		out = append(out, pages.Detail{Label: label, Value: v})
	}
	return out
}

// paramValue says one param's value in words.
func (s *Server) paramValue(lang string, kind staff.Kind, key string, raw json.RawMessage, currency string) string {
	var str string
	isStr := json.Unmarshal(raw, &str) == nil
	switch key {
	case "amount_minor", "price_minor":
		var n int64
		if json.Unmarshal(raw, &n) != nil {
			break
		}
		if n == 0 && (kind == staff.KindRefund || kind == staff.KindPartialRefund) {
			return s.Pages.T(lang, "admin.approvals.whole_amount")
		}
		if currency == "" {
			currency = "CNY"
		}
		return pages.Money(n, currency)
	case "product":
		if isStr {
			if p, err := s.Shop.Product(str); err == nil {
				return p.Name.In(lang)
			}
			return str
		}
	case "role":
		if isStr && s.Pages.Has("admin.role."+str) {
			return s.Pages.T(lang, "admin.role."+str)
		}
	case "reason":
		if isStr && kind == staff.KindPaymentReturn && s.Pages.Has("admin.owed.reason."+str) {
			return s.Pages.T(lang, "admin.owed.reason."+str)
		}
		if isStr && s.Pages.Has("reason."+str) {
			return s.Pages.T(lang, "reason."+str) // a ticket's reason code
		}
	case "two_person":
		var tp map[string]bool
		if json.Unmarshal(raw, &tp) == nil {
			ks := make([]string, 0, len(tp))
			for k := range tp {
				ks = append(ks, k)
			}
			slices.Sort(ks)
			parts := make([]string, 0, len(ks))
			for _, k := range ks {
				state := s.Pages.T(lang, "admin.approvals.off")
				if tp[k] {
					state = s.Pages.T(lang, "admin.approvals.on")
				}
				parts = append(parts, s.kindText(lang, staff.Kind(k))+": "+state)
			}
			return strings.Join(parts, " · ")
		}
	case "tiers":
		var r shop.TierRules
		if json.Unmarshal(raw, &r) == nil {
			return tierSummary(r)
		}
	case "retention_days":
		var n int
		if json.Unmarshal(raw, &n) == nil {
			return fmt.Sprintf(s.Pages.T(lang, "admin.approvals.days"), n)
		}
	}
	if isStr {
		return str
	}
	return flatValue(raw)
}

// flatValue writes a JSON value without braces or quotes: "a: 1, b: x".
func flatValue(raw json.RawMessage) string {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return ""
	}
	return flat(v)
}

func flat(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case map[string]any:
		ks := make([]string, 0, len(x))
		for k := range x {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		parts := make([]string, 0, len(ks))
		for _, k := range ks {
			if f := flat(x[k]); f != "" {
				parts = append(parts, k+": "+f)
			}
		}
		return strings.Join(parts, ", ")
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			parts = append(parts, flat(e))
		}
		return strings.Join(parts, " / ")
	default:
		return fmt.Sprint(x)
	}
}
