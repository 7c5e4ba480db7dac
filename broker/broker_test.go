package broker

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/internal/testutil"
)

// forEachTransport runs f against tcp and abstract ipc.
func forEachTransport(t *testing.T, cfg Config, f func(t *testing.T, b *Broker, endpoint string)) {
	for i, name := range []string{"tcp", "ipc"} {
		t.Run(name, func(t *testing.T) {
			b, eps := startBroker(t, cfg)
			f(t, b, eps[i])
		})
	}
}

func TestDeliverKeepsHeadersAndContent(t *testing.T) {
	_, eps := startBroker(t, Config{})
	sub := dialRaw(t, eps[0])
	sub.hello("sub")
	sub.subscribe(`^power\.`)
	pub := dialRaw(t, eps[0])
	pub.hello("pdu-1")
	headers := codec.Headers{"unit": "W", "bin": "a\x00b", "empty": ""}
	pub.send(codec.Message{ID: codec.Publish, Address: "power.rack1", Headers: headers,
		Content: [][]byte{[]byte("42"), {}, make([]byte, 70000)}})
	m := sub.expect(codec.Deliver)
	if m.Sender != "pdu-1" || m.Address != "power.rack1" || len(m.Content) != 3 ||
		string(m.Content[0]) != "42" || len(m.Content[1]) != 0 || len(m.Content[2]) != 70000 {
		t.Fatalf("got %+v", m)
	}
	if len(m.Headers) != 3 || m.Headers["bin"] != "a\x00b" || m.Headers["unit"] != "W" {
		t.Fatalf("headers %q", m.Headers)
	}
	// Zero content frames are forwarded as zero content frames.
	pub.publish("power.rack2")
	if m := sub.expect(codec.Deliver); len(m.Content) != 0 || m.Address != "power.rack2" {
		t.Fatalf("got %+v", m)
	}
	sub.quiet(50 * time.Millisecond)
}

func TestDirect(t *testing.T) {
	forEachTransport(t, Config{}, func(t *testing.T, b *Broker, ep string) {
		dev := dialRaw(t, ep)
		dev.hello("pdu-7")
		app := dialRaw(t, ep)
		app.hello("app")
		app.send(codec.Message{ID: codec.Direct, Address: "pdu-7", Headers: codec.Headers{"k": "v"},
			Content: [][]byte{[]byte("outlet.off"), []byte("3")}})
		m := dev.expect(codec.Deliver)
		if m.Sender != "app" || m.Address != "pdu-7" || contentString(m) != "outlet.off|3" || m.Headers["k"] != "v" {
			t.Fatalf("got %+v", m)
		}
		// Unknown identifier: the sender is told at once.
		start := time.Now()
		app.send(codec.Message{ID: codec.Direct, Address: "nosuch", Content: [][]byte{[]byte("x")}})
		n := app.expectNotice(codec.ErrCodeNoSuchClient)
		if n.Headers[codec.HdrAddress] != "nosuch" || n.Headers[codec.HdrCommand] != "DIRECT" {
			t.Fatalf("notice %v", n.Headers)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("no-such-client took %v", d)
		}
		if s := b.Stats(); s.NoRecipient != 1 || s.Directs != 1 {
			t.Fatalf("stats %+v", s)
		}
	})
}

func TestIdentifierTakeover(t *testing.T) {
	b, eps := startBroker(t, Config{})
	old := dialRaw(t, eps[0])
	old.hello("pdu-1")
	old.subscribe("alarm")
	newer := dialRaw(t, eps[1])
	ok := newer.hello("pdu-1")
	if ok.Headers[codec.HdrReplaced] != "1" {
		t.Fatalf("HELLO-OK of the newer session lacks %s: %v", codec.HdrReplaced, ok.Headers)
	}
	n := old.expectNotice(codec.ErrCodeTakenOver)
	if n.Headers[codec.HdrAddress] != "pdu-1" {
		t.Fatalf("notice %v", n.Headers)
	}
	// DIRECT now reaches the newer session only; the old one's
	// subscriptions are gone.
	app := dialRaw(t, eps[0])
	app.hello("app")
	app.send(codec.Message{ID: codec.Direct, Address: "pdu-1", Content: [][]byte{[]byte("hi")}})
	newer.expect(codec.Deliver)
	app.publish("alarm", "x")
	old.quiet(100 * time.Millisecond)
	// The old connection has no session any more: its next command is INVALID.
	old.publish("alarm", "y")
	old.expect(codec.Invalid)
	if s := b.Stats(); s.Sessions != 2 || s.Subscriptions != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// TestManySubscribersInOrder: 20 subscribers each receive 50 messages
// exactly once and in order.
func TestManySubscribersInOrder(t *testing.T) {
	_, eps := startBroker(t, Config{})
	const subs, msgs = 20, 50
	clients := make([]*rawClient, subs)
	for i := range clients {
		clients[i] = dialRaw(t, eps[i%2])
		clients[i].hello(fmt.Sprintf("sub-%d", i))
		clients[i].subscribe(`^metrics\.`)
		clients[i].subscribe(`rack`) // a second matching expression must not duplicate
	}
	pub := dialRaw(t, eps[0])
	pub.hello("pub")
	for i := 0; i < msgs; i++ {
		pub.publish("metrics.rack1", strconv.Itoa(i))
	}
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func(c *rawClient) {
			defer wg.Done()
			for i := 0; i < msgs; i++ {
				m := <-c.in
				if m == nil || m.ID != codec.Deliver || contentString(m) != strconv.Itoa(i) {
					t.Errorf("message %d: got %+v", i, m)
					return
				}
			}
		}(c)
	}
	wg.Wait()
	for _, c := range clients {
		c.quiet(20 * time.Millisecond)
	}
}

func TestGoodbyeStatistics(t *testing.T) {
	_, eps := startBroker(t, Config{})
	c := dialRaw(t, eps[0])
	ok := c.hello("c")
	if ok.Headers[codec.HdrBroker] != "zccpd" || ok.Headers[codec.HdrVersion] != Version {
		t.Fatalf("HELLO-OK headers %v", ok.Headers) // the transcripts leave these out
	}
	c.subscribe("x")
	c.publish("y", "1")
	c.publish("y", "2")
	c.send(codec.Message{ID: codec.Goodbye})
	m := c.expect(codec.GoodbyeOK)
	h := m.Headers
	if h[codec.HdrStatPublished] != "2" || h[codec.HdrStatSubs] != "1" || h[codec.HdrStatDelivered] == "" || h[codec.HdrStatDuration] == "" {
		t.Fatalf("GOODBYE-OK headers %v", h)
	}
	// Session over: anything but HELLO is INVALID now.
	c.publish("y", "3")
	c.expect(codec.Invalid)
	c.hello("c")
}

func TestMalformedInputAffectsOnlyThatSession(t *testing.T) {
	b, eps := startBroker(t, Config{})
	good := dialRaw(t, eps[0])
	good.hello("good")
	good.subscribe("a")
	bad := dialRaw(t, eps[0])
	bad.hello("bad")
	cases := [][][]byte{
		{{0xAA, 0xAB, 5}},              // bad signature
		{{0xAA, 0xAA, 99}},             // unknown command id
		{{0xAA, 0xAA, 5, 10, 'a'}},     // address runs past the frame
		{{}},                           // empty frame 1
		{{0xAA, 0xAA, 8}, []byte("x")}, // content after GOODBYE
	}
	for _, frames := range cases {
		bad.sendFrames(frames...)
		bad.expectNotice(codec.ErrCodeMalformed)
		bad.expect(codec.Invalid)
		bad.hello("bad")
	}
	// A broker-only command from a client: notice + INVALID.
	bad.send(codec.Message{ID: codec.Deliver, Sender: "x", Address: "a"})
	bad.expectNotice(codec.ErrCodeBadSequence)
	bad.expect(codec.Invalid)
	// The other session never noticed.
	p := dialRaw(t, eps[1])
	p.hello("p")
	p.publish("a", "still fine")
	if m := good.expect(codec.Deliver); contentString(m) != "still fine" {
		t.Fatalf("got %+v", m)
	}
	if s := b.Stats(); s.Malformed != uint64(len(cases)) {
		t.Fatalf("malformed = %d", s.Malformed)
	}
}

func TestSilentClientExpires(t *testing.T) {
	b, eps := startBroker(t, Config{PingInterval: 20 * time.Millisecond, Timeout: 150 * time.Millisecond})
	c := dialRaw(t, eps[0])
	c.hello("silent") // never answers PING
	c.subscribe("x")
	alive := dialRaw(t, eps[0])
	alive.hello("alive")
	// alive answers PINGs for a while.
	stop := time.After(400 * time.Millisecond)
loop:
	for {
		select {
		case m := <-alive.in:
			if m != nil && m.ID == codec.Ping {
				alive.send(codec.Message{ID: codec.PingOK})
			}
		case <-stop:
			break loop
		}
	}
	testutil.Eventually(t, "silent session expired", func() bool {
		s := b.Stats()
		return s.Expired >= 1 && s.Sessions == 1 && s.Subscriptions == 0 && s.Connections == 1
	})
	alive.send(codec.Message{ID: codec.Ping})
	alive.expect(codec.PingOK)
}
