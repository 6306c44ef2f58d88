package answers

import (
	"fmt"
	"testing"
)

// TestIntentTable measures Match on the question table: it prints the
// share answered correctly and fails below the floor measured when the
// table was written, or when an off-topic question is not Unsure.
func TestIntentTable(t *testing.T) {
	if len(questions) < 60 {
		t.Fatalf("only %d questions", len(questions))
	}
	right, zh, zhRight := 0, 0, 0
	for _, c := range questions {
		got := Match(c.q)
		ok := got == c.want
		if ok {
			right++
		} else {
			t.Logf("miss: %q → %s, want %s (scores %v)", c.q, got, c.want, Scores(c.q)[:2])
		}
		if Lang(c.q) == "zh-CN" {
			zh++
			if ok {
				zhRight++
			}
		}
		if c.want == Unsure && got != Unsure {
			t.Errorf("off-topic %q answered as %s", c.q, got)
		}
	}
	share := float64(right) / float64(len(questions))
	t.Logf("intent table: %d/%d right (%.1f%%); zh-CN %d/%d, en %d/%d", right, len(questions), 100*share,
		zhRight, zh, right-zhRight, len(questions)-zh)
	fmt.Printf("answers: intent table %d/%d = %.1f%%\n", right, len(questions), 100*share)
	if share < 0.90 {
		t.Fatalf("intent table: %.1f%% right, below the 90%% floor", 100*share)
	}
}
