package gate

import (
	"sync"
	"testing"
	"time"
)

func TestWindowIsNeverExceeded(t *testing.T) {
	const window = 1000
	g := New(window, time.Second)
	var mu sync.Mutex
	inflight, peak := int64(0), int64(0)
	deliveries := make(chan int64, 4*window)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for n := range deliveries {
			mu.Lock()
			inflight -= n
			mu.Unlock()
			g.Release(n)
		}
	}()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 2000 {
				g.Acquire(10, nil)
				mu.Lock()
				inflight += 10
				peak = max(peak, inflight)
				mu.Unlock()
				deliveries <- 10
			}
		}()
	}
	wg.Wait()
	close(deliveries)
	<-done
	if peak > window+4*10 {
		t.Fatalf("peak in flight %d, window %d", peak, window)
	}
	if g.Stalls() != 0 {
		t.Fatalf("%d stalls", g.Stalls())
	}
}

func TestStallRestoresCredit(t *testing.T) {
	g := New(100, 20*time.Millisecond)
	g.Acquire(50, nil)
	g.Acquire(50, nil)
	start := time.Now()
	g.Acquire(50, nil) // nothing is ever released: must give up after the stall time
	if g.Stalls() != 1 || time.Since(start) < 20*time.Millisecond {
		t.Fatalf("stalls %d after %v", g.Stalls(), time.Since(start))
	}
}
