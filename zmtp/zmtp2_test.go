package zmtp

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// raw2 is a hand-built ZMTP 2.0 peer on a plain net.Conn that behaves
// like JeroMQ 0.3: it reads the server's signature before it goes on.
type raw2 struct {
	t  *testing.T
	nc net.Conn
}

func dialRaw2(t *testing.T, endpoint string) *raw2 {
	t.Helper()
	nc, err := Dial(context.Background(), endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &raw2{t: t, nc: nc}
}

func (p *raw2) write(b ...byte) {
	p.t.Helper()
	if _, err := p.nc.Write(b); err != nil {
		p.t.Fatal(err)
	}
}

func (p *raw2) read(n int) []byte {
	p.t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(p.nc, b); err != nil {
		p.t.Fatalf("reading %d bytes: %v", n, err)
	}
	return b
}

// expect reads len(want) bytes and compares them.
func (p *raw2) expect(what string, want ...byte) {
	p.t.Helper()
	if got := p.read(len(want)); !bytes.Equal(got, want) {
		p.t.Fatalf("%s: got % x, want % x", what, got, want)
	}
}

// greet runs the RFC 15 greeting as a DEALER with the given identity.
func (p *raw2) greet(identity string) {
	p.t.Helper()
	p.write(0xFF, 0, 0, 0, 0, 0, 0, 0, byte(len(identity)+1), 0x7F)
	sig := p.read(10)
	if sig[0] != 0xFF || sig[9]&1 != 1 {
		p.t.Fatalf("server signature % x", sig)
	}
	p.write(0x01)
	// A server that sent its whole 3.x greeting at once would give us
	// 03 01 here (major, minor) instead of 03 then its socket type.
	p.expect("server major version", VersionMajor)
	p.write(0x05) // DEALER
	p.expect("server socket type", 0x06)
	p.write(append([]byte{0, byte(len(identity))}, identity...)...)
	p.expect("server identity frame", 0, 0)
}

// frame reads one 2.0 frame and returns flags and body.
func (p *raw2) frame() (byte, []byte) {
	p.t.Helper()
	hdr := p.read(2)
	size := uint64(hdr[1])
	if hdr[0]&FlagLong != 0 {
		rest := p.read(7)
		size = binary.BigEndian.Uint64(append([]byte{hdr[1]}, rest...))
	}
	return hdr[0], p.read(int(size))
}

func TestZMTP2PeerEchoes(t *testing.T) {
	var mu sync.Mutex
	var seen *Conn
	ln, err := Listen("ipc://@/zccp-zmtp2-" + t.Name())
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{}
	s.Handler = func(c *Conn, id RoutingID) {
		mu.Lock()
		seen = c
		mu.Unlock()
		for {
			frames, err := c.ReadMessage()
			if err != nil {
				return
			}
			cp := make([][]byte, len(frames))
			for i, f := range frames {
				cp[i] = bytes.Clone(f)
			}
			c.Send(cp...)
		}
	}
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })

	p := dialRaw2(t, EndpointOf(ln))
	p.greet("java-1")
	big := bytes.Repeat([]byte("x"), 300)
	msg := []byte{0x01, 3, 'f', 'o', 'o', 0x02}
	msg = binary.BigEndian.AppendUint64(msg, uint64(len(big)))
	p.write(append(msg, big...)...)
	if f, b := p.frame(); f != FlagMore || string(b) != "foo" {
		t.Fatalf("first echoed frame: flags %02x body %q", f, b)
	}
	if f, b := p.frame(); f != FlagLong || !bytes.Equal(b, big) {
		t.Fatalf("second echoed frame: flags %02x, %d bytes", f, len(b))
	}
	mu.Lock()
	c := seen
	mu.Unlock()
	if got := c.PeerType(); got != TypeDealer {
		t.Fatalf("peer type %q", got)
	}
	if got := string(c.PeerIdentity()); got != "java-1" {
		t.Fatalf("peer identity %q", got)
	}
	if v := c.VersionString(); v != "2.0" {
		t.Fatalf("version %s", v)
	}
	// No ZMTP PING in 2.0: Ping is a no-op, nothing reaches the peer.
	if err := c.Ping(time.Second, nil); err != nil {
		t.Fatal(err)
	}
	p.write(0x00, 1, 'z')
	if f, b := p.frame(); f != 0 || string(b) != "z" {
		t.Fatalf("after Ping: flags %02x body %q (a PING command reached a 2.0 peer?)", f, b)
	}
	// Bit 2 is reserved in 2.0, not a command: the connection ends.
	p.write(0x04, 5, 4, 'P', 'I', 'N', 'G')
	if _, err := io.Copy(io.Discard, p.nc); err != nil {
		t.Fatalf("server did not close after a reserved flag: %v", err)
	}
	<-c.Done()
	if err := c.Err(); !errors.Is(err, ErrProtocol) {
		t.Fatalf("connection error %v, want ErrProtocol", err)
	}
}

// refusal starts a Server whose OnError reports into the returned channel;
// a non-nil mech is set on the listener, as zccpd does per endpoint.
func refusal(t *testing.T, opts Options, mech Mechanism) (string, chan error) {
	t.Helper()
	ln, err := Listen("tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ep := EndpointOf(ln)
	if mech != nil {
		ln = ListenerWithMechanism(ln, mech)
	}
	errs := make(chan error, 8)
	s := &Server{Options: opts, OnError: func(_ net.Addr, err error) { errs <- err }}
	s.Handler = func(c *Conn, _ RoutingID) { t.Error("handler ran for a refused peer") }
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return ep, errs
}

func waitRefusal(t *testing.T, errs chan error) error {
	t.Helper()
	select {
	case err := <-errs:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("no handshake error reported")
		return nil
	}
}

// TestZMTP2RefusedOnCurveEndpoint: ZMTP 2.0 has no security mechanism, so
// a CURVE endpoint closes a 2.0 peer after the version octet, as libzmq
// does.
func TestZMTP2RefusedOnCurveEndpoint(t *testing.T) {
	keys, err := NewCurveKeyPair()
	if err != nil {
		t.Fatal(err)
	}
	ep, errs := refusal(t, Options{}, NewCurveServer(keys))
	p := dialRaw2(t, ep)
	p.write(0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F)
	p.read(10)
	p.write(0x01, 0x05)
	p.expect("server major version", VersionMajor)
	if _, err := io.Copy(io.Discard, p.nc); err != nil {
		t.Fatalf("server did not close: %v", err)
	}
	if err := waitRefusal(t, errs); !errors.Is(err, ErrIncompatible) {
		t.Fatalf("OnError %v, want ErrIncompatible", err)
	}
}

func TestUnsupportedVersionsRefused(t *testing.T) {
	cases := []struct {
		name  string
		bytes []byte
	}{
		{"zmtp 1.0 identity", []byte{0x06, 0x00, 'h', 'e', 'l', 'l', 'o', 0, 0, 0, 0}},
		{"http", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
		{"signature without version bit", []byte{0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7E, 3}},
		{"revision 2", []byte{0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 2, 5}},
	}
	ep, errs := refusal(t, Options{}, nil)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := dialRaw2(t, ep)
			p.write(tc.bytes...)
			io.Copy(io.Discard, p.nc)
			err := waitRefusal(t, errs)
			if !errors.Is(err, ErrUnsupportedVersion) || !errors.Is(err, ErrProtocol) {
				t.Fatalf("OnError %v, want ErrUnsupportedVersion", err)
			}
		})
	}
}

// TestZMTP2IncompatibleTypeRefused: a 2.0 PUB is closed without a word
// (2.0 has no ERROR command) and reported as incompatible.
func TestZMTP2IncompatibleTypeRefused(t *testing.T) {
	ep, errs := refusal(t, Options{}, nil)
	p := dialRaw2(t, ep)
	p.write(0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F)
	p.read(10)
	p.write(0x01, 0x01, 0x00, 0x00) // revision, PUB, empty identity
	p.expect("server major, type and identity", VersionMajor, 0x06, 0, 0)
	if _, err := io.Copy(io.Discard, p.nc); err != nil {
		t.Fatalf("server did not close: %v", err)
	}
	if err := waitRefusal(t, errs); !errors.Is(err, ErrIncompatible) {
		t.Fatalf("OnError %v, want ErrIncompatible", err)
	}
}

// TestDealerTalksToZMTP2Router: our Dealer connecting to a 2.0 ROUTER
// (a hand-built one) negotiates down too.
func TestDealerTalksToZMTP2Router(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		b := make([]byte, 12)
		if _, err := io.ReadFull(nc, b[:10]); err != nil {
			return
		}
		nc.Write([]byte{0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 0x01, 0x06, 0, 0})
		if _, err := io.ReadFull(nc, b[10:12]); err != nil {
			return
		}
		hdr := make([]byte, 2)
		io.ReadFull(nc, hdr)
		id := make([]byte, hdr[1])
		io.ReadFull(nc, id)
		msg := make([]byte, 7)
		io.ReadFull(nc, msg)
		got <- append(append(b, id...), msg...)
	}()
	d, _ := dealer(t, "tcp://"+ln.Addr().String(), DealerOptions{Options: Options{Type: TypeDealer, Identity: []byte("me")}})
	if err := d.Send([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	select {
	case b := <-got:
		want := append([]byte{0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, VersionMajor, 0x05, 'm', 'e'}, 0, 5, 'h', 'e', 'l', 'l', 'o')
		if !bytes.Equal(b, want) {
			t.Fatalf("router saw % x\nwant          % x", b, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the 2.0 router got nothing")
	}
}

// FuzzNegotiate plays arbitrary bytes as the connecting peer against the
// accepting side's staged greeting: it must never panic or hang, a
// refused peer is an error, and a connection it accepts reads 2.0 frames
// with only MORE and LONG flags (or 3.x frames) without panicking.
func FuzzNegotiate(f *testing.F) {
	v2 := []byte{0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 0x01, 0x05, 0, 2, 'i', 'd', 0x01, 1, 'a', 0x02, 0, 0, 0, 0, 0, 0, 0, 1, 'b', 0x04, 0}
	v3 := append(appendGreeting(nil, "NULL", false), appendCommand(nil, "READY", appendMetadata(nil, [][2]string{{PropSocketType, "DEALER"}}))...)
	f.Add(v2)
	f.Add(append(v3, 0, 1, 'x'))
	f.Add([]byte{0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 0x02})
	f.Add([]byte{0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 0x00, 0x09, 0, 0})
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, input []byte) {
		ours, theirs := net.Pipe()
		go func() {
			go io.Copy(io.Discard, theirs) // whatever the server writes
			theirs.Write(input)
			theirs.Close()
		}()
		opts := Options{Type: TypeRouter, HandshakeTimeout: 5 * time.Second, accepted: true}
		c, err := Handshake(ours, opts)
		if err != nil {
			return
		}
		defer c.Close()
		if major, _ := c.Version(); major == 2 && c.peer[PropSocketType] == "" {
			t.Fatal("2.0 peer without a socket type")
		}
		for i := 0; i < 1000; i++ {
			if _, err := c.ReadMessage(); err != nil && !errors.Is(err, ErrTooLarge) {
				return
			}
		}
	})
}
