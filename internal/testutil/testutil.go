// Package testutil holds the helpers every test shares: one bounded
// polling loop (Eventually) instead of sleeps, and goroutine-leak checks
// with go.uber.org/goleak instead of counting goroutines.
package testutil

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Within is how long Eventually polls before it fails the test.
const Within = 10 * time.Second

// Eventually polls cond every 2 ms until it holds, failing the test after
// Within with what.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", Within, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Snapshot records the goroutines running now; CheckLeaks ignores them.
func Snapshot() goleak.Option { return goleak.IgnoreCurrent() }

// CheckLeaks fails the test, with every unexpected goroutine's stack, if
// a goroutine started since snapshot is still running after a few
// seconds of retries (goroutines that are ending get time to end).
func CheckLeaks(t testing.TB, snapshot goleak.Option) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := goleak.Find(snapshot) // retries for about a second itself
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("goroutine leak: %v", err)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
