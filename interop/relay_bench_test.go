package interop

import (
	"flag"
	"fmt"
	"testing"

	"github.com/zccp-go/zccp/interop/relay"
)

var (
	relayTransport = flag.String("relay.transport", "tcp", "transport of BenchmarkRelay: tcp or ipc")
	relayWindow    = flag.Int("relay.window", relay.DefaultWindow, "BenchmarkRelay flow-control window, in messages")
)

// BenchmarkRelay runs the libzmq relay and the native relay, each in a
// child process (this test binary re-executed), with 1 and 10
// subscribers and 100-byte messages; b.N is the number of messages
// published. Besides ns/op it reports deliveries/s (subscriber
// deliveries per wall-clock second) and deliveries/cpu-s (per second of
// the relay process's CPU time), e.g.
//
//	go test -run '^$' -bench Relay -benchtime 1000000x -count 3 .
func BenchmarkRelay(b *testing.B) {
	for _, subs := range []int{1, 10} {
		for _, impl := range []relay.Impl{relay.Libzmq, relay.Native} {
			b.Run(fmt.Sprintf("1to%d/%s", subs, impl), func(b *testing.B) {
				b.StopTimer()
				res, err := relay.Run(relay.Config{
					Impl: impl, Subscribers: subs, Transport: *relayTransport, Window: *relayWindow,
					Messages: b.N, OnStart: b.StartTimer, OnStop: b.StopTimer,
				})
				if err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(res.DeliveriesPerSec(), "deliveries/s")
				b.ReportMetric(res.DeliveriesPerCPUSec(), "deliveries/cpu-s")
				b.ReportMetric(float64(res.RelayCPU().Nanoseconds())/float64(res.Deliveries), "relay-cpu-ns/delivery")
			})
		}
	}
}

// TestRelaySmoke runs both relays briefly so that the benchmark's
// machinery (child process, load client, CPU sampling) is exercised by
// the ordinary test run.
func TestRelaySmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	for _, impl := range []relay.Impl{relay.Libzmq, relay.Native} {
		for _, tr := range []string{"tcp", "ipc"} {
			t.Run(string(impl)+"/"+tr, func(t *testing.T) {
				res, err := relay.Run(relay.Config{Impl: impl, Subscribers: 3, Transport: tr, Messages: 20_000, Warmup: 1000})
				if err != nil {
					t.Fatal(err)
				}
				if res.Deliveries != 60_000 || res.Published != 20_000 {
					t.Fatalf("published %d, delivered %d; want 20000 and 60000", res.Published, res.Deliveries)
				}
				if res.RelayForwarded != 60_000 {
					t.Errorf("relay counted %d deliveries, want 60000", res.RelayForwarded)
				}
				if res.RelayCPU() <= 0 || res.Elapsed <= 0 {
					t.Errorf("no CPU or time measured: %+v", res)
				}
				t.Logf("%.0f deliveries/s, %.0f deliveries/relay-CPU-s", res.DeliveriesPerSec(), res.DeliveriesPerCPUSec())
			})
		}
	}
}
