package flood

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/zccp-go/zccp/broker"
)

// TestRunAgainstBroker: the generator floods an in-process zccpd over
// tcp, open loop and paced, and accounts for every message it sent.
func TestRunAgainstBroker(t *testing.T) {
	b, err := broker.New(broker.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ep, err := b.Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := Target{Kind: "zccpd", Addr: strings.TrimPrefix(ep, "tcp://"), PID: os.Getpid()}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, rate := range []float64{0, 20000} {
		r, err := Run(ctx, target, Scenario{Name: "t", Subs: 2, Size: 100}, 300*time.Millisecond, rate)
		if err != nil {
			t.Fatal(err)
		}
		if r.Sent == 0 || r.Expected != 2*r.Sent || r.Received+r.Missed != r.Expected || r.Err != "" {
			t.Fatalf("rate %v: %+v", rate, r)
		}
		if rate > 0 && r.PubRate > 1.5*rate {
			t.Fatalf("paced at %v/s, published %.0f/s", rate, r.PubRate)
		}
	}
}
