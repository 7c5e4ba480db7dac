package main

import (
	"context"
	"strings"
	"testing"
)

// TestZeroFlagsRefused: a zero is never a silent default or "off": the
// flags that have an unset state spell it ("never", "off", "auto") and
// refuse 0 with a usage error.
func TestZeroFlagsRefused(t *testing.T) {
	ep := startBroker(t)
	ctx := context.Background()
	for _, args := range [][]string{
		{"sub", "--for", "0s", "x"},
		{"sub", "--count", "0", "x"},
		{"call", "--timeout", "0s", "d", "m"},
		{"call", "--ttl", "0s", "d", "m"},
		{"device", "--id", "d", "--max-time", "0s", "--", "cat"},
		{"device", "--id", "d", "--max-output", "0", "--", "cat"},
		{"clients", "--timeout", "0s"},
		{"pub", "--connect-timeout", "0s", "a"},
	} {
		code, _, errs := zccp(ctx, ep, "", args...)
		if code != exitUsage || !strings.Contains(errs, "want a positive") {
			t.Errorf("zccp %s: exit %d, stderr %q; want a usage error", strings.Join(args, " "), code, errs)
		}
	}
	// The words are accepted.
	if code, _, errs := zccp(ctx, ep, "", "sub", "--for", "10ms", "--count", "never", "x"); code != exitOK {
		t.Errorf("sub --count never: exit %d %q", code, errs)
	}
}
