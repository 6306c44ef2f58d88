package shop

import (
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // the zone database, also on hosts without one

	"veil/server/store"
)

// The shop's time zone: pages, the console and exports show times in it;
// everything is stored in UTC.

// DefaultTimeZone is the zone until the merchant sets one.
const DefaultTimeZone = "Asia/Shanghai"

const kTimeZone = "setting/time-zone"

// zoneCache keeps loaded locations by name (LoadLocation parses tzdata).
type zoneCache struct{ m sync.Map }

func (c *zoneCache) load(name string) (*time.Location, bool) {
	if l, ok := c.m.Load(name); ok {
		return l.(*time.Location), true
	}
	l, ok := parseZone(name)
	if ok {
		c.m.Store(name, l)
	}
	return l, ok
}

func parseZone(name string) (*time.Location, bool) {
	// "Local" is the host's zone, not a setting; "" is UTC to LoadLocation.
	if name == "" || name == "Local" || len(name) > 64 || strings.ContainsAny(name, " \\") {
		return nil, false
	}
	l, err := time.LoadLocation(name)
	return l, err == nil
}

// TimeZone is the shop's time zone name (an IANA name such as
// "Asia/Shanghai").
func (s *Shop) TimeZone() string {
	name := DefaultTimeZone
	_ = s.db.View(func(tx *store.Txn) error {
		name = s.timeZoneTx(tx)
		return nil
	})
	return name
}

func (s *Shop) timeZoneTx(tx *store.Txn) string {
	if b, err := tx.Get(kTimeZone); err == nil {
		if _, ok := s.zones.load(string(b)); ok {
			return string(b)
		}
	}
	return DefaultTimeZone
}

// locationTx is the shop's time zone as tx sees it.
func (s *Shop) locationTx(tx *store.Txn) *time.Location {
	if l, ok := s.zones.load(s.timeZoneTx(tx)); ok {
		return l
	}
	return time.UTC
}

// Location is the shop's time zone.
func (s *Shop) Location() *time.Location {
	if l, ok := s.zones.load(s.TimeZone()); ok {
		return l
	}
	return time.UTC
}

// CheckTimeZone refuses a name that is not an IANA time zone.
func CheckTimeZone(name string) error {
	if _, ok := parseZone(name); !ok {
		return inputErr("time_zone: an IANA time zone name such as %s or UTC", DefaultTimeZone)
	}
	return nil
}

// SetTimeZoneTx stores the shop's time zone (a settings approval).
func (s *Shop) SetTimeZoneTx(tx *store.Txn, name string) error {
	if err := CheckTimeZone(name); err != nil {
		return err
	}
	return tx.Set(kTimeZone, []byte(name))
}
