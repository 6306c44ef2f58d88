package main

import (
	"os"
	"runtime"
)

// cpuProcs is GOMAXPROCS as Go chose it (the CPUs this process may use)
// before spareProcs raised it; 0 until main runs.
var cpuProcs int

// spareProcs lets two more goroutines run at once than there are CPUs,
// unless GOMAXPROCS is set in the environment. The store's writes end in
// fsync, which blocks its OS thread while that thread still holds one of
// Go's processors, and reads of Badger's mapped tables can block the same
// way on a page fault; with GOMAXPROCS equal to the CPUs, a CPU then sits
// idle although requests are waiting. Measured with `veil bench` on the
// 2-core machine, back to back: purchases/s at concurrency 64 went from
// ≈900 at 2 to ≈1,150 at 3 and ≈1,300 at 4, and durable commits per
// purchase from 1.5 to 0.2–0.3 (the committer no longer waits for a
// processor, so more requests share each fsync). README "Measured".
func spareProcs() {
	cpuProcs = runtime.GOMAXPROCS(0)
	if os.Getenv("GOMAXPROCS") != "" {
		return
	}
	runtime.GOMAXPROCS(cpuProcs + 2)
}
