package main

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/internal/brokertest"
	"github.com/zccp-go/zccp/internal/rawpeer"
	"github.com/zccp-go/zccp/internal/testutil"
)

// countConn counts the bytes a raw peer writes and reads on its socket.
type countConn struct {
	net.Conn
	in, out *atomic.Uint64
}

func (c countConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.in.Add(uint64(n))
	return n, err
}

func (c countConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.out.Add(uint64(n))
	return n, err
}

// rawCounted dials the broker over tcp with a hand-framed ZMTP peer whose
// bytes are counted in in and out, and says HELLO.
func rawCounted(t *testing.T, ctx context.Context, b *brokertest.Broker, id string, in, out *atomic.Uint64, hs ...rawpeer.Header) *rawpeer.Peer {
	t.Helper()
	nc, err := net.Dial("tcp", strings.TrimPrefix(b.TCP, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := rawpeer.New(ctx, countConn{nc, in, out})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.Hello(ctx, id, hs...); err != nil {
		t.Fatal(err)
	}
	return p
}

// scrape reads /metrics and returns its families by name.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := get(t, url)
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// latencyCounts returns each request latency histogram's count by
// "kind/outcome".
func latencyCounts(fams map[string]*dto.MetricFamily) map[string]uint64 {
	out := map[string]uint64{}
	f := fams["zccpd_request_duration_seconds"]
	if f == nil {
		return out
	}
	for _, m := range f.GetMetric() {
		var kind, outcome string
		for _, l := range m.GetLabel() {
			switch l.GetName() {
			case "kind":
				kind = l.GetValue()
			case "outcome":
				outcome = l.GetValue()
			}
		}
		out[kind+"/"+outcome] = m.GetHistogram().GetSampleCount()
	}
	return out
}

func counterValue(fams map[string]*dto.MetricFamily, name string) uint64 {
	f := fams[name]
	if f == nil || len(f.GetMetric()) != 1 {
		return 0
	}
	return uint64(f.GetMetric()[0].GetCounter().GetValue())
}

// answer reads the next command at dev and replies to it with status.
func answer(ctx context.Context, dev *rawpeer.Peer, status string) error {
	m, err := dev.NextContext(ctx)
	if err != nil {
		return err
	}
	id, ok := m.Header("zccp-request-id")
	if m.ID != rawpeer.Deliver || !ok {
		return fmt.Errorf("device got command %d without a request id: %+v", m.ID, m)
	}
	return dev.Direct(string(m.Sender), []rawpeer.Header{{Name: "zccp-reply-to", Value: id}, {Name: "zccp-status", Value: status}}, []byte(status))
}

// expectReply reads the requester's next message and checks it is the
// final reply to id with status.
func expectReply(ctx context.Context, req *rawpeer.Peer, id, status string) error {
	m, err := req.NextContext(ctx)
	if err != nil {
		return err
	}
	if to, _ := m.Header("zccp-reply-to"); to != id {
		return fmt.Errorf("want the reply to %s, got %+v", id, m.Headers())
	}
	if st, _ := m.Header("zccp-status"); st != status {
		return fmt.Errorf("reply to %s: status %q, want %q", id, st, status)
	}
	return nil
}

// Requests from a hand-framed raw ZMTP peer (not our client library) show
// up in zccpd_request_duration_seconds with their outcome: single ok,
// error and disconnected (the device hangs up), single no_recipient, group
// ok, group error and group disconnected (one of two members hangs up),
// single refused (over MaxInflightPerRequester) and cancelled; and zccpd_received_bytes_total / _sent_bytes_total
// are at least every byte the raw peers wrote and read.
func TestPrometheusRequestLatencyAndBytes(t *testing.T) {
	b := brokertest.Start(t, broker.Config{MaxInflightPerRequester: 1})
	srv := httptest.NewServer(metricsHandler(b.Broker))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var in, out atomic.Uint64 // bytes the long-lived peers read and wrote
	serves := rawpeer.Header{Name: "zccp-serves", Value: "1"}
	req := rawCounted(t, ctx, b, "req", &in, &out)
	dev := rawCounted(t, ctx, b, "dev", &in, &out, serves)
	if err := dev.Subscribe(ctx, "^grp$"); err != nil {
		t.Fatal(err)
	}
	reqID := func(id string) []rawpeer.Header { return []rawpeer.Header{{Name: "zccp-request-id", Value: id}} }
	for _, c := range []struct{ id, status string }{{"s1", "ok"}, {"s2", "error"}} {
		if err := req.Direct("dev", reqID(c.id), []byte("go")); err != nil {
			t.Fatal(err)
		}
		if err := answer(ctx, dev, c.status); err != nil {
			t.Fatal(err)
		}
		if err := expectReply(ctx, req, c.id, c.status); err != nil {
			t.Fatal(err)
		}
	}
	// A device that hangs up with the request outstanding; its bytes count
	// in the bounds too (an ended connection's stay in the totals).
	var gin, gout atomic.Uint64
	gone := rawCounted(t, ctx, b, "gone", &gin, &gout)
	if err := req.Direct("gone", reqID("s3"), []byte("go")); err != nil {
		t.Fatal(err)
	}
	if _, err := gone.NextContext(ctx); err != nil {
		t.Fatal(err)
	}
	gone.Close()
	if err := expectReply(ctx, req, "s3", "error"); err != nil {
		t.Fatal(err)
	}
	if err := req.Direct("nobody", reqID("s4"), []byte("go")); err != nil {
		t.Fatal(err)
	}
	if err := expectReply(ctx, req, "s4", "error"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ id, status string }{{"g1", "ok"}, {"g2", "error"}} {
		if err := req.Publish("grp", reqID(c.id), []byte("go")); err != nil {
			t.Fatal(err)
		}
		if m, err := req.NextContext(ctx); err != nil || string(m.Address) != codec.AddrReceipt {
			t.Fatalf("receipt for %s: %v %+v", c.id, err, m)
		}
		if err := answer(ctx, dev, c.status); err != nil {
			t.Fatal(err)
		}
		if err := expectReply(ctx, req, c.id, c.status); err != nil {
			t.Fatal(err)
		}
	}
	// A group of two where one member answers ok and the other hangs up:
	// the call's outcome is disconnected, observed once, at its end.
	gone2 := rawCounted(t, ctx, b, "gone2", &gin, &gout, serves)
	if err := gone2.Subscribe(ctx, "^grp$"); err != nil {
		t.Fatal(err)
	}
	if err := req.Publish("grp", reqID("g3"), []byte("go")); err != nil {
		t.Fatal(err)
	}
	if m, err := req.NextContext(ctx); err != nil || string(m.Address) != codec.AddrReceipt || len(m.Content) != 2 {
		t.Fatalf("receipt for g3: %v %+v", err, m)
	}
	if _, err := gone2.NextContext(ctx); err != nil {
		t.Fatal(err)
	}
	gone2.Close()
	if err := answer(ctx, dev, "ok"); err != nil {
		t.Fatal(err)
	}
	statuses := map[string]int{}
	for range 2 {
		m, err := req.NextContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if to, _ := m.Header("zccp-reply-to"); to != "g3" {
			t.Fatalf("want replies to g3, got %+v", m.Headers())
		}
		st, _ := m.Header("zccp-status")
		statuses[st]++
	}
	if statuses["ok"] != 1 || statuses["error"] != 1 {
		t.Fatalf("g3 replies: %v", statuses)
	}
	// One request outstanding at dev (the limit): a second is refused;
	// then the first is cancelled.
	if err := req.Direct("dev", reqID("s5"), []byte("go")); err != nil {
		t.Fatal(err)
	}
	if m, err := dev.NextContext(ctx); err != nil || m.ID != rawpeer.Deliver {
		t.Fatalf("s5 at the device: %v %+v", err, m)
	}
	if err := req.Direct("dev", reqID("s6"), []byte("go")); err != nil {
		t.Fatal(err)
	}
	if err := expectReply(ctx, req, "s6", "error"); err != nil {
		t.Fatal(err)
	}
	if err := req.Direct("dev", []rawpeer.Header{{Name: "zccp-cancel-request", Value: "s5"}}, []byte("stop")); err != nil {
		t.Fatal(err)
	}
	if m, err := dev.NextContext(ctx); err != nil || m.ID != rawpeer.Deliver {
		t.Fatalf("cancel at the device: %v %+v", err, m)
	}
	// The requester leaves: GOODBYE-OK is written after its connection
	// was retired, and still counts.
	if err := req.Goodbye(ctx); err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{"single/refused": 1, "single/cancelled": 1, "single/ok": 1, "single/error": 1, "single/disconnected": 1, "single/no_recipient": 1,
		"group/ok": 1, "group/error": 1, "group/disconnected": 1}
	var last map[string]*dto.MetricFamily
	testutil.Eventually(t, "latency histograms and byte counters", func() bool {
		last = scrape(t, srv.URL)
		got := latencyCounts(last)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return false
		}
		return counterValue(last, "zccpd_received_bytes_total") >= out.Load()+gout.Load() && counterValue(last, "zccpd_sent_bytes_total") >= in.Load()+gin.Load()
	})
	t.Logf("latency %v; broker received %d ≥ %d written by the raw peers, sent %d ≥ %d read by them",
		latencyCounts(last), counterValue(last, "zccpd_received_bytes_total"), out.Load()+gout.Load(), counterValue(last, "zccpd_sent_bytes_total"), in.Load()+gin.Load())
}

// expectExpired reads the requester's next message and checks it is the
// broker's expired error reply to id.
func expectExpired(ctx context.Context, req *rawpeer.Peer, id string) error {
	m, err := req.NextContext(ctx)
	if err != nil {
		return err
	}
	to, _ := m.Header("zccp-reply-to")
	code, _ := m.Header("zccp-error")
	if to != id || code != codec.ErrCodeExpired {
		return fmt.Errorf("want the expired error reply to %s, got %+v", id, m.Headers())
	}
	return nil
}

// The outcomes that need time to pass, from hand-framed raw peers:
// expired (a zero TTL at once, and a command still queued to a device
// that stopped reading when its TTL runs out) and forgotten (a device
// that reads the command and never answers, swept RequestGrace past the
// TTL; the requester is not told).
func TestPrometheusRequestExpiredAndForgotten(t *testing.T) {
	b := brokertest.Start(t, broker.Config{PingInterval: 200 * time.Millisecond, Timeout: 30 * time.Second, RequestGrace: 100 * time.Millisecond})
	srv := httptest.NewServer(metricsHandler(b.Broker))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var in, out atomic.Uint64
	req := rawCounted(t, ctx, b, "req", &in, &out)
	dev := rawCounted(t, ctx, b, "dev", &in, &out)
	request := func(to, id, ttl string) {
		t.Helper()
		if err := req.Direct(to, []rawpeer.Header{{Name: "zccp-request-id", Value: id}, {Name: "zccp-ttl", Value: ttl}}, []byte("go")); err != nil {
			t.Fatal(err)
		}
	}
	request("dev", "e0", "0")
	if err := expectExpired(ctx, req, "e0"); err != nil {
		t.Fatal(err)
	}
	// A device that subscribes and then never reads, over ipc (small
	// socket buffers): a raw publisher fills them until the broker's
	// writer to it is blocked, so the next command waits in its queue.
	stalled, err := rawpeer.Dial(ctx, b.IPC)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	if err := stalled.Hello(ctx, "stalled"); err != nil {
		t.Fatal(err)
	}
	if err := stalled.Subscribe(ctx, "^fill$"); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 256<<10)
	for range 64 {
		if err := dev.Publish("fill", nil, big); err != nil {
			t.Fatal(err)
		}
	}
	testutil.Eventually(t, "filler routed", func() bool { return b.Stats().Published == 64 })
	request("stalled", "e1", "100")
	if err := expectExpired(ctx, req, "e1"); err != nil {
		t.Fatal(err)
	}
	// Read by the device, never answered.
	request("dev", "f1", "50")
	if m, err := dev.NextContext(ctx); err != nil || m.ID != rawpeer.Deliver {
		t.Fatalf("f1 at the device: %v %+v", err, m)
	}
	want := map[string]uint64{"single/expired": 2, "single/forgotten": 1}
	testutil.Eventually(t, "expired and forgotten observed", func() bool {
		return fmt.Sprint(latencyCounts(scrape(t, srv.URL))) == fmt.Sprint(want)
	})
	if s := b.Stats(); s.ExpiredCmds != 2 || s.Inflight != 0 {
		t.Fatalf("stats %+v", s)
	}
}
