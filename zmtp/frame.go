package zmtp

import "encoding/binary"

// Frame flag bits (ZMTP 3.x, RFC 23 section "Framing").
const (
	FlagMore    byte = 0x01 // another frame of the same message follows
	FlagLong    byte = 0x02 // the size field is 8 octets instead of 1
	FlagCommand byte = 0x04 // the frame is a command, not a message part
)

// maxShortFrame is the largest body that fits a 1-octet size field.
const maxShortFrame = 255

// FrameHeaderSize returns the number of octets of the header (flags + size)
// of a frame whose body is n octets long.
func FrameHeaderSize(n int) int {
	if n > maxShortFrame {
		return 9
	}
	return 2
}

// AppendFrameHeader appends the header of a frame with the given body size.
// more sets the MORE flag; command sets the COMMAND flag.
func AppendFrameHeader(dst []byte, size int, more, command bool) []byte {
	var flags byte
	if more {
		flags |= FlagMore
	}
	if command {
		flags |= FlagCommand
	}
	if size > maxShortFrame {
		dst = append(dst, flags|FlagLong)
		return binary.BigEndian.AppendUint64(dst, uint64(size))
	}
	return append(dst, flags, byte(size))
}

// AppendFrame appends one whole frame (header and body).
func AppendFrame(dst, body []byte, more bool) []byte {
	dst = AppendFrameHeader(dst, len(body), more, false)
	return append(dst, body...)
}

// AppendMessage appends a multipart message: every frame but the last has
// the MORE flag. A message with no frames is encoded as one empty frame,
// since ZMTP cannot carry a message with zero parts.
func AppendMessage(dst []byte, frames [][]byte) []byte {
	if len(frames) == 0 {
		return append(dst, 0, 0)
	}
	return AppendFrames(dst, frames)
}

// AppendFrames appends frames as the tail of a multipart message whose
// earlier frames were sent with MORE: every frame but the last has MORE.
// No frames appends nothing.
func AppendFrames(dst []byte, frames [][]byte) []byte {
	last := len(frames) - 1
	for i, f := range frames {
		dst = AppendFrame(dst, f, i < last)
	}
	return dst
}

// FramesSize returns the number of octets AppendFrames appends.
func FramesSize(frames [][]byte) int {
	n := 0
	for _, f := range frames {
		n += FrameHeaderSize(len(f)) + len(f)
	}
	return n
}

// MessageSize returns the number of octets AppendMessage appends.
func MessageSize(frames [][]byte) int {
	if len(frames) == 0 {
		return 2
	}
	return FramesSize(frames)
}

// appendCommand appends a command frame: name-size, name, data.
func appendCommand(dst []byte, name string, data []byte) []byte {
	size := 1 + len(name) + len(data)
	dst = AppendFrameHeader(dst, size, false, true)
	dst = append(dst, byte(len(name)))
	dst = append(dst, name...)
	return append(dst, data...)
}
