package zmtp

import (
	"bytes"
	"testing"
)

// A reader kept busy by large messages keeps its grown buffer: no
// resizing per message (the buffer used to grow for each 64 KiB message
// and shrink back at the next boundary).
func TestReaderKeepsGrownBufferWhileBusy(t *testing.T) {
	msg := AppendMessage(nil, [][]byte{[]byte("head"), bytes.Repeat([]byte{'x'}, 64<<10)})
	rd := newReader(&loopReader{data: bytes.Repeat(msg, 3)}, 1<<20, 16)
	if _, _, err := rd.readMessage(); err != nil {
		t.Fatal(err)
	}
	first := &rd.buf[0]
	grown := len(rd.buf)
	if grown <= maxAutoBuffer {
		t.Fatalf("buffer of %d bytes holds a %d-byte message", grown, len(msg))
	}
	resized := 0
	for i := range 200 {
		frames, _, err := rd.readMessage()
		if err != nil || len(frames) != 2 || len(frames[1]) != 64<<10 {
			t.Fatalf("message %d: %d frames, %v", i, len(frames), err)
		}
		if &rd.buf[0] != first {
			resized++
			first = &rd.buf[0]
		}
	}
	if resized > 0 || len(rd.buf) != grown {
		t.Fatalf("buffer resized %d times in 200 messages (now %d bytes, was %d)", resized, len(rd.buf), grown)
	}
}

// A reader that has caught up with its peer (nothing left unread at a
// message boundary) gives a buffer grown for large messages back before it
// waits: it holds at most maxAutoBuffer, whatever came before.
func TestReaderShrinksWhenCaughtUp(t *testing.T) {
	big := AppendMessage(nil, [][]byte{bytes.Repeat([]byte{'b'}, 300<<10)})
	small := AppendMessage(nil, [][]byte{[]byte("small")})
	rd := newReader(&messageReader{msg: append(bytes.Repeat(big, 3), small...)}, 1<<20, 16)
	peak := 0
	for range 3 {
		if _, _, err := rd.readMessage(); err != nil {
			t.Fatal(err)
		}
		peak = max(peak, len(rd.buf))
	}
	if peak < 300<<10 {
		t.Fatalf("peak buffer %d bytes for 300 KiB messages", peak)
	}
	frames, _, err := rd.readMessage()
	if err != nil || string(frames[0]) != "small" {
		t.Fatalf("%q %v", frames, err)
	}
	if len(rd.buf) > maxAutoBuffer {
		t.Fatalf("caught-up reader holds %d bytes (limit %d)", len(rd.buf), maxAutoBuffer)
	}
}

func TestReadPoolClasses(t *testing.T) {
	for i := range readPoolClasses {
		if c := readPoolClass(minReadBuffer << i); c != i {
			t.Fatalf("class of %d = %d, want %d", minReadBuffer<<i, c, i)
		}
	}
	if minReadBuffer<<(readPoolClasses-1) != maxPooledBuffer {
		t.Fatal("readPoolClasses does not reach maxPooledBuffer")
	}
	for _, n := range []int{0, minReadBuffer - 1, minReadBuffer + 1, 3 * minReadBuffer, 2 * maxPooledBuffer} {
		if c := readPoolClass(n); c != -1 {
			t.Fatalf("size %d has class %d", n, c)
		}
	}
}
