package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zccp-go/zccp/client"
	"github.com/zccp-go/zccp/soak/daemon"
	"github.com/zccp-go/zccp/zmtp"
)

// procCPU returns the user+system CPU time pid has used.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name (which may contain spaces): state is
	// field 3, utime 14, stime 15, in clock ticks (100 per second on Linux).
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}

// BenchmarkCurveVsNull measures, in one run against one zccpd with a NULL
// and a CURVE endpoint: deliveries per broker CPU-second (1 publisher, 4
// subscribers, 100-byte payloads, the same count through each endpoint)
// with the loss beside it, and ZMTP handshakes per second (sequential
// connect, handshake, close; broker CPU per handshake). Run it with
// -benchtime=1x: the workload is fixed, b.N is ignored.
//
//	go test ./cmd/zccpd -run '^$' -bench CurveVsNull -benchtime=1x
func BenchmarkCurveVsNull(b *testing.B) {
	if zccpdBin == "" {
		b.Skip("needs Linux")
	}
	dir := b.TempDir()
	d := startDaemonB(b, "--data-dir", dir, "--bind", "tcp://127.0.0.1:0", "--bind", "curve+tcp://127.0.0.1:0",
		"--queue-messages", "1000000", "--queue-bytes", "268435456")
	server, err := zmtp.ReadCurveKeyFile(filepath.Join(dir, "curve.key"))
	if err != nil {
		b.Fatal(err)
	}
	const publishes, subscribers = 200_000, 4
	for _, mode := range []string{"null", "curve"} {
		ep, opts := d.Endpoint("tcp"), []client.Option(nil)
		if mode == "curve" {
			ep = strings.TrimPrefix(d.Endpoint("curve+tcp"), "curve+")
			kp, _ := zmtp.NewCurveKeyPair()
			opts = append(opts, client.WithCurve(kp, server.Public))
		}
		perCPU, loss := deliveryRun(b, d.PID, ep, opts, publishes, subscribers)
		b.ReportMetric(perCPU, mode+"-deliveries/cpu-s")
		b.ReportMetric(float64(loss), mode+"-lost")
		perSec, cpuEach := handshakeRun(b, d.PID, ep, mode, server.Public)
		b.ReportMetric(perSec, mode+"-handshakes/s")
		b.ReportMetric(float64(cpuEach.Microseconds()), mode+"-broker-µs/handshake")
	}
}

func startDaemonB(b *testing.B, args ...string) *daemon.Daemon {
	b.Helper()
	dm, err := daemon.Start(zccpdBin, args...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(dm.Kill)
	return dm
}

// deliveryRun publishes n messages to subs subscribers through ep and
// returns deliveries per broker CPU-second and how many were lost.
func deliveryRun(b *testing.B, pid int, ep string, opts []client.Option, n, subs int) (float64, int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var got atomic.Int64
	for i := 0; i < subs; i++ {
		c, err := client.Connect(ctx, ep, append(opts, client.WithPendingLimit(1<<20))...)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Subscribe(ctx, "bench.*", func(*client.Delivery) { got.Add(1) }); err != nil {
			b.Fatal(err)
		}
	}
	pub, err := client.Connect(ctx, ep, append(opts, client.WithBuffer(1<<20, 1<<30))...)
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	payload := make([]byte, 100)
	cpu0, _ := procCPU(pid)
	for i := 0; i < n; i++ {
		for pub.Publish("bench.x", nil, payload) != nil {
			time.Sleep(50 * time.Microsecond) // buffer full: let it drain
		}
	}
	want := int64(n * subs)
	for got.Load() < want && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	cpu1, _ := procCPU(pid)
	return float64(got.Load()) / (cpu1 - cpu0).Seconds(), want - got.Load()
}

// handshakeRun opens and closes connections through ep for about a
// second (at most 5000) and returns handshakes per second and the
// broker's CPU per handshake.
func handshakeRun(b *testing.B, pid int, ep, mode string, server zmtp.CurveKey) (float64, time.Duration) {
	opts := zmtp.Options{Type: zmtp.TypeDealer, HandshakeTimeout: 5 * time.Second}
	if mode == "curve" {
		kp, _ := zmtp.NewCurveKeyPair()
		opts.Mechanism = &zmtp.CurveClient{Keys: kp, ServerKey: server}
	}
	cpu0, _ := procCPU(pid)
	start := time.Now()
	n := 0
	for ; n < 5000 && time.Since(start) < time.Second; n++ {
		nc, err := zmtp.Dial(context.Background(), ep)
		if err != nil {
			b.Fatal(err)
		}
		c, err := zmtp.Handshake(nc, opts)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
	elapsed := time.Since(start)
	cpu1, _ := procCPU(pid)
	return float64(n) / elapsed.Seconds(), (cpu1 - cpu0) / time.Duration(n)
}
