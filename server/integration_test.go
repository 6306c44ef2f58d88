package server_test

// Integration tests over the real HTTP server, a real Badger in a temp dir
// and the real crypto: the flash sale, a store closed mid-run, and the
// privacy scan of the data dir and the logs.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"veil/server"
	"veil/server/pay"
	"veil/server/shop"
	"veil/server/store"
)

// syncBuffer collects log output from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Clone(s.b.Bytes())
}

type shopEnv struct {
	dir  string
	db   *store.DB
	shop *shop.Shop
	ts   *httptest.Server
	logs *syncBuffer
}

func startShop(t *testing.T, dir string, logs *syncBuffer, init bool) *shopEnv {
	t.Helper()
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	db, err := store.Open(dir, store.Options{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	sh, err := shop.New(db, shop.Config{Logger: log, VaultWorkFactor: 10})
	if err != nil {
		t.Fatal(err)
	}
	if init {
		_, err = sh.InitVault("flash sale passphrase")
	} else {
		err = sh.Unlock("flash sale passphrase")
	}
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{Shop: sh, Payments: pay.Demo{}, DemoPayments: true, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	return &shopEnv{dir: dir, db: db, shop: sh, ts: httptest.NewServer(srv.Handler()), logs: logs}
}

func (e *shopEnv) stop(t *testing.T) {
	t.Helper()
	e.ts.Close()
	if err := e.db.Close(); err != nil {
		t.Fatal(err)
	}
}

func stockProduct(t *testing.T, sh *shop.Shop, slug string, keys []string) shop.Product {
	t.Helper()
	p, err := sh.CreateProduct(shop.Product{Slug: slug, Name: shop.Text{"en": slug, "zh-CN": "限时抢购"},
		PriceMinor: 990, Currency: "CNY", MaxPerOrder: 1})
	if err != nil {
		t.Fatal(err)
	}
	res, err := sh.ImportKeys(p.ID, shop.BatchInfo{Supplier: "flash"}, strings.NewReader(strings.Join(keys, "\n")))
	if err != nil || res.Imported != len(keys) {
		t.Fatalf("import: %+v %v", res, err)
	}
	return p
}

func makeKeys(prefix string, n int) []string {
	ks := make([]string, n)
	for i := range ks {
		ks[i] = fmt.Sprintf("%s-%04d-ZX9Q-SECRET", prefix, i)
	}
	return ks
}

type apiError struct {
	Error struct{ Code, Message string } `json:"error"`
}

// do sends a JSON request and decodes the answer into out (when 2xx) or
// returns the error code.
func do(c *http.Client, method, url, bearer string, body any, out any) (int, string, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, "", err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, "", err
	}
	if resp.StatusCode >= 300 {
		var e apiError
		_ = json.Unmarshal(b, &e)
		return resp.StatusCode, e.Error.Code, nil
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, "", fmt.Errorf("decode %s: %w", b, err)
		}
	}
	return resp.StatusCode, "", nil
}

type placedOrder struct {
	Token  string `json:"token"`
	Ref    string `json:"ref"`
	Status string `json:"status"`
}

type orderView struct {
	Ref    string `json:"ref"`
	Status string `json:"status"`
	Items  []struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	} `json:"items"`
}

// newClient is the integration tests' client; its timeout turns a server
// that stops answering into a failed request instead of a hung test.
func newClient() *http.Client {
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxConnsPerHost: 256, MaxIdleConnsPerHost: 256}}
}

func TestFlashSale(t *testing.T) {
	const buyers, stock = 1000, 100
	logs := &syncBuffer{}
	e := startShop(t, t.TempDir(), logs, true)
	keys := makeKeys("FLASH", stock)
	p := stockProduct(t, e.shop, "flash-sale", keys)
	c := newClient()

	var (
		mu        sync.Mutex
		delivered = map[string]string{} // key -> ref
		tokens    []string
		outOfStk  int
		created   int
		failures  []string
	)
	fail := func(f string, a ...any) {
		mu.Lock()
		failures = append(failures, fmt.Sprintf(f, a...))
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for range buyers {
		wg.Go(func() {
			var po placedOrder
			st, code, err := do(c, "POST", e.ts.URL+"/api/v1/orders", "", map[string]any{"product": p.Slug, "quantity": 1}, &po)
			if err != nil {
				fail("order: %v", err)
				return
			}
			if st == http.StatusConflict && code == "out_of_stock" {
				mu.Lock()
				outOfStk++
				mu.Unlock()
				return
			}
			if st != http.StatusCreated || po.Status != "pending_payment" {
				fail("order: %d %s %s", st, code, po.Status)
				return
			}
			mu.Lock()
			created++
			mu.Unlock()
			if st, code, err := do(c, "POST", e.ts.URL+"/api/v1/pay/demo", "", map[string]string{"ref": po.Ref}, nil); err != nil || st != http.StatusOK {
				fail("pay %s: %d %s %v", po.Ref, st, code, err)
				return
			}
			var v orderView
			if st, code, err := do(c, "GET", e.ts.URL+"/api/v1/order", po.Token, nil, &v); err != nil || st != http.StatusOK {
				fail("retrieve %s: %d %s %v", po.Ref, st, code, err)
				return
			}
			if v.Status != "delivered" || len(v.Items) != 1 {
				fail("order %s: %s with %d items", po.Ref, v.Status, len(v.Items))
				return
			}
			mu.Lock()
			defer mu.Unlock()
			tokens = append(tokens, po.Token)
			if prev, dup := delivered[v.Items[0].Key]; dup {
				failures = append(failures, fmt.Sprintf("key delivered to %s and %s", prev, po.Ref))
			}
			delivered[v.Items[0].Key] = po.Ref
		})
	}
	wg.Wait()
	for _, f := range failures {
		t.Error(f)
	}
	if created != stock || outOfStk != buyers-stock {
		t.Fatalf("created %d orders, %d out_of_stock; want %d and %d", created, outOfStk, stock, buyers-stock)
	}
	if len(delivered) != stock {
		t.Fatalf("%d distinct keys delivered, want %d", len(delivered), stock)
	}
	for _, k := range keys {
		if _, ok := delivered[k]; !ok {
			t.Errorf("imported key %s was never delivered", k)
		}
	}
	if got, _ := e.shop.Product(p.ID); got.InStock != 0 {
		t.Errorf("stock after the sale: %d", got.InStock)
	}

	// Privacy: no key, token or client address in the data dir or the logs.
	e.stop(t)
	secrets := append([]string{"127.0.0.1"}, keys...)
	for _, tok := range tokens {
		secrets = append(secrets, tok, strings.ReplaceAll(tok, "-", ""))
	}
	scanForSecrets(t, e.dir, logs.Bytes(), secrets)
}

// scanForSecrets fails if any secret appears as plain bytes in any file under
// dir (Badger's SST, value log, manifest, everything) or in the logs.
func scanForSecrets(t *testing.T, dir string, logs []byte, secrets []string) {
	t.Helper()
	files := 0
	var total int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		total += int64(len(b))
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds %q in the clear", filepath.Base(path), s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 || total == 0 {
		t.Fatal("the data dir is empty: the scan proves nothing")
	}
	if len(logs) == 0 {
		t.Fatal("no logs captured: the scan proves nothing")
	}
	for _, s := range secrets {
		if bytes.Contains(logs, []byte(s)) {
			t.Errorf("the logs hold %q", s)
		}
	}
}

// TestStoreClosedMidRun closes the store while purchases are in flight, then
// reopens it: every order the API acknowledged is still there, every
// acknowledged payment is delivered, and no key belongs to two orders.
func TestStoreClosedMidRun(t *testing.T) {
	dir := t.TempDir()
	logs := &syncBuffer{}
	e := startShop(t, dir, logs, true)
	keys := makeKeys("CRASH", 300)
	p := stockProduct(t, e.shop, "crash-test", keys)
	c := newClient()

	type ack struct {
		token string
		paid  bool
	}
	var mu sync.Mutex
	var acks []*ack
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				var po placedOrder
				st, _, err := do(c, "POST", e.ts.URL+"/api/v1/orders", "", map[string]any{"product": p.Slug, "quantity": 1}, &po)
				if err != nil || st != http.StatusCreated {
					continue
				}
				a := &ack{token: po.Token}
				mu.Lock()
				acks = append(acks, a)
				mu.Unlock()
				st, _, err = do(c, "POST", e.ts.URL+"/api/v1/pay/demo", "", map[string]string{"ref": po.Ref}, nil)
				if err == nil && st == http.StatusOK {
					mu.Lock()
					a.paid = true
					mu.Unlock()
				}
			}
		})
	}
	// Let some purchases land, then pull the store out from under them.
	for deadline := time.Now().Add(time.Minute); ; {
		mu.Lock()
		n := len(acks)
		mu.Unlock()
		if n >= 60 {
			break
		}
		if time.Now().After(deadline) {
			close(stop)
			wg.Wait()
			t.Fatalf("only %d orders acknowledged after a minute", n)
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond)
	}
	// Close waits for the transactions in flight and refuses the rest; a
	// transaction that slipped in between used to hang it forever.
	closed := make(chan error, 1)
	go func() { closed <- e.db.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("closing the store under load hung")
	}
	close(stop)
	wg.Wait()
	e.ts.Close()

	e = startShop(t, dir, logs, false)
	defer e.stop(t)
	seen := map[string]bool{}
	paid := 0
	for _, a := range acks {
		var v orderView
		st, code, err := do(c, "GET", e.ts.URL+"/api/v1/order", a.token, nil, &v)
		if err != nil || st != http.StatusOK {
			t.Fatalf("acknowledged order lost: %d %s %v", st, code, err)
		}
		if a.paid {
			paid++
			if v.Status != "delivered" || len(v.Items) != 1 {
				t.Fatalf("acknowledged payment of %s not delivered: %s", v.Ref, v.Status)
			}
		}
		for _, it := range v.Items {
			if seen[it.Key] {
				t.Fatalf("key delivered twice")
			}
			seen[it.Key] = true
		}
	}
	if paid == 0 {
		t.Fatal("no payment was acknowledged before the close: the test proves nothing")
	}
	t.Logf("%d orders acknowledged (%d paid) before the store closed; all intact", len(acks), paid)
}
