package cluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zccp-go/zccp/internal/rawpeer"
	"github.com/zccp-go/zccp/internal/testutil"
)

// startZccpd runs a zccpd process joined to the federation on urls,
// serving ipc, and waits until it accepts a session.
func startZccpd(tb testing.TB, ctx context.Context, bin, name, urls string) (ep string, pid int) {
	tb.Helper()
	ep = fmt.Sprintf("ipc://@/zccp-tp-%s-%d-%d", name, os.Getpid(), time.Now().UnixNano())
	cmd := exec.Command(bin, "--bind", ep, "--name", name, "--log-level", "warn", "--cluster", urls)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	testutil.Eventually(tb, "zccpd "+name+" accepts a session", func() bool {
		p, err := rawpeer.Dial(ctx, ep)
		if err != nil {
			return false
		}
		defer p.Close()
		return p.Hello(ctx, "probe-"+name) == nil
	})
	return ep, cmd.Process.Pid
}

// procCPU returns the user+system CPU time process pid has used
// (/proc/<pid>/stat, clock ticks of 10 ms).
func procCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64) // utime: field 14 of the line
	s, _ := strconv.ParseInt(f[12], 10, 64) // stime: field 15
	return time.Duration(u+s) * 10 * time.Millisecond
}

// drain reads numbered DELIVERs on address into a tally until number n
// arrives or the stream is silent for a second.
func drain(p *rawpeer.Peer, ctx context.Context, n uint64, out chan<- rawpeer.Tally) {
	var tl rawpeer.Tally
	for tl.Last < n {
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		m, err := p.NextContext(rctx)
		cancel()
		if err != nil {
			break
		}
		if m.ID == rawpeer.Deliver && string(m.Address) == "tp.x" {
			tl.Add(m)
		}
	}
	out <- tl
}

// BenchmarkCrossBrokerThroughput: brokers A and B are zccpd processes
// (built from this tree) joined over the in-process three-node NATS
// cluster; a hand-framed publisher on A sends b.N numbered 64-byte
// notifications as fast as A takes them; a subscriber on A (the
// same-broker peer, same run) and one on B read them. Reported: messages
// per second crossing to B, the two zccpd processes' CPU per message
// crossed (and per CPU-second: messages crossed per second of broker
// CPU), the test process's CPU (NATS nodes and peers) per message, and
// loss beside it: received on B, reported missed to B's subscriber
// (zccp-missed), never told. Run:
//
//	cd cluster && go test -run '^$' -bench CrossBrokerThroughput -benchtime 200000x
func BenchmarkCrossBrokerThroughput(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin := zccpd(b)
	nodes := natsCluster(b)
	epA, pidA := startZccpd(b, ctx, bin, "A", nodes[0].ClientURL())
	epB, pidB := startZccpd(b, ctx, bin, "B", nodes[1].ClientURL())
	local := peer(b, ctx, epA, "sub-a")
	remote := peer(b, ctx, epB, "sub-b")
	for _, e := range []string{`^tp\.`, `^probe$`} {
		for _, p := range []*rawpeer.Peer{local, remote} {
			if err := p.Subscribe(ctx, e); err != nil {
				b.Fatal(err)
			}
		}
	}
	pub := peer(b, ctx, epA, "pub")
	testutil.Eventually(b, "a probe from A reaches B", func() bool {
		if err := pub.Publish("probe", nil, []byte("?")); err != nil {
			return false
		}
		rctx, rcancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer rcancel()
		for {
			m, err := remote.NextContext(rctx)
			if err != nil {
				return false
			}
			if string(m.Address) == "probe" {
				return true
			}
		}
	})
	n := uint64(b.N)
	lc, rc := make(chan rawpeer.Tally, 1), make(chan rawpeer.Tally, 1)
	go drain(local, ctx, n, lc)
	go drain(remote, ctx, n, rc)
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	cpu0 := procCPU(pidA) + procCPU(pidB)
	b.ResetTimer()
	start := time.Now()
	if _, err := pub.PublishBurst(ctx, "tp.x", 1, b.N, 64, 64<<10); err != nil {
		b.Fatal(err)
	}
	lt := <-lc
	rt := <-rc
	elapsed := time.Since(start)
	b.StopTimer()
	cpu := procCPU(pidA) + procCPU(pidB) - cpu0
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	self := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	if rt.Received == 0 {
		b.Fatalf("nothing crossed: %+v", rt)
	}
	b.ReportMetric(float64(rt.Received)/elapsed.Seconds(), "cross-msgs/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(rt.Received), "brokers-cpu-µs/msg")
	b.ReportMetric(float64(rt.Received)/cpu.Seconds(), "msgs/broker-cpu-s")
	b.ReportMetric(float64(self.Microseconds())/float64(rt.Received), "nats+peers-cpu-µs/msg")
	b.ReportMetric(float64(rt.Received), "cross-received")
	b.ReportMetric(float64(rt.Missed), "cross-missed-told")
	b.ReportMetric(float64(n-rt.Received-rt.Missed), "cross-untold")
	b.ReportMetric(float64(lt.Received), "same-received")
	b.ReportMetric(float64(lt.Missed), "same-missed-told")
	b.ReportMetric(0, "ns/op")
}
