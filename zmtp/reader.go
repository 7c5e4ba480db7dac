package zmtp

import (
	"encoding/binary"
	"fmt"
	"io"
)

const (
	// minReadBuffer is the read buffer a connection starts with and
	// shrinks back to when it is quiet: idle connections stay small.
	minReadBuffer = 4 << 10
	// maxAutoBuffer is what the buffer grows to while reads keep filling
	// it (a busy peer), so that one syscall serves many messages.
	maxAutoBuffer = 64 << 10
)

// span locates one frame body inside reader.buf.
type span struct{ off, n int }

// reader parses ZMTP frames out of one large buffer that is refilled with
// as many bytes as each read returns, so that one syscall serves many small
// messages. It is used by exactly one goroutine.
type reader struct {
	rd        io.Reader
	buf       []byte
	r, w      int // unread bytes are buf[r:w]
	msgStart  int // first byte of the message being parsed; nothing before it is needed
	maxSize   int64
	maxFrames int
	spans     []span
	frames    [][]byte
	nread     int64    // bytes read from the socket so far
	small     int      // consecutive reads that used under a quarter of the buffer
	frameCap  int64    // > 0: any larger frame is a protocol error (the handshake)
	v2        bool     // ZMTP 2.0 framing: no COMMAND flag (set once, before any message)
	held      [][]byte // command frames that arrived between the frames of a message (copies), returned after it
}

// maxHeldCommands bounds the command frames kept aside while one
// multipart message is read: libzmq sends its heartbeat PING between the
// frames of a message when the timer fires there, one per interval.
const maxHeldCommands = 64

// maxHandshakeFrame bounds every frame received before the handshake is
// complete (greeting aside): the mechanism's commands carry a few hundred
// bytes of keys and metadata, so a peer that announces more is not a
// ZMTP peer worth buffering for.
const maxHandshakeFrame = 8 << 10

func newReader(rd io.Reader, maxSize int64, maxFrames int) *reader {
	return &reader{rd: rd, buf: getReadBuffer(minReadBuffer), maxSize: maxSize, maxFrames: maxFrames}
}

// buffered returns the number of bytes read from the socket but not yet
// parsed. Zero means the next readMessage will block in a read syscall.
func (rd *reader) buffered() int { return rd.w - rd.r }

// fill makes sure at least n unparsed bytes are in the buffer; bytes
// before msgStart may be discarded. Memory follows the bytes that arrive,
// not the sizes a peer announces: the buffer grows (at most doubling) only
// when the message being read fills it, so a peer that declares a 4 MiB
// frame and sends nothing costs nothing.
func (rd *reader) fill(n int) error {
	for rd.w-rd.r < n {
		rd.makeRoom(n)
		room := len(rd.buf) - rd.w
		m, err := rd.rd.Read(rd.buf[rd.w:])
		rd.w += m
		rd.nread += int64(m)
		rd.adapt(m, room)
		if err != nil {
			if rd.w-rd.r >= n {
				return nil
			}
			if err == io.EOF && rd.w > rd.msgStart {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// makeRoom prepares the buffer for a read towards n unparsed bytes: it
// leaves it alone while the rest fits, compacts it (dropping what precedes
// msgStart) when that frees room, and doubles it, up to what the message
// needs, when the message already fills half of it.
func (rd *reader) makeRoom(n int) {
	need := rd.r - rd.msgStart + n // bytes from msgStart that must fit
	size := len(rd.buf)
	if size-rd.msgStart >= need && rd.msgStart <= size/2 {
		return
	}
	if held := rd.w - rd.msgStart; need > size && held >= size/2 {
		rd.resize(grownSize(size, need))
		return
	}
	if rd.msgStart > 0 {
		rd.shift(rd.buf) // otherwise the free half of the buffer is room enough
	}
}

// shift moves buf[msgStart:w] to the start of dst (which may be rd.buf)
// and rebases every offset.
func (rd *reader) shift(dst []byte) {
	d := rd.msgStart
	copy(dst, rd.buf[d:rd.w])
	rd.buf = dst
	rd.r -= d
	rd.w -= d
	rd.msgStart = 0
	for i := range rd.spans {
		rd.spans[i].off -= d
	}
}

// resize moves buf[msgStart:w] into a buffer of size bytes and gives the
// old one back to the pool: the frames a previous readMessage returned
// are no longer valid (and are cleared, so that a waiting reader does not
// keep the old buffer alive), and the current message's spans are rebased.
func (rd *reader) resize(size int) {
	old := rd.buf
	clear(rd.frames) // the last message's frames would keep old alive
	rd.shift(getReadBuffer(size))
	putReadBuffer(old)
}

// readRaw returns the next n bytes (used for the greeting).
func (rd *reader) readRaw(n int) ([]byte, error) {
	rd.msgStart = rd.r
	if err := rd.fill(n); err != nil {
		return nil, err
	}
	b := rd.buf[rd.r : rd.r+n]
	rd.r += n
	return b, nil
}

// frameHeader reads one frame header and returns its flags and body size.
func (rd *reader) frameHeader() (flags byte, size uint64, err error) {
	if err = rd.fill(2); err != nil {
		return 0, 0, err
	}
	flags = rd.buf[rd.r]
	allowed := FlagMore | FlagLong | FlagCommand
	if rd.v2 {
		allowed = FlagMore | FlagLong // bit 2 is reserved in ZMTP 2.0
	}
	if flags&^allowed != 0 {
		return 0, 0, fmt.Errorf("%w: reserved frame flag bits set (0x%02x)", ErrProtocol, flags)
	}
	if flags&FlagLong == 0 {
		size = uint64(rd.buf[rd.r+1])
		rd.r += 2
		return flags, size, nil
	}
	if err = rd.fill(9); err != nil {
		return 0, 0, err
	}
	size = binary.BigEndian.Uint64(rd.buf[rd.r+1:])
	rd.r += 9
	return flags, size, nil
}

// readHandshakeCommand reads one command frame during the handshake,
// where every frame is capped at maxHandshakeFrame.
func (rd *reader) readHandshakeCommand() (frames [][]byte, isCommand bool, err error) {
	rd.frameCap = maxHandshakeFrame
	defer func() { rd.frameCap = 0 }()
	return rd.readMessage()
}

// readMessage reads one whole multipart message, or one command frame
// (isCommand true, a single frame). The returned frames point into the
// reader's buffer and are valid until the next call.
func (rd *reader) readMessage() (frames [][]byte, isCommand bool, err error) {
	if len(rd.held) > 0 {
		rd.frames = append(rd.frames[:0], rd.held[0])
		rd.held = rd.held[1:]
		return rd.frames, true, nil
	}
	rd.maybeShrink()
	rd.msgStart = rd.r
	rd.spans = rd.spans[:0]
	var total uint64
	for {
		flags, size, err := rd.frameHeader()
		if err != nil {
			return nil, false, err
		}
		cmd := flags&FlagCommand != 0
		if cmd && flags&FlagMore != 0 {
			return nil, false, fmt.Errorf("%w: multipart command frame", ErrProtocol)
		}
		if cmd && len(rd.spans) > 0 {
			// A command between two frames of a message (libzmq's
			// heartbeat does this): keep a copy, return it after the message.
			if size > maxHandshakeFrame || len(rd.held) >= maxHeldCommands {
				return nil, false, fmt.Errorf("%w: command frame of %d bytes inside a multipart message", ErrProtocol, size)
			}
			if err := rd.fill(int(size)); err != nil {
				return nil, false, err
			}
			rd.held = append(rd.held, append([]byte(nil), rd.buf[rd.r:rd.r+int(size)]...))
			rd.r += int(size)
			continue
		}
		if rd.frameCap > 0 && size > uint64(rd.frameCap) {
			return nil, false, fmt.Errorf("%w: frame of %d bytes during the handshake (limit %d)", ErrProtocol, size, rd.frameCap)
		}
		total += size
		tooBig := rd.maxSize > 0 && total > uint64(rd.maxSize)
		tooMany := rd.maxFrames > 0 && len(rd.spans) >= rd.maxFrames
		if size > maxDiscard || cmd && (tooBig || tooMany) {
			return nil, false, fmt.Errorf("%w: frame of %d bytes", ErrProtocol, size)
		}
		if tooBig || tooMany {
			// Refuse the message without holding it in memory: stream
			// past the rest of it so that the connection stays usable.
			seen := len(rd.spans) + 1
			if err := rd.skipMessage(size, flags&FlagMore != 0); err != nil {
				return nil, false, err
			}
			if tooMany {
				return nil, false, &TooLargeError{Frames: seen, Limit: rd.maxFrames}
			}
			return nil, false, &TooLargeError{Size: total, Limit: int(rd.maxSize)}
		}
		if err := rd.fill(int(size)); err != nil {
			return nil, false, err
		}
		rd.spans = append(rd.spans, span{rd.r, int(size)})
		rd.r += int(size)
		if flags&FlagMore == 0 {
			rd.frames = rd.frames[:0]
			for _, s := range rd.spans {
				rd.frames = append(rd.frames, rd.buf[s.off:s.off+s.n:s.off+s.n])
			}
			return rd.frames, cmd, nil
		}
	}
}

// adapt sizes the buffer to the traffic after a read of m bytes into room
// free bytes: a read that filled it asks for a larger buffer (up to
// maxAutoBuffer, applied at the next message boundary); a run of small
// reads lets it shrink.
func (rd *reader) adapt(m, room int) {
	switch {
	case m == room && len(rd.buf) < maxAutoBuffer:
		rd.small = -1 // grow at the next boundary
	case m < len(rd.buf)/4:
		if rd.small >= 0 {
			rd.small++
		}
	default:
		rd.small = 0
	}
}

// caughtUp is how few unread bytes at a message boundary mean the reader
// has caught up with its peer (what is left is at most the start of the
// next message): a buffer grown past maxAutoBuffer for large messages
// goes back to the pool then, so a connection that waits for its peer
// holds at most maxAutoBuffer. While the peer keeps the reader busy the
// grown buffer is kept, however many large messages follow.
const caughtUp = minReadBuffer / 2

// maybeShrink resizes the buffer at a message boundary: up when reads
// fill it, back down to maxAutoBuffer when the reader has caught up after
// large messages, and by halves after a run of small reads.
func (rd *reader) maybeShrink() {
	unread := rd.w - rd.r
	size := len(rd.buf)
	switch {
	case rd.small < 0:
		size = min(2*size, maxAutoBuffer)
	case size > maxAutoBuffer && unread <= caughtUp:
		size = maxAutoBuffer
	case rd.small >= 16 && size > minReadBuffer && unread <= size/4:
		size /= 2
	default:
		return
	}
	rd.small = 0
	if size == len(rd.buf) || unread > size {
		return
	}
	rd.msgStart = rd.r
	rd.spans = rd.spans[:0]
	rd.resize(size)
}

// maxDiscard is the largest frame size announced that is skipped rather
// than treated as a protocol violation.
const maxDiscard = 1 << 40

// skipMessage discards size body bytes of the current frame and, if more
// is set, every following frame of the message, without keeping them.
func (rd *reader) skipMessage(size uint64, more bool) error {
	for {
		for size > 0 {
			rd.msgStart = rd.r
			rd.spans = rd.spans[:0]
			if rd.r == rd.w {
				if err := rd.fill(1); err != nil {
					if err == io.EOF {
						err = io.ErrUnexpectedEOF
					}
					return err
				}
			}
			n := min(uint64(rd.w-rd.r), size)
			rd.r += int(n)
			size -= n
		}
		if !more {
			return nil
		}
		rd.msgStart = rd.r
		flags, sz, err := rd.frameHeader()
		if err != nil {
			return err
		}
		if flags&FlagCommand != 0 || sz > maxDiscard {
			return fmt.Errorf("%w: bad frame inside an oversized message", ErrProtocol)
		}
		size, more = sz, flags&FlagMore != 0
	}
}

// parseCommand splits a command frame body into name and data.
func parseCommand(body []byte) (name string, data []byte, err error) {
	if len(body) < 1 || int(body[0]) > len(body)-1 || body[0] == 0 {
		return "", nil, fmt.Errorf("%w: malformed command frame", ErrProtocol)
	}
	n := int(body[0])
	return string(body[1 : 1+n]), body[1+n:], nil
}
