package zmtp

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// libzmq sends its heartbeat PING whenever its timer fires, also between
// the frames of a multipart message (seen with pyzmq on libzmq 4.3.4: a
// DEALER with ZMQ_HEARTBEAT_IVL publishing two-frame messages). The
// message must arrive whole and the command right after it.
func TestReaderCommandBetweenFrames(t *testing.T) {
	ping := []byte{0x04, 'P', 'I', 'N', 'G', 0x00, 0x00}
	var wire []byte
	wire = append(wire, 0x01, 0x01, 'a')       // frame "a", MORE
	wire = append(wire, 0x04, byte(len(ping))) // command PING
	wire = append(wire, ping...)               //
	wire = append(wire, 0x04, byte(len(ping))) // and another
	wire = append(wire, ping...)               //
	wire = append(wire, 0x00, 0x01, 'b')       // frame "b", last
	wire = append(wire, 0x00, 0x01, 'c')       // next message
	for _, sizes := range [][]byte{nil, {0}, {1, 5, 2}, {6}} {
		rd := newReader(&chunkReader{data: wire, sizes: sizes}, 1<<20, 100)
		msgs, err := parseAll(rd)
		if !errors.Is(err, io.EOF) {
			t.Fatalf("sizes %v: err %v", sizes, err)
		}
		want := []parsed{
			{frames: [][]byte{[]byte("a"), []byte("b")}},
			{frames: [][]byte{ping}, cmd: true},
			{frames: [][]byte{ping}, cmd: true},
			{frames: [][]byte{[]byte("c")}},
		}
		if len(msgs) != len(want) {
			t.Fatalf("sizes %v: got %d messages: %v", sizes, len(msgs), msgs)
		}
		for i := range want {
			if msgs[i].cmd != want[i].cmd || len(msgs[i].frames) != len(want[i].frames) {
				t.Fatalf("sizes %v: message %d = %v", sizes, i, msgs[i])
			}
			for j := range want[i].frames {
				if !bytes.Equal(msgs[i].frames[j], want[i].frames[j]) {
					t.Fatalf("sizes %v: message %d frame %d = %q", sizes, i, j, msgs[i].frames[j])
				}
			}
		}
	}
}

// A peer cannot make the reader hold commands without bound.
func TestReaderHeldCommandsBounded(t *testing.T) {
	wire := []byte{0x01, 0x01, 'a'}
	for i := 0; i <= maxHeldCommands; i++ {
		wire = append(wire, 0x04, 0x01, 'x')
	}
	wire = append(wire, 0x00, 0x01, 'b')
	rd := newReader(bytes.NewReader(wire), 1<<20, 100)
	if _, err := parseAll(rd); !errors.Is(err, ErrProtocol) {
		t.Fatalf("err %v, want ErrProtocol", err)
	}
	big := []byte{0x01, 0x01, 'a', 0x06, 0, 0, 0, 0, 0, 0, 0x40, 0x00} // a 16 KiB command mid-message
	rd = newReader(bytes.NewReader(big), 1<<20, 100)
	if _, err := parseAll(rd); !errors.Is(err, ErrProtocol) {
		t.Fatalf("big command: err %v, want ErrProtocol", err)
	}
}
