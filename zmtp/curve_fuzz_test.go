package zmtp

import (
	"bytes"
	"testing"
)

// FuzzCurveHandshake feeds arbitrary command frames to our CURVE server
// (server true: they stand for HELLO, INITIATE and the MESSAGEs after it)
// or client (WELCOME, READY, MESSAGEs). The randomness and keys are the
// captured libzmq session's, so the seeds complete a real handshake and
// mutations explore every later check. Nothing may panic; a server
// handshake may only succeed for the captured client's key; the
// data phase must not yield more plaintext than it received.
func FuzzCurveHandshake(f *testing.F) {
	c := loadCurveCapture(f)
	f.Add(bytes.Join(c.c2s, nil), true)
	f.Add(bytes.Join(c.s2c, nil), false)
	f.Add(c.c2s[0], true)
	f.Add(append(bytes.Clone(c.c2s[0]), c.c2s[0]...), true)
	f.Fuzz(func(t *testing.T, data []byte, server bool) {
		io := &scriptIO{in: newReader(bytes.NewReader(data), maxHandshakeFrame, 8)}
		var sess Session
		var err error
		if server {
			m := NewCurveServer(CurveKeyPair{Public: c.keys["server_public"], Secret: c.keys["server_secret"]})
			m.rand = bytes.NewReader(bytes.Join([][]byte{c.srvShort[:], c.srvRandom[0], c.srvRandom[2]}, nil))
			m.cookies.rand = bytes.NewReader(c.srvRandom[1])
			sess, err = m.Handshake(io, Options{Type: TypeRouter}.metadata())
			if err == nil && sess.PeerKey != c.keys["client_public"] {
				t.Fatalf("handshake accepted key %s", sess.PeerKey)
			}
		} else {
			m := &CurveClient{
				Keys:      CurveKeyPair{Public: c.keys["client_public"], Secret: c.keys["client_secret"]},
				ServerKey: c.keys["server_public"],
				rand:      bytes.NewReader(append(bytes.Clone(c.cliShort[:]), c.cliRandom[0]...)),
			}
			sess, err = m.Handshake(io, Options{Type: TypeDealer}.metadata())
		}
		if err != nil {
			return
		}
		cc := &curveConn{raw: io.in, cipher: sess.cipher}
		plain := newReader(cc, 1<<20, 64)
		var got int
		for {
			frames, _, err := plain.readMessage()
			if err != nil {
				break
			}
			for _, fr := range frames {
				got += len(fr)
			}
		}
		if got > len(data) {
			t.Fatalf("%d plaintext bytes out of %d input bytes", got, len(data))
		}
	})
}
