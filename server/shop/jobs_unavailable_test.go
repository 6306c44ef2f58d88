package shop

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"veil/server/store"
)

// TestJobsQuietWhileStorageUnavailable: with the data directory's
// filesystem "full" (MinFree above what is free), a sweep that has work to
// do fails with store.ErrUnavailable, the expired order stays as it was,
// and the background loop logs nothing of its own about it — the store's
// one "refusing writes" line is the whole story, not a line per job and
// tick.
func TestJobsQuietWhileStorageUnavailable(t *testing.T) {
	dir, c := t.TempDir(), newClock()
	e := openEnv(t, dir, c)
	if _, err := e.shop.InitVault(testPass); err != nil {
		t.Fatal(err)
	}
	p := e.product("full", Unique)
	e.importKeys(p.ID, keyList("FULL", 2))
	pl := e.buy(p.ID, 1)
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
	c.Add(2 * time.Hour) // the reservation is past its expiry

	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	db, err := store.Open(dir, store.Options{Logger: log, MinFree: 1 << 62})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sh, err := New(db, Config{Now: c.Now, VaultWorkFactor: 10, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sh.Sweep(); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("sweep on a full disk: %v", err)
	}
	if o, err := sh.OrderByRef(pl.Order.Ref); err != nil || o.Status != StatusPending {
		t.Fatalf("order after the refused sweep: %v, %v", o.Status, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sh.Run(ctx); close(done) }()
	for range 3 {
		sh.wake()
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-done
	out := logs.String()
	if !strings.Contains(out, "refusing writes") {
		t.Fatalf("the store did not say it refuses writes:\n%s", out)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "level=ERROR") && !strings.Contains(l, "refusing writes") {
			t.Errorf("logged: %s", l)
		}
	}
}
