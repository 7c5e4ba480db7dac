package interop

import (
	"testing"

	"github.com/zccp-go/zccp/interop/relay"
	"go.uber.org/goleak"
)

// TestMain checks for leaked goroutines after all tests. libzmq's I/O and
// reaper threads are C threads, invisible to goleak, and zmq4 starts no
// goroutine of its own, so no exception is needed. Benchmarks re-execute
// the test binary as a relay child; relay.ChildMain takes over then.
func TestMain(m *testing.M) {
	relay.ChildMain()
	goleak.VerifyTestMain(m)
}
