package cluster

import (
	"context"
	"encoding/binary"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/zccp-go/zccp/internal/rawpeer"
	"github.com/zccp-go/zccp/internal/testutil"
)

// BenchmarkHop measures the cost of the federation hop: one publisher on
// broker A (hand-framed peer) sends b.N notifications paced at 10 000/s;
// a subscriber on A and one on broker B (NATS nodes n0 and n1, routed)
// read the same stream in the same run. Reported: latency p50/p99 for
// each (send time in the content, read time at the subscriber; one clock),
// messages missing at each, and the whole process's CPU per message
// (NATS nodes, both brokers and the peers together). Run:
//
//	cd cluster && go test -run '^$' -bench Hop -benchtime 20000x
func BenchmarkHop(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	nodes := natsCluster(b)
	a := startMember(b, nodes[0].ClientURL(), "A")
	bb := startMember(b, nodes[1].ClientURL(), "B")
	local := peer(b, ctx, a.ep, "sub-local")
	remote := peer(b, ctx, bb.ep, "sub-remote")
	for _, p := range []*rawpeer.Peer{local, remote} {
		if err := p.Subscribe(ctx, `^lat$`); err != nil {
			b.Fatal(err)
		}
	}
	testutil.Eventually(b, "A learns B's interest", func() bool { return a.b.RemoteInterest()[bb.node.ID()] == 1 })
	pub := peer(b, ctx, a.ep, "pub")

	n := b.N
	type result struct{ lat []time.Duration }
	read := func(p *rawpeer.Peer, out chan<- result) {
		lat := make([]time.Duration, 0, n)
		rctx, rcancel := context.WithTimeout(ctx, time.Duration(n)*time.Millisecond/10+10*time.Second)
		defer rcancel()
		for len(lat) < n {
			m, err := p.NextContext(rctx)
			if err != nil {
				break // what is missing is reported
			}
			if m.ID != rawpeer.Deliver || len(m.Content) == 0 || len(m.Content[0]) < 16 {
				continue
			}
			lat = append(lat, time.Duration(time.Now().UnixNano()-int64(binary.BigEndian.Uint64(m.Content[0][8:]))))
			if binary.BigEndian.Uint64(m.Content[0]) == uint64(n) {
				break
			}
		}
		out <- result{lat}
	}
	lc, rc := make(chan result, 1), make(chan result, 1)
	go read(local, lc)
	go read(remote, rc)

	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	start := time.Now()
	body := make([]byte, 16)
	for i := 1; i <= n; i++ {
		if d := time.Until(start.Add(time.Duration(i) * 100 * time.Microsecond)); d > 0 { // 10 000/s
			time.Sleep(d)
		}
		binary.BigEndian.PutUint64(body, uint64(i))
		binary.BigEndian.PutUint64(body[8:], uint64(time.Now().UnixNano()))
		if err := pub.Publish("lat", nil, body); err != nil {
			b.Fatal(err)
		}
	}
	lr, rr := <-lc, <-rc
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) * time.Nanosecond
	report := func(name string, lat []time.Duration) {
		slices.Sort(lat)
		if len(lat) == 0 {
			b.ReportMetric(float64(n), name+"-missing")
			return
		}
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), name+"-p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), name+"-p99-µs")
		b.ReportMetric(float64(n-len(lat)), name+"-missing")
	}
	report("same", lr.lat)
	report("cross", rr.lat)
	b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/msg")
	b.ReportMetric(0, "ns/op")
}
