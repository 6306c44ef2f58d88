package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"veil/server/shop"
)

// procMem is the process's memory as /proc/self/status reports it, in KiB.
// RSS counts resident anonymous memory (the Go heap, stacks, Badger's
// memtables) and resident pages of mapped files (Badger mmaps its tables
// and logs; the kernel drops those pages first under pressure).
type procMem struct {
	hwm, rss, anon, file int64
}

func readProcMem() (procMem, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return procMem{}, false
	}
	var m procMem
	found := 0
	for _, line := range strings.Split(string(b), "\n") {
		name, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *int64
		switch name {
		case "VmHWM":
			dst = &m.hwm
		case "VmRSS":
			dst = &m.rss
		case "RssAnon":
			dst = &m.anon
		case "RssFile":
			dst = &m.file
		default:
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(val), " kB"), 10, 64)
		if err != nil {
			return procMem{}, false
		}
		*dst = n
		found++
	}
	return m, found == 4
}

// resetPeak restarts VmHWM from the current RSS (Linux ≥ 4.0), so the peak
// reported is the stocking's, not the purchase runs'.
func resetPeak() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// settle waits, in bounded steps, until the store's background work after an
// import has stopped moving the process's memory: memtable flushes and
// compactions finish, and Badger's pool of table-builder buffers (up to
// eight, often 60 MiB and more each) gives one back every two idle seconds.
// Settled means RSS, after returning the Go heap's garbage to the OS, stays
// within 2 MiB across seven samples a second apart. It gives up after limit
// and says so.
const settleSamples = 7

func settle(limit time.Duration) (procMem, time.Duration, bool) {
	start := time.Now()
	var last []int64
	for {
		debug.FreeOSMemory()
		m, ok := readProcMem()
		if !ok {
			return m, time.Since(start), false
		}
		last = append(last, m.rss)
		if n := len(last); n >= settleSamples {
			lo, hi := last[n-1], last[n-1]
			for _, v := range last[n-settleSamples:] {
				lo, hi = min(lo, v), max(hi, v)
			}
			if hi-lo <= 2<<10 {
				return m, time.Since(start), true
			}
		}
		if time.Since(start) >= limit {
			return m, time.Since(start), false
		}
		time.Sleep(time.Second)
	}
}

// benchRSS stocks n keys into a fresh product (imports of MaxImportKeys
// each) and reports the peak RSS from the stocking until it settles, and the
// steady RSS then, each split into anonymous memory and mapped files, with
// the Go heap's share and the store's size on disk (dir). memProfile, if
// set, receives a heap profile taken at the steady point.
func benchRSS(a *app, dir string, n int, memProfile string, stdout io.Writer) error {
	rp, err := benchProduct(a.shop, "rss-bench")
	if err != nil {
		return err
	}
	debug.FreeOSMemory()
	peakOwn := resetPeak()
	stop, peaks := samplePeaks()
	start := time.Now()
	for left := n; left > 0; {
		k := min(left, shop.MaxImportKeys)
		if _, err := a.shop.ImportKeys(rp.ID, shop.BatchInfo{Supplier: "rss"}, keyReader(k, fmt.Sprintf("R%d", left))); err != nil {
			close(stop)
			return err
		}
		left -= k
	}
	took := time.Since(start)
	steady, waited, settled := settle(2 * time.Minute)
	close(stop)
	pk := <-peaks
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if memProfile != "" {
		f, err := os.Create(memProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			return err
		}
	}
	mib := func(kib int64) int64 { return kib >> 10 }
	limit := "GOMEMLIMIT off"
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		limit = fmt.Sprintf("GOMEMLIMIT %d MiB", l>>20)
	}
	peakOf := "from the stocking on"
	if !peakOwn {
		peakOf = "whole run"
	}
	after := "settled after " + waited.Round(100*time.Millisecond).String()
	if !settled {
		after = "still moving after " + waited.Round(100*time.Millisecond).String()
	}
	fmt.Fprintf(stdout, "\nRSS with %d keys in stock (imported in %s, %.1f µs/key; %s; tables on disk %d MiB):\n",
		n, took.Round(time.Millisecond), float64(took.Microseconds())/float64(max(n, 1)), limit, tablesSize(dir)>>20)
	fmt.Fprintf(stdout, "  peak   %5d MiB (%s; anon up to %d MiB, file-backed up to %d MiB; Go heap in use up to %d MiB)\n",
		mib(steady.hwm), peakOf, mib(pk.anon), mib(pk.file), pk.heap>>20)
	fmt.Fprintf(stdout, "  steady %5d MiB (%s; anon %d MiB, file-backed %d MiB; Go heap in use %d MiB)\n",
		mib(steady.rss), after, mib(steady.anon), mib(steady.file), ms.HeapInuse>>20)
	return nil
}

// tablesSize is the total size of Badger's tables in dir (the memtable's
// log is left out: its file is allocated sparse at twice the memtable).
func tablesSize(dir string) int64 {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var n int64
	for _, e := range ents {
		if info, err := e.Info(); err == nil && strings.HasSuffix(e.Name(), ".sst") {
			n += info.Size()
		}
	}
	return n
}

type peaks struct {
	anon, file int64  // KiB
	heap       uint64 // bytes
}

// samplePeaks samples the process's memory every 100 ms until stop closes,
// then sends the highest values seen.
func samplePeaks() (chan<- struct{}, <-chan peaks) {
	stop := make(chan struct{})
	out := make(chan peaks, 1)
	go func() {
		var p peaks
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if m, ok := readProcMem(); ok {
				p.anon, p.file = max(p.anon, m.anon), max(p.file, m.file)
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			p.heap = max(p.heap, ms.HeapInuse)
			select {
			case <-stop:
				out <- p
				return
			case <-t.C:
			}
		}
	}()
	return stop, out
}
