package main

import (
	"io"
	"strings"
	"testing"
)

// TestZeroIsRefused: `--timeout 0` and the other limits at zero are
// refused with a clear error instead of silently meaning the default.
func TestZeroIsRefused(t *testing.T) {
	for _, flag := range []string{"--timeout", "--ping-interval", "--max-message-size", "--max-headers",
		"--max-subscriptions", "--max-clients", "--queue-bytes", "--queue-messages", "--max-inflight",
		"--max-inflight-per-requester", "--max-ttl"} {
		val := "0"
		if flag == "--timeout" || flag == "--ping-interval" || flag == "--max-ttl" {
			val = "0s"
		}
		_, err := parse([]string{flag, val}, io.Discard)
		if err == nil || !strings.Contains(err.Error(), flag+" 0") || !strings.Contains(err.Error(), "must be positive") {
			t.Errorf("%s %s: %v, want a refusal naming the flag", flag, val, err)
		}
	}
	t.Setenv("ZCCPD_TIMEOUT", "0s")
	if _, err := parse(nil, io.Discard); err == nil || !strings.Contains(err.Error(), "--timeout") {
		t.Errorf("ZCCPD_TIMEOUT=0s: %v, want a refusal", err)
	}
}
