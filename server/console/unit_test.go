package console

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"veil/pages"
)

func TestParseMoney(t *testing.T) {
	for _, c := range []struct {
		in   string
		cur  string
		want int64
		ok   bool
	}{
		{"9.90", "CNY", 990, true}, {"9.9", "CNY", 990, true}, {"¥12", "CNY", 1200, true}, {"", "CNY", 0, true},
		{"500", "JPY", 500, true}, {"1.5", "JPY", 0, false}, {"9.999", "CNY", 0, false}, {"-1", "CNY", 0, false},
		{"abc", "CNY", 0, false}, {"1e5", "CNY", 0, false},
	} {
		got, err := parseMoney(c.in, c.cur)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("parseMoney(%q, %s) = %d, %v", c.in, c.cur, got, err)
		}
	}
	if formatMajor(990, "CNY") != "9.90" || formatMajor(5, "CNY") != "0.05" || formatMajor(500, "JPY") != "500" {
		t.Error("formatMajor")
	}
}

func TestCharts(t *testing.T) {
	svg := string(barChart(`<title> & "x"`, []string{"2025-03-01", "2025-03-02"}, []int64{3, 0}, func(v int64) string { return strconv.FormatInt(v, 10) }))
	if strings.Contains(svg, "<title> &") || strings.Contains(svg, "style=") || strings.Count(svg, `class="bar"`) != 2 {
		t.Fatalf("bar chart: %s", svg)
	}
	svg = string(hbarChart("r", []string{"<b>"}, []int64{15}, func(v int64) string { return pages.Permille(int(v)) }))
	if strings.Contains(svg, "<b>") || !strings.Contains(svg, "1.5%") {
		t.Fatalf("hbar chart: %s", svg)
	}
	if permille(1, 3) != 333 || rateText(0, 0) != "—" {
		t.Error("rates")
	}
}

// TestBarChartLabelsApart: the dashboard's day labels never overlap (the
// last two were drawn on top of each other), and the last day is named.
func TestBarChartLabelsApart(t *testing.T) {
	labelRE := regexp.MustCompile(`<text class="label" x="([0-9.]+)" y="[0-9.]+" text-anchor="middle">([^<]*)</text>`)
	for _, n := range []int{1, 7, 14, 30, 31, 90} {
		labels := make([]string, n)
		values := make([]int64, n)
		day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		for i := range labels {
			labels[i] = day.AddDate(0, 0, i).Format(time.DateOnly)
			values[i] = int64(i)
		}
		svg := string(barChart("orders", labels, values, func(v int64) string { return strconv.Itoa(int(v)) }))
		ms := labelRE.FindAllStringSubmatch(svg, -1)
		if len(ms) == 0 || ms[len(ms)-1][2] != labels[n-1][5:] {
			t.Fatalf("%d days: labels %v, the last day unnamed", n, ms)
		}
		prev := -1e9
		for _, m := range ms {
			var x float64
			if _, err := fmt.Sscan(m[1], &x); err != nil {
				t.Fatal(err)
			}
			if x-prev < 45 {
				t.Errorf("%d days: labels %.1f units apart (%s)", n, x-prev, m[2])
			}
			prev = x
		}
	}
}
