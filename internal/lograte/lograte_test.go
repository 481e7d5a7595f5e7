package lograte

import (
	"strconv"
	"testing"
	"time"
)

func TestOncePerKeyPerInterval(t *testing.T) {
	l := New(50*time.Millisecond, 100)
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("first event of a kept quiet")
	}
	for i := 0; i < 3; i++ {
		if ok, _ := l.Allow("a"); ok {
			t.Fatal("a logged twice within the interval")
		}
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("b kept quiet because of a")
	}
	time.Sleep(60 * time.Millisecond)
	if ok, hidden := l.Allow("a"); !ok || hidden != 3 {
		t.Errorf("a after the interval: %v with %d hidden, want true with 3", ok, hidden)
	}
}

func TestBoundedKeys(t *testing.T) {
	l := New(time.Hour, 10)
	for i := 0; i < 1000; i++ {
		l.Allow(strconv.Itoa(i))
		if len(l.last) > 10 || len(l.hidden) > 10 {
			t.Fatalf("%d keys remembered after %d events, want at most 10", len(l.last), i+1)
		}
	}
}
