//go:build unix

package broker

import (
	"context"
	"log/slog"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/zccp-go/zccp/audit"
	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/internal/rawpeer"
)

// BenchmarkAuditRequests: the cost of the audit log per request. One
// hand-framed requester keeps 64 requests outstanding at one hand-framed
// device that answers each at once, over tcp; the same run with the audit
// log off and on (a fresh directory, default rotation). Reported:
// requests/s, and with the log on the records written and dropped (a
// full queue: the loss beside the throughput), and the process's CPU
// time per request (less sensitive than requests/s to a loaded machine).
//
//	go test -run '^$' -bench AuditRequests -benchtime 20000x -count 3 ./broker
func BenchmarkAuditRequests(b *testing.B) {
	for _, mode := range []string{"off", "on"} {
		b.Run(mode, func(b *testing.B) {
			br, err := New(Config{Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				b.Fatal(err)
			}
			defer br.Close()
			var l *audit.Log
			if mode == "on" {
				if l, err = audit.Open(audit.Options{Dir: b.TempDir()}); err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				br.EnableAudit(l)
			}
			ep, err := br.Listen("tcp://127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			dev, _ := rawpeer.Dial(ctx, ep)
			defer dev.Close()
			dev.Hello(ctx, "dev", rawpeer.Header{Name: codec.HdrServes, Value: "1"})
			req, _ := rawpeer.Dial(ctx, ep)
			defer req.Close()
			req.Hello(ctx, "req")
			go serveEcho(ctx, dev)
			ids := make([]string, 64)
			for i := range ids {
				ids[i] = "id-" + strconv.Itoa(i)
			}
			window := make(chan struct{}, len(ids))
			done := make(chan error, 1)
			b.ResetTimer()
			start, cpu0 := time.Now(), processCPU()
			go func() {
				for got := 0; got < b.N; {
					m, err := req.NextContext(ctx)
					if err != nil {
						done <- err
						return
					}
					if _, ok := m.Header(codec.HdrReplyTo); ok && m.ID == rawpeer.Deliver {
						got++
						<-window
					}
				}
				done <- nil
			}()
			for i := 0; i < b.N; i++ {
				window <- struct{}{}
				hs := []rawpeer.Header{{Name: codec.HdrRequestID, Value: ids[i%len(ids)] + "-" + strconv.Itoa(i)},
					{Name: codec.HdrMethod, Value: "outlet.status"}, {Name: codec.HdrTTL, Value: "10000"}}
				if err := req.Direct("dev", hs); err != nil {
					b.Fatal(err)
				}
			}
			if err := <-done; err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "requests/s")
			b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N), "cpu-µs/request")
			if l != nil {
				l.Sync(10 * time.Second)
				b.ReportMetric(float64(l.Written()), "records")
				b.ReportMetric(float64(l.Dropped()), "dropped")
			}
		})
	}
}

// processCPU is the process's user + system CPU time so far (broker,
// peers and audit writer together: the same parts in both modes).
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// serveEcho answers every request dev receives with status ok.
func serveEcho(ctx context.Context, dev *rawpeer.Peer) {
	for {
		m, err := dev.NextContext(ctx)
		if err != nil {
			return
		}
		id, ok := m.Header(codec.HdrRequestID)
		if !ok || m.ID != rawpeer.Deliver {
			continue
		}
		dev.Direct(string(m.Sender), []rawpeer.Header{{Name: codec.HdrReplyTo, Value: id}, {Name: codec.HdrStatus, Value: codec.StatusOK}})
	}
}
