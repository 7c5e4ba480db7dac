package zmtp

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// chunkReader returns data in pieces whose sizes come from sizes (cycled),
// so that frame headers and bodies straddle reads.
type chunkReader struct {
	data  []byte
	sizes []byte
	i     int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := len(r.data)
	if len(r.sizes) > 0 {
		n = int(r.sizes[r.i%len(r.sizes)])%7 + 1
		r.i++
	}
	n = min(n, len(p), len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

type parsed struct {
	frames [][]byte
	cmd    bool
}

// parseAll reads messages until an error and returns them (copied) and
// the error.
func parseAll(rd *reader) ([]parsed, error) {
	var out []parsed
	for len(out) < 10000 {
		frames, cmd, err := rd.readMessage()
		if err != nil {
			return out, err
		}
		p := parsed{cmd: cmd}
		for _, f := range frames {
			p.frames = append(p.frames, bytes.Clone(f))
		}
		out = append(out, p)
	}
	return out, nil
}

// frameVectors is the golden table of frame encodings shared by the
// reader tests and the fuzz seed corpus.
var frameVectors = []struct {
	name   string
	wire   []byte
	frames [][]byte
}{
	{"empty frame", []byte{0x00, 0x00}, [][]byte{{}}},
	{"short frame", []byte{0x00, 0x03, 'a', 'b', 'c'}, [][]byte{[]byte("abc")}},
	{"multipart", []byte{0x01, 0x01, 'a', 0x01, 0x00, 0x00, 0x01, 'c'}, [][]byte{[]byte("a"), {}, []byte("c")}},
	{"long frame", append([]byte{0x02, 0, 0, 0, 0, 0, 0, 0x01, 0x00}, bytes.Repeat([]byte{'L'}, 256)...), [][]byte{bytes.Repeat([]byte{'L'}, 256)}},
	{"long flag small size", []byte{0x02, 0, 0, 0, 0, 0, 0, 0, 0x02, 'h', 'i'}, [][]byte{[]byte("hi")}},
}

func TestReaderGoldenSplitAnywhere(t *testing.T) {
	for _, v := range frameVectors {
		if got := AppendMessage(nil, v.frames); v.name != "long flag small size" && !bytes.Equal(got, v.wire) {
			t.Errorf("%s: AppendMessage = % x, want % x", v.name, got, v.wire)
		}
		for _, sizes := range [][]byte{nil, {0}, {1, 5, 2}, {6}} {
			rd := newReader(&chunkReader{data: v.wire, sizes: sizes}, 1<<20, 100)
			msgs, err := parseAll(rd)
			if !errors.Is(err, io.EOF) {
				t.Fatalf("%s: err %v", v.name, err)
			}
			if len(msgs) != 1 || len(msgs[0].frames) != len(v.frames) {
				t.Fatalf("%s: got %d messages", v.name, len(msgs))
			}
			for i := range v.frames {
				if !bytes.Equal(msgs[0].frames[i], v.frames[i]) {
					t.Fatalf("%s: frame %d = %q", v.name, i, msgs[0].frames[i])
				}
			}
		}
	}
}

func TestReaderErrors(t *testing.T) {
	cases := []struct {
		name string
		wire []byte
		want error
	}{
		{"reserved flags", []byte{0x80, 0x00}, ErrProtocol},
		{"multipart command", []byte{0x05, 0x00, 0x00, 0x00}, ErrProtocol},
		{"absurd size announced", []byte{0x02, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, ErrProtocol},
		{"too large then truncated", []byte{0x02, 0, 0, 0, 0, 0, 0x20, 0, 0, 'x'}, io.ErrUnexpectedEOF},
		{"truncated body", []byte{0x00, 0x05, 'a'}, io.ErrUnexpectedEOF},
		{"truncated header", []byte{0x02, 0x00}, io.ErrUnexpectedEOF},
	}
	for _, c := range cases {
		rd := newReader(bytes.NewReader(c.wire), 1<<20, 100)
		_, err := parseAll(rd)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v want %v", c.name, err, c.want)
		}
	}
}

// TestReaderSkipsOversized checks that a message over a limit is skipped
// whole, reported as ErrTooLarge, and that the next message is intact,
// however the input is split.
func TestReaderSkipsOversized(t *testing.T) {
	var manyFrames []byte
	for i := 0; i < 5; i++ {
		manyFrames = AppendFrame(manyFrames, []byte("f"), true)
	}
	manyFrames = AppendFrame(manyFrames, nil, false)
	big := AppendMessage(nil, [][]byte{[]byte("head"), bytes.Repeat([]byte("B"), 3000), []byte("tail")})
	after := AppendMessage(nil, [][]byte{[]byte("next")})
	for _, bad := range [][]byte{manyFrames, big} {
		for _, sizes := range [][]byte{nil, {3, 1, 4}} {
			wire := append(bytes.Clone(bad), after...)
			rd := newReader(&chunkReader{data: wire, sizes: sizes}, 1000, 5)
			_, _, err := rd.readMessage()
			var tl *TooLargeError
			if !errors.As(err, &tl) || !errors.Is(err, ErrTooLarge) {
				t.Fatalf("got %v, want *TooLargeError", err)
			}
			frames, _, err := rd.readMessage()
			if err != nil || len(frames) != 1 || string(frames[0]) != "next" {
				t.Fatalf("after skip: %q %v", frames, err)
			}
		}
	}
}

// FuzzReader feeds arbitrary bytes split at arbitrary points: the reader
// must never panic, must respect the size limit, and must parse the same
// messages however the input is split across reads.
func FuzzReader(f *testing.F) {
	for _, v := range frameVectors {
		f.Add(v.wire, []byte{1, 2, 3})
	}
	f.Add(appendGreeting(nil, "NULL", false), []byte{0})
	f.Add([]byte{0x02, 0, 0, 0, 0, 0, 0x40, 0, 0, 'a', 'b', 'c'}, []byte{0}) // announces 4 MiB, sends 3 bytes
	f.Fuzz(func(t *testing.T, wire, sizes []byte) {
		const limit = 4096
		whole, errWhole := parseAll(newReader(bytes.NewReader(wire), limit, 64))
		split, errSplit := parseAll(newReader(&chunkReader{data: wire, sizes: sizes}, limit, 64))
		if len(whole) != len(split) {
			t.Fatalf("whole read gave %d messages, split read %d", len(whole), len(split))
		}
		for i := range whole {
			total := 0
			for j := range whole[i].frames {
				total += len(whole[i].frames[j])
				if !bytes.Equal(whole[i].frames[j], split[i].frames[j]) {
					t.Fatalf("message %d frame %d differs", i, j)
				}
			}
			if total > limit {
				t.Fatalf("message %d has %d bytes, over the limit", i, total)
			}
		}
		if (errWhole == nil) != (errSplit == nil) {
			t.Fatalf("errors differ: %v vs %v", errWhole, errSplit)
		}
		// Memory follows the bytes that arrived, whatever sizes the
		// frames announce (no size limit here).
		rd := newReader(&chunkReader{data: wire, sizes: sizes}, 1<<40, 1<<20)
		parseAll(rd)
		if limit := max(maxAutoBuffer, 4*int(rd.nread)); len(rd.buf) > limit {
			t.Fatalf("buffer of %d bytes after reading %d", len(rd.buf), rd.nread)
		}
	})
}

func TestGreetingGolden(t *testing.T) {
	g := appendGreeting(nil, "NULL", false)
	want := append([]byte{0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 1, 'N', 'U', 'L', 'L'}, make([]byte, 48)...)
	if !bytes.Equal(g, want) {
		t.Fatalf("greeting\n% x\nwant\n% x", g, want)
	}
	p, err := parseGreeting(g)
	if err != nil || p.mechanism != "NULL" || p.major != 3 || p.minor != 1 || p.asServer {
		t.Fatalf("parse: %+v %v", p, err)
	}
	bad := bytes.Clone(g)
	bad[0] = 0
	if _, err := parseGreeting(bad); !errors.Is(err, ErrProtocol) {
		t.Fatalf("bad signature: %v", err)
	}
	old := bytes.Clone(g)
	old[10] = 2
	if _, err := parseGreeting(old); !errors.Is(err, ErrProtocol) {
		t.Fatalf("ZMTP 2: %v", err)
	}
}

func TestMetadataRoundTrip(t *testing.T) {
	b := appendMetadata(nil, [][2]string{{"Socket-Type", "DEALER"}, {"Identity", ""}})
	want := []byte("\x0bSocket-Type\x00\x00\x00\x06DEALER\x08Identity\x00\x00\x00\x00")
	if !bytes.Equal(b, want) {
		t.Fatalf("metadata % x", b)
	}
	md, err := parseMetadata(b)
	if err != nil || md["Socket-Type"] != "DEALER" || md["Identity"] != "" || len(md) != 2 {
		t.Fatalf("%v %v", md, err)
	}
	if _, err := parseMetadata(b[:len(b)-1]); err == nil {
		t.Fatal("truncated metadata accepted")
	}
	if _, err := parseMetadata([]byte{0x05, 'a', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF}); err == nil {
		t.Fatal("value past end accepted")
	}
}
