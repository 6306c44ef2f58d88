package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestDiskFullUnderLoad runs the real binary on a small real filesystem (a
// 256 MiB tmpfs) and fills it while clients order and pay: writes are
// refused with 503 storage_unavailable (the 易支付 notify with 503 "fail",
// so the gateway resends), reads go on, the server logs one line for the
// episode, not one per request, and takes orders again by itself once the
// space is freed. Afterwards the crash test's invariants hold: every order
// answered 201 exists, every payment answered "success" is delivered, no
// key is in two orders, and available + reserved + delivered = imported.
func TestDiskFullUnderLoad(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root (CI runs as root)")
	}
	bin := buildVeil(t)
	const password = "disk full owner password"
	sh := initVeil(t, bin, password, "disk full vault passphrase", map[string]string{"epay-key": crashKey})
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=256m,mode=0700", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })
	data := filepath.Join(mnt, "data")
	if out, err := exec.Command("cp", "-a", sh.data, data).CombinedOutput(); err != nil {
		t.Fatalf("copy the shop onto the tmpfs: %v %s", err, out)
	}

	addr := freeAddr(t)
	base := "http://" + addr
	const minFreeMB = 64
	srv := startVeil(t, bin, base, "serve", "--data", data, "--addr", addr, "--passphrase-file", sh.ppFile,
		"--payments", "epay", "--epay-pid", crashPID, "--epay-key-file", sh.file("epay-key"),
		"--epay-gateway", "http://127.0.0.1:1/submit.php", "--public-url", base, "--rate-limit", "0",
		"--min-free-mb", fmt.Sprint(minFreeMB))
	con := signIn(t, base, "owner", password, sh.ini.TOTPSecret)
	var prod struct{ ID, Slug string }
	con.call(http.MethodPost, "/api/v1/admin/products", "application/json",
		fmt.Sprintf(`{"slug":"crash-card","name":{"en":"Disk card","zh-CN":"磁盘卡"},"price_minor":%d,"currency":"CNY","kind":"unique"}`, crashPrice),
		http.StatusCreated, &prod)
	imported := map[string]bool{}
	var keys []string
	salt := make([]byte, 4)
	_, _ = rand.Read(salt)
	for i := range 400 {
		k := fmt.Sprintf("DISK-%05d-%s", i, hex.EncodeToString(salt))
		keys = append(keys, k)
		imported[k] = true
	}
	con.call(http.MethodPost, "/api/v1/admin/products/"+prod.ID+"/keys", "text/plain; charset=utf-8",
		strings.Join(keys, "\n")+"\n", http.StatusOK, nil)
	// A second product the load never touches: after the space returns, an
	// order for it proves the store writes again whatever the load's own
	// product has come to (sold out, or held past the hoarding guard's line).
	var probe struct{ ID, Slug string }
	con.call(http.MethodPost, "/api/v1/admin/products", "application/json",
		`{"slug":"probe-card","name":{"en":"Probe card","zh-CN":"探针卡"},"price_minor":100,"currency":"CNY","kind":"unique"}`,
		http.StatusCreated, &probe)
	con.call(http.MethodPost, "/api/v1/admin/products/"+probe.ID+"/keys", "text/plain; charset=utf-8",
		"PROBE-1-"+hex.EncodeToString(salt)+"\n", http.StatusOK, nil)

	b := &crashBook{seconds: map[string]string{}, secondsOK: map[string]bool{}, fullOK: true}
	ctx, cancel := context.WithCancel(context.Background())
	hc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: crashWorkers}}
	var wg sync.WaitGroup
	for i := range crashWorkers {
		wr := mrand.New(mrand.NewPCG(uint64(i), 0xd15c))
		wg.Go(func() { crashWorker(ctx, wr, hc, base, b) })
	}
	placed := func() int { b.mu.Lock(); defer b.mu.Unlock(); return b.placed }
	refused := func() int { b.mu.Lock(); defer b.mu.Unlock(); return b.refusedFull }
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for !ok() {
			if time.Now().After(deadline) {
				cancel()
				wg.Wait()
				t.Fatalf("never %s\n%s", what, srv.stderr)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("placed 20 orders", func() bool { return placed() >= 20 })
	// A paid order, retrieved once while there is room: its first showing
	// is recorded (that needs a write); later retrievals only read.
	var seen *crashOrder
	waitFor("a paid order", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, o := range b.orders {
			if o.acked {
				seen = o
				return true
			}
		}
		return false
	})
	retrieve := func() int {
		req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/order", nil)
		req.Header.Set("Authorization", "Bearer "+seen.token)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("retrieving %s: %v", seen.ref, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := retrieve(); got != http.StatusOK {
		t.Fatalf("first retrieval of %s: %d", seen.ref, got)
	}

	// Fill the filesystem to half of what the store must keep free.
	var st syscall.Statfs_t
	if err := syscall.Statfs(mnt, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * st.Bsize
	filler := filepath.Join(mnt, "filler")
	f, err := os.OpenFile(filler, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for left := free - minFreeMB<<20/2; left > 0; left -= int64(len(chunk)) {
		if _, err := f.Write(chunk[:min(int64(len(chunk)), left)]); err != nil {
			t.Fatalf("filling: %v", err)
		}
	}
	f.Close()
	waitFor("refused a write with storage_unavailable", func() bool { return refused() >= 10 })
	atFull := placed()

	// Reads go on: the order shown before the disk filled opens again, and
	// the catalogue answers.
	if got := retrieve(); got != http.StatusOK {
		t.Fatalf("repeat retrieval on a full disk: %d, want 200", got)
	}
	if resp, err := hc.Get(base + "/api/v1/products"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("catalogue on a full disk: %v %v", err, resp)
	} else {
		resp.Body.Close()
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	waitFor("took an order again after the space returned", func() bool {
		resp, err := hc.Post(base+"/api/v1/orders", "application/json", strings.NewReader(`{"product":"probe-card","quantity":1}`))
		if err != nil {
			return false
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusCreated:
			return true
		case http.StatusServiceUnavailable:
			return false
		}
		t.Fatalf("probe order after the space returned: %d %s", resp.StatusCode, body)
		return false
	})
	time.Sleep(300 * time.Millisecond) // the load runs on a little after recovery
	cancel()
	wg.Wait()
	select {
	case <-srv.done:
		t.Fatalf("veil exited: %v\n%s", srv.err, srv.stderr)
	default:
	}
	for _, e := range b.errs {
		t.Error(e)
	}

	// The gateway resends what got no "success".
	for _, o := range b.orders {
		if o.tried && !o.acked {
			if got, err := sendNotify(hc, base, o.ref, o.trade, yuan(o.amount), false); err != nil || got != "success" {
				t.Errorf("%s: resent notify answered %q, %v", o.ref, got, err)
				continue
			}
			o.acked = true
		}
	}
	sum := checkOrders(t, hc, base, b.orders, imported)
	if err := srv.stop(); err != nil {
		t.Errorf("clean shutdown: %v", err)
	}
	logged := srv.stderr.String()
	if n := strings.Count(logged, "refusing writes"); n != 1 {
		t.Errorf("%d lines say the store refuses writes, want 1 for the episode", n)
	}
	var bad []string
	for _, l := range badLines(logged) {
		if !strings.Contains(l, "refusing writes") {
			bad = append(bad, l)
		}
	}
	if len(bad) > 0 {
		t.Errorf("the server logged:\n%s", strings.Join(bad, "\n"))
	}

	a, err := openApp(data, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	stock, err := a.shop.Stock(prod.ID)
	if err != nil {
		t.Fatal(err)
	}
	var avail, reserved, delivered int
	for _, s := range stock {
		avail, reserved, delivered = avail+s.Available, reserved+s.Reserved, delivered+s.Delivered
	}
	if avail+reserved+delivered != len(keys) || delivered != sum.keys {
		t.Errorf("stock: available %d + reserved %d + delivered %d != imported %d; orders open %d keys",
			avail, reserved, delivered, len(keys), sum.keys)
	}
	t.Logf("%d orders placed (%d before the disk filled), %d requests refused with storage_unavailable; %d delivered, %d keys",
		b.placed, atFull, b.refusedFull, sum.delivered, sum.keys)
}
