package federation

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// A forwarded notification on <prefix>.fed.deliver.<broker-id> is:
//
//	version   1 byte, 1
//	count     4 bytes big-endian: frames that follow (1 + content frames)
//	frames    each: 4-byte big-endian length, then the bytes
//
// Frame 1 is the DELIVER's frame 1 exactly as the publishing broker would
// send it to a local subscriber (sender, address, headers); the receiving
// broker validates it (codec.Parse) before it delivers it.
const wireVersion = 1

// maxFrames bounds the frame count a message may claim, before anything
// is allocated for it.
const maxFrames = 1 << 16

var errBadMessage = errors.New("federation: malformed forwarded message")

// appendMessage encodes deliver and content onto dst.
func appendMessage(dst, deliver []byte, content [][]byte) []byte {
	dst = append(dst, wireVersion)
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
	n := 5 + 4 + len(deliver)
	for _, f := range content {
		n += 4 + len(f)
	}
	return n
}

// parseMessage decodes a forwarded message. The frames alias data.
func parseMessage(data []byte) (deliver []byte, content [][]byte, err error) {
	if len(data) < 5 || data[0] != wireVersion {
		return nil, nil, fmt.Errorf("%w: bad header", errBadMessage)
	}
	count := binary.BigEndian.Uint32(data[1:5])
	if count == 0 || count > maxFrames || uint64(count)*4 > uint64(len(data)-5) {
		return nil, nil, fmt.Errorf("%w: frame count %d", errBadMessage, count)
	}
	frames := make([][]byte, 0, count)
	p := data[5:]
	for range count {
		if len(p) < 4 {
			return nil, nil, fmt.Errorf("%w: truncated", errBadMessage)
		}
		n := binary.BigEndian.Uint32(p)
		if uint64(n) > uint64(len(p)-4) {
			return nil, nil, fmt.Errorf("%w: frame of %d bytes past the end", errBadMessage, n)
		}
		frames = append(frames, p[4:4+n:4+n])
		p = p[4+n:]
	}
	if len(p) != 0 {
		return nil, nil, fmt.Errorf("%w: %d trailing bytes", errBadMessage, len(p))
	}
	return frames[0], frames[1:], nil
}
