package federation

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// A forwarded notification on <prefix>.fed.deliver.<broker-id> is:
//
//	version   1 byte, 1
//	origin    8 bytes: the sending broker's id (16 hex digits), raw
//	seq       8 bytes big-endian: 1, 2, 3, ... per (origin, destination)
//	count     4 bytes big-endian: frames that follow (1 + content frames)
//	frames    each: 4-byte big-endian length, then the bytes
//
// Core NATS delivers at most once: a message written to a server that
// dies is gone without an error at the sender. The sequence number lets
// the receiver count what never arrived.
//
// Frame 1 is the DELIVER's frame 1 exactly as the publishing broker would
// send it to a local subscriber (sender, address, headers); the receiving
// broker validates it (codec.Parse) before it delivers it.
const wireVersion = 1

// maxFrames bounds the frame count a message may claim, before anything
// is allocated for it.
const maxFrames = 1 << 16

var errBadMessage = errors.New("federation: malformed forwarded message")

// headerSize is the fixed part before the frames.
const headerSize = 1 + 8 + 8 + 4

// appendMessage encodes deliver and content onto dst.
func appendMessage(dst []byte, origin [8]byte, seq uint64, deliver []byte, content [][]byte) []byte {
	dst = append(dst, wireVersion)
	dst = append(dst, origin[:]...)
	dst = binary.BigEndian.AppendUint64(dst, seq)
	dst = binary.BigEndian.AppendUint32(dst, uint32(1+len(content)))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(deliver)))
	dst = append(dst, deliver...)
	for _, f := range content {
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(f)))
		dst = append(dst, f...)
	}
	return dst
}

// messageSize is the encoded size of deliver and content.
func messageSize(deliver []byte, content [][]byte) int {
	n := headerSize + 4 + len(deliver)
	for _, f := range content {
		n += 4 + len(f)
	}
	return n
}

// wireMessage is a decoded forwarded message; its frames alias the input.
type wireMessage struct {
	origin  [8]byte
	seq     uint64
	deliver []byte
	content [][]byte
}

// parseMessage decodes a forwarded message.
func parseMessage(data []byte) (m wireMessage, err error) {
	if len(data) < headerSize || data[0] != wireVersion {
		return m, fmt.Errorf("%w: bad header", errBadMessage)
	}
	copy(m.origin[:], data[1:9])
	m.seq = binary.BigEndian.Uint64(data[9:17])
	count := binary.BigEndian.Uint32(data[17:21])
	if count == 0 || count > maxFrames || uint64(count)*4 > uint64(len(data)-headerSize) {
		return m, fmt.Errorf("%w: frame count %d", errBadMessage, count)
	}
	frames := make([][]byte, 0, count)
	p := data[headerSize:]
	for range count {
		if len(p) < 4 {
			return m, fmt.Errorf("%w: truncated", errBadMessage)
		}
		n := binary.BigEndian.Uint32(p)
		if uint64(n) > uint64(len(p)-4) {
			return m, fmt.Errorf("%w: frame of %d bytes past the end", errBadMessage, n)
		}
		frames = append(frames, p[4:4+n:4+n])
		p = p[4+n:]
	}
	if len(p) != 0 {
		return m, fmt.Errorf("%w: %d trailing bytes", errBadMessage, len(p))
	}
	m.deliver, m.content = frames[0], frames[1:]
	return m, nil
}
