package zmtp

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"
)

// rawCurvePeer dials endpoint and sends a CURVE greeting by hand.
func rawCurvePeer(t *testing.T, endpoint string) net.Conn {
	t.Helper()
	nc, err := Dial(context.Background(), endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	if _, err := nc.Write(appendGreeting(nil, "CURVE", false)); err != nil {
		t.Fatal(err)
	}
	return nc
}

// expectClosed reads until the server closes the connection, within a
// bounded time.
func expectClosed(t *testing.T, nc net.Conn) {
	t.Helper()
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.Copy(io.Discard, nc); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatal("server did not close the connection")
		}
	}
}

// Garbage at each step of the handshake, sent by a raw peer, closes the
// connection and is reported as a CURVE failure.
func TestCurveGarbageEachStepCloses(t *testing.T) {
	srvKeys, cliKeys := mustKeyPair(t), mustKeyPair(t)
	bound, errs := curveServer(t, "tcp://127.0.0.1:0", NewCurveServer(srvKeys), Options{})
	client := &CurveClient{Keys: cliKeys, ServerKey: srvKeys.Public}
	short := mustKeyPair(t)
	hello := client.hello(&short)

	flipped := bytes.Clone(hello)
	flipped[len(flipped)-1] ^= 0x55
	steps := []struct {
		name   string
		frames [][]byte
		want   error
	}{
		{"HELLO too short", [][]byte{appendCommand(nil, "HELLO", hello[:100])}, ErrCurve},
		{"HELLO box corrupted", [][]byte{appendCommand(nil, "HELLO", flipped)}, ErrCurve},
		{"HELLO version 2", [][]byte{appendCommand(nil, "HELLO", append([]byte{2}, hello[1:]...))}, ErrCurve},
		{"INITIATE instead of HELLO", [][]byte{appendCommand(nil, "INITIATE", make([]byte, 300))}, ErrProtocol},
		{"message frame instead of HELLO", [][]byte{{0, 3, 'a', 'b', 'c'}}, ErrProtocol},
		{"INITIATE with a forged cookie", [][]byte{appendCommand(nil, "HELLO", hello), appendCommand(nil, "INITIATE", make([]byte, curveInitiateMin))}, ErrCurve},
		{"INITIATE too short", [][]byte{appendCommand(nil, "HELLO", hello), appendCommand(nil, "INITIATE", make([]byte, 10))}, ErrCurve},
		{"huge command", [][]byte{{0x06, 0, 0, 0, 0, 0, 0x10, 0, 0}}, ErrProtocol},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			nc := rawCurvePeer(t, bound)
			for _, f := range s.frames {
				nc.Write(f)
			}
			expectClosed(t, nc)
			if err := waitErr(t, errs); !errors.Is(err, s.want) {
				t.Fatalf("server reported %v, want %v", err, s.want)
			}
		})
	}
}

// After the handshake, a corrupted MESSAGE, a replayed MESSAGE or a
// plaintext frame each end the connection with ErrCurve; the genuine
// message before them is delivered.
func TestCurveBadMessageCloses(t *testing.T) {
	srvKeys, cliKeys := mustKeyPair(t), mustKeyPair(t)
	ln, err := Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		msgs []string
		err  error
	}
	results := make(chan result, 4)
	s := &Server{Handler: func(c *Conn, _ RoutingID) {
		var r result
		for {
			frames, err := c.ReadMessage()
			if err != nil {
				r.err = err
				results <- r
				return
			}
			r.msgs = append(r.msgs, string(frames[0]))
		}
	}}
	go s.Serve(ListenerWithMechanism(ln, NewCurveServer(srvKeys)))
	defer s.Close()
	for _, tc := range []string{"replayed", "corrupted", "plaintext frame"} {
		t.Run(tc, func(t *testing.T) {
			c, err := dialCurve(t, EndpointOf(ln), &CurveClient{Keys: cliKeys, ServerKey: srvKeys.Public})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			cc := c.nc.(*curveConn)
			body, err := cc.cipher.seal(nil, 0, []byte("genuine"))
			if err != nil {
				t.Fatal(err)
			}
			frame := AppendFrame(nil, body, false)
			bad := frame
			switch tc {
			case "corrupted":
				bad = bytes.Clone(frame)
				bad[len(bad)-1] ^= 1
			case "plaintext frame":
				bad = AppendFrame(nil, []byte("hello"), false)
			}
			cc.Conn.Write(append(bytes.Clone(frame), bad...))
			select {
			case r := <-results:
				if len(r.msgs) != 1 || r.msgs[0] != "genuine" || !errors.Is(r.err, ErrCurve) {
					t.Fatalf("server read %q then %v; want [genuine] then ErrCurve", r.msgs, r.err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("server kept the connection")
			}
		})
	}
}
