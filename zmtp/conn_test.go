package zmtp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/zccp-go/zccp/internal/testutil"
)

// echoServer starts a Server on endpoint that echoes every message back
// to its sender and returns the bound endpoint.
func echoServer(t *testing.T, endpoint string, opts Options) (*Server, string) {
	t.Helper()
	ln, err := Listen(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Options: opts}
	s.Handler = func(c *Conn, id RoutingID) {
		for {
			frames, err := c.ReadMessage()
			if err != nil {
				return
			}
			// Copy: frames are only valid until the next read.
			cp := make([][]byte, len(frames))
			for i, f := range frames {
				cp[i] = bytes.Clone(f)
			}
			if err := c.Send(cp...); err != nil {
				return
			}
		}
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return s, EndpointOf(ln)
}

// dealer connects a Dealer whose received messages land in a channel.
func dealer(t *testing.T, endpoint string, opts DealerOptions) (*Dealer, chan [][]byte) {
	t.Helper()
	ch := make(chan [][]byte, 1024)
	opts.OnMessage = func(frames [][]byte) {
		cp := make([][]byte, len(frames))
		for i, f := range frames {
			cp[i] = bytes.Clone(f)
		}
		ch <- cp
	}
	d, err := NewDealer(endpoint, opts)
	if err != nil {
		t.Fatal(err)
	}
	d.Start()
	t.Cleanup(func() { d.Close(time.Second) })
	return d, ch
}

func recv(t *testing.T, ch chan [][]byte) [][]byte {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for a message")
		return nil
	}
}

func TestRoundTripTransports(t *testing.T) {
	big := bytes.Repeat([]byte("x"), 1<<20)
	msgs := [][][]byte{
		{[]byte("hello")},
		{[]byte("a"), {}, []byte("c")},
		{{}},
		{bytes.Repeat([]byte("y"), 255), bytes.Repeat([]byte("z"), 256)},
		{big},
	}
	for _, ep := range []string{"tcp://127.0.0.1:0", fmt.Sprintf("ipc://@/zmtp-test-%d", time.Now().UnixNano()), "ipc://" + t.TempDir() + "/sock"} {
		t.Run(ep, func(t *testing.T) {
			_, bound := echoServer(t, ep, Options{})
			d, ch := dealer(t, bound, DealerOptions{})
			for _, m := range msgs {
				if err := d.Send(m...); err != nil {
					t.Fatal(err)
				}
			}
			for i, want := range msgs {
				got := recv(t, ch)
				if len(got) != len(want) {
					t.Fatalf("message %d: %d frames, want %d", i, len(got), len(want))
				}
				for j := range want {
					if !bytes.Equal(got[j], want[j]) {
						t.Fatalf("message %d frame %d differs (len %d vs %d)", i, j, len(got[j]), len(want[j]))
					}
				}
			}
		})
	}
}

func TestMaxMessageSizeRefused(t *testing.T) {
	var mu sync.Mutex
	var readErr error
	ln, err := Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Options: Options{MaxMessageSize: 1000}}
	s.Handler = func(c *Conn, id RoutingID) {
		for {
			frames, err := c.ReadMessage()
			if errors.Is(err, ErrTooLarge) {
				mu.Lock()
				readErr = err
				mu.Unlock()
				continue
			}
			if err != nil {
				return
			}
			c.Send(bytes.Clone(frames[0]))
		}
	}
	go s.Serve(ln)
	defer s.Close()
	d, ch := dealer(t, EndpointOf(ln), DealerOptions{})
	d.Send(make([]byte, 600), make([]byte, 600)) // 1200 bytes in two frames
	d.Send([]byte("still here"))
	if got := recv(t, ch); string(got[0]) != "still here" {
		t.Fatalf("got %q", got[0])
	}
	mu.Lock()
	defer mu.Unlock()
	if !errors.Is(readErr, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge", readErr)
	}
}

func TestIncompatibleSocketType(t *testing.T) {
	errs := make(chan error, 1)
	ln, err := Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{OnError: func(_ net.Addr, err error) {
		select {
		case errs <- err:
		default:
		}
	}}
	go s.Serve(ln)
	defer s.Close()
	nc, err := Dial(context.Background(), EndpointOf(ln))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Handshake(nc, Options{Type: TypeRep})
	if err == nil {
		t.Fatal("REP peer accepted by ROUTER")
	}
	select {
	case err := <-errs:
		if !errors.Is(err, ErrIncompatible) {
			t.Fatalf("server error %v, want ErrIncompatible", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server did not report the incompatible peer")
	}
}

func TestPingIsAnswered(t *testing.T) {
	_, bound := echoServer(t, "tcp://127.0.0.1:0", Options{})
	d, _ := dealer(t, bound, DealerOptions{})
	testutil.Eventually(t, "dealer connected", func() bool { return d.Conn() != nil })
	c := d.Conn()
	before := c.LastReceived()
	time.Sleep(5 * time.Millisecond)
	if err := c.Ping(time.Second, []byte("ctx")); err != nil {
		t.Fatal(err)
	}
	testutil.Eventually(t, "PONG received", func() bool { return c.LastReceived().After(before) })
}

func TestDealerReconnectsAndCarriesQueue(t *testing.T) {
	ln, err := Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ep := EndpointOf(ln)
	ln.Close()
	// Nothing listens yet: messages queue.
	var connects int
	var mu sync.Mutex
	d, ch := dealer(t, ep, DealerOptions{
		ReconnectMin: 10 * time.Millisecond, ReconnectMax: 50 * time.Millisecond,
		OnConnect: func(c *Conn) error {
			mu.Lock()
			connects++
			mu.Unlock()
			return c.SendFirst([]byte("hello"))
		},
	})
	for i := 0; i < 3; i++ {
		if err := d.Send([]byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	s, _ := echoServer(t, ep, Options{})
	for _, want := range []string{"hello", "0", "1", "2"} {
		if got := string(recv(t, ch)[0]); got != want {
			t.Fatalf("got %q want %q", got, want)
		}
	}
	// Kill the server's side of the connection: the dealer reconnects and
	// says hello again.
	s.Close()
	s2, _ := echoServer(t, ep, Options{})
	_ = s2
	if got := string(recv(t, ch)[0]); got != "hello" {
		t.Fatalf("after reconnect got %q want hello", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if connects < 2 {
		t.Fatalf("connects = %d", connects)
	}
}

// TestServerForgetsClosedPeer: a peer that closes its connection leaves
// the server's routing table (nothing is kept for it), on tcp and ipc.
func TestServerForgetsClosedPeer(t *testing.T) {
	for _, ep := range []string{"tcp://127.0.0.1:0", "ipc://@/zccp-zmtp-forget-" + t.Name()} {
		s, bound := echoServer(t, ep, Options{})
		nc, err := Dial(context.Background(), bound)
		if err != nil {
			t.Fatal(err)
		}
		c, err := Handshake(nc, Options{Type: TypeDealer})
		if err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, "connection registered", func() bool { return s.connCount() == 1 })
		c.Close()
		testutil.Eventually(t, "closed peer forgotten", func() bool { return s.connCount() == 0 })
	}
}
