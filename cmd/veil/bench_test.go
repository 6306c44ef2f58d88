package main

import (
	"bytes"
	"strconv"
	"strings"
	"testing"
)

// TestBenchRuns runs the load command small: every section reports.
func TestBenchRuns(t *testing.T) {
	var out, errb bytes.Buffer
	code := run([]string{"bench", "--concurrency", "1,4", "--purchases", "8", "--import", "500", "--data", t.TempDir()}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	// The c=1 row reports what the store wrote per purchase.
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) == 10 && f[0] == "1" {
			b, errB := strconv.ParseFloat(f[7], 64)
			e, errE := strconv.ParseFloat(f[8], 64)
			if errB != nil || errE != nil || b <= 0 || e <= 0 {
				t.Errorf("bytes/entries per purchase in %q", line)
			}
		}
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
