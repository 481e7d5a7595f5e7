// Package fuzzmem makes a fuzz target fail when one input makes the code under test allocate
// more than a peer should ever be able to make the server allocate.
package fuzzmem

import (
	"runtime"
	"testing"
)

// Limit is what one hostile input may cost: 64 MB of allocations.
const Limit = 64 << 20

// Check runs fn (the handling of one input) and fails t when it allocated more than Limit.
// An allocation far past the machine's memory crashes the fuzz worker instead, which the fuzzer
// reports as a failure too.
func Check(t testing.TB, fn func()) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > Limit {
		t.Fatalf("one input allocated %d MB (limit %d MB)", d>>20, Limit>>20)
	}
}
