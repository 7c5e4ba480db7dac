package zmtp

import (
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/nacl/box"
)

// CurveClient is the client side of the CURVE mechanism (RFC 26 over
// ZMTP 3.x, as libzmq 4.3 speaks it). It authenticates the server by its
// long-term public key and proves ours; every message is encrypted.
type CurveClient struct {
	// Keys is our long-term key pair.
	Keys CurveKeyPair
	// ServerKey is the server's long-term public key.
	ServerKey CurveKey

	rand io.Reader // nil: crypto/rand (tests replay a captured handshake)
}

// Name implements Mechanism.
func (*CurveClient) Name() string { return "CURVE" }

// AsServer implements Mechanism: libzmq writes 0 on both sides and
// ignores the peer's flag, so we do the same.
func (*CurveClient) AsServer() bool { return false }

// Handshake implements Mechanism: HELLO, WELCOME, INITIATE, READY.
func (m *CurveClient) Handshake(hs HandshakeIO, props [][2]string) (Session, error) {
	if m.ServerKey.IsZero() || m.Keys.Secret.IsZero() {
		return Session{}, fmt.Errorf("%w: CurveClient needs its key pair and the server key", ErrCurve)
	}
	short, err := newCurveKeyPair(m.rand)
	if err != nil {
		return Session{}, err
	}
	if err := hs.WriteCommand("HELLO", m.hello(&short)); err != nil {
		return Session{}, err
	}
	serverShort, cookie, err := m.readWelcome(hs, &short)
	if err != nil {
		return Session{}, err
	}
	key, err := precompute(&serverShort, &short.Secret)
	if err != nil {
		return Session{}, err
	}
	initiate, err := m.initiate(&short, &serverShort, cookie, key, props)
	if err != nil {
		return Session{}, err
	}
	if err := hs.WriteCommand("INITIATE", initiate); err != nil {
		return Session{}, err
	}
	md, nonce, err := readReady(hs, key)
	if err != nil {
		return Session{}, err
	}
	return Session{Metadata: md, PeerKey: m.ServerKey, cipher: newCurveCipher(key, true, 2, nonce)}, nil
}

// hello builds HELLO's data: version 1.0, 72 octets of padding, C', short
// nonce 1 and a box of 64 zeros from C' to S.
func (m *CurveClient) hello(short *CurveKeyPair) []byte {
	d := make([]byte, 0, curveHelloData)
	d = append(d, 1, 0)
	d = append(d, make([]byte, 72)...)
	d = append(d, short.Public[:]...)
	d = binary.BigEndian.AppendUint64(d, 1)
	pub, sec := [32]byte(m.ServerKey), [32]byte(short.Secret)
	return box.Seal(d, make([]byte, 64), shortNonce(noncePrefixHello, 1), &pub, &sec)
}

// readWelcome opens WELCOME and returns S' and the cookie.
func (m *CurveClient) readWelcome(hs HandshakeIO, short *CurveKeyPair) (CurveKey, []byte, error) {
	name, data, err := hs.ReadCommand()
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		// libzmq closes without a word when HELLO is not for its key.
		return CurveKey{}, nil, fmt.Errorf("%w: the server closed the connection after HELLO (is %s its public key?): %w", ErrCurve, m.ServerKey, err)
	}
	if err != nil {
		return CurveKey{}, nil, err
	}
	if err := expectCommand(name, data, "WELCOME"); err != nil {
		return CurveKey{}, nil, err
	}
	if len(data) != curveWelcomeData {
		return CurveKey{}, nil, fmt.Errorf("%w: WELCOME of %d bytes", ErrCurve, len(data))
	}
	pub, sec := [32]byte(m.ServerKey), [32]byte(short.Secret)
	plain, ok := box.Open(nil, data[16:], longNonce(noncePrefixWelcome, data[:16]), &pub, &sec)
	if !ok {
		return CurveKey{}, nil, fmt.Errorf("%w: WELCOME does not decrypt (wrong server key?)", ErrCurve)
	}
	return CurveKey(plain[:32]), plain[32:], nil
}

// initiate builds INITIATE's data: cookie, short nonce 2 and a box from
// C' to S' of C, the vouch and our metadata.
func (m *CurveClient) initiate(short *CurveKeyPair, serverShort *CurveKey, cookie []byte, key *[32]byte, props [][2]string) ([]byte, error) {
	vn, err := randomBytes(m.rand, 16)
	if err != nil {
		return nil, err
	}
	pub, sec := [32]byte(*serverShort), [32]byte(m.Keys.Secret)
	vouchPlain := append(append(make([]byte, 0, 64), short.Public[:]...), m.ServerKey[:]...)
	plain := append(make([]byte, 0, 128+64), m.Keys.Public[:]...)
	plain = append(plain, vn...)
	plain = box.Seal(plain, vouchPlain, longNonce(noncePrefixVouch, vn), &pub, &sec)
	plain = appendMetadata(plain, props)
	d := append(make([]byte, 0, curveInitiateMin+len(plain)), cookie...)
	d = binary.BigEndian.AppendUint64(d, 2)
	return box.SealAfterPrecomputation(d, plain, shortNonce(noncePrefixInitiate, 2), key), nil
}

// readReady opens READY (or reports the server's ERROR) and returns the
// server's metadata and the nonce it used.
func readReady(hs HandshakeIO, key *[32]byte) (Metadata, uint64, error) {
	name, data, err := hs.ReadCommand()
	if err != nil {
		return nil, 0, err
	}
	if name == "ERROR" {
		// libzmq answers INITIATE with ERROR when its ZAP handler refuses
		// our key (reason: the ZAP status code, e.g. "400").
		return nil, 0, fmt.Errorf("%w: %w: %s", ErrUnauthorized, ErrPeerError, errorReason(data))
	}
	if err := expectCommand(name, data, "READY"); err != nil {
		return nil, 0, err
	}
	if len(data) < curveReadyMin {
		return nil, 0, fmt.Errorf("%w: READY of %d bytes", ErrCurve, len(data))
	}
	n := binary.BigEndian.Uint64(data)
	if n == 0 {
		return nil, 0, fmt.Errorf("%w: READY nonce 0", ErrCurve)
	}
	plain, ok := box.OpenAfterPrecomputation(nil, data[8:], shortNonce(noncePrefixReady, n), key)
	if !ok {
		return nil, 0, fmt.Errorf("%w: READY does not decrypt", ErrCurve)
	}
	md, err := parseMetadata(plain)
	return md, n, err
}

// equalKeys compares two keys in constant time.
func equalKeys(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }
