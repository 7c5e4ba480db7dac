package zmtp

import (
	"encoding/hex"
	"fmt"
	"io"

	"golang.org/x/crypto/curve25519"
)

// CurveKeySize is the size of a CURVE public or secret key in bytes.
const CurveKeySize = 32

// CurveKey is a CURVE (X25519) public or secret key. Its text form is the
// 40-character Z85 encoding that libzmq's zmq_curve_keypair produces.
type CurveKey [CurveKeySize]byte

// String returns the Z85 text of the key.
func (k CurveKey) String() string {
	s, _ := Z85Encode(k[:]) // 32 bytes: always a multiple of 4
	return s
}

// IsZero reports whether the key is all zeros (unset).
func (k CurveKey) IsZero() bool { return k == CurveKey{} }

// ParseCurveKey parses a key written as 40 Z85 characters or 64 hex
// digits (the two forms libzmq's ZMQ_CURVE_*KEY options accept).
func ParseCurveKey(s string) (CurveKey, error) {
	var k CurveKey
	var b []byte
	var err error
	switch len(s) {
	case 40:
		b, err = Z85Decode(s)
	case 64:
		b, err = hex.DecodeString(s)
	default:
		return k, fmt.Errorf("zmtp: a CURVE key is 40 Z85 characters or 64 hex digits, got %d characters", len(s))
	}
	if err != nil {
		return k, fmt.Errorf("zmtp: bad CURVE key: %w", err)
	}
	copy(k[:], b)
	return k, nil
}

// CurveKeyPair is a long-term (or short-term) CURVE key pair.
type CurveKeyPair struct {
	Public CurveKey
	Secret CurveKey
}

// String shows only the public half, so that a key pair can be logged.
func (p CurveKeyPair) String() string { return "public=" + p.Public.String() }

// NewCurveKeyPair generates a key pair from crypto/rand.
func NewCurveKeyPair() (CurveKeyPair, error) { return newCurveKeyPair(nil) }

// newCurveKeyPair generates a key pair from r (crypto/rand when nil).
func newCurveKeyPair(r io.Reader) (CurveKeyPair, error) {
	b, err := randomBytes(r, CurveKeySize)
	if err != nil {
		return CurveKeyPair{}, err
	}
	return CurveKeyPairFromSecret(CurveKey(b))
}

// CurveKeyPairFromSecret derives the public key of secret (the X25519
// base-point multiplication) and returns the pair.
func CurveKeyPairFromSecret(secret CurveKey) (CurveKeyPair, error) {
	pub, err := curve25519.X25519(secret[:], curve25519.Basepoint)
	if err != nil {
		return CurveKeyPair{}, fmt.Errorf("zmtp: deriving a CURVE public key: %w", err)
	}
	p := CurveKeyPair{Secret: secret}
	copy(p.Public[:], pub)
	return p, nil
}
