package zmtp

import (
	"fmt"
	"strconv"
)

// ZMTP 2.0 (RFC 15) peers, as libzmq 4.x accepts them: after the
// revision octet each side sends its socket type (one octet) and then its
// identity as one short final frame. From then on frames carry only MORE
// and LONG flags: there are no commands, no security mechanism, no
// metadata and no ZMTP heartbeats (the application's own traffic keeps a
// 2.0 connection alive).

// zmtp2Types lists the RFC 15 socket types by their octet.
var zmtp2Types = [...]SocketType{"PAIR", "PUB", "SUB", TypeReq, TypeRep, TypeDealer, TypeRouter, "PULL", "PUSH"}

// zmtp2Code returns the RFC 15 octet of socket type t.
func zmtp2Code(t SocketType) (byte, bool) {
	for i, name := range zmtp2Types {
		if name == t {
			return byte(i), true
		}
	}
	return 0, false
}

// handshake2 finishes the greeting with a ZMTP 2.0 peer, after the peer's
// revision octet has been read. It leaves the connection reading 2.0
// frames. A security mechanism other than NULL cannot be honoured in 2.0,
// so such a connection is refused, as libzmq does.
func (c *Conn) handshake2(mech Mechanism) error {
	if name := mech.Name(); name != (Null{}).Name() {
		return fmt.Errorf("%w: ZMTP 2.0 peer refused: the %s mechanism needs ZMTP 3", ErrIncompatible, name)
	}
	code, ok := zmtp2Code(c.opts.Type)
	if !ok {
		return fmt.Errorf("%w: socket type %s has no ZMTP 2.0 code", ErrIncompatible, c.opts.Type)
	}
	if len(c.opts.Identity) > maxShortFrame {
		return fmt.Errorf("%w: identity longer than %d bytes cannot be sent in ZMTP 2.0", ErrIncompatible, maxShortFrame)
	}
	if err := c.writeRaw([]byte{code}); err != nil {
		return err
	}
	b, err := c.rd.readRaw(1)
	if err != nil {
		return fmt.Errorf("zmtp: reading greeting: %w", err)
	}
	if int(b[0]) >= len(zmtp2Types) {
		return fmt.Errorf("%w: unknown ZMTP 2.0 socket type %d", ErrProtocol, b[0])
	}
	peerType := zmtp2Types[b[0]]
	ident := append([]byte{0, byte(len(c.opts.Identity))}, c.opts.Identity...)
	if err := c.writeRaw(ident); err != nil {
		return err
	}
	id, err := c.readIdentity2()
	if err != nil {
		return err
	}
	c.rd.v2 = true
	c.minor = 0 // no ZMTP PING
	c.peerType = peerType
	c.peer = Metadata{PropSocketType: string(peerType), PropIdentity: id}
	if !Compatible(c.opts.Type, peerType) {
		// ZMTP 2.0 has no ERROR command: close without a word.
		return fmt.Errorf("%w: a %s socket cannot talk to a %q peer", ErrIncompatible, c.opts.Type, peerType)
	}
	return nil
}

// readIdentity2 reads the peer's identity frame, which RFC 15 requires to
// be a final short frame (flags 0, one size octet).
func (c *Conn) readIdentity2() (string, error) {
	hdr, err := c.rd.readRaw(2)
	if err != nil {
		return "", fmt.Errorf("zmtp: reading identity: %w", err)
	}
	if hdr[0] != 0 {
		return "", fmt.Errorf("%w: ZMTP 2.0 identity frame has flags 0x%02x, want 0", ErrProtocol, hdr[0])
	}
	body, err := c.rd.readRaw(int(hdr[1]))
	if err != nil {
		return "", fmt.Errorf("zmtp: reading identity: %w", err)
	}
	return string(body), nil
}

// Version returns the ZMTP version the connection speaks: 3.0 or 3.1, or
// 2.0 for an RFC 15 peer.
func (c *Conn) Version() (major, minor byte) {
	if c.rd.v2 {
		return 2, 0
	}
	return VersionMajor, c.minor
}

// VersionString returns Version as text, e.g. "2.0" or "3.1" (for logs).
func (c *Conn) VersionString() string {
	major, minor := c.Version()
	return strconv.Itoa(int(major)) + "." + strconv.Itoa(int(minor))
}
