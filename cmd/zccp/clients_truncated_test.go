package main

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/internal/brokertest"
	"github.com/zccp-go/zccp/internal/rawpeer"
)

// TestClientsTruncatedWarns: with six hand-framed sessions carrying 2 KB
// labels and an 8 KiB message size, the broker's clients answer cannot
// hold them all; zccp clients prints those it got and warns on stderr how
// many were left out, and says nothing when the list is complete.
func TestClientsTruncatedWarns(t *testing.T) {
	b := brokertest.Start(t, broker.Config{MaxMessageSize: 8 << 10})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	label := rawpeer.Header{Name: "blob", Value: strings.Repeat("x", 2000)}
	for i := range 6 {
		p, err := rawpeer.Dial(ctx, b.IPC)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		if err := p.Hello(ctx, fmt.Sprintf("big-%d", i), label); err != nil {
			t.Fatal(err)
		}
	}
	code, out, errs := zccp(ctx, b.IPC, "", "clients")
	rows := strings.Count(out, "\n") - 1 // the header line
	m := regexp.MustCompile(`warning: the broker left (\d+) matching clients out`).FindStringSubmatch(errs)
	if code != 0 || m == nil {
		t.Fatalf("exit %d, no truncation warning: stderr %q\n%s", code, errs, out)
	}
	left, _ := strconv.Atoi(m[1])
	// Seven sessions match (ours too, which the command leaves out of its rows).
	if left < 1 || rows+left < 6 || rows+left > 7 {
		t.Fatalf("%d rows and %d left out of 7 sessions\n%s", rows, left, out)
	}
	if code, _, errs := zccp(ctx, b.IPC, "", "clients", "--label", "blob=none"); code != 0 || errs != "" {
		t.Fatalf("complete answer: exit %d, stderr %q", code, errs)
	}
}
