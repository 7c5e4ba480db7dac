package zmtp

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"

	"golang.org/x/crypto/nacl/box"
)

// CurvePeer is what a CurveServer knows about a client when it asks the
// authorisation hook: the client's proven long-term key, its address and
// the metadata of its INITIATE.
type CurvePeer struct {
	Key      CurveKey
	Remote   net.Addr
	Metadata Metadata
}

// CurveServer is the server side of the CURVE mechanism. It is shared by
// all connections of a listener; each handshake makes its own short-term
// key pair. Create it with NewCurveServer.
type CurveServer struct {
	keys CurveKeyPair
	// Authorize, if set, decides whether a client whose long-term key was
	// proven may connect. Returning an error refuses it: the client gets
	// ERROR "400" (what a ZAP refusal sends in libzmq) and the handshake
	// fails with ErrUnauthorized and the returned reason. It runs in the
	// connection's goroutine and must honour ctx (the handshake deadline).
	Authorize func(ctx context.Context, peer CurvePeer) error

	cookies cookieKeys
	rand    io.Reader // nil: crypto/rand
}

// NewCurveServer returns the CURVE server mechanism for our long-term key
// pair.
func NewCurveServer(keys CurveKeyPair) *CurveServer {
	return &CurveServer{keys: keys, cookies: cookieKeys{now: time.Now, interval: CookieRotation}}
}

// PublicKey returns the server's long-term public key.
func (m *CurveServer) PublicKey() CurveKey { return m.keys.Public }

// Name implements Mechanism.
func (*CurveServer) Name() string { return "CURVE" }

// AsServer implements Mechanism: libzmq writes 0 on both sides and
// ignores the peer's flag, so we do the same.
func (*CurveServer) AsServer() bool { return false }

// curveServerState is one handshake's state on the server side.
type curveServerState struct {
	clientShort CurveKey
	short       CurveKeyPair
	helloNonce  uint64
	helloKey    *[32]byte // box key of C' and our long-term s (HELLO, WELCOME)
}

// Handshake implements Mechanism: HELLO, WELCOME, INITIATE, READY.
func (m *CurveServer) Handshake(hs HandshakeIO, props [][2]string) (Session, error) {
	st := &curveServerState{}
	if err := m.readHello(hs, st); err != nil {
		return Session{}, err
	}
	if err := m.sendWelcome(hs, st); err != nil {
		return Session{}, err
	}
	peer, nonce, key, err := m.readInitiate(hs, st)
	if err != nil {
		return Session{}, err
	}
	if m.Authorize != nil {
		if err := m.Authorize(hs.Context(), peer); err != nil {
			hs.WriteCommand("ERROR", errorData("400"))
			return Session{}, fmt.Errorf("%w: %s: %w", ErrUnauthorized, peer.Key, err)
		}
	}
	ready := binary.BigEndian.AppendUint64(make([]byte, 0, curveReadyMin+64), 1)
	ready = box.SealAfterPrecomputation(ready, appendMetadata(nil, props), shortNonce(noncePrefixReady, 1), key)
	if err := hs.WriteCommand("READY", ready); err != nil {
		return Session{}, err
	}
	return Session{Metadata: peer.Metadata, PeerKey: peer.Key, cipher: newCurveCipher(key, false, 1, nonce)}, nil
}

// readHello checks HELLO and proves the client knows our public key.
func (m *CurveServer) readHello(hs HandshakeIO, st *curveServerState) error {
	name, data, err := hs.ReadCommand()
	if err != nil {
		return err
	}
	if err := expectCommand(name, data, "HELLO"); err != nil {
		return err
	}
	if len(data) != curveHelloData {
		return fmt.Errorf("%w: HELLO of %d bytes", ErrCurve, len(data))
	}
	if data[0] != 1 || data[1] != 0 {
		return fmt.Errorf("%w: HELLO version %d.%d, need 1.0", ErrCurve, data[0], data[1])
	}
	st.clientShort = CurveKey(data[74:106])
	st.helloNonce = binary.BigEndian.Uint64(data[106:114])
	key, err := precompute(&st.clientShort, &m.keys.Secret)
	if err != nil {
		return err
	}
	st.helloKey = key
	if _, ok := box.OpenAfterPrecomputation(nil, data[114:], shortNonce(noncePrefixHello, st.helloNonce), key); !ok {
		return fmt.Errorf("%w: HELLO does not decrypt (the client uses another server key?)", ErrCurve)
	}
	return nil
}

// sendWelcome sends S' and a cookie holding C' and s', boxed to C'.
func (m *CurveServer) sendWelcome(hs HandshakeIO, st *curveServerState) error {
	var err error
	if st.short, err = newCurveKeyPair(m.rand); err != nil {
		return err
	}
	cn, err := randomBytes(m.rand, 16)
	if err != nil {
		return err
	}
	cookiePlain := append(append(make([]byte, 0, 64), st.clientShort[:]...), st.short.Secret[:]...)
	cookie, err := m.cookies.seal(cn, cookiePlain)
	if err != nil {
		return err
	}
	wn, err := randomBytes(m.rand, 16)
	if err != nil {
		return err
	}
	plain := append(append(make([]byte, 0, 128), st.short.Public[:]...), cookie...)
	welcome := box.SealAfterPrecomputation(append(make([]byte, 0, curveWelcomeData), wn...), plain, longNonce(noncePrefixWelcome, wn), st.helloKey)
	return hs.WriteCommand("WELCOME", welcome)
}

// readInitiate checks the cookie, opens INITIATE and its vouch, and
// returns the client with its proven long-term key, the INITIATE nonce
// and the session key.
func (m *CurveServer) readInitiate(hs HandshakeIO, st *curveServerState) (CurvePeer, uint64, *[32]byte, error) {
	name, data, err := hs.ReadCommand()
	if err != nil {
		return CurvePeer{}, 0, nil, err
	}
	if err := expectCommand(name, data, "INITIATE"); err != nil {
		return CurvePeer{}, 0, nil, err
	}
	if len(data) < curveInitiateMin {
		return CurvePeer{}, 0, nil, fmt.Errorf("%w: INITIATE of %d bytes", ErrCurve, len(data))
	}
	cookie, ok := m.cookies.open(data[:curveCookieSize])
	if !ok || !equalKeys(cookie[:32], st.clientShort[:]) || !equalKeys(cookie[32:], st.short.Secret[:]) {
		return CurvePeer{}, 0, nil, fmt.Errorf("%w: INITIATE cookie invalid or expired", ErrCurve)
	}
	data = data[curveCookieSize:]
	nonce := binary.BigEndian.Uint64(data)
	if nonce <= st.helloNonce {
		return CurvePeer{}, 0, nil, fmt.Errorf("%w: INITIATE nonce %d not above HELLO's %d", ErrCurve, nonce, st.helloNonce)
	}
	key, err := precompute(&st.clientShort, &st.short.Secret)
	if err != nil {
		return CurvePeer{}, 0, nil, err
	}
	plain, ok := box.OpenAfterPrecomputation(nil, data[8:], shortNonce(noncePrefixInitiate, nonce), key)
	if !ok {
		return CurvePeer{}, 0, nil, fmt.Errorf("%w: INITIATE does not decrypt", ErrCurve)
	}
	peer := CurvePeer{Key: CurveKey(plain[:32]), Remote: hs.RemoteAddr()}
	if err := m.checkVouch(st, &peer.Key, plain[32:48], plain[48:128]); err != nil {
		return CurvePeer{}, 0, nil, err
	}
	if peer.Metadata, err = parseMetadata(plain[128:]); err != nil {
		return CurvePeer{}, 0, nil, err
	}
	return peer, nonce, key, nil
}

// checkVouch proves that the owner of the client's long-term key made
// C' for a session with us: box(C' ‖ S) from C to S'.
func (m *CurveServer) checkVouch(st *curveServerState, client *CurveKey, nonce, vouch []byte) error {
	key, err := precompute(client, &st.short.Secret)
	if err != nil {
		return err
	}
	v, ok := box.OpenAfterPrecomputation(nil, vouch, longNonce(noncePrefixVouch, nonce), key)
	if !ok || !equalKeys(v[:32], st.clientShort[:]) || !equalKeys(v[32:], m.keys.Public[:]) {
		return fmt.Errorf("%w: INITIATE vouch invalid", ErrCurve)
	}
	return nil
}
