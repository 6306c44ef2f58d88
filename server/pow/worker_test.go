package pow_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"veil/server/pow"
	"veil/static"
)

type workerAnswer struct {
	Nonce    string `json:"nonce"`
	Progress int    `json:"progress"`
}

// TestWorkerPaysChallenges runs static/files/pow-worker.js in headless
// Chromium, as a same-origin Web Worker under a strict CSP, on challenges
// from a Guard, and checks that each answer verifies and is the very
// nonce the Go solver finds (both count decimals from 0). Without
// chromium it fails in CI (CI set) and is skipped elsewhere.
func TestWorkerPaysChallenges(t *testing.T) {
	path := os.Getenv("VEIL_CHROMIUM")
	if path == "" {
		for _, name := range []string{"chromium", "chromium-browser"} {
			if p, err := exec.LookPath(name); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		const how = "no chromium: install Debian's chromium (apt-get install -y chromium) or set VEIL_CHROMIUM"
		if os.Getenv("CI") != "" {
			t.Fatal(how + "; CI must run the browser tests")
		}
		t.Skip(how)
	}
	mux := http.NewServeMux()
	mux.Handle(static.Prefix, static.Handler())
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, "<!doctype html><title>pow</title><p>pow</p>")
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-proxy-server", true))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	worker := static.Path("pow-worker.js")
	if worker == "" {
		t.Fatal("pow-worker.js is not embedded")
	}
	g := pow.New()
	for _, bits := range []int{0, 8, 16} {
		ch := g.Issue(bits, "order:p1")
		js := fmt.Sprintf(`new Promise((resolve, reject) => {
			const w = new Worker(%q);
			let progress = 0;
			w.onmessage = (e) => {
				if (e.data.progress) { progress++; return; }
				if (typeof e.data.nonce === 'string') { resolve({nonce: e.data.nonce, progress}); return; }
				reject(JSON.stringify(e.data));
			};
			w.onerror = (e) => reject('worker error: ' + e.message);
			w.postMessage({challenge: %q, bits: %d});
		})`, worker, ch, bits)
		runCtx, cancelRun := context.WithTimeout(ctx, 2*time.Minute)
		res, err := chromedp.Run(runCtx, chromedp.Evaluate[workerAnswer](js, chromedp.EvalAwaitPromise))
		cancelRun()
		if err != nil {
			t.Fatalf("bits %d: %v", bits, err)
		}
		want, err := pow.Solve(context.Background(), ch, bits)
		if err != nil {
			t.Fatal(err)
		}
		if res.Nonce != want {
			t.Fatalf("bits %d: worker found %q, Go %q", bits, res.Nonce, want)
		}
		n, _ := strconv.Atoi(res.Nonce)
		if res.Progress != (n+1)>>16 {
			t.Errorf("bits %d: %d progress messages for %d hashes", bits, res.Progress, n+1)
		}
		if _, err := g.Verify(ch, res.Nonce, "order:p1"); err != nil {
			t.Fatalf("bits %d: %v", bits, err)
		}
	}
}
