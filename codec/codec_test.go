package codec_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/zccp-go/zccp/codec"
)

func TestIDs(t *testing.T) {
	tests := []struct {
		id               codec.ID
		name             string
		headers, content bool
	}{
		{codec.Hello, "HELLO", true, false},
		{codec.HelloOK, "HELLO-OK", true, false},
		{codec.Subscribe, "SUBSCRIBE", true, false},
		{codec.SubscribeOK, "SUBSCRIBE-OK", false, false},
		{codec.Publish, "PUBLISH", true, true},
		{codec.Direct, "DIRECT", true, true},
		{codec.Deliver, "DELIVER", true, true},
		{codec.Goodbye, "GOODBYE", false, false},
		{codec.GoodbyeOK, "GOODBYE-OK", true, false},
		{codec.Ping, "PING", false, false},
		{codec.PingOK, "PING-OK", false, false},
		{codec.Invalid, "INVALID", false, false},
	}
	for i, tt := range tests {
		if int(tt.id) != i+1 {
			t.Errorf("%s = %d, want %d", tt.name, tt.id, i+1)
		}
		if tt.id.String() != tt.name || !tt.id.Valid() || tt.id.HasHeaders() != tt.headers || tt.id.HasContent() != tt.content {
			t.Errorf("%d: String=%q Valid=%v HasHeaders=%v HasContent=%v", tt.id, tt.id, tt.id.Valid(), tt.id.HasHeaders(), tt.id.HasContent())
		}
	}
	for _, id := range []codec.ID{0, 13, 255} {
		if id.Valid() || id.HasHeaders() || id.HasContent() || id.String() != fmt.Sprintf("ID(%d)", uint8(id)) {
			t.Errorf("%d: String=%q Valid=%v", uint8(id), id, id.Valid())
		}
	}
}

func TestKindString(t *testing.T) {
	for k := codec.KindEmpty; k <= codec.KindUnexpectedContent; k++ {
		if s := k.String(); s == "" || strings.HasPrefix(s, "Kind(") {
			t.Errorf("Kind %d has no name", k)
		}
	}
	if s := codec.Kind(0).String(); s != "Kind(0)" {
		t.Errorf("Kind(0).String() = %q", s)
	}
}

func TestEncodeErrors(t *testing.T) {
	long := strings.Repeat("x", 256)
	tests := []struct {
		name string
		msg  codec.Message
		want error
		text string
	}{
		{"unknown id 0", codec.Message{}, codec.ErrUnknownCommand, "zccp: unknown command id: 0"},
		{"unknown id 13", codec.Message{ID: 13}, codec.ErrUnknownCommand, ""},
		{"identifier", codec.Message{ID: codec.Hello, Identifier: long}, codec.ErrStringTooLong,
			`zccp: string longer than 255 bytes: HELLO field "identifier" is 256 bytes`},
		{"expression", codec.Message{ID: codec.Subscribe, Expression: long}, codec.ErrStringTooLong, ""},
		{"address", codec.Message{ID: codec.Publish, Address: long}, codec.ErrStringTooLong, ""},
		{"sender", codec.Message{ID: codec.Deliver, Sender: long}, codec.ErrStringTooLong, ""},
		{"header name", codec.Message{ID: codec.GoodbyeOK, Headers: codec.Headers{long: "v"}}, codec.ErrStringTooLong,
			`zccp: string longer than 255 bytes: GOODBYE-OK header name "xxxxxxxxxxxxxxxx"... is 256 bytes`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := []byte("keep")
			got, err := tt.msg.AppendCommand(dst)
			if !errors.Is(err, tt.want) {
				t.Fatalf("AppendCommand error = %v, want %v", err, tt.want)
			}
			if tt.text != "" && err.Error() != tt.text {
				t.Errorf("message:\n got %s\nwant %s", err, tt.text)
			}
			if string(got) != "keep" {
				t.Errorf("dst changed to %q", got)
			}
			if _, err := tt.msg.CommandSize(); !errors.Is(err, tt.want) {
				t.Errorf("CommandSize error = %v", err)
			}
			if f, err := tt.msg.Frames(); !errors.Is(err, tt.want) || f != nil {
				t.Errorf("Frames = %q, %v", f, err)
			}
		})
	}
	// A 255-byte header name is fine; the limits apply to names, not values.
	ok := codec.Message{ID: codec.HelloOK, Headers: codec.Headers{long[:255]: long + long}}
	if _, err := ok.AppendCommand(nil); err != nil {
		t.Errorf("255-byte name: %v", err)
	}
	// Fields the command does not carry are ignored, whatever their size.
	ignored := codec.Message{ID: codec.Ping, Identifier: long, Headers: codec.Headers{long: ""}, Content: [][]byte{[]byte("x")}}
	f, err := ignored.Frames()
	if err != nil || len(f) != 1 || string(f[0]) != "\xaa\xaa\x0a" {
		t.Errorf("PING with foreign fields: %q, %v", f, err)
	}
}

func TestAppendHeaders(t *testing.T) {
	got, err := codec.AppendHeaders([]byte{0xEE}, codec.Headers{"b": "2", "a": "\x00", "c": ""})
	if err != nil {
		t.Fatal(err)
	}
	want := hx(t, `EE 00000003 01 "a" 00000001 00 01 "b" 00000001 "2" 01 "c" 00000000`)
	if !bytes.Equal(got, want) {
		t.Errorf("AppendHeaders:\n got %x\nwant %x", got, want)
	}
	for _, h := range []codec.Headers{nil, {}} {
		if got, err := codec.AppendHeaders(nil, h); err != nil || !bytes.Equal(got, []byte{0, 0, 0, 0}) {
			t.Errorf("AppendHeaders(%#v) = %x, %v", h, got, err)
		}
	}
	_, err = codec.AppendHeaders(nil, codec.Headers{strings.Repeat("n", 300): ""})
	if !errors.Is(err, codec.ErrStringTooLong) {
		t.Errorf("long name: %v", err)
	}
	// More entries than fit on the stack: still sorted.
	h := codec.Headers{}
	for i := range 40 {
		h[fmt.Sprintf("k%02d", 39-i)] = ""
	}
	enc, err := codec.AppendHeaders(nil, h)
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	for name := range codec.RawHeaders(enc).All() {
		if want := fmt.Sprintf("k%02d", i); string(name) != want {
			t.Fatalf("entry %d = %q, want %q", i, name, want)
		}
		i++
	}
}

// dictFrame hand-builds a HELLO-OK whose dictionary has the given names in
// this order, each with an empty value.
func dictFrame(names []string) []byte {
	b := []byte{0xAA, 0xAA, byte(codec.HelloOK)}
	b = binary.BigEndian.AppendUint32(b, uint32(len(names)))
	for _, n := range names {
		b = append(b, byte(len(n)))
		b = append(b, n...)
		b = append(b, 0, 0, 0, 0)
	}
	return b
}

// TestDuplicatesLarge covers the three duplicate-detection strategies
// (pairwise, sorted on the stack, sorted on the heap). Whatever the
// strategy, the duplicate reported is the first one in frame order.
func TestDuplicatesLarge(t *testing.T) {
	for _, n := range []int{2, 3, 8, 9, 30, 64, 65, 500} {
		names := make([]string, n)
		for i := range names {
			names[i] = fmt.Sprintf("h%03d", (i*7)%n) // a permutation: gcd(7, n) = 1
		}
		v, err := codec.Parse(dictFrame(names))
		if err != nil || v.Headers.Len() != n || len(v.Headers.Map()) != n {
			t.Errorf("n=%d unique: %v", n, err)
		}
		// names[0] is "h000", which sorts first; its repeat comes last.
		names[n-1] = names[0]
		dupAt := n - 1
		if n >= 4 {
			names[n/2] = names[1] // a later-sorting name repeated earlier
			dupAt = n / 2
		}
		_, err = codec.Parse(dictFrame(names))
		var e *codec.Error
		wantOff := 7 + dupAt*(1+4+4)
		if !errors.As(err, &e) || e.Kind != codec.KindDuplicateHeader || e.Offset != wantOff {
			t.Errorf("n=%d: error %v, want duplicate at offset %d", n, err, wantOff)
		}
	}
}

func TestRawHeadersGarbage(t *testing.T) {
	for _, h := range []codec.RawHeaders{
		nil, {}, {0, 0}, {0, 0, 0, 1}, {0xFF, 0xFF, 0xFF, 0xFF, 3, 'a'},
		{0, 0, 0, 2, 1, 'a', 0, 0, 0, 1, 'x', 1, 'b', 0xFF, 0xFF, 0xFF, 0xFF},
	} {
		n := 0
		for range h.All() {
			n++
		}
		m := h.Map()
		if m == nil || len(m) != n {
			t.Errorf("%x: Map() = %q, All() yielded %d", []byte(h), m, n)
		}
		if v, ok := h.Get("b"); ok {
			t.Errorf("%x: Get(b) = %q", []byte(h), v)
		}
	}
	h := codec.RawHeaders{0, 0, 0, 2, 1, 'a', 0, 0, 0, 1, 'x', 1, 'b', 0xFF, 0xFF, 0xFF, 0xFF}
	if v, ok := h.Get("a"); !ok || string(v) != "x" || h.Len() != 2 {
		t.Errorf("Get(a) = %q, %v; Len = %d", v, ok, h.Len())
	}
	// Stopping early.
	for name := range h.All() {
		if string(name) != "a" {
			t.Errorf("first name %q", name)
		}
		break
	}
}

// TestAppendDeliverClamps: arguments that break the caller's promises still
// give a well-formed frame and never panic.
func TestAppendDeliverClamps(t *testing.T) {
	long := bytes.Repeat([]byte("s"), 300)
	out := codec.AppendDeliver(nil, long, long, nil, []codec.Header{{Name: string(long), Value: "v"}})
	if len(out) != codec.DeliverSize(long, long, nil, []codec.Header{{Name: string(long), Value: "v"}}) {
		t.Errorf("DeliverSize disagrees with AppendDeliver (%d bytes)", len(out))
	}
	m, err := codec.Decode([][]byte{out})
	if err != nil {
		t.Fatal(err)
	}
	s255 := string(long[:255])
	want := codec.Message{ID: codec.Deliver, Sender: s255, Address: s255, Headers: codec.Headers{s255: "v"}}
	if !reflect.DeepEqual(*m, want) {
		t.Errorf("got %+v", *m)
	}
	for _, raw := range []codec.RawHeaders{{1}, {1, 2, 3}, {0, 0, 0, 5, 1}} {
		out := codec.AppendDeliver(nil, nil, nil, raw, nil)
		if len(out) != codec.DeliverSize(nil, nil, raw, nil) {
			t.Errorf("raw %x: size mismatch", []byte(raw))
		}
	}
}

func TestAppendDeliverReplacing(t *testing.T) {
	h := codec.Headers{"a": "1", "zccp-ttl": "500", "b": "2"}
	raw, err := codec.AppendHeaders(nil, h)
	if err != nil {
		t.Fatal(err)
	}
	repl := []codec.Header{{Name: "zccp-ttl", Value: "0000000123"}, {Name: "c", Value: "3"}}
	size := codec.DeliverSizeReplacing([]byte("s"), []byte("addr"), raw, repl)
	frame := codec.AppendDeliverReplacing(nil, []byte("s"), []byte("addr"), raw, repl)
	if len(frame) != size {
		t.Fatalf("size %d, built %d", size, len(frame))
	}
	m, err := codec.Decode([][]byte{frame})
	if err != nil {
		t.Fatal(err)
	}
	want := codec.Headers{"a": "1", "b": "2", "zccp-ttl": "0000000123", "c": "3"}
	if m.ID != codec.Deliver || m.Sender != "s" || m.Address != "addr" || !reflect.DeepEqual(m.Headers, want) {
		t.Fatalf("got %+v", m)
	}
}

func TestAppendAddressedMatchesAppendCommand(t *testing.T) {
	for _, id := range []codec.ID{codec.Publish, codec.Direct} {
		for _, h := range []codec.Headers{nil, {}, {"b": "2", "a": "\x00"}} {
			m := codec.Message{ID: id, Address: "power.rack1", Headers: h}
			want, err := m.AppendCommand(nil)
			if err != nil {
				t.Fatal(err)
			}
			n, err := codec.AddressedSize(m.Address, h)
			got := codec.AppendAddressed(nil, id, m.Address, h)
			if err != nil || n != len(want) || !bytes.Equal(got, want) {
				t.Fatalf("%s %v: size %d (%v), got % x want % x", id, h, n, err, got, want)
			}
		}
	}
	if _, err := codec.AddressedSize(strings.Repeat("x", 256), nil); !errors.Is(err, codec.ErrStringTooLong) {
		t.Fatalf("long address: %v", err)
	}
}
