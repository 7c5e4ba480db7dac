package testutil

import (
	"sync/atomic"
	"testing"

	"go.uber.org/goleak"
)

// TestCheckLeaksSeesAStartedGoroutine: a goroutine started after the
// snapshot is found while it runs and forgotten once it ends.
func TestCheckLeaksSeesAStartedGoroutine(t *testing.T) {
	snap := Snapshot()
	stop := make(chan struct{})
	var running atomic.Bool
	go func() {
		running.Store(true)
		<-stop
		running.Store(false)
	}()
	Eventually(t, "the goroutine runs", running.Load)
	if err := goleak.Find(snap); err == nil {
		t.Fatal("a running goroutine started after the snapshot was not reported")
	}
	close(stop)
	CheckLeaks(t, snap)
}
