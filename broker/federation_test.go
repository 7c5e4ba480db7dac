package broker

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/internal/rawpeer"
	"github.com/zccp-go/zccp/internal/testutil"
)

// fedRecorder is a Federation that keeps what it is handed (copied, as
// the contract requires), for the broker-side tests of the hook.
type fedRecorder struct {
	mu   sync.Mutex
	sent []fedSent
}

type fedSent struct {
	remote  string
	deliver []byte
	content [][]byte
}

func (r *fedRecorder) Forward(remote string, deliver []byte, content [][]byte) {
	c := make([][]byte, len(content))
	for i, f := range content {
		c[i] = bytes.Clone(f)
	}
	r.mu.Lock()
	r.sent = append(r.sent, fedSent{remote, bytes.Clone(deliver), c})
	r.mu.Unlock()
}

func (r *fedRecorder) all() []fedSent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]fedSent(nil), r.sent...)
}

// A publish from a hand-framed peer is forwarded once per remote broker
// whose expressions match (two matching expressions: still once), never to
// a remote broker whose expressions do not match, and as a DELIVER whose
// sender is the publisher.
func TestFederationForwardOncePerMatchingRemote(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, eps := startBroker(t, Config{})
	rec := &fedRecorder{}
	b.SetFederation(rec)
	if err := b.ChangeRemoteInterest("B", []string{"^rack\\.", "temp$"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.ChangeRemoteInterest("C", []string{"^power\\."}, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.ChangeRemoteInterest("D", []string{"(unclosed"}, nil); err == nil {
		t.Fatal("an invalid remote expression was accepted")
	}
	pub := fedPeer(t, ctx, eps[0], "pub-1")
	if err := pub.Publish("rack.4.temp", nil, []byte("21.5")); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish("door.2", nil, []byte("open")); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish("power.1", nil, []byte("on")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "two forwards", func() bool { return len(rec.all()) >= 2 })
	if err := pub.Subscribe(ctx, "^sync$"); err != nil { // SUBSCRIBE-OK: every earlier PUBLISH was handled
		t.Fatal(err)
	}
	got := rec.all()
	if len(got) != 2 || got[0].remote != "B" || got[1].remote != "C" {
		t.Fatalf("forwards = %+v, want one to B then one to C", got)
	}
	v, err := codec.Parse(got[0].deliver)
	if err != nil || v.ID != codec.Deliver || string(v.Sender) != "pub-1" || string(v.Address) != "rack.4.temp" {
		t.Fatalf("forwarded frame: %+v, %v", v, err)
	}
	if len(got[0].content) != 1 || string(got[0].content[0]) != "21.5" {
		t.Fatalf("forwarded content %q", got[0].content)
	}
	b.DropRemote("B")
	if _, ok := b.RemoteInterest()["B"]; ok {
		t.Fatal("B still listed after DropRemote")
	}
	if err := pub.Publish("rack.4.temp", nil, []byte("22")); err != nil {
		t.Fatal(err)
	}
	if err := pub.Subscribe(ctx, "^sync$"); err != nil { // SUBSCRIBE-OK: every earlier PUBLISH was handled
		t.Fatal(err)
	}
	if n := len(rec.all()); n != 2 {
		t.Fatalf("%d forwards after B was dropped, want still 2", n)
	}
}

// A forwarded DELIVER reaches each matching local session once (a session
// with two matching expressions included), is not forwarded again, and
// local interest lists distinct expressions only.
func TestFederationInjectDeliver(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, eps := startBroker(t, Config{})
	rec := &fedRecorder{}
	b.SetFederation(rec)
	if err := b.ChangeRemoteInterest("B", []string{"."}, nil); err != nil {
		t.Fatal(err)
	}
	s1 := fedPeer(t, ctx, eps[0], "sub-1")
	s2 := fedPeer(t, ctx, eps[1], "sub-2")
	for _, e := range []string{"^rack\\.", "temp$"} {
		if err := s1.Subscribe(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := s2.Subscribe(ctx, "^rack\\."); err != nil {
		t.Fatal(err)
	}
	exprs, _ := b.LocalInterest()
	if len(exprs) != 2 {
		t.Fatalf("local interest %q, want the two distinct expressions", exprs)
	}
	frame := codec.AppendDeliver(nil, []byte("remote-pub"), []byte("rack.1.temp"), nil, nil)
	n, err := b.InjectDeliver(frame, [][]byte{[]byte("x")})
	if err != nil || n != 2 {
		t.Fatalf("InjectDeliver = %d, %v; want 2 sessions", n, err)
	}
	for _, p := range []*rawpeer.Peer{s1, s2} {
		m, err := p.NextContext(ctx)
		if err != nil || m.ID != rawpeer.Deliver || string(m.Sender) != "remote-pub" || string(m.Content[0]) != "x" {
			t.Fatalf("got %+v, %v", m, err)
		}
	}
	if _, err := b.InjectDeliver([]byte{0xAA, 0x01}, nil); err == nil {
		t.Fatal("garbage accepted")
	}
	hello := codec.Message{ID: codec.Hello, Identifier: "x"}
	fr, _ := hello.Frames()
	if _, err := b.InjectDeliver(fr[0], nil); err != ErrNotDeliver {
		t.Fatalf("HELLO injected: %v", err)
	}
	if len(rec.all()) != 0 {
		t.Fatal("an injected message was forwarded again")
	}
	// s1 got exactly one copy: the next message it reads is the next one.
	frame = codec.AppendDeliver(nil, []byte("remote-pub"), []byte("rack.2"), nil, nil)
	if n, err := b.InjectDeliver(frame, [][]byte{[]byte("y")}); err != nil || n != 2 {
		t.Fatalf("second InjectDeliver = %d, %v", n, err)
	}
	m, err := s1.NextContext(ctx)
	if err != nil || string(m.Address) != "rack.2" {
		t.Fatalf("s1 read %+v, %v; want the second message (no duplicate of the first)", m, err)
	}
}

// fedPeer dials a hand-framed peer (not our client library) and says HELLO.
func fedPeer(t *testing.T, ctx context.Context, endpoint, id string) *rawpeer.Peer {
	t.Helper()
	p, err := rawpeer.Dial(ctx, endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.Hello(ctx, id); err != nil {
		t.Fatal(err)
	}
	return p
}

// InjectDirect queues a forwarded DIRECT to the session with that
// identifier and reports a missing one, so the sender's broker can say so.
func TestFederationInjectDirect(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, eps := startBroker(t, Config{})
	dev := fedPeer(t, ctx, eps[0], "dev-1")
	frame := codec.AppendDeliver(nil, []byte("ops"), []byte("dev-1"), nil, nil)
	if sender, err := b.InjectDirect(frame, [][]byte{[]byte("go")}); err != nil || sender != "ops" {
		t.Fatalf("InjectDirect = %q, %v", sender, err)
	}
	m, err := dev.NextContext(ctx)
	if err != nil || string(m.Sender) != "ops" || string(m.Content[0]) != "go" {
		t.Fatalf("device read %+v, %v", m, err)
	}
	frame = codec.AppendDeliver(nil, []byte("ops"), []byte("dev-2"), nil, nil)
	if sender, err := b.InjectDirect(frame, nil); err != ErrNoSuchClient || sender != "ops" {
		t.Fatalf("to a missing identifier: %q, %v", sender, err)
	}
	if _, err := b.InjectDirect([]byte{1, 2, 3}, nil); err == nil {
		t.Fatal("garbage accepted")
	}
	if b.RemoteHolder("dev-9") != "" {
		t.Fatal("a remote holder without a federation")
	}
}
