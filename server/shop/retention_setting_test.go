package shop

import (
	"strings"
	"testing"
	"time"

	"veil/server/store"
)

// TestRetentionSetting: the default keeps a settled order 183 days (at
// least six months, whatever the months); a changed setting applies to
// orders settled before it, both ways; bad values are refused.
func TestRetentionSetting(t *testing.T) {
	e := newEnv(t)
	p := e.product("game", Unique)
	e.importKeys(p.ID, keyList("RT", 4))
	if d := e.shop.RetentionDays(); d != 183 {
		t.Fatalf("default retention %d days", d)
	}
	toks := settledTokens(t, e, p.ID, 1)
	due := func() int {
		t.Helper()
		res, err := e.shop.Purge(true, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res.Due
	}
	e.clock.Add(182 * 24 * time.Hour)
	if n := due(); n != 0 {
		t.Fatalf("%d orders due 182 days after settlement, want 0", n)
	}
	set := func(days int) error {
		return e.db.Update(func(tx *store.Txn) error { return e.shop.SetRetentionDaysTx(tx, days) })
	}
	for _, bad := range []int{0, -1, MaxRetentionDays + 1} {
		if err := set(bad); err == nil {
			t.Errorf("retention %d accepted", bad)
		}
	}
	if err := set(365); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(2 * 24 * time.Hour) // 184 days
	if n := due(); n != 0 {
		t.Fatalf("%d orders due at 184 days with a 365-day retention", n)
	}
	if err := set(30); err != nil {
		t.Fatal(err)
	}
	if e.shop.RetentionDays() != 30 {
		t.Fatalf("retention %d", e.shop.RetentionDays())
	}
	if n := due(); n != 1 {
		t.Fatalf("%d orders due after shortening the retention, want 1", n)
	}
	if res, err := e.shop.Purge(false, nil); err != nil || res.Purged != 1 {
		t.Fatalf("purge %+v %v", res, err)
	}
	if _, err := e.shop.Lookup(toks[0]); err == nil {
		t.Fatal("the order survived its purge")
	}
}

// TestRetentionMigratesLegacyIndex: an order settled before retention was
// a setting (indexed at settlement + 180 days) follows the setting after a
// restart instead of going at 180 days.
func TestRetentionMigratesLegacyIndex(t *testing.T) {
	e := newEnv(t)
	p := e.product("game", Unique)
	e.importKeys(p.ID, keyList("LG", 2))
	settledTokens(t, e, p.ID, 1)
	var ref string
	err := e.db.Update(func(tx *store.Txn) error {
		var refs []string
		if err := tx.Iterate(pRetain, "", true, func(k string, _ []byte) error { refs = append(refs, k); return nil }); err != nil {
			return err
		}
		if len(refs) != 1 {
			t.Fatalf("retain index %v", refs)
		}
		ref = refs[0][strings.LastIndex(refs[0], "/")+1:]
		o, lk, err := getOrderByRef(tx, ref)
		if err != nil {
			return err
		}
		// Rewrite it the way the old code indexed it.
		if err := tx.Delete(refs[0]); err != nil {
			return err
		}
		o.RetainFrom, o.PurgeAt = time.Time{}, o.SettledAt.Add(legacyRetention)
		if err := tx.Set(pPurge+unixKey(o.PurgeAt)+"/"+ref, nil); err != nil {
			return err
		}
		return oldFormTx(tx, o, lk)
	})
	if err != nil {
		t.Fatal(err)
	}
	e.db.Close()
	e = openEnv(t, e.dir, e.clock)
	t.Cleanup(func() { e.db.Close() })
	e.clock.Add(181 * 24 * time.Hour)
	if res, err := e.shop.Purge(false, nil); err != nil || res.Due != 0 {
		t.Fatalf("purged at 181 days after the move: %+v %v", res, err)
	}
	e.clock.Add(3 * 24 * time.Hour)
	if res, err := e.shop.Purge(false, nil); err != nil || res.Purged != 1 {
		t.Fatalf("purge at 184 days: %+v %v", res, err)
	}
	if _, err := e.shop.OrderByRef(ref); err != ErrOrderNotFound {
		t.Fatalf("order %s after purge: %v", ref, err)
	}
}
