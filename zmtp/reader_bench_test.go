package zmtp

import (
	"bytes"
	"testing"
)

// messageReader returns at most one message per Read, as a socket does
// when the reader keeps up with its peer: the buffer is drained at every
// message boundary.
type messageReader struct {
	msg []byte
	off int
}

func (r *messageReader) Read(p []byte) (int, error) {
	n := copy(p, r.msg[r.off:])
	r.off = (r.off + n) % len(r.msg)
	return n, nil
}

// benchmarkRead64KiB parses 2-frame messages with a 64 KiB body (the
// floodbench's large case) and reports the bytes allocated per message.
func benchmarkRead64KiB(b *testing.B, src func(msg []byte) *reader) {
	msg := AppendMessage(nil, [][]byte{make([]byte, 20), make([]byte, 64<<10)})
	rd := src(msg)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := rd.readMessage(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadMessage64KiB: the reader is behind its peer, every read
// fills the buffer (a flood).
func BenchmarkReadMessage64KiB(b *testing.B) {
	benchmarkRead64KiB(b, func(msg []byte) *reader {
		return newReader(&loopReader{data: bytes.Repeat(msg, 4)}, 1<<20, 16)
	})
}

// BenchmarkReadMessage64KiBDrained: the reader keeps up, each read
// returns one message and leaves the buffer empty at the boundary.
func BenchmarkReadMessage64KiBDrained(b *testing.B) {
	benchmarkRead64KiB(b, func(msg []byte) *reader {
		return newReader(&messageReader{msg: msg}, 1<<20, 16)
	})
}
