package zmtp

import (
	"runtime"
	"sync/atomic"
	"testing"
)

// A writer that sometimes finishes a batch before the producer appends
// again, and sometimes writes while the producer fills the next batch, must
// not make the queue allocate a new batch (regrowing from 4 KiB, clearing
// and copying at each doubling) every time: both buffers are kept.
func TestOutboxReusesBatchesWhenWriterAlternates(t *testing.T) {
	o := NewOutbox(Limits{MaxBytes: 8 << 20, MaxMessages: 100000})
	payload := make([]byte, 1024)
	fill := func() {
		for range 64 {
			if _, err := o.Append(len(payload)+9, Notification, func(dst []byte) []byte {
				return AppendFrame(dst, payload, false)
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	var stop atomic.Bool
	take := func() batch {
		b, ok := o.take(&stop)
		if !ok {
			t.Fatal("take failed")
		}
		return b
	}
	cycle := func() {
		fill()
		x := take()
		fill() // while x is being written
		o.release(x)
		y := take()
		o.release(y) // written before the producer appends again
	}
	cycle() // the two batch buffers are allocated here
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const cycles = 100
	for range cycles {
		cycle()
	}
	runtime.ReadMemStats(&after)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d bytes allocated in %d cycles of 2 × 64 KiB batches", allocated, cycles)
	if allocated > 1<<20 {
		t.Fatalf("%d bytes allocated in %d cycles of 2 × 64 KiB batches: batches are not reused", allocated, cycles)
	}
}
