package zmtp

import (
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"math"

	"golang.org/x/crypto/nacl/box"
)

// curveCipher encrypts and decrypts the MESSAGE commands of one CURVE
// connection. The send half is used only by the connection's writer and
// the receive half only by its reader, so it needs no lock.
type curveCipher struct {
	key        *[32]byte // precomputed from the short-term keys C' and S'
	sendPrefix string
	recvPrefix string
	sendNonce  uint64 // next short nonce to send
	recvNonce  uint64 // last short nonce accepted; a MESSAGE must exceed it
	plain      []byte // scratch for flags ‖ data before sealing
}

// newCurveCipher returns the cipher of one side; client tells which prefix
// each direction uses. sent and received are the last nonces used during
// the handshake in each direction.
func newCurveCipher(key *[32]byte, client bool, sent, received uint64) *curveCipher {
	c := &curveCipher{key: key, sendPrefix: noncePrefixMsgS, recvPrefix: noncePrefixMsgC,
		sendNonce: sent + 1, recvNonce: received}
	if client {
		c.sendPrefix, c.recvPrefix = noncePrefixMsgC, noncePrefixMsgS
	}
	return c
}

// sealedSize is the MESSAGE body size that carries n data octets.
func sealedSize(n int) int { return curveMessageExtra + n }

// seal appends the body of one MESSAGE carrying flags (MORE, COMMAND)
// and data.
func (c *curveCipher) seal(dst []byte, flags byte, data []byte) ([]byte, error) {
	if c.sendNonce == math.MaxUint64 {
		return dst, fmt.Errorf("%w: message nonces exhausted", ErrCurve)
	}
	n := c.sendNonce
	c.sendNonce++
	c.plain = append(append(c.plain[:0], flags), data...)
	dst = append(dst, curveMessageName...)
	dst = binary.BigEndian.AppendUint64(dst, n)
	dst = box.SealAfterPrecomputation(dst, c.plain, shortNonce(c.sendPrefix, n), c.key)
	if cap(c.plain) > 64<<10 {
		c.plain = nil // do not keep a large message's scratch
	}
	return dst, nil
}

// open decrypts a MESSAGE body and appends flags ‖ data to dst. A nonce
// not greater than the last accepted one is a replay and is refused.
func (c *curveCipher) open(dst, body []byte) ([]byte, error) {
	if len(body) < curveMessageExtra {
		return dst, fmt.Errorf("%w: MESSAGE of %d bytes is too short", ErrCurve, len(body))
	}
	if subtle.ConstantTimeCompare(body[:len(curveMessageName)], []byte(curveMessageName)) != 1 {
		return dst, fmt.Errorf("%w: expected MESSAGE", ErrCurve)
	}
	body = body[len(curveMessageName):]
	n := binary.BigEndian.Uint64(body)
	if n <= c.recvNonce {
		return dst, fmt.Errorf("%w: MESSAGE nonce %d not above %d (replayed or reordered)", ErrCurve, n, c.recvNonce)
	}
	out, ok := box.OpenAfterPrecomputation(dst, body[8:], shortNonce(c.recvPrefix, n), c.key)
	if !ok {
		return dst, fmt.Errorf("%w: MESSAGE does not decrypt", ErrCurve)
	}
	c.recvNonce = n
	return out, nil
}
