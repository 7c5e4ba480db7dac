package codec_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/zccp-go/zccp/codec"
)

// hx builds bytes from a readable mix used by the malformed table: the same
// tokens as the golden files (hex pairs, "text", hh*N).
func hx(t testing.TB, s string) []byte {
	t.Helper()
	b, err := parseGoldenLine(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type malformedCase struct {
	name   string
	frames []string // golden-line syntax; nil = no frames at all
	kind   codec.Kind
	cmd    codec.ID
	field  string
	offset int
	msg    string // the complete error message, when not ""
	reason string // a substring of Reason
}

var malformedCases = []malformedCase{
	{name: "nil message", frames: nil, kind: codec.KindEmpty, offset: -1,
		msg: "zccp: malformed message: empty message: no frames"},
	{name: "empty frame 1", frames: []string{"-"}, kind: codec.KindShort,
		reason: "frame 1 is 0 bytes"},
	{name: "two bytes", frames: []string{"AAAA"}, kind: codec.KindShort,
		msg: "zccp: malformed message: at offset 0: frame 1 is 2 bytes, shorter than signature and command id (3 bytes)"},
	{name: "bad signature", frames: []string{"AAAB 01 00 00000000"}, kind: codec.KindSignature,
		msg: "zccp: malformed message: at offset 0: bad signature 0xAA 0xAB, want 0xAA 0xAA"},
	{name: "zero signature", frames: []string{"0000 04"}, kind: codec.KindSignature, reason: "0x00 0x00"},
	{name: "id 0", frames: []string{"AAAA 00"}, kind: codec.KindUnknownID, offset: 2,
		msg: "zccp: malformed message: at offset 2: unknown command id 0"},
	{name: "id 13", frames: []string{"AAAA 0D"}, kind: codec.KindUnknownID, cmd: 13, offset: 2, reason: "unknown command id 13"},
	{name: "id 255", frames: []string{"AAAA FF 00000000"}, kind: codec.KindUnknownID, cmd: 255, offset: 2},
	{name: "string length missing", frames: []string{"AAAA 01"}, kind: codec.KindTruncated, cmd: codec.Hello,
		field: "identifier", offset: 3, reason: "length octet"},
	{name: "string past end", frames: []string{`AAAA 01 05 "ab"`}, kind: codec.KindTruncated, cmd: codec.Hello,
		field: "identifier", offset: 3,
		msg: `zccp: malformed HELLO: field "identifier" at offset 3: string of 5 bytes exceeds remaining 2 bytes`},
	{name: "second string past end", frames: []string{`AAAA 07 01 "s" 03 "a"`}, kind: codec.KindTruncated,
		cmd: codec.Deliver, field: "address", offset: 5, reason: "string of 3 bytes exceeds remaining 1 byte"},
	{name: "dictionary count short", frames: []string{`AAAA 03 00 0000`}, kind: codec.KindTruncated,
		cmd: codec.Subscribe, field: "headers", offset: 4, reason: "dictionary count needs 4 bytes, 2 bytes remain"},
	{name: "dictionary count huge", frames: []string{`AAAA 03 00 FFFFFFFF 000000`}, kind: codec.KindTruncated,
		cmd: codec.Subscribe, field: "headers", offset: 4,
		msg: `zccp: malformed SUBSCRIBE: field "headers" at offset 4: dictionary count 4294967295 exceeds remaining 3 bytes`},
	{name: "dictionary count with no entries", frames: []string{`AAAA 02 00000001`}, kind: codec.KindTruncated,
		cmd: codec.HelloOK, field: "headers", offset: 3, reason: "dictionary count 1 exceeds remaining 0 bytes"},
	{name: "dictionary count just over bound", frames: []string{`AAAA 02 00000002 00 00000000 00 000000`},
		kind: codec.KindTruncated, cmd: codec.HelloOK, field: "headers", offset: 3, reason: "count 2 exceeds remaining 9"},
	{name: "value length short", frames: []string{`AAAA 02 00000002 01 "a" 00000000 00 000000`},
		kind: codec.KindTruncated, cmd: codec.HelloOK, field: "headers", offset: 14,
		reason: "entry 1: value length needs 4 bytes, 3 bytes remain"},
	{name: "name past end", frames: []string{`AAAA 02 00000001 09 "abcd"`}, kind: codec.KindTruncated,
		cmd: codec.HelloOK, field: "headers", offset: 7, reason: "entry 0: name of 9 bytes exceeds remaining 4 bytes"},
	{name: "value past end", frames: []string{`AAAA 02 00000001 01 "a" 00000009 "xy"`}, kind: codec.KindTruncated,
		cmd: codec.HelloOK, field: "headers", offset: 9, reason: "entry 0: value of 9 bytes exceeds remaining 2 bytes"},
	{name: "entry past end", frames: []string{`AAAA 02 00000002 01 "a" 00000005 "12345" 01`}, kind: codec.KindTruncated,
		cmd: codec.HelloOK, field: "headers", offset: 18, reason: "entry 1: name of 1 byte exceeds remaining 0 bytes"},
	{name: "trailing byte", frames: []string{`AAAA 04 00`}, kind: codec.KindTrailing, cmd: codec.SubscribeOK, offset: 3,
		msg: `zccp: malformed SUBSCRIBE-OK: at offset 3: 1 trailing byte after the last field`},
	{name: "trailing after headers", frames: []string{`AAAA 02 00000000 FFFF`}, kind: codec.KindTrailing,
		cmd: codec.HelloOK, offset: 7, reason: "2 trailing bytes"},
	{name: "trailing after publish", frames: []string{`AAAA 05 01 "x" 00000000 00`, `"body"`}, kind: codec.KindTrailing,
		cmd: codec.Publish, offset: 9},
	{name: "duplicate header", frames: []string{`AAAA 02 00000002 01 "a" 00000000 01 "a" 00000001 "x"`},
		kind: codec.KindDuplicateHeader, cmd: codec.HelloOK, field: "headers", offset: 13,
		msg: `zccp: malformed HELLO-OK: field "headers" at offset 13: duplicate header name "a"`},
	{name: "duplicate empty name", frames: []string{`AAAA 09 00000003 00 00000000 01 "b" 00000000 00 00000000`},
		kind: codec.KindDuplicateHeader, cmd: codec.GoodbyeOK, field: "headers", offset: 18, reason: `name ""`},
	{name: "content after SUBSCRIBE-OK", frames: []string{`AAAA 04`, `"x"`}, kind: codec.KindUnexpectedContent,
		cmd: codec.SubscribeOK, field: "content", offset: -1,
		msg: `zccp: malformed SUBSCRIBE-OK: field "content": 1 content frame after a command without content`},
	{name: "empty content frames after HELLO", frames: []string{`AAAA 01 00 00000000`, "-", "-"},
		kind: codec.KindUnexpectedContent, cmd: codec.Hello, field: "content", offset: -1, reason: "2 content frames"},
}

func TestMalformed(t *testing.T) {
	for _, c := range malformedCases {
		t.Run(c.name, func(t *testing.T) {
			var in [][]byte
			for _, f := range c.frames {
				in = append(in, hx(t, f))
			}
			m, err := codec.Decode(in)
			if err == nil {
				t.Fatalf("Decode = %+v, want an error", m)
			}
			checkMalformed(t, err, c)
			if len(in) == 0 {
				return
			}
			v, perr := codec.Parse(in[0])
			if c.kind == codec.KindUnexpectedContent {
				if perr != nil {
					t.Fatalf("Parse(frame 1) = %v, want success (content is not Parse's concern)", perr)
				}
				if v.ID.HasContent() {
					t.Fatalf("%v has content", v.ID)
				}
				return
			}
			if perr == nil {
				t.Fatalf("Parse = %+v, want an error", v)
			}
			if perr.Error() != err.Error() {
				t.Errorf("Parse error %q differs from Decode error %q", perr, err)
			}
		})
	}
}

func checkMalformed(t *testing.T, err error, c malformedCase) {
	t.Helper()
	if !errors.Is(err, codec.ErrMalformed) {
		t.Errorf("errors.Is(%v, ErrMalformed) = false", err)
	}
	var e *codec.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T is not a *codec.Error", err)
	}
	if e.Kind != c.kind || e.Cmd != c.cmd || e.Field != c.field || e.Offset != c.offset {
		t.Errorf("got Kind=%v Cmd=%v Field=%q Offset=%d, want Kind=%v Cmd=%v Field=%q Offset=%d (%v)",
			e.Kind, e.Cmd, e.Field, e.Offset, c.kind, c.cmd, c.field, c.offset, err)
	}
	if c.msg != "" && err.Error() != c.msg {
		t.Errorf("message:\n got %s\nwant %s", err, c.msg)
	}
	if !strings.Contains(e.Reason, c.reason) {
		t.Errorf("reason %q does not contain %q", e.Reason, c.reason)
	}
}

// TestTruncatedGolden cuts frame 1 of every golden vector at every offset:
// each strict prefix must be rejected, never accepted or panicking. An extra
// byte must be rejected too, and so must content after a command without it.
func TestTruncatedGolden(t *testing.T) {
	for _, g := range goldens {
		t.Run(g.file, func(t *testing.T) {
			in := loadGolden(t, g.file)
			frame := in[0]
			for k := range len(frame) {
				cut := append([][]byte{frame[:k:k]}, in[1:]...)
				want := codec.KindTruncated
				if k < 3 {
					want = codec.KindShort
				}
				for _, err := range []error{decodeErr(cut), parseErr(cut[0])} {
					var e *codec.Error
					if !errors.As(err, &e) || e.Kind != want || !errors.Is(err, codec.ErrMalformed) {
						t.Fatalf("prefix of %d bytes: error %v, want kind %v", k, err, want)
					}
				}
			}
			long := append([][]byte{append(frame[:len(frame):len(frame)], 0)}, in[1:]...)
			for _, err := range []error{decodeErr(long), parseErr(long[0])} {
				var e *codec.Error
				if !errors.As(err, &e) || e.Kind != codec.KindTrailing || e.Offset != len(frame) {
					t.Fatalf("with an extra byte: error %v, want trailing at %d", err, len(frame))
				}
			}
			if !g.msg.ID.HasContent() {
				err := decodeErr(append(in, []byte("extra")))
				var e *codec.Error
				if !errors.As(err, &e) || e.Kind != codec.KindUnexpectedContent {
					t.Fatalf("with a content frame: error %v, want unexpected content", err)
				}
			}
		})
	}
}

func decodeErr(frames [][]byte) error {
	_, err := codec.Decode(frames)
	return err
}

func parseErr(frame []byte) error {
	_, err := codec.Parse(frame)
	return err
}
