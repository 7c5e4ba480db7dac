package codec_test

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/zccp-go/zccp/codec"
)

// golden is one hand-written vector in testdata/golden (format described in
// testdata/golden/README.md) and what it means. This one table drives the
// Decode, Parse, AppendCommand, Frames, AppendDeliver, malformed-prefix and
// fuzz-seed tests.
type golden struct {
	file string        // testdata/golden/<file>.txt
	msg  codec.Message // the decoded form
	// unsorted: the headers are not in sorted order on the wire, so the
	// encoder's output differs from the vector (same size, same meaning).
	unsorted bool
	// deliver: the vector is a DELIVER that AppendDeliver must build from
	// the named PUBLISH vector with this sender and extra headers.
	deliver *deliverFrom
}

type deliverFrom struct {
	publish string
	sender  string
	extra   []codec.Header
}

func frames(ff ...string) [][]byte {
	out := make([][]byte, len(ff))
	for i, f := range ff {
		out[i] = []byte(f)
	}
	return out
}

var goldens = []golden{
	{file: "hello", msg: codec.Message{ID: codec.Hello, Identifier: "step 1", Headers: codec.Headers{}}},
	{file: "hello-headers", msg: codec.Message{ID: codec.Hello, Identifier: "dev-b",
		Headers: codec.Headers{"os": "linux", "version": "1.0"}}},
	{file: "hello-empty", msg: codec.Message{ID: codec.Hello, Headers: codec.Headers{"": ""}}},
	{file: "hello-ok", msg: codec.Message{ID: codec.HelloOK, Headers: codec.Headers{}}},
	{file: "hello-ok-headers", msg: codec.Message{ID: codec.HelloOK, Headers: codec.Headers{"server": "zccpd"}}},
	{file: "subscribe", msg: codec.Message{ID: codec.Subscribe, Expression: "H.*O", Headers: codec.Headers{}}},
	{file: "subscribe-255", msg: codec.Message{ID: codec.Subscribe, Expression: strings.Repeat("a", 255), Headers: codec.Headers{}}},
	{file: "subscribe-ok", msg: codec.Message{ID: codec.SubscribeOK}},
	{file: "publish", msg: codec.Message{ID: codec.Publish, Address: "(HELLO, WORLD)", Headers: codec.Headers{},
		Content: frames("TEST")}},
	{file: "publish-no-content", msg: codec.Message{ID: codec.Publish, Headers: codec.Headers{}}},
	{file: "publish-empty-frame", msg: codec.Message{ID: codec.Publish, Address: "x", Headers: codec.Headers{},
		Content: frames("")}},
	{file: "publish-headers", msg: codec.Message{ID: codec.Publish, Address: "sensor/1",
		Headers: codec.Headers{"content-type": "text/plain", "priority": "high"},
		Content: frames("one", "", "three")}},
	{file: "publish-binary", msg: codec.Message{ID: codec.Publish, Address: "bin",
		Headers: codec.Headers{"blob": "\x00\x00\xff\x00\n"}, Content: frames("\x00\xff\x00")}},
	{file: "publish-long-value", msg: codec.Message{ID: codec.Publish, Address: "a",
		Headers: codec.Headers{"big": strings.Repeat("b", 300)}}},
	{file: "publish-unsorted", unsorted: true, msg: codec.Message{ID: codec.Publish, Address: "x",
		Headers: codec.Headers{"a": "1", "b": "2"}}},
	{file: "direct", msg: codec.Message{ID: codec.Direct, Address: "dev-b",
		Headers: codec.Headers{"reply-to": "dev-a"}, Content: frames("ping")}},
	{file: "deliver", msg: codec.Message{ID: codec.Deliver, Sender: "dev-b", Address: "(HELLO, WORLD)",
		Headers: codec.Headers{}, Content: frames("TEST")},
		deliver: &deliverFrom{publish: "publish", sender: "dev-b"}},
	{file: "deliver-headers", msg: codec.Message{ID: codec.Deliver, Sender: "dev-a", Address: "sensor/1",
		Headers: codec.Headers{"content-type": "text/plain", "priority": "high", "x-hop": "1"},
		Content: frames("one", "", "three")},
		deliver: &deliverFrom{publish: "publish-headers", sender: "dev-a", extra: []codec.Header{{Name: "x-hop", Value: "1"}}}},
	{file: "deliver-extra-only", msg: codec.Message{ID: codec.Deliver, Sender: "s", Headers: codec.Headers{"seq": "7"}},
		deliver: &deliverFrom{publish: "publish-no-content", sender: "s", extra: []codec.Header{{Name: "seq", Value: "7"}}}},
	{file: "goodbye", msg: codec.Message{ID: codec.Goodbye}},
	{file: "goodbye-ok", msg: codec.Message{ID: codec.GoodbyeOK, Headers: codec.Headers{"received": "3", "sent": "2"}}},
	{file: "goodbye-ok-empty", msg: codec.Message{ID: codec.GoodbyeOK, Headers: codec.Headers{}}},
	{file: "ping", msg: codec.Message{ID: codec.Ping}},
	{file: "ping-ok", msg: codec.Message{ID: codec.PingOK}},
	{file: "invalid", msg: codec.Message{ID: codec.Invalid}},
}

// loadGolden reads testdata/golden/<name>.txt.
func loadGolden(t testing.TB, name string) [][]byte {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "golden", name+".txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		frame, err := parseGoldenLine(text)
		if err != nil {
			t.Fatalf("%s.txt:%d: %v", name, line, err)
		}
		out = append(out, frame)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("%s.txt: no frames", name)
	}
	return out
}

// parseGoldenLine decodes one frame line: hex pairs, "text", hh*N or "-".
func parseGoldenLine(s string) ([]byte, error) {
	if s == "-" {
		return []byte{}, nil
	}
	frame := []byte{}
	for s != "" {
		if s[0] == ' ' || s[0] == '\t' {
			s = s[1:]
			continue
		}
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("unterminated text in %q", s)
			}
			frame = append(frame, s[1:1+end]...)
			s = s[2+end:]
			continue
		}
		tok := s
		if i := strings.IndexAny(s, " \t"); i >= 0 {
			tok, s = s[:i], s[i:]
		} else {
			s = ""
		}
		if b, n, ok := strings.Cut(tok, "*"); ok {
			v, err := hex.DecodeString(b)
			if err != nil || len(v) != 1 {
				return nil, fmt.Errorf("bad repeated byte %q", tok)
			}
			count, err := strconv.Atoi(n)
			if err != nil || count < 0 {
				return nil, fmt.Errorf("bad repeat count %q", tok)
			}
			frame = append(frame, bytes.Repeat(v, count)...)
			continue
		}
		v, err := hex.DecodeString(tok)
		if err != nil {
			return nil, fmt.Errorf("bad hex %q: %v", tok, err)
		}
		frame = append(frame, v...)
	}
	return frame, nil
}

// TestGoldenFilesListed keeps the directory and the table in step.
func TestGoldenFilesListed(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, g := range goldens {
		if listed[g.file] {
			t.Errorf("%s listed twice", g.file)
		}
		listed[g.file] = true
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".txt")
		if !listed[name] {
			t.Errorf("%s is not in the goldens table", f)
		}
		delete(listed, name)
	}
	for name := range listed {
		t.Errorf("%s.txt is missing", name)
	}
	seen := map[codec.ID]bool{}
	for _, g := range goldens {
		seen[g.msg.ID] = true
	}
	for id := codec.Hello; id <= codec.Invalid; id++ {
		if !seen[id] {
			t.Errorf("no golden vector for %v", id)
		}
	}
}

func TestDecodeGolden(t *testing.T) {
	for _, g := range goldens {
		t.Run(g.file, func(t *testing.T) {
			in := loadGolden(t, g.file)
			m, err := codec.Decode(in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*m, g.msg) {
				t.Fatalf("Decode:\n got %#v\nwant %#v", *m, g.msg)
			}
			// The result must own its memory.
			for _, f := range in {
				for i := range f {
					f[i] ^= 0xFF
				}
			}
			if !reflect.DeepEqual(*m, g.msg) {
				t.Fatalf("Decode result changed with its input:\n got %#v\nwant %#v", *m, g.msg)
			}
		})
	}
}

func TestParseGolden(t *testing.T) {
	for _, g := range goldens {
		t.Run(g.file, func(t *testing.T) {
			in := loadGolden(t, g.file)
			v, err := codec.Parse(in[0])
			if err != nil {
				t.Fatal(err)
			}
			if v.ID != g.msg.ID {
				t.Fatalf("ID = %v, want %v", v.ID, g.msg.ID)
			}
			checkField(t, "Identifier", v.Identifier, g.msg.Identifier, g.msg.ID == codec.Hello)
			checkField(t, "Expression", v.Expression, g.msg.Expression, g.msg.ID == codec.Subscribe)
			checkField(t, "Sender", v.Sender, g.msg.Sender, g.msg.ID == codec.Deliver)
			checkField(t, "Address", v.Address, g.msg.Address, g.msg.ID.HasContent())
			if !g.msg.ID.HasHeaders() {
				if v.Headers != nil {
					t.Fatalf("Headers = %x, want nil", v.Headers)
				}
				return
			}
			if v.Headers.Len() != len(g.msg.Headers) {
				t.Errorf("Headers.Len() = %d, want %d", v.Headers.Len(), len(g.msg.Headers))
			}
			if got := v.Headers.Map(); !reflect.DeepEqual(got, g.msg.Headers) {
				t.Errorf("Headers.Map() = %q, want %q", got, g.msg.Headers)
			}
			n := 0
			for name, value := range v.Headers.All() {
				n++
				if want, ok := g.msg.Headers[string(name)]; !ok || want != string(value) {
					t.Errorf("All() yielded %q=%q, want %q (present %v)", name, value, want, ok)
				}
			}
			if n != len(g.msg.Headers) {
				t.Errorf("All() yielded %d entries, want %d", n, len(g.msg.Headers))
			}
			for name, want := range g.msg.Headers {
				if got, ok := v.Headers.Get(name); !ok || string(got) != want {
					t.Errorf("Get(%q) = %q, %v; want %q", name, got, ok, want)
				}
			}
			if got, ok := v.Headers.Get("no such header"); ok || got != nil {
				t.Errorf("Get(missing) = %q, %v", got, ok)
			}
		})
	}
}

func checkField(t *testing.T, name string, got []byte, want string, present bool) {
	t.Helper()
	if !present {
		if got != nil {
			t.Errorf("%s = %q, want nil", name, got)
		}
		return
	}
	if got == nil || string(got) != want {
		t.Errorf("%s = %q (nil %v), want %q", name, got, got == nil, want)
	}
	if cap(got) != len(got) {
		t.Errorf("%s has spare capacity %d: appending would overwrite the frame", name, cap(got)-len(got))
	}
}

func TestAppendCommandGolden(t *testing.T) {
	for _, g := range goldens {
		t.Run(g.file, func(t *testing.T) {
			want := loadGolden(t, g.file)
			size, err := g.msg.CommandSize()
			if err != nil {
				t.Fatal(err)
			}
			if size != len(want[0]) {
				t.Errorf("CommandSize() = %d, want %d", size, len(want[0]))
			}
			prefix := []byte("prefix")
			got, err := g.msg.AppendCommand(prefix)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(got, prefix) {
				t.Fatalf("AppendCommand lost dst: %q", got)
			}
			got = got[len(prefix):]
			if g.unsorted {
				// Same meaning, canonical order: check by decoding.
				m, err := codec.Decode([][]byte{got})
				if err != nil || !reflect.DeepEqual(m.Headers, g.msg.Headers) || len(got) != len(want[0]) {
					t.Fatalf("AppendCommand = %x (%v), does not re-decode to the vector's meaning", got, err)
				}
			} else if !bytes.Equal(got, want[0]) {
				t.Fatalf("AppendCommand:\n got %x\nwant %x", got, want[0])
			}
			all, err := g.msg.Frames()
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != len(want) {
				t.Fatalf("Frames() gives %d frames, want %d", len(all), len(want))
			}
			if !bytes.Equal(all[0], got) {
				t.Errorf("Frames()[0] = %x, AppendCommand gave %x", all[0], got)
			}
			for i := 1; i < len(want); i++ {
				if !bytes.Equal(all[i], want[i]) {
					t.Errorf("Frames()[%d] = %x, want %x", i, all[i], want[i])
				}
			}
		})
	}
}

func TestAppendDeliverGolden(t *testing.T) {
	n := 0
	for _, g := range goldens {
		if g.deliver == nil {
			continue
		}
		n++
		t.Run(g.file, func(t *testing.T) {
			want := loadGolden(t, g.file)
			pub := loadGolden(t, g.deliver.publish)
			v, err := codec.Parse(pub[0])
			if err != nil {
				t.Fatal(err)
			}
			if v.ID != codec.Publish {
				t.Fatalf("%s is a %v", g.deliver.publish, v.ID)
			}
			sender := []byte(g.deliver.sender)
			size := codec.DeliverSize(sender, v.Address, v.Headers, g.deliver.extra)
			if size != len(want[0]) {
				t.Errorf("DeliverSize = %d, want %d", size, len(want[0]))
			}
			got := codec.AppendDeliver([]byte("pre"), sender, v.Address, v.Headers, g.deliver.extra)
			if !bytes.Equal(got, append([]byte("pre"), want[0]...)) {
				t.Fatalf("AppendDeliver:\n got %x\nwant pre+%x", got, want[0])
			}
			// The content frames of a DELIVER are the PUBLISH's, unchanged.
			if !reflect.DeepEqual(want[1:], pub[1:]) {
				t.Errorf("content of %s differs from %s", g.file, g.deliver.publish)
			}
		})
	}
	if n == 0 {
		t.Fatal("no DELIVER vectors")
	}
}
