package demo

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/internal/brokertest"
	"github.com/zccp-go/zccp/internal/rawpeer"
	"github.com/zccp-go/zccp/internal/testutil"
)

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{{}, {Endpoint: "x", Racks: 0, Interval: time.Second}, {Endpoint: "x", Racks: 1, Hypervisors: 17, Interval: time.Second}, {Endpoint: "x", Racks: 1}} {
		if c.Validate() == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// request sends a request from a raw ZMTP peer (not our client) and
// returns the reply's status and body.
func request(t *testing.T, ctx context.Context, p *rawpeer.Peer, to, id, method, body string) (string, string) {
	t.Helper()
	p.Direct(to, []rawpeer.Header{{Name: "zccp-request-id", Value: id}, {Name: "zccp-method", Value: method}}, []byte(body))
	for {
		m, err := p.NextContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r, _ := m.Header("zccp-reply-to"); m.ID == rawpeer.Deliver && r == id {
			st, _ := m.Header("zccp-status")
			if reason, ok := m.Header("zccp-reason"); ok {
				return st, reason
			}
			return st, string(m.Content[0])
		}
	}
}

func TestDataCenter(t *testing.T) {
	b := brokertest.Start(t, broker.Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ready := make(chan []string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, Config{Endpoint: b.IPC, Racks: 2, Hypervisors: 2, Interval: 20 * time.Millisecond, Seed: 7}, func(ids []string) { ready <- ids })
	}()
	ids := <-ready
	if len(ids) != 8 {
		t.Fatalf("devices %v", ids)
	}
	if n := len(b.Clients("rack=r2,kind=hypervisor")); n != 2 {
		t.Fatalf("%d hypervisors in r2", n)
	}
	for _, addr := range []string{`^power\.r1\.pdu1$`, `^temp\.r2$`, `^net\.r1\.sw1$`, `^vm\.r2\.hv2$`} {
		testutil.Eventually(t, addr, func() bool { v, _ := b.LastValues(addr); return len(v) == 1 })
	}
	p, err := rawpeer.Dial(ctx, b.TCP)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Hello(ctx, "operator"); err != nil {
		t.Fatal(err)
	}
	st, body := request(t, ctx, p, "pdu-r1-1", "1", "status", "")
	var s struct {
		Watts   float64
		Outlets []struct{ On bool }
	}
	if err := json.Unmarshal([]byte(body), &s); st != "ok" || err != nil || len(s.Outlets) != 8 || s.Watts <= 0 {
		t.Fatalf("status: %s %q", st, body)
	}
	if st, body := request(t, ctx, p, "pdu-r1-1", "2", "outlet.off", "3"); st != "ok" || body[:12] != "outlet 3 off" {
		t.Fatalf("outlet.off: %s %q", st, body)
	}
	if st, _ := request(t, ctx, p, "pdu-r1-1", "3", "outlet.off", "9"); st != "error" {
		t.Fatalf("outlet 9: %s", st)
	}
	if st, body := request(t, ctx, p, "sw-r1-1", "4", "port.shut", "7"); st != "ok" || body != "port 7 shut" {
		t.Fatalf("port.shut: %s %q", st, body)
	}
	if st, body := request(t, ctx, p, "hv-r2-1", "5", "vm.migrate", ""); st != "ok" || len(body) < 10 {
		t.Fatalf("vm.migrate: %s %q", st, body)
	}
	// Rack r2 overheats: its PDU draws more and more while every outlet is on.
	first := reading(t, b, `^power\.r2\.pdu1$`)
	testutil.Eventually(t, "r2 heating up", func() bool { return reading(t, b, `^power\.r2\.pdu1$`) > first*1.2 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "devices gone", func() bool { return len(b.Clients("")) == 1 }) // the operator peer is left
}

func reading(t *testing.T, b *brokertest.Broker, expr string) float64 {
	v, _ := b.LastValues(expr)
	if len(v) != 1 {
		t.Fatalf("no reading for %s", expr)
	}
	f, _ := strconv.ParseFloat(string(v[0].Content[0]), 64)
	return f
}
