package zmtp

import (
	"bytes"
	"context"
	"fmt"
	"net"
)

// Mechanism is a ZMTP security mechanism. It runs after both greetings
// have been exchanged and before any message flows. NULL ([Null]) and
// CURVE ([CurveClient], [CurveServer]) are provided. A mechanism that
// encrypts returns a cipher in its Session: the connection then carries
// its plaintext frame stream through it, so that the rest of the package
// reads and writes frames the same way with every mechanism.
type Mechanism interface {
	// Name is the mechanism name sent in the greeting, e.g. "NULL".
	Name() string
	// AsServer reports the as-server flag to put in our greeting.
	AsServer() bool
	// Handshake exchanges the mechanism's commands over hs, sending props
	// as our metadata, and returns what it learnt about the peer.
	Handshake(hs HandshakeIO, props [][2]string) (Session, error)
}

// Session is the outcome of a successful mechanism handshake.
type Session struct {
	// Metadata holds the peer's properties.
	Metadata Metadata
	// PeerKey is the peer's long-term CURVE public key (the client's on
	// the server side, the server's on the client side); zero with NULL.
	PeerKey CurveKey
	cipher  *curveCipher // nil: frames travel in plaintext
}

// HandshakeIO is what a Mechanism sees of the connection during the
// handshake: whole command frames in and out.
type HandshakeIO interface {
	// ReadCommand returns the next command's name and data. A message
	// frame during the handshake is a protocol error.
	ReadCommand() (name string, data []byte, err error)
	// WriteCommand sends one command frame immediately.
	WriteCommand(name string, data []byte) error
	// RemoteAddr is the peer's network address.
	RemoteAddr() net.Addr
	// Context ends when the handshake's time is up.
	Context() context.Context
}

// Null is the NULL mechanism (RFC 23): no authentication, no encryption;
// each side sends READY with its metadata.
type Null struct{}

// Name implements Mechanism.
func (Null) Name() string { return "NULL" }

// AsServer implements Mechanism; NULL peers both send 0.
func (Null) AsServer() bool { return false }

// Handshake implements Mechanism: send READY, expect READY (or ERROR).
func (Null) Handshake(hs HandshakeIO, props [][2]string) (Session, error) {
	if err := hs.WriteCommand("READY", appendMetadata(nil, props)); err != nil {
		return Session{}, err
	}
	name, data, err := hs.ReadCommand()
	if err != nil {
		return Session{}, err
	}
	if err := expectCommand(name, data, "READY"); err != nil {
		return Session{}, err
	}
	md, err := parseMetadata(data)
	return Session{Metadata: md}, err
}

// expectCommand checks that a handshake command is want; an ERROR from
// the peer becomes ErrPeerError with its reason.
func expectCommand(name string, data []byte, want string) error {
	switch name {
	case want:
		return nil
	case "ERROR":
		return fmt.Errorf("%w: %s", ErrPeerError, errorReason(data))
	default:
		return fmt.Errorf("%w: expected %s, got %q", ErrProtocol, want, name)
	}
}

// ListenerWithMechanism returns a listener whose connections use m
// instead of the Options' Mechanism, so that one Server can serve
// endpoints with different security (e.g. CURVE on tcp, NULL on ipc).
func ListenerWithMechanism(ln net.Listener, m Mechanism) net.Listener {
	return mechListener{ln, m}
}

type mechListener struct {
	net.Listener
	m Mechanism
}

func (l mechListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &mechConn{nc, l.m}, nil
}

// mechConn is an accepted connection that carries its mechanism.
type mechConn struct {
	net.Conn
	m Mechanism
}

// Unwrap returns the socket.
func (c *mechConn) Unwrap() net.Conn { return c.Conn }

// mechanismFor returns the mechanism nc carries, or def.
func mechanismFor(nc net.Conn, def Mechanism) Mechanism {
	if mc, ok := nc.(*mechConn); ok {
		return mc.m
	}
	return def
}

// Unwrap peels the wrappers this package puts around a socket
// (per-listener mechanism, CURVE encryption) and returns the socket,
// e.g. to read SO_PEERCRED of a unix connection.
func Unwrap(nc net.Conn) net.Conn {
	for {
		u, ok := nc.(interface{ Unwrap() net.Conn })
		if !ok {
			return nc
		}
		nc = u.Unwrap()
	}
}

// errorReason extracts the reason text of an ERROR command's data.
func errorReason(data []byte) string {
	if len(data) == 0 {
		return ""
	}
	n := int(data[0])
	if n > len(data)-1 {
		n = len(data) - 1
	}
	return string(bytes.ToValidUTF8(data[1:1+n], []byte("?")))
}
