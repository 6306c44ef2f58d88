package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"veil/crypto"
	"veil/server/pay"
	"veil/server/shop"
)

// cmdBench measures durable purchases over HTTP on loopback (order + pay +
// deliver + retrieve, each acknowledged only after fsync) at several
// concurrencies, and the crypto-only bound: the same crypto work done
// in-process, in the same run.
func cmdBench(args []string, stdout, _ io.Writer) error {
	fs := newFlags("bench")
	levels := fs.String("concurrency", "1,16,64", "comma-separated concurrency levels")
	n := fs.Int("purchases", 400, "purchases per level")
	importN := fs.Int("import", 100_000, "keys in the timed import (0 skips it)")
	rssKeys := fs.Int("rss-keys", 0, "also stock this many keys and report RSS (e.g. 1000000)")
	data := fs.String("data", "", "data directory (a temp dir if empty)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the purchase runs to this file")
	if err := parse(fs, args); err != nil {
		return err
	}
	var conc []int
	for _, f := range strings.Split(*levels, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c < 1 || c > 1024 {
			return usagef("--concurrency: numbers between 1 and 1024")
		}
		conc = append(conc, c)
	}
	if *n < 1 {
		return usagef("--purchases must be at least 1")
	}
	dir := *data
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "veil-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	a, err := openApp(dir, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer a.Close()
	if _, err := a.shop.InitVault(rand16()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "veil bench — %d CPUs, %s, data in %s\n\n", runtime.NumCPU(), runtime.Version(), dir)

	if *importN > 0 {
		p, err := benchProduct(a.shop, "import-bench")
		if err != nil {
			return err
		}
		start := time.Now()
		res, err := a.shop.ImportKeys(p.ID, shop.BatchInfo{Supplier: "bench"}, keyReader(*importN, "I"))
		if err != nil {
			return err
		}
		d := time.Since(start)
		fmt.Fprintf(stdout, "import   %d keys in %s (%.1f µs/key)\n\n", res.Imported, d.Round(time.Millisecond),
			float64(d.Microseconds())/float64(max(res.Imported, 1)))
	}

	total := *n * len(conc)
	p, err := benchProduct(a.shop, "purchase-bench")
	if err != nil {
		return err
	}
	if _, err := a.shop.ImportKeys(p.ID, shop.BatchInfo{Supplier: "bench"}, keyReader(total, "P")); err != nil {
		return err
	}

	ready := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- a.serveHTTP(ctx, serveConfig{addr: "127.0.0.1:0", payments: pay.Demo{}, demo: true,
			ready: func(addr string) { ready <- addr }})
	}()
	stopServer := sync.OnceValue(func() error { cancel(); return <-served })
	defer stopServer()
	var base string
	select {
	case addr := <-ready:
		base = "http://" + addr
	case err := <-served:
		served <- err // for stopServer
		return err
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1024}, Timeout: time.Minute}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	fmt.Fprintf(stdout, "%-12s %10s %10s %10s %10s %12s %8s\n", "concurrency", "purchases", "per sec", "p50", "p99", "crypto bound", "ratio")
	for _, c := range conc {
		lat, elapsed, err := runPurchases(client, base, p.Slug, *n, c)
		if *cpuProfile != "" {
			pprof.StopCPUProfile() // the purchases only, not the crypto bound
		}
		if err != nil {
			return err
		}
		bound := cryptoBound(*n, c)
		rate := float64(*n) / elapsed.Seconds()
		fmt.Fprintf(stdout, "%-12d %10d %10.0f %10s %10s %10.0f/s %7.1f%%\n", c, *n, rate,
			pct(lat, 50), pct(lat, 99), bound, 100*rate/bound)
	}
	if err := stopServer(); err != nil {
		return err
	}

	if *rssKeys > 0 {
		rp, err := benchProduct(a.shop, "rss-bench")
		if err != nil {
			return err
		}
		for left := *rssKeys; left > 0; {
			k := min(left, shop.MaxImportKeys)
			if _, err := a.shop.ImportKeys(rp.ID, shop.BatchInfo{Supplier: "rss"}, keyReader(k, fmt.Sprintf("R%d", left))); err != nil {
				return err
			}
			left -= k
		}
		debug.FreeOSMemory() // return the imports' garbage before reading RSS
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Fprintf(stdout, "\nRSS with %d keys in stock: %s (Go heap in use %d MiB)\n", *rssKeys, rss(), ms.HeapInuse>>20)
	}
	return nil
}

func rand16() string { return crypto.RandomID("", 16) }

func benchProduct(sh *shop.Shop, slug string) (shop.Product, error) {
	return sh.CreateProduct(shop.Product{Slug: slug, Name: shop.Text{"en": slug}, PriceMinor: 100,
		Currency: "CNY", MaxPerOrder: 1})
}

// keyReader yields n distinct keys, one a line.
func keyReader(n int, prefix string) io.Reader {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, "%s-%08d-%s\n", prefix, i, crypto.RandomID("", 6))
	}
	return &b
}

func runPurchases(c *http.Client, base, slug string, n, conc int) ([]time.Duration, time.Duration, error) {
	lat := make([]time.Duration, n)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range conc {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t0 := time.Now()
				if err := purchase(c, base, slug); err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	return lat, time.Since(start), firstErr
}

func purchase(c *http.Client, base, slug string) error {
	var placed struct {
		Token string `json:"token"`
		Ref   string `json:"ref"`
	}
	if err := call(c, "POST", base+"/api/v1/orders", "", map[string]any{"product": slug, "quantity": 1}, http.StatusCreated, &placed); err != nil {
		return err
	}
	if err := call(c, "POST", base+"/api/v1/pay/demo", "", map[string]any{"ref": placed.Ref}, http.StatusOK, nil); err != nil {
		return err
	}
	var got struct {
		Status string                 `json:"status"`
		Items  []struct{ Key string } `json:"items"`
	}
	if err := call(c, "GET", base+"/api/v1/order", placed.Token, nil, http.StatusOK, &got); err != nil {
		return err
	}
	if got.Status != "delivered" || len(got.Items) != 1 {
		return fmt.Errorf("bench: order %s is %s with %d keys", placed.Ref, got.Status, len(got.Items))
	}
	return nil
}

func call(c *http.Client, method, url, bearer string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("bench: %s %s: status %d", method, req.URL.Path, resp.StatusCode)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// cryptoBound runs the crypto of n purchases in-process at concurrency c and
// returns purchases per second: token, order identity and recipient at
// order time; open the inventory item and seal the delivery at payment;
// parse the token, derive the identity, open, and re-seal to the symmetric
// recipient at first retrieval.
func cryptoBound(n, c int) float64 {
	dk, _ := crypto.NewDataKey()
	ct, _ := dk.SealItem("k1", []byte("BENCH-KEY-0000-0000"))
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range c {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				tok, _ := crypto.NewToken()
				id, _ := tok.Identity(crypto.DefaultKind)
				_ = tok.LookupKey()
				_ = tok.Ref()
				r, _ := crypto.ParseRecipient(id.Recipient())
				pt, _ := dk.OpenItem("k1", ct)
				sealed, _ := crypto.Seal(pt, r)
				t2, _ := crypto.ParseToken(tok.String())
				id2, _ := t2.Identity(crypto.DefaultKind)
				out, _ := crypto.Open(sealed, id2.Age())
				_, _ = crypto.Seal(out, crypto.NewSymmetricRecipient(t2.RetrievalKey()))
			}
		})
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}

func pct(lat []time.Duration, p int) string {
	s := slices.Clone(lat)
	slices.Sort(s)
	i := min(len(s)-1, len(s)*p/100)
	return s[i].Round(10 * time.Microsecond).String()
}

// rss reads the resident set size from /proc (Linux).
func rss() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmRSS:"))
		}
	}
	return "unknown"
}
