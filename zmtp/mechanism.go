package zmtp

import (
	"bytes"
	"fmt"
)

// Mechanism is a ZMTP security mechanism. It runs after both greetings
// have been exchanged and before any message flows. NULL is built in;
// CURVE (RFC 26) and PLAIN (RFC 24) can be added by implementing this
// interface. A mechanism that encrypts traffic will additionally need to
// wrap the data phase; Conn keeps reading and writing in two small
// functions (readMessage, Outbox appends) so that a frame transform can be
// inserted there.
type Mechanism interface {
	// Name is the mechanism name sent in the greeting, e.g. "NULL".
	Name() string
	// AsServer reports the as-server flag to put in our greeting.
	AsServer() bool
	// Handshake exchanges the mechanism's commands over hs, sending props
	// as our metadata, and returns the peer's metadata.
	Handshake(hs HandshakeIO, props [][2]string) (Metadata, error)
}

// HandshakeIO is what a Mechanism sees of the connection during the
// handshake: whole command frames in and out.
type HandshakeIO interface {
	// ReadCommand returns the next command's name and data. A message
	// frame during the handshake is a protocol error.
	ReadCommand() (name string, data []byte, err error)
	// WriteCommand sends one command frame immediately.
	WriteCommand(name string, data []byte) error
}

// Null is the NULL mechanism (RFC 23): no authentication, no encryption;
// each side sends READY with its metadata.
type Null struct{}

// Name implements Mechanism.
func (Null) Name() string { return "NULL" }

// AsServer implements Mechanism; NULL peers both send 0.
func (Null) AsServer() bool { return false }

// Handshake implements Mechanism: send READY, expect READY (or ERROR).
func (Null) Handshake(hs HandshakeIO, props [][2]string) (Metadata, error) {
	if err := hs.WriteCommand("READY", appendMetadata(nil, props)); err != nil {
		return nil, err
	}
	name, data, err := hs.ReadCommand()
	if err != nil {
		return nil, err
	}
	switch name {
	case "READY":
		return parseMetadata(data)
	case "ERROR":
		return nil, fmt.Errorf("%w: %s", ErrPeerError, errorReason(data))
	default:
		return nil, fmt.Errorf("%w: expected READY, got %q", ErrProtocol, name)
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
