package shop

import (
	"testing"
	"time"

	"veil/server/store"
)

// TestTimeZoneSetting: Asia/Shanghai until set; the dashboard counts a
// sale on the shop's day, not UTC's; a bad zone is refused.
func TestTimeZoneSetting(t *testing.T) {
	e := newEnv(t)
	if z := e.shop.TimeZone(); z != "Asia/Shanghai" {
		t.Fatalf("default zone %q", z)
	}
	p := e.product("game", Unique)
	e.importKeys(p.ID, keyList("TZ", 2))
	e.clock.Add(8 * time.Hour) // 2026-11-01 20:00 UTC = 2026-11-02 04:00 in Shanghai
	e.pay(e.buy(p.ID, 1).Order)
	d, err := e.shop.Dashboard(2)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Days) != 2 || d.Days[1].Date != "2026-11-02" || d.Days[1].Orders != 1 || d.Days[0].Orders != 0 {
		t.Fatalf("days in Shanghai: %+v", d.Days)
	}
	for _, bad := range []string{"", "Local", "Mars/Olympus", "../../etc/passwd", "Asia/ Shanghai"} {
		if err := e.db.Update(func(tx *store.Txn) error { return e.shop.SetTimeZoneTx(tx, bad) }); err == nil {
			t.Errorf("zone %q accepted", bad)
		}
	}
	if err := e.db.Update(func(tx *store.Txn) error { return e.shop.SetTimeZoneTx(tx, "UTC") }); err != nil {
		t.Fatal(err)
	}
	if e.shop.TimeZone() != "UTC" || e.shop.Location() != time.UTC {
		t.Fatalf("zone %q %v", e.shop.TimeZone(), e.shop.Location())
	}
	d, _ = e.shop.Dashboard(2)
	if d.Days[1].Date != "2026-11-01" || d.Days[1].Orders != 1 {
		t.Fatalf("days in UTC: %+v", d.Days)
	}
}
