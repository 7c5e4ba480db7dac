package zmtp

import (
	"errors"
	"fmt"
)

// Greeting stages. Both sides write before they read at every stage, so
// the exchange cannot deadlock, and a peer that reads before it writes
// (ZMTP 2.0 implementations such as JeroMQ 0.3) never sees bytes of a
// version it does not speak:
//
//  1. signature (10 octets) out, the peer's signature in;
//  2. our major version out, the peer's revision/major in;
//  3. ZMTP 3.x: the other 53 octets of the greeting out and in;
//     ZMTP 2.0 (revision 0 or 1): socket type and identity (zmtp2.go).
const (
	signatureSize = 10
	// zmtp2Revision is the highest revision octet that means ZMTP 2.0
	// (RFC 15 sends 1; libzmq also takes 0 as 2.0).
	zmtp2Revision = 0x01
)

// ErrUnsupportedVersion means the peer speaks a ZMTP version we do not
// (ZMTP 1.0, a revision octet of 2, or bytes that are not ZMTP at all).
// Errors that wrap it also wrap ErrProtocol.
var ErrUnsupportedVersion = errors.New("zmtp: unsupported ZMTP version")

// versionError reports a peer whose greeting we cannot continue.
func versionError(format string, args ...any) error {
	return fmt.Errorf("%w: %w: "+format, append([]any{ErrProtocol, ErrUnsupportedVersion}, args...)...)
}

// negotiate runs greeting stages 1 and 2 and, for a ZMTP 3.x peer, stage
// 3. It returns the peer's greeting; major is below 3 for a ZMTP 2.0
// peer, whose greeting the caller continues with handshake2.
func (c *Conn) negotiate(mechanism string, asServer bool) (greeting, error) {
	ours := appendGreeting(make([]byte, 0, greetingSize), mechanism, asServer)
	if err := c.writeRaw(ours[:signatureSize]); err != nil {
		return greeting{}, err
	}
	sig, err := c.rd.readRaw(signatureSize)
	if err != nil {
		return greeting{}, fmt.Errorf("zmtp: reading greeting: %w", err)
	}
	if sig[0] != 0xFF || sig[9]&0x01 == 0 {
		return greeting{}, versionError("greeting signature % x is not ZMTP 2.0 or later", sig)
	}
	full := append(make([]byte, 0, greetingSize), sig...) // sig is only valid until the next read
	if err := c.writeRaw(ours[signatureSize : signatureSize+1]); err != nil {
		return greeting{}, err
	}
	rev, err := c.rd.readRaw(1)
	if err != nil {
		return greeting{}, fmt.Errorf("zmtp: reading greeting: %w", err)
	}
	switch major := rev[0]; {
	case major <= zmtp2Revision:
		return greeting{major: 2}, nil
	case major < VersionMajor:
		return greeting{}, versionError("peer announces ZMTP revision %d", major)
	}
	full = append(full, rev[0])
	if err := c.writeRaw(ours[signatureSize+1:]); err != nil {
		return greeting{}, err
	}
	rest, err := c.rd.readRaw(greetingSize - signatureSize - 1)
	if err != nil {
		return greeting{}, fmt.Errorf("zmtp: reading greeting: %w", err)
	}
	g, err := parseGreeting(append(full, rest...))
	if err == nil && g.mechanism == mechanism && c.opts.accepted {
		// The accepting side lets the connecting side speak first: libzmq
		// handles a command that arrives while it completes its greeting
		// before it flushes its own, so a READY it refuses (an
		// incompatible socket type) would close the connection before
		// its READY, and the reason, reached us.
		if err := c.rd.fill(1); err != nil {
			return greeting{}, fmt.Errorf("zmtp: handshake: %w", err)
		}
	}
	return g, err
}

// writeRaw writes handshake bytes straight to the socket.
func (c *Conn) writeRaw(b []byte) error {
	n, err := c.nc.Write(b)
	count(&c.bytesOut, n)
	if err != nil {
		return fmt.Errorf("zmtp: sending greeting: %w", err)
	}
	return nil
}
