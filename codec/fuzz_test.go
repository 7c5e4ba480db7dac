package codec_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/zccp-go/zccp/codec"
)

// Fuzz input layout for FuzzDecode: byte 0 mod 8 is the number of frames
// n; each of the first n-1 frames is a 2-byte big-endian length (cut to
// what remains) followed by its bytes; the last frame is whatever remains.
// An empty input is a message with no frames.

func splitFuzz(data []byte) [][]byte {
	if len(data) == 0 {
		return nil
	}
	n := int(data[0] % 8)
	data = data[1:]
	frames := make([][]byte, 0, n)
	for i := 0; i < n-1; i++ {
		l := 0
		if len(data) >= 2 {
			l = int(binary.BigEndian.Uint16(data))
			data = data[2:]
		} else {
			data = nil
		}
		l = min(l, len(data))
		frames = append(frames, data[:l:l])
		data = data[l:]
	}
	if n > 0 {
		frames = append(frames, data)
	}
	return frames
}

func joinFuzz(frames [][]byte) []byte {
	out := []byte{byte(len(frames))}
	for i, f := range frames {
		if i < len(frames)-1 {
			out = binary.BigEndian.AppendUint16(out, uint16(len(f)))
		}
		out = append(out, f...)
	}
	return out
}

func FuzzDecode(f *testing.F) {
	for _, g := range goldens {
		f.Add(joinFuzz(loadGolden(f, g.file)))
	}
	f.Add([]byte{})
	f.Add([]byte{2, 0, 3, 0xAA, 0xAA, 4, 'x'})
	f.Fuzz(func(t *testing.T, data []byte) {
		frames := splitFuzz(data)
		m, err := codec.Decode(frames)
		if err != nil && !errors.Is(err, codec.ErrMalformed) {
			t.Fatalf("error %v is not ErrMalformed", err)
		}
		if len(frames) == 0 {
			if err == nil {
				t.Fatal("Decode accepted a message with no frames")
			}
			return
		}
		v, perr := codec.Parse(frames[0])
		wantOK := perr == nil && (len(frames) == 1 || v.ID.HasContent())
		if (err == nil) != wantOK {
			t.Fatalf("Decode error %v, Parse error %v (%d frames)", err, perr, len(frames))
		}
		if perr != nil {
			if err.Error() != perr.Error() {
				t.Fatalf("Decode error %q, Parse error %q", err, perr)
			}
			return
		}
		if err != nil {
			return
		}
		checkViewMatches(t, v, m)
		if size, err := m.CommandSize(); err != nil || size != len(frames[0]) {
			t.Fatalf("CommandSize = %d, %v; frame 1 is %d bytes", size, err, len(frames[0]))
		}
		// m owns its memory: scribbling on the input changes nothing.
		before := fmt.Sprintf("%#v", *m)
		for _, fr := range frames {
			for i := range fr {
				fr[i] ^= 0x5A
			}
		}
		if after := fmt.Sprintf("%#v", *m); after != before {
			t.Fatalf("Decode result shares memory with its input:\n%s\n%s", before, after)
		}
		out, err := m.Frames()
		if err != nil {
			t.Fatalf("Frames: %v", err)
		}
		m2, err := codec.Decode(out)
		if err != nil {
			t.Fatalf("re-decode of %q: %v", out, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip:\n got %#v\nwant %#v", *m2, *m)
		}
	})
}

// checkViewMatches compares a View with the Message decoded from the same
// frame.
func checkViewMatches(t *testing.T, v codec.View, m *codec.Message) {
	t.Helper()
	if v.ID != m.ID || string(v.Identifier) != m.Identifier || string(v.Expression) != m.Expression ||
		string(v.Address) != m.Address || string(v.Sender) != m.Sender {
		t.Fatalf("View %+v disagrees with Message %+v", v, *m)
	}
	if m.ID.HasHeaders() != (m.Headers != nil) {
		t.Fatalf("%v: Headers nil = %v", m.ID, m.Headers == nil)
	}
	if v.Headers.Len() != len(m.Headers) || (m.ID.HasHeaders() && !reflect.DeepEqual(v.Headers.Map(), m.Headers)) {
		t.Fatalf("View headers %q, Message headers %q", v.Headers.Map(), m.Headers)
	}
}

func FuzzParse(f *testing.F) {
	for _, g := range goldens {
		f.Add(loadGolden(f, g.file)[0])
	}
	f.Add([]byte{0xAA, 0xAA, 3, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0})
	f.Fuzz(func(t *testing.T, frame []byte) {
		v, err := codec.Parse(frame)
		m, derr := codec.Decode([][]byte{frame})
		if (err == nil) != (derr == nil) {
			t.Fatalf("Parse error %v, Decode error %v", err, derr)
		}
		if err != nil {
			if !errors.Is(err, codec.ErrMalformed) || err.Error() != derr.Error() {
				t.Fatalf("Parse error %v, Decode error %v", err, derr)
			}
			return
		}
		checkViewMatches(t, v, m)
		n := 0
		for name, value := range v.Headers.All() {
			n++
			if got, ok := v.Headers.Get(string(name)); !ok || !bytes.Equal(got, value) {
				t.Fatalf("Get(%q) = %q, %v; All gave %q", name, got, ok, value)
			}
		}
		if n != v.Headers.Len() {
			t.Fatalf("All yielded %d entries, Len() = %d", n, v.Headers.Len())
		}
		if v.ID != codec.Publish {
			return
		}
		// A PUBLISH relayed as DELIVER keeps its address and headers.
		extra := []codec.Header{{Name: "\xff-relay", Value: "1"}}
		if _, dup := v.Headers.Get(extra[0].Name); dup {
			extra = nil
		}
		out := codec.AppendDeliver(nil, []byte("sender"), v.Address, v.Headers, extra)
		if len(out) != codec.DeliverSize([]byte("sender"), v.Address, v.Headers, extra) {
			t.Fatal("DeliverSize disagrees with AppendDeliver")
		}
		d, err := codec.Decode([][]byte{out})
		if err != nil {
			t.Fatalf("DELIVER built from a valid PUBLISH is malformed: %v", err)
		}
		want := m.Headers
		for _, h := range extra {
			want[h.Name] = h.Value
		}
		if d.ID != codec.Deliver || d.Sender != "sender" || d.Address != m.Address || !reflect.DeepEqual(d.Headers, want) {
			t.Fatalf("DELIVER %+v from PUBLISH %+v", *d, *m)
		}
	})
}
