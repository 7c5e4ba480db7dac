package cluster

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/zccp-go/zccp/internal/rawpeer"
	"github.com/zccp-go/zccp/internal/testutil"
)

// BenchmarkRequestHop measures the round trip of a single request (DIRECT
// with zccp-request-id, the device's ok reply back) from a hand-framed
// requester on broker A to a hand-framed device on A and to one on broker
// C (NATS nodes n0 and n2, routed), alternating, one request outstanding
// at a time, in the same run. Reported: p50/p99 of each (µs) and the
// cross/same ratio of the medians. Run:
//
//	cd cluster && go test -run '^$' -bench RequestHop -benchtime 2000x
func BenchmarkRequestHop(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	nodes := natsCluster(b)
	a := startMember(b, nodes[0].ClientURL(), "A")
	c := startMember(b, nodes[2].ClientURL(), "C")
	devs := []*rawpeer.Peer{peer(b, ctx, a.ep, "dev-a"), peer(b, ctx, c.ep, "dev-c")}
	req := peer(b, ctx, a.ep, "req")
	testutil.Eventually(b, "A and C know each other's clients", func() bool {
		return a.b.RemoteHolder("dev-c") == c.node.ID() && c.b.RemoteHolder("req") == a.node.ID()
	})
	for _, d := range devs {
		go answer(ctx, d)
	}
	names := []string{"dev-a", "dev-c"}
	lat := [2][]time.Duration{}
	b.ResetTimer()
	for i := range 2 * b.N {
		k := i % 2
		id := strconv.Itoa(i)
		start := time.Now()
		if err := req.Direct(names[k], hdr("zccp-request-id", id, "zccp-ttl", "10000"), []byte("q")); err != nil {
			b.Fatal(err)
		}
		for {
			m, err := req.NextContext(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if h := m.Headers(); m.ID == rawpeer.Deliver && h["zccp-reply-to"] == id {
				if h["zccp-status"] != "ok" {
					b.Fatalf("reply %v", h)
				}
				break
			}
		}
		lat[k] = append(lat[k], time.Since(start))
	}
	b.StopTimer()
	p50 := func(l []time.Duration) time.Duration { return l[len(l)/2] }
	for k, name := range []string{"same", "cross"} {
		slices.Sort(lat[k])
		b.ReportMetric(float64(p50(lat[k]).Microseconds()), name+"-p50-µs")
		b.ReportMetric(float64(lat[k][len(lat[k])*99/100].Microseconds()), name+"-p99-µs")
	}
	b.ReportMetric(float64(p50(lat[1]))/float64(p50(lat[0])), "cross/same-p50")
	b.ReportMetric(0, "ns/op")
}

// answer replies ok to every request the device reads, until ctx ends or
// its connection closes.
func answer(ctx context.Context, d *rawpeer.Peer) {
	for {
		m, err := d.NextContext(ctx)
		if err != nil {
			return
		}
		h := m.Headers()
		if m.ID != rawpeer.Deliver || h["zccp-request-id"] == "" {
			continue
		}
		if d.Direct(string(m.Sender), hdr("zccp-reply-to", h["zccp-request-id"], "zccp-status", "ok"), []byte("ok")) != nil {
			return
		}
	}
}
