package zmtp

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/nacl/box"
	"golang.org/x/crypto/salsa20/salsa"
)

// Errors of the CURVE mechanism; both are wrapped with details.
var (
	// ErrCurve means a CURVE handshake or MESSAGE failed: malformed,
	// replayed, or not encrypted with the keys we expect (e.g. the client
	// used the wrong server public key).
	ErrCurve = errors.New("zmtp: CURVE failure")
	// ErrUnauthorized means the server's authorisation refused the
	// client's long-term key.
	ErrUnauthorized = errors.New("zmtp: CURVE key not authorised")
)

// Command data sizes as libzmq 4.3.4 puts them on the wire (the command
// name and its length octet excluded).
const (
	curveHelloData    = 2 + 72 + 32 + 8 + 80 // version, padding, C', nonce, box
	curveWelcomeData  = 16 + 144             // nonce, box(S' ‖ cookie)
	curveCookieSize   = 16 + 16 + 64         // nonce, secretbox(C' ‖ s')
	curveVouchBox     = 16 + 64              // box(C' ‖ S)
	curveInitiateMin  = curveCookieSize + 8 + 16 + 32 + 16 + curveVouchBox
	curveReadyMin     = 8 + 16
	curveMessageName  = "\x07MESSAGE"
	curveMessageExtra = len(curveMessageName) + 8 + box.Overhead + 1 // + flags octet
)

// Nonce prefixes of RFC 26 as libzmq uses them.
const (
	noncePrefixHello    = "CurveZMQHELLO---"
	noncePrefixWelcome  = "WELCOME-"
	noncePrefixCookie   = "COOKIE--"
	noncePrefixInitiate = "CurveZMQINITIATE"
	noncePrefixVouch    = "VOUCH---"
	noncePrefixReady    = "CurveZMQREADY---"
	noncePrefixMsgC     = "CurveZMQMESSAGEC" // client to server
	noncePrefixMsgS     = "CurveZMQMESSAGES" // server to client
)

// shortNonce is a 16-octet prefix followed by an 8-octet big-endian counter.
func shortNonce(prefix string, n uint64) *[24]byte {
	var nonce [24]byte
	copy(nonce[:16], prefix)
	binary.BigEndian.PutUint64(nonce[16:], n)
	return &nonce
}

// longNonce is an 8-octet prefix followed by 16 octets (random on send).
func longNonce(prefix string, tail []byte) *[24]byte {
	var nonce [24]byte
	copy(nonce[:8], prefix)
	copy(nonce[8:], tail)
	return &nonce
}

// precompute returns the crypto_box shared key of a secret and a peer's
// public key. Unlike box.Precompute it refuses a low-order public key
// (an all-zero shared secret), as libsodium does.
func precompute(peer, secret *CurveKey) (*[32]byte, error) {
	shared, err := curve25519.X25519(secret[:], peer[:])
	if err != nil {
		return nil, fmt.Errorf("%w: unusable public key", ErrCurve)
	}
	var in [32]byte
	copy(in[:], shared)
	key := new([32]byte)
	salsa.HSalsa20(key, &[16]byte{}, &in, &salsa.Sigma)
	return key, nil
}

// randomBytes returns n bytes from r, or from crypto/rand when r is nil
// (tests pass a fixed source to replay a captured handshake).
func randomBytes(r io.Reader, n int) ([]byte, error) {
	if r == nil {
		r = rand.Reader
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("zmtp: random source: %w", err)
	}
	return b, nil
}
