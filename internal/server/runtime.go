package server

import (
	"os"
	"runtime/debug"
)

// gcPercent is the garbage collector's target when GOGC is not set: the heap may grow by half
// its live size between collections instead of doubling. A recording server's heap is mostly
// pooled frame payloads (media.Buffer), which hold no pointers and cost the collector little to
// mark, so collecting more often costs next to no CPU (bench/README.md: 200 RTMP streams held
// 590 KB RSS each with the default of 100, 463 KB with 50, at the same CPU).
const gcPercent = 50

// ConfigureRuntime sets the process-wide runtime settings the server is measured with: the
// programs that run a Server call it once, first.
func ConfigureRuntime() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(gcPercent)
	}
}
