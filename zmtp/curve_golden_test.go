package zmtp

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
)

// curveCapture is testdata/curve/libzmq-4.3.4-handshake.txt: a libzmq
// 4.3.4 DEALER (CURVE client) talking to a libzmq ROUTER (CURVE server),
// with every key and random value each side used.
type curveCapture struct {
	keys       map[string]CurveKey // server_public, client_secret, ...
	z85        map[string]string
	srvShort   CurveKey // secret of S'
	cliShort   CurveKey // secret of C'
	srvRandom  [][]byte // cookie nonce, cookie key, WELCOME nonce
	cliRandom  [][]byte // vouch nonce
	c2s, s2c   [][]byte // whole frames after the greeting, in order
	c2sN, s2cN []string // their names
}

func loadCurveCapture(t testing.TB) *curveCapture {
	t.Helper()
	f, err := os.Open("testdata/curve/libzmq-4.3.4-handshake.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c := &curveCapture{keys: map[string]CurveKey{}, z85: map[string]string{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		c.parseLine(t, sc.Text())
	}
	if len(c.keys) != 4 || len(c.srvRandom) != 3 || len(c.cliRandom) != 1 || len(c.c2s) != 5 || len(c.s2c) != 3 {
		t.Fatalf("capture incomplete: %d keys, %d+%d randoms, %d+%d frames", len(c.keys), len(c.srvRandom), len(c.cliRandom), len(c.c2s), len(c.s2c))
	}
	return c
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func (c *curveCapture) parseLine(t testing.TB, line string) {
	f := strings.Fields(line)
	switch {
	case len(f) == 3 && strings.HasPrefix(f[1], "z85="):
		c.z85[f[0]] = strings.TrimPrefix(f[1], "z85=")
		c.keys[f[0]] = CurveKey(mustHex(t, strings.TrimPrefix(f[2], "hex=")))
	case len(f) == 4 && f[1] == "KEYPAIR":
		k := map[string]*CurveKey{"srv": &c.srvShort, "cli": &c.cliShort}[f[0]]
		*k = CurveKey(mustHex(t, f[3]))
	case len(f) == 3 && f[1] == "RANDOM":
		r := map[string]*[][]byte{"srv": &c.srvRandom, "cli": &c.cliRandom}[f[0]]
		*r = append(*r, mustHex(t, f[2]))
	case len(f) == 8 && f[0] == "##" && f[2] == "frame":
		frame := mustHex(t, f[7])
		if f[1] == "c2s" {
			c.c2s, c.c2sN = append(c.c2s, frame), append(c.c2sN, f[4])
		} else {
			c.s2c, c.s2cN = append(c.s2c, frame), append(c.s2cN, f[4])
		}
	}
}

// scriptIO is a HandshakeIO that answers with captured command frames and
// records what the mechanism writes, as whole frames.
type scriptIO struct {
	in      *reader
	written [][]byte
}

func newScriptIO(frames ...[]byte) *scriptIO {
	return &scriptIO{in: newReader(bytes.NewReader(bytes.Join(frames, nil)), 1<<20, 8)}
}

func (s *scriptIO) ReadCommand() (string, []byte, error) {
	frames, _, err := s.in.readMessage()
	if err != nil {
		return "", nil, err
	}
	return parseCommand(frames[0])
}

func (s *scriptIO) WriteCommand(name string, data []byte) error {
	s.written = append(s.written, appendCommand(nil, name, data))
	return nil
}

func (s *scriptIO) RemoteAddr() net.Addr     { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
func (s *scriptIO) Context() context.Context { return context.Background() }

func TestCurveCaptureKeys(t *testing.T) {
	c := loadCurveCapture(t)
	for _, who := range []string{"server", "client"} {
		pair, err := CurveKeyPairFromSecret(c.keys[who+"_secret"])
		if err != nil {
			t.Fatal(err)
		}
		if pair.Public != c.keys[who+"_public"] {
			t.Errorf("%s: derived public key %s, capture says %s", who, pair.Public, c.keys[who+"_public"])
		}
		for _, name := range []string{who + "_public", who + "_secret"} {
			if got := c.keys[name].String(); got != c.z85[name] {
				t.Errorf("%s: Z85 %q, want %q", name, got, c.z85[name])
			}
			parsed, err := ParseCurveKey(c.z85[name])
			if err != nil || parsed != c.keys[name] {
				t.Errorf("ParseCurveKey(%q) = %x, %v", c.z85[name], parsed, err)
			}
		}
	}
}

// Our client, given libzmq's random values, must write HELLO and INITIATE
// byte for byte as libzmq did, and accept the captured WELCOME and READY.
func TestCurveClientMatchesLibzmq(t *testing.T) {
	c := loadCurveCapture(t)
	io := newScriptIO(c.s2c[0], c.s2c[1]) // WELCOME, READY
	m := &CurveClient{
		Keys:      CurveKeyPair{Public: c.keys["client_public"], Secret: c.keys["client_secret"]},
		ServerKey: c.keys["server_public"],
		rand:      bytes.NewReader(append(append([]byte{}, c.cliShort[:]...), c.cliRandom[0]...)),
	}
	sess, err := m.Handshake(io, Options{Type: TypeDealer}.metadata())
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	for i, name := range []string{"HELLO", "INITIATE"} {
		if c.c2sN[i] != name || !bytes.Equal(io.written[i], c.c2s[i]) {
			t.Errorf("%s differs from libzmq's:\n got %x\nwant %x", name, io.written[i], c.c2s[i])
		}
	}
	if sess.Metadata[PropSocketType] != "ROUTER" || sess.PeerKey != m.ServerKey {
		t.Errorf("session %+v", sess)
	}
}

// Our server, given libzmq's random values, must write WELCOME and READY
// byte for byte as libzmq did and prove the client's long-term key.
func TestCurveServerMatchesLibzmq(t *testing.T) {
	c := loadCurveCapture(t)
	io := newScriptIO(c.c2s[0], c.c2s[1]) // HELLO, INITIATE
	m := NewCurveServer(CurveKeyPair{Public: c.keys["server_public"], Secret: c.keys["server_secret"]})
	m.rand = bytes.NewReader(bytes.Join([][]byte{c.srvShort[:], c.srvRandom[0], c.srvRandom[2]}, nil))
	m.cookies.rand = bytes.NewReader(c.srvRandom[1])
	var asked CurvePeer
	m.Authorize = func(_ context.Context, p CurvePeer) error { asked = p; return nil }
	sess, err := m.Handshake(io, Options{Type: TypeRouter}.metadata())
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	for i, name := range []string{"WELCOME", "READY"} {
		if c.s2cN[i] != name || !bytes.Equal(io.written[i], c.s2c[i]) {
			t.Errorf("%s differs from libzmq's:\n got %x\nwant %x", name, io.written[i], c.s2c[i])
		}
	}
	if asked.Key != c.keys["client_public"] || sess.PeerKey != asked.Key || asked.Metadata[PropSocketType] != "DEALER" {
		t.Errorf("authorised %+v, session %+v", asked, sess)
	}
}

// captureSessions runs both captured handshakes and returns the client's
// and the server's ciphers.
func captureSessions(t *testing.T, c *curveCapture) (client, server *curveCipher) {
	t.Helper()
	cm := &CurveClient{
		Keys:      CurveKeyPair{Public: c.keys["client_public"], Secret: c.keys["client_secret"]},
		ServerKey: c.keys["server_public"],
		rand:      bytes.NewReader(append(append([]byte{}, c.cliShort[:]...), c.cliRandom[0]...)),
	}
	cs, err := cm.Handshake(newScriptIO(c.s2c[0], c.s2c[1]), Options{Type: TypeDealer}.metadata())
	if err != nil {
		t.Fatal(err)
	}
	sm := NewCurveServer(CurveKeyPair{Public: c.keys["server_public"], Secret: c.keys["server_secret"]})
	sm.rand = bytes.NewReader(bytes.Join([][]byte{c.srvShort[:], c.srvRandom[0], c.srvRandom[2]}, nil))
	sm.cookies.rand = bytes.NewReader(c.srvRandom[1])
	ss, err := sm.Handshake(newScriptIO(c.c2s[0], c.c2s[1]), Options{Type: TypeRouter}.metadata())
	if err != nil {
		t.Fatal(err)
	}
	return cs.cipher, ss.cipher
}

// sinkConn records what a curveConn writes to the socket.
type sinkConn struct {
	net.Conn
	buf bytes.Buffer
}

func (s *sinkConn) Write(b []byte) (int, error) { return s.buf.Write(b) }

// The data phase: libzmq's MESSAGE frames decrypt to a plaintext ZMTP
// stream, and encrypting that stream again with the same nonces gives
// libzmq's bytes back, in both directions.
func TestCurveMessagesMatchLibzmq(t *testing.T) {
	c := loadCurveCapture(t)
	client, server := captureSessions(t, c)
	for _, dir := range []struct {
		name     string
		wire     []byte
		from, to *curveCipher
	}{
		{"client to server", bytes.Join(c.c2s[2:], nil), client, server},
		{"server to client", bytes.Join(c.s2c[2:], nil), server, client},
	} {
		in := &curveConn{raw: newReader(bytes.NewReader(dir.wire), 1<<20, 8), cipher: dir.to}
		plain := newReader(in, 1<<20, 8)
		var stream []byte
		for {
			frames, cmd, err := plain.readMessage()
			if err != nil {
				break
			}
			if cmd {
				stream = append(stream, appendCommand(nil, string(frames[0][1:1+frames[0][0]]), frames[0][1+frames[0][0]:])...)
			} else {
				stream = AppendMessage(stream, frames)
			}
		}
		if len(stream) == 0 {
			t.Fatalf("%s: nothing decrypted", dir.name)
		}
		t.Logf("%s: plaintext %x", dir.name, stream)
		out := &sinkConn{}
		enc := &curveConn{Conn: out, cipher: dir.from}
		// Split the stream mid-frame to exercise the carry of a partial frame.
		if _, err := enc.Write(stream[:3]); err != nil {
			t.Fatal(err)
		}
		if _, err := enc.Write(stream[3:]); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.buf.Bytes(), dir.wire) {
			t.Errorf("%s: re-encrypted\n%x\nwant\n%x", dir.name, out.buf.Bytes(), dir.wire)
		}
	}
}

// A MESSAGE replayed (same nonce) or with a lower nonce is refused.
func TestCurveMessageReplayRefused(t *testing.T) {
	c := loadCurveCapture(t)
	_, server := captureSessions(t, c)
	first := c.c2s[2][2:] // body of the first MESSAGE (short frame)
	if _, err := server.open(nil, first); err != nil {
		t.Fatal(err)
	}
	if _, err := server.open(nil, first); !errors.Is(err, ErrCurve) {
		t.Fatalf("replay: err = %v, want ErrCurve", err)
	}
	tampered := append([]byte{}, c.c2s[3][2:]...)
	tampered[len(tampered)-1] ^= 1
	if _, err := server.open(nil, tampered); !errors.Is(err, ErrCurve) {
		t.Fatalf("tampered: err = %v, want ErrCurve", err)
	}
	if _, err := server.open(nil, c.c2s[3][2:]); err != nil {
		t.Fatalf("the genuine message after a tampered one: %v", err)
	}
}
