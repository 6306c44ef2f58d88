package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBenchRuns runs the load command small: every section reports.
func TestBenchRuns(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"bench", "--concurrency", "1,4", "--purchases", "8", "--import", "500", "--data", t.TempDir()}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	// The c=1 row reports what the store wrote per purchase and the CPU
	// time a purchase took.
	rows := 0
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == "1" {
			rows++
			if len(f) != 13 {
				t.Fatalf("c=1 row has %d columns: %q", len(f), line)
			}
			b, errB := strconv.ParseFloat(f[9], 64)
			e, errE := strconv.ParseFloat(f[10], 64)
			cpu, errC := time.ParseDuration(f[12])
			if errB != nil || errE != nil || errC != nil || b <= 0 || e <= 0 || cpu <= 0 {
				t.Errorf("bytes/entries/CPU per purchase in %q", line)
			}
		}
	}
	if rows != 1 {
		t.Errorf("%d rows for concurrency 1 in:\n%s", rows, out.String())
	}
	if !strings.Contains(out.String(), "B/purchase") {
		t.Errorf("no bytes per purchase in:\n%s", out.String())
	}
	for _, want := range []string{"import   500 keys", "crypto bound", "retrievals (repeat", "chat relay"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in:\n%s", want, out.String())
		}
	}
}

// TestBenchRSS: with --rss-keys the bench stocks that many keys and reports
// the peak and the steady RSS, split into anonymous and file-backed memory,
// and writes the heap profile asked for.
func TestBenchRSS(t *testing.T) {
	var out, errb bytes.Buffer
	prof := filepath.Join(t.TempDir(), "heap.pprof")
	code := run([]string{"bench", "--concurrency", "1", "--purchases", "1", "--import", "0", "--rss-keys", "3000",
		"--memprofile", prof, "--data", t.TempDir()}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	head := regexp.MustCompile(`RSS with 3000 keys in stock \(imported in \S+, [0-9.]+ µs/key; GOMEMLIMIT [^;]+; tables on disk \d+ MiB\):`)
	peak := regexp.MustCompile(`(?m)^  peak +(\d+) MiB \(from the stocking on; anon up to (\d+) MiB, file-backed up to (\d+) MiB; Go heap in use up to (\d+) MiB\)$`)
	steady := regexp.MustCompile(`(?m)^  steady +(\d+) MiB \(settled after \S+; anon (\d+) MiB, file-backed (\d+) MiB; Go heap in use (\d+) MiB\)$`)
	p, s := peak.FindStringSubmatch(out.String()), steady.FindStringSubmatch(out.String())
	if !head.MatchString(out.String()) || p == nil || s == nil {
		t.Fatalf("no RSS report in:\n%s", out.String())
	}
	num := func(v string) int { n, _ := strconv.Atoi(v); return n }
	if num(s[1]) <= 0 || num(p[1]) < num(s[1]) {
		t.Errorf("peak %s MiB, steady %s MiB: want 0 < steady <= peak", p[1], s[1])
	}
	if sum := num(s[2]) + num(s[3]); sum < num(s[1])-2 || sum > num(s[1])+2 {
		t.Errorf("steady %s MiB is not anon %s + file-backed %s", s[1], s[2], s[3])
	}
	if fi, err := os.Stat(prof); err != nil || fi.Size() == 0 {
		t.Errorf("heap profile: %v", err)
	}
}
