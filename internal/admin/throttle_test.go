package admin

import (
	"strconv"
	"sync"
	"testing"
	"time"
)

func TestThrottleDelayGrowsUpToTheCap(t *testing.T) {
	th := newThrottle()
	now := time.Now()
	var got []time.Duration
	for i := 0; i < 6; i++ {
		if wait, ok := th.begin("a", now); !ok {
			t.Fatalf("attempt %d refused with %v to wait, though the delay is over", i+1, wait)
		}
		d, _ := th.end("a", false, now)
		got = append(got, d)
		if wait, ok := th.begin("a", now.Add(d-time.Millisecond)); ok || wait != time.Millisecond {
			t.Fatalf("attempt within the delay %v: allowed %v, wait %v", d, ok, wait)
		}
		now = now.Add(d)
	}
	for i, d := range got {
		if want := min(FailDelay<<i, MaxFailDelay); d != want {
			t.Errorf("delay after failure %d: %v, want %v (all: %v)", i+1, d, want, got)
		}
	}
	if _, ok := th.begin("b", now); !ok {
		t.Error("another address is delayed by a's failures")
	}
	th.end("b", false, now)
	if _, ok := th.begin("a", now); !ok {
		t.Fatal("a refused after its delay")
	}
	th.end("a", true, now)
	if _, ok := th.begin("a", now); !ok {
		t.Fatal("a refused right after a good password")
	}
	if d, _ := th.end("a", false, now); d != FailDelay {
		t.Errorf("first failure after a good password: delay %v, want %v", d, FailDelay)
	}
	later := now.Add(failMemory + MaxFailDelay)
	th.begin("b", later)
	if d, _ := th.end("b", false, later); d != FailDelay {
		t.Errorf("failure %v after the last: delay %v, want %v (old failures forgotten)", failMemory, d, FailDelay)
	}
}

// Parallel guesses from one address: only one is checked, the others are refused at once.
func TestThrottleChecksOneAttemptAtATime(t *testing.T) {
	th := newThrottle()
	now := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, ok := th.begin("a", now); ok {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if allowed != 1 {
		t.Errorf("%d of 40 parallel attempts checked, want 1", allowed)
	}
}

func TestThrottleTableIsBounded(t *testing.T) {
	th := newThrottle()
	now := time.Now()
	for i := 0; i < maxTracked+500; i++ {
		ip := "10.0." + strconv.Itoa(i)
		th.begin(ip, now)
		th.end(ip, false, now)
	}
	if len(th.ips) != maxTracked || th.order.Len() != maxTracked {
		t.Fatalf("%d addresses remembered (%d in order), want %d", len(th.ips), th.order.Len(), maxTracked)
	}
	if _, ok := th.ips["10.0.0"]; ok {
		t.Error("the least recent address was kept")
	}
	if _, ok := th.begin("10.0."+strconv.Itoa(maxTracked+499), now); ok {
		t.Error("the most recent address lost its delay")
	}
}
