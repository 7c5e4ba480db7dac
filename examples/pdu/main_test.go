package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/client"
	"github.com/zccp-go/zccp/internal/brokertest"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func startBroker(t *testing.T) string {
	t.Helper()
	return brokertest.Start(t, broker.Config{}).IPC
}

// TestPDU drives the PDU through a few dozen readings: it
// publishes power.<rack>.<pdu>, answers status and outlet.on/off, and
// is reached by group calls.
func TestPDU(t *testing.T) {
	ep := startBroker(t)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, config{Endpoint: ep, Rack: "rack12", PDU: "pdu3", Loads: []float64{400, 1000, 600},
			Interval: 20 * time.Millisecond, Seed: 7}, quiet(), func(id string) { ready <- id })
	}()
	var id string
	select {
	case id = <-ready:
	case err := <-errc:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("pdu not ready")
	}
	if id != "pdu-rack12-pdu3" {
		t.Fatalf("id %q", id)
	}
	app, err := client.Connect(context.Background(), ep, client.WithIdentifier("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	readings := make(chan *client.Delivery, 1024)
	if _, err := app.SubscribeChan(context.Background(), `^power\.`, readings); err != nil {
		t.Fatal(err)
	}
	reading := func() float64 {
		t.Helper()
		select {
		case d := <-readings:
			w, err := strconv.ParseFloat(string(d.Body()), 64)
			if d.Sender != id || d.Address != "power.rack12.pdu3" || d.Headers["unit"] != "W" || err != nil {
				t.Fatalf("reading %+v", d)
			}
			return w
		case <-time.After(5 * time.Second):
			t.Fatal("no reading")
			return 0
		}
	}
	for i := 0; i < 20; i++ { // the random walk stays near the nominal 2000 W
		if w := reading(); w < 1600 || w > 2400 {
			t.Fatalf("reading %v W", w)
		}
	}
	rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer rcancel()
	status := func() Status {
		t.Helper()
		r, err := app.Request(rctx, id, "status")
		var s Status
		if err != nil || json.Unmarshal(r.Body(), &s) != nil {
			t.Fatalf("status: %v %v", r, err)
		}
		return s
	}
	s := status()
	if s.ID != id || s.Rack != "rack12" || s.PDU != "pdu3" || len(s.Outlets) != 3 || !s.Outlets[1].On || s.Watts < 1600 {
		t.Fatalf("status %+v", s)
	}
	r, err := app.Request(rctx, id, "outlet.off", []byte("2"))
	if err != nil || !strings.HasPrefix(string(r.Body()), "outlet 2 off (was drawing ") {
		t.Fatalf("outlet.off: %v %v", r, err)
	}
	if s := status(); s.Outlets[1].On || s.Outlets[1].Watts != 0 || !s.Outlets[0].On {
		t.Fatalf("after outlet.off: %+v", s)
	}
	// Readings drop by the outlet's share (after those already sent).
	deadline := time.Now().Add(5 * time.Second)
	for reading() > 1400 {
		if time.Now().After(deadline) {
			t.Fatal("readings did not drop")
		}
	}
	if _, err := app.Request(rctx, id, "outlet.off", []byte("9")); !errors.Is(err, client.ErrDeviceError) || !strings.Contains(err.Error(), "from 1 to 3") {
		t.Fatalf("bad outlet: %v", err)
	}
	if _, err := app.Request(rctx, id, "reboot"); !errors.Is(err, client.ErrNoSuchMethod) {
		t.Fatalf("unknown method: %v", err)
	}
	if r, err := app.Request(rctx, id, "outlet.on", []byte("2")); err != nil || string(r.Body()) != "outlet 2 on (was drawing 0 W)" {
		t.Fatalf("outlet.on: %v %v", r, err)
	}
	// Group calls: all PDUs, the rack's, narrowed by a label.
	for _, g := range []client.Group{{Address: "pdus"}, {Address: "pdus.rack12"}, {Address: "pdus.rack12", Labels: map[string]string{"pdu": "pdu3", "kind": "pdu"}}} {
		call, err := app.DoGroup(rctx, g, client.Call{Method: "status"})
		if err != nil {
			t.Fatal(err)
		}
		sum := call.Wait()
		if len(sum.Expected) != 1 || len(sum.OK) != 1 || sum.OK[0] != id {
			t.Fatalf("group %+v: %+v", g, sum)
		}
	}
	if call, err := app.RequestGroup(rctx, "pdus.rack1", "status"); err != nil || len(call.Expected) != 0 {
		t.Fatalf("another rack's group reached it: %v %v", call, err)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestQuoteExpr(t *testing.T) {
	if got := quoteExpr("rack-1.a_b"); got != `rack\-1\.a\_b` {
		t.Fatal(got)
	}
}
