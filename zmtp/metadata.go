package zmtp

import (
	"encoding/binary"
	"fmt"
)

// Metadata holds the properties a peer announced in its READY (or
// INITIATE) command, such as "Socket-Type" and "Identity". Property names
// are compared case-sensitively, as libzmq does.
type Metadata map[string]string

// Property names defined by ZMTP.
const (
	PropSocketType = "Socket-Type"
	PropIdentity   = "Identity"
)

// appendMetadata encodes properties: name-size (1 octet), name,
// value-size (4 octets, network order), value.
func appendMetadata(dst []byte, props [][2]string) []byte {
	for _, p := range props {
		dst = append(dst, byte(len(p[0])))
		dst = append(dst, p[0]...)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(p[1])))
		dst = append(dst, p[1]...)
	}
	return dst
}

// parseMetadata decodes a property list; it copies what it keeps.
func parseMetadata(b []byte) (Metadata, error) {
	md := Metadata{}
	for len(b) > 0 {
		n := int(b[0])
		if n == 0 || 1+n+4 > len(b) {
			return nil, fmt.Errorf("%w: malformed metadata property", ErrProtocol)
		}
		name := string(b[1 : 1+n])
		b = b[1+n:]
		vn := binary.BigEndian.Uint32(b)
		b = b[4:]
		if uint64(vn) > uint64(len(b)) {
			return nil, fmt.Errorf("%w: metadata property %q runs past the command", ErrProtocol, name)
		}
		md[name] = string(b[:vn])
		b = b[vn:]
	}
	return md, nil
}
