package upload_test

import (
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/streamrec/streamrec/internal/s3test"
	"github.com/streamrec/streamrec/internal/upload"
)

// TestMeasure uploads a 200 MB file to the local store and logs the throughput and the CPU
// time this process spent per uploaded GB (reading, hashing, sending, verifying). Run it alone,
// with STREAMREC_UPLOAD_MEASURE=1: it is a measurement, not a check.
func TestMeasure(t *testing.T) {
	if os.Getenv("STREAMREC_UPLOAD_MEASURE") == "" {
		t.Skip("a measurement: set STREAMREC_UPLOAD_MEASURE=1")
	}
	r := newRig(t, s3test.Shared(t), nil)
	const size = 200 << 20
	for i, name := range []string{"m1.mp4", "m2.mp4"} {
		f := r.file(name, size)
		before := cpu()
		began := time.Now()
		r.q.Enqueue(f)
		enqueue := time.Since(began) // what the recorder's goroutine waits: the journal written and synced
		r.wait(name, upload.Uploaded, 5*time.Minute)
		took := time.Since(began)
		used := cpu() - before
		t.Logf("run %d: %d MiB in %s: %.1f MiB/s, %.2f CPU s (this process) = %.2f CPU s per GiB; Enqueue took %s",
			i+1, size>>20, took.Round(time.Millisecond), float64(size)/(1<<20)/took.Seconds(), used.Seconds(),
			used.Seconds()/(float64(size)/(1<<30)), enqueue.Round(time.Microsecond))
	}
}

func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
