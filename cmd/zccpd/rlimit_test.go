package main

import (
	"syscall"
	"testing"
)

// TestRaiseFdLimit: with the soft descriptor limit lowered below the
// hard one, raiseFdLimit brings it back up to the hard limit.
func TestRaiseFdLimit(t *testing.T) {
	var orig syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &orig) })
	if orig.Max < 512 {
		t.Skipf("hard descriptor limit %d too low to lower the soft one", orig.Max)
	}
	low := syscall.Rlimit{Cur: 256, Max: orig.Max}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	got, err := raiseFdLimit()
	if err != nil {
		t.Fatal(err)
	}
	var now syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &now)
	if got != orig.Max || now.Cur != orig.Max {
		t.Fatalf("after raiseFdLimit: returned %d, soft limit %d; want the hard limit %d", got, now.Cur, orig.Max)
	}
}
