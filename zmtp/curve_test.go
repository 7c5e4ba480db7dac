package zmtp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/zccp-go/zccp/internal/testutil"
)

func mustKeyPair(t testing.TB) CurveKeyPair {
	t.Helper()
	kp, err := NewCurveKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	return kp
}

// curveServer starts an echo server whose listener speaks CURVE with the
// given mechanism; handshake failures land in errs.
func curveServer(t *testing.T, endpoint string, m Mechanism, opts Options) (string, chan error) {
	t.Helper()
	ln, err := Listen(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 16)
	s := &Server{Options: opts, OnError: func(_ net.Addr, err error) {
		select {
		case errs <- err:
		default:
		}
	}}
	s.Handler = func(c *Conn, id RoutingID) {
		for {
			frames, err := c.ReadMessage()
			if err != nil {
				return
			}
			cp := [][]byte{[]byte(c.PeerKey().String())}
			for _, f := range frames {
				cp = append(cp, bytes.Clone(f))
			}
			if err := c.Send(cp...); err != nil {
				return
			}
		}
	}
	go s.Serve(ListenerWithMechanism(ln, m))
	t.Cleanup(func() { s.Close() })
	return EndpointOf(ln), errs
}

func waitErr(t *testing.T, errs chan error) error {
	t.Helper()
	select {
	case err := <-errs:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("no error reported")
		return nil
	}
}

// Our CURVE client and server over tcp and abstract ipc: messages of
// every shape both ways, the server sees the client's proven key, PING
// travels encrypted and is answered.
func TestCurveRoundTrip(t *testing.T) {
	srvKeys, cliKeys := mustKeyPair(t), mustKeyPair(t)
	msgs := [][][]byte{
		{[]byte("hello")},
		{[]byte("a"), {}, []byte("c")},
		{bytes.Repeat([]byte("y"), 255), bytes.Repeat([]byte("z"), 256)},
		{bytes.Repeat([]byte("x"), 1<<20)},
	}
	for _, ep := range []string{"tcp://127.0.0.1:0", fmt.Sprintf("ipc://@/zmtp-curve-%d", time.Now().UnixNano())} {
		t.Run(ep, func(t *testing.T) {
			bound, _ := curveServer(t, ep, NewCurveServer(srvKeys), Options{})
			d, ch := dealer(t, bound, DealerOptions{Options: Options{
				Mechanism: &CurveClient{Keys: cliKeys, ServerKey: srvKeys.Public},
			}})
			for _, m := range msgs {
				if err := d.Send(m...); err != nil {
					t.Fatal(err)
				}
			}
			for i, want := range msgs {
				got := recv(t, ch)
				if string(got[0]) != cliKeys.Public.String() {
					t.Fatalf("server saw client key %q, want %s", got[0], cliKeys.Public)
				}
				if len(got) != len(want)+1 {
					t.Fatalf("message %d: %d frames, want %d", i, len(got)-1, len(want))
				}
				for j := range want {
					if !bytes.Equal(got[j+1], want[j]) {
						t.Fatalf("message %d frame %d differs", i, j)
					}
				}
			}
			c := d.Conn()
			if c.PeerKey() != srvKeys.Public {
				t.Fatalf("client's PeerKey %s, want %s", c.PeerKey(), srvKeys.Public)
			}
			before := c.LastReceived()
			time.Sleep(2 * time.Millisecond)
			if err := c.Ping(time.Second, []byte("curve")); err != nil {
				t.Fatal(err)
			}
			testutil.Eventually(t, "PONG received", func() bool { return c.LastReceived().After(before) })
		})
	}
}

func dialCurve(t *testing.T, endpoint string, m Mechanism) (*Conn, error) {
	t.Helper()
	nc, err := Dial(context.Background(), endpoint)
	if err != nil {
		t.Fatal(err)
	}
	return Handshake(nc, Options{Type: TypeDealer, Mechanism: m, HandshakeTimeout: 5 * time.Second})
}

func TestCurveWrongServerKeyRefused(t *testing.T) {
	srvKeys, cliKeys := mustKeyPair(t), mustKeyPair(t)
	bound, errs := curveServer(t, "tcp://127.0.0.1:0", NewCurveServer(srvKeys), Options{})
	_, err := dialCurve(t, bound, &CurveClient{Keys: cliKeys, ServerKey: mustKeyPair(t).Public})
	if err == nil {
		t.Fatal("handshake with the wrong server key succeeded")
	}
	if err := waitErr(t, errs); !errors.Is(err, ErrCurve) {
		t.Fatalf("server reported %v, want ErrCurve", err)
	}
}

func TestCurveAuthorizeRefuses(t *testing.T) {
	srvKeys, good, bad := mustKeyPair(t), mustKeyPair(t), mustKeyPair(t)
	m := NewCurveServer(srvKeys)
	m.Authorize = func(ctx context.Context, p CurvePeer) error {
		if _, ok := ctx.Deadline(); !ok {
			return errors.New("no deadline")
		}
		if p.Key != good.Public {
			return errors.New("unknown key")
		}
		return nil
	}
	bound, errs := curveServer(t, "tcp://127.0.0.1:0", m, Options{})
	_, err := dialCurve(t, bound, &CurveClient{Keys: bad, ServerKey: srvKeys.Public})
	if !errors.Is(err, ErrPeerError) || !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("refused client got %v, want ErrUnauthorized and ErrPeerError", err)
	}
	if err := waitErr(t, errs); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("server reported %v, want ErrUnauthorized", err)
	}
	c, err := dialCurve(t, bound, &CurveClient{Keys: good, ServerKey: srvKeys.Public})
	if err != nil {
		t.Fatalf("authorised client: %v", err)
	}
	c.Close()
}

func TestCurveMechanismMismatch(t *testing.T) {
	bound, errs := curveServer(t, "tcp://127.0.0.1:0", NewCurveServer(mustKeyPair(t)), Options{})
	if _, err := dialCurve(t, bound, Null{}); err == nil {
		t.Fatal("NULL client accepted by a CURVE listener")
	}
	if err := waitErr(t, errs); !errors.Is(err, ErrIncompatible) {
		t.Fatalf("server reported %v, want ErrIncompatible", err)
	}
}
