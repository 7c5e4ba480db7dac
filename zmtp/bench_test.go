package zmtp

import (
	"bytes"
	"testing"
)

// BenchmarkAppendMessage encodes a 3-frame message (command, 100-byte
// body, empty frame) into a reused buffer.
func BenchmarkAppendMessage(b *testing.B) {
	frames := [][]byte{make([]byte, 20), make([]byte, 100), {}}
	buf := make([]byte, 0, 256)
	b.SetBytes(int64(MessageSize(frames)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendMessage(buf[:0], frames)
	}
}

// loopReader replays the same bytes forever, as a socket full of
// identical messages would.
type loopReader struct {
	data []byte
	off  int
}

func (r *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.data[r.off:])
		n += c
		r.off = (r.off + c) % len(r.data)
	}
	return n, nil
}

// BenchmarkReadMessage parses 2-frame, 120-byte messages out of the
// reader's buffer (many per read, as on a busy connection).
func BenchmarkReadMessage(b *testing.B) {
	msg := AppendMessage(nil, [][]byte{make([]byte, 20), make([]byte, 100)})
	rd := newReader(&loopReader{data: bytes.Repeat(msg, 64)}, 1<<20, 16)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := rd.readMessage(); err != nil {
			b.Fatal(err)
		}
	}
}
