package main

import (
	"bytes"
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
	for _, want := range []string{"import   500 keys", "crypto bound", "retrievals (repeat", "chat relay"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in:\n%s", want, out.String())
		}
	}
}
