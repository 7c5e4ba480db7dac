package zmtp

import (
	"bytes"
	"fmt"
)

// greetingSize is the fixed size of a ZMTP 3.x greeting.
const greetingSize = 64

// Version is the ZMTP version this package advertises (3.1).
const (
	VersionMajor = 3
	VersionMinor = 1
)

// appendGreeting appends our 64-octet greeting: signature, version,
// mechanism name (NUL padded to 20 octets), as-server flag and filler.
func appendGreeting(dst []byte, mechanism string, asServer bool) []byte {
	dst = append(dst, 0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, VersionMajor, VersionMinor)
	var mech [20]byte
	copy(mech[:], mechanism)
	dst = append(dst, mech[:]...)
	if asServer {
		dst = append(dst, 1)
	} else {
		dst = append(dst, 0)
	}
	var filler [31]byte
	return append(dst, filler[:]...)
}

// greeting is the parsed form of a peer's greeting.
type greeting struct {
	major, minor byte
	mechanism    string
	asServer     bool
}

// checkSignature validates the first 10 octets of a peer greeting.
func checkSignature(b []byte) error {
	if b[0] != 0xFF || b[9]&0x01 != 0x01 {
		return fmt.Errorf("%w: bad greeting signature % x", ErrProtocol, b[:10])
	}
	return nil
}

// parseGreeting parses a full 64-octet peer greeting.
func parseGreeting(b []byte) (greeting, error) {
	if err := checkSignature(b); err != nil {
		return greeting{}, err
	}
	g := greeting{major: b[10], minor: b[11]}
	if g.major < 3 {
		return g, fmt.Errorf("%w: peer speaks ZMTP %d.%d, need 3.0 or later", ErrProtocol, g.major, g.minor)
	}
	mech := b[12:32]
	if i := bytes.IndexByte(mech, 0); i >= 0 {
		mech = mech[:i]
	}
	g.mechanism = string(mech)
	g.asServer = b[32] == 1
	return g, nil
}
