package client_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/client"
	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/internal/testutil"
	"github.com/zccp-go/zccp/zmtp"
)

func echoDevice(t *testing.T, ep, id string, opts ...client.Option) *client.Client {
	t.Helper()
	d := connect(t, ep, append([]client.Option{client.WithIdentifier(id)}, opts...)...)
	d.Handle("echo", func(ctx context.Context, r *client.Request) (*client.Reply, error) {
		return &client.Reply{Content: r.Content}, nil
	})
	return d
}

func TestRequestOneDevice(t *testing.T) {
	_, eps := startBroker(t, broker.Config{})
	for _, ep := range eps {
		echoDevice(t, ep, "d1-"+ep[:3])
		app := connect(t, ep, client.WithIdentifier("app-"+ep[:3]))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		r, err := app.Request(ctx, "d1-"+ep[:3], "echo", []byte("hello"))
		cancel()
		if err != nil || string(r.Body()) != "hello" || r.From != "d1-"+ep[:3] || r.Status != "ok" {
			t.Fatalf("%s: reply %+v err %v", ep, r, err)
		}
	}
}

func TestRequestErrors(t *testing.T) {
	b, eps := startBroker(t, broker.Config{})
	dev := connect(t, eps[0], client.WithIdentifier("dev"))
	dev.Handle("fail", func(ctx context.Context, r *client.Request) (*client.Reply, error) {
		return nil, errors.New("outlet 3 is locked")
	})
	dev.Handle("panic", func(ctx context.Context, r *client.Request) (*client.Reply, error) {
		panic("boom")
	})
	app := connect(t, eps[1], client.WithIdentifier("app"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	// No such client: answered by the broker at once, not by a timeout.
	_, err := app.Request(ctx, "nosuch", "x")
	var re *client.RequestError
	if !errors.Is(err, client.ErrNoSuchClient) || !errors.As(err, &re) || re.From != "nosuch" {
		t.Fatalf("no such client: %v", err)
	}
	if ctx.Err() != nil {
		t.Fatal("no-such-client waited for the deadline")
	}
	_, err = app.Request(ctx, "dev", "fail")
	if !errors.Is(err, client.ErrDeviceError) || !strings.Contains(err.Error(), "outlet 3 is locked") {
		t.Fatalf("device error: %v", err)
	}
	_, err = app.Request(ctx, "dev", "panic")
	if !errors.Is(err, client.ErrDeviceError) || !strings.Contains(err.Error(), "panicked: boom") {
		t.Fatalf("panic: %v", err)
	}
	_, err = app.Request(ctx, "dev", "nomethod")
	if !errors.Is(err, client.ErrNoSuchMethod) {
		t.Fatalf("no such method: %v", err)
	}
	dev.HandleAll(func(_ context.Context, r *client.Request) (*client.Reply, error) {
		return &client.Reply{Content: [][]byte{[]byte("any " + r.Method)}}, nil
	})
	if r, err := app.Request(ctx, "dev", "nomethod"); err != nil || string(r.Body()) != "any nomethod" {
		t.Fatalf("fallback handler: %v %v", r, err)
	}
	// The device survived its handler's panic.
	dev.Handle("ok", func(context.Context, *client.Request) (*client.Reply, error) { return nil, nil })
	if _, err := app.Request(ctx, "dev", "ok"); err != nil {
		t.Fatal(err)
	}
	if n := b.Stats().Inflight; n != 0 {
		t.Fatalf("broker still tracks %d requests", n)
	}
}

func TestRequestToSilentDeviceTimesOut(t *testing.T) {
	b, eps := startBroker(t, broker.Config{})
	release := make(chan struct{})
	var cancelled atomic.Bool
	dev := connect(t, eps[0], client.WithIdentifier("slow"))
	dev.Handle("hang", func(ctx context.Context, r *client.Request) (*client.Reply, error) {
		select {
		case <-ctx.Done():
			cancelled.Store(true)
			return nil, ctx.Err()
		case <-release:
			return nil, nil
		}
	})
	defer close(release)
	app := connect(t, eps[0], client.WithIdentifier("app"))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err := app.Request(ctx, "slow", "hang")
	// Either the requester's deadline fires first, or the device's (the
	// same instant, carried as the TTL) and it says so.
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, client.ErrExpired) {
		t.Fatalf("got %v", err)
	}
	// The deadline travelled as the TTL: the handler's ctx ended too.
	testutil.Eventually(t, "handler context ended", cancelled.Load)
	testutil.Eventually(t, "broker forgot the request", func() bool { return b.Stats().Inflight == 0 })
}

func TestDeviceDisconnectsMidRequest(t *testing.T) {
	_, eps := startBroker(t, broker.Config{})
	started := make(chan struct{})
	dev, err := client.Connect(context.Background(), eps[0], client.WithIdentifier("flaky"))
	if err != nil {
		t.Fatal(err)
	}
	dev.Handle("work", func(ctx context.Context, r *client.Request) (*client.Reply, error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	})
	app := connect(t, eps[0], client.WithIdentifier("app"))
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := app.Request(ctx, "flaky", "work")
		errc <- err
	}()
	<-started
	go dev.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, client.ErrDisconnected) {
			t.Fatalf("got %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("requester not told that the device left")
	}
}

// TestExpiredCommandNeverDelivered: a device that does not read lets a
// command wait in its queue past the TTL; the broker drops it and tells
// the requester.
func TestExpiredCommandNeverDelivered(t *testing.T) {
	b, eps := startBroker(t, broker.Config{PingInterval: 50 * time.Millisecond, Timeout: 10 * time.Second})
	// A raw device that says HELLO and then never reads again. It uses
	// ipc, whose small socket buffers fill quickly (loopback tcp can soak
	// up megabytes).
	nc, err := zmtp.Dial(context.Background(), eps[1])
	if err != nil {
		t.Fatal(err)
	}
	stalled, err := zmtp.Handshake(nc, zmtp.Options{Type: zmtp.TypeDealer})
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	hello, _ := (&codec.Message{ID: codec.Hello, Identifier: "stalled"}).Frames()
	sub, _ := (&codec.Message{ID: codec.Subscribe, Expression: "fill"}).Frames()
	stalled.Send(hello...)
	stalled.Send(sub...)
	testutil.Eventually(t, "stalled subscribed", func() bool { return b.Stats().Subscriptions == 1 })
	// Fill the socket buffers so that the broker's writer to it blocks.
	pub := connect(t, eps[0], client.WithIdentifier("filler"))
	big := make([]byte, 256<<10)
	for i := 0; i < 64; i++ {
		for pub.Publish("fill", nil, big) != nil {
			time.Sleep(time.Millisecond)
		}
	}
	// Wait until the broker has routed all of it: its writer to the
	// stalled device is then blocked with its queue full.
	testutil.Eventually(t, "filler routed", func() bool { return b.Stats().Published == 64 })
	app := connect(t, eps[0], client.WithIdentifier("app"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = app.Do(ctx, "stalled", client.Call{Method: "anything", TTL: 100 * time.Millisecond})
	if !errors.Is(err, client.ErrExpired) {
		t.Fatalf("got %v (broker %+v)", err, b.Stats())
	}
	if s := b.Stats(); s.ExpiredCmds != 1 || s.Inflight != 0 {
		t.Fatalf("stats %+v", s)
	}
}

func TestGroupRequestHundredDevices(t *testing.T) {
	_, eps := startBroker(t, broker.Config{})
	ctx := context.Background()
	const n = 100
	for i := 0; i < n; i++ {
		rack := strconv.Itoa(i % 4)
		me := fmt.Sprintf("pdu-%03d", i)
		d := connect(t, eps[i%2], client.WithIdentifier(me),
			client.WithLabels(map[string]string{"kind": "pdu", "rack": rack}),
			client.WithHandler("status", func(ctx context.Context, r *client.Request) (*client.Reply, error) {
				if me == "pdu-007" {
					return nil, errors.New("sensor fault")
				}
				return &client.Reply{Content: [][]byte{[]byte(me + " ok")}}, nil
			}))
		if _, err := d.Subscribe(ctx, `^dc1\.pdus$`, func(*client.Delivery) {}); err != nil {
			t.Fatal(err)
		}
	}
	app := connect(t, eps[0], client.WithIdentifier("operator"))
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	call, err := app.RequestGroup(cctx, "dc1.pdus", "status")
	if err != nil {
		t.Fatal(err)
	}
	if len(call.Expected) != n {
		t.Fatalf("receipt lists %d devices", len(call.Expected))
	}
	got := 0
	for r := range call.Replies() {
		got++
		if r.Err() == nil && string(r.Body()) != r.From+" ok" {
			t.Fatalf("reply %+v", r)
		}
	}
	sum := call.Summary()
	if got != n || len(sum.OK) != n-1 || len(sum.Failed) != 1 || sum.Failed["pdu-007"] == nil || len(sum.Missing) != 0 {
		t.Fatalf("replies %d, summary ok=%d failed=%v missing=%v", got, len(sum.OK), sum.Failed, sum.Missing)
	}
	// Labels narrow the group; a dry run only reports.
	dry, err := app.DoGroup(cctx, client.Group{Address: "dc1.pdus", Labels: map[string]string{"rack": "2"}, DryRun: true},
		client.Call{Method: "status"})
	if err != nil || len(dry.Expected) != n/4 || !dry.DryRun {
		t.Fatalf("dry run: %v %v", dry, err)
	}
	// Labels alone (no address).
	byLabel, err := app.DoGroup(cctx, client.Group{Labels: map[string]string{"rack": "3"}}, client.Call{Method: "status"})
	if err != nil {
		t.Fatal(err)
	}
	if s := byLabel.Wait(); len(s.Expected) != n/4 || len(s.OK)+len(s.Failed) != n/4 || len(s.Missing) != 0 {
		t.Fatalf("by label: %+v", s)
	}
}

func TestGroupRequestAccountsForSilentDevice(t *testing.T) {
	_, eps := startBroker(t, broker.Config{})
	ctx := context.Background()
	release := make(chan struct{})
	defer close(release)
	for _, id := range []string{"a", "b", "mute"} {
		h := func(context.Context, *client.Request) (*client.Reply, error) { return nil, nil }
		if id == "mute" {
			h = func(context.Context, *client.Request) (*client.Reply, error) {
				<-release // never answers while the call lasts
				return nil, nil
			}
		}
		d := connect(t, eps[0], client.WithIdentifier(id), client.WithHandler("ping", h))
		d.Subscribe(ctx, "^grp$", func(*client.Delivery) {})
	}
	app := connect(t, eps[0], client.WithIdentifier("app"))
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	call, err := app.RequestGroup(cctx, "grp", "ping")
	if err != nil {
		t.Fatal(err)
	}
	s := call.Wait()
	if len(s.Expected) != 3 || len(s.OK) != 2 || len(s.Missing) != 1 || s.Missing[0] != "mute" {
		t.Fatalf("summary %+v", s)
	}
}

func TestConcurrentRequests(t *testing.T) {
	_, eps := startBroker(t, broker.Config{})
	echoDevice(t, eps[0], "echo")
	app := connect(t, eps[1], client.WithIdentifier("app"))
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				want := fmt.Sprintf("%d/%d", g, i)
				r, err := app.Request(ctx, "echo", "echo", []byte(want))
				cancel()
				if err != nil || string(r.Body()) != want {
					t.Errorf("%s: %v %v", want, r, err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
}

func TestRetriedRequestRunsOnce(t *testing.T) {
	_, eps := startBroker(t, broker.Config{})
	var runs atomic.Int64
	dev := connect(t, eps[0], client.WithIdentifier("dev"))
	dev.Handle("outlet.off", func(context.Context, *client.Request) (*client.Reply, error) {
		n := runs.Add(1)
		return &client.Reply{Content: [][]byte{[]byte(strconv.FormatInt(n, 10))}}, nil
	})
	got := make(chan *client.Delivery, 4)
	app := connect(t, eps[0], client.WithIdentifier("app"), client.WithDirectHandler(func(d *client.Delivery) { got <- d }))
	h := map[string]string{codec.HdrRequestID: "fixed-1", codec.HdrMethod: "outlet.off"}
	app.Send("dev", h)
	first := recv(t, got)
	app.Send("dev", h) // a retry with the same id
	second := recv(t, got)
	if runs.Load() != 1 || string(first.Body()) != "1" || string(second.Body()) != "1" ||
		second.Headers[codec.HdrReplyTo] != "fixed-1" {
		t.Fatalf("runs %d, replies %q %q", runs.Load(), first.Body(), second.Body())
	}
}

func TestProgressKeepsRequestAlive(t *testing.T) {
	_, eps := startBroker(t, broker.Config{})
	dev := connect(t, eps[0], client.WithIdentifier("migrator"))
	dev.Handle("migrate", func(ctx context.Context, r *client.Request) (*client.Reply, error) {
		for i := 1; i <= 5; i++ {
			time.Sleep(60 * time.Millisecond)
			r.Progress([]byte(strconv.Itoa(i * 20)))
		}
		return &client.Reply{Content: [][]byte{[]byte("done")}}, nil
	})
	app := connect(t, eps[0], client.WithIdentifier("app"))
	var reports atomic.Int64
	r, err := app.Do(context.Background(), "migrator", client.Call{
		Method:     "migrate",
		Timeout:    150 * time.Millisecond, // shorter than the job, longer than a report interval
		OnProgress: func(*client.Reply) { reports.Add(1) },
	})
	if err != nil || string(r.Body()) != "done" || reports.Load() != 5 {
		t.Fatalf("reply %v err %v reports %d", r, err, reports.Load())
	}
}

func TestCancelReachesDevice(t *testing.T) {
	_, eps := startBroker(t, broker.Config{})
	running := make(chan struct{})
	stopped := make(chan error, 1)
	dev := connect(t, eps[0], client.WithIdentifier("dev"))
	dev.Handle("long", func(ctx context.Context, r *client.Request) (*client.Reply, error) {
		close(running)
		<-ctx.Done()
		stopped <- context.Cause(ctx)
		return nil, ctx.Err()
	})
	app := connect(t, eps[0], client.WithIdentifier("app"))
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-running; cancel() }()
	if _, err := app.Request(ctx, "dev", "long"); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	select {
	case cause := <-stopped:
		if cause == nil || !strings.Contains(cause.Error(), "cancelled by the requester") {
			t.Fatalf("cause %v", cause)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("device never told")
	}
}

func TestPresenceAndClients(t *testing.T) {
	_, eps := startBroker(t, broker.Config{})
	ctx := context.Background()
	watcher := connect(t, eps[0], client.WithIdentifier("watcher"))
	events := make(chan *client.Delivery, 16)
	if _, err := watcher.SubscribeChan(ctx, `^\$zccp\.presence\.`, events); err != nil {
		t.Fatal(err)
	}
	// A broad subscription must not see broker events.
	broad := make(chan *client.Delivery, 16)
	watcher.SubscribeChan(ctx, `.*`, broad)
	pdu, err := client.Connect(ctx, eps[1], client.WithIdentifier("pdu-9"), client.WithLabels(map[string]string{"kind": "pdu", "rack": "12"}))
	if err != nil {
		t.Fatal(err)
	}
	join := recv(t, events)
	if join.Address != codec.AddrPresenceJoin || join.Headers[codec.HdrIdentifier] != "pdu-9" || join.Headers["rack"] != "12" {
		t.Fatalf("join %+v", join)
	}
	list, err := watcher.Clients(ctx, map[string]string{"kind": "pdu"})
	if err != nil || len(list) != 1 || list[0].Identifier != "pdu-9" || list[0].Labels["rack"] != "12" || list[0].Since.IsZero() {
		t.Fatalf("clients %+v %v", list, err)
	}
	all, err := watcher.Clients(ctx, nil)
	if err != nil || len(all) != 2 {
		t.Fatalf("all clients %+v %v", all, err)
	}
	pdu.Close()
	leave := recv(t, events)
	if leave.Address != codec.AddrPresenceLeave || leave.Headers[codec.HdrIdentifier] != "pdu-9" || leave.Headers[codec.HdrReason] != "goodbye" {
		t.Fatalf("leave %+v", leave)
	}
	none(t, broad, 50*time.Millisecond)
}
