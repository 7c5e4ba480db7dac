package federation

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestMessageRoundTrip(t *testing.T) {
	deliver := []byte("frame one")
	content := [][]byte{[]byte("a"), {}, bytes.Repeat([]byte("z"), 300)}
	origin := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	buf := appendMessage(nil, origin, 42, deliver, content)
	if len(buf) != messageSize(deliver, content) {
		t.Fatalf("size %d, messageSize %d", len(buf), messageSize(deliver, content))
	}
	m, err := parseMessage(buf)
	d, c := m.deliver, m.content
	if err != nil || m.origin != origin || m.seq != 42 || !bytes.Equal(d, deliver) || len(c) != 3 || !bytes.Equal(c[2], content[2]) || len(c[1]) != 0 {
		t.Fatalf("parse: %+v %v", m, err)
	}
	for _, bad := range [][]byte{
		nil, {1}, {2, 0, 0, 0, 1, 0, 0, 0, 0}, // short, short, wrong version
		{1, 0, 0, 0, 0},                   // no frames
		{1, 0xff, 0xff, 0xff, 0xff, 0, 0}, // huge count, nothing behind it
		{1, 0, 0, 0, 1, 0, 0, 0, 9, 'x'},  // frame past the end
		append(bytes.Clone(buf), 0),       // trailing byte
	} {
		if _, err := parseMessage(bad); !errors.Is(err, errBadMessage) {
			t.Errorf("parseMessage(%x) = %v, want errBadMessage", bad, err)
		}
	}
}

// FuzzParseMessage: any input is either refused with errBadMessage or
// re-encodes to exactly itself; nothing panics or allocates past the
// input's size.
func FuzzParseMessage(f *testing.F) {
	f.Add(appendMessage(nil, [8]byte{9}, 1, []byte("d"), [][]byte{[]byte("c")}))
	f.Add(appendMessage(nil, [8]byte{}, 0, nil, [][]byte{nil}))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseMessage(data)
		if err != nil {
			if !errors.Is(err, errBadMessage) {
				t.Fatalf("error %v is not errBadMessage", err)
			}
			return
		}
		if again := appendMessage(nil, m.origin, m.seq, m.deliver, m.content); !bytes.Equal(again, data) {
			t.Fatalf("re-encoded %x, was %x", again, data)
		}
	})
}

func TestSplitPartsStaysUnderLimit(t *testing.T) {
	var exprs []string
	for i := range 1000 {
		exprs = append(exprs, strings.Repeat(`\.`, i%40)+"x")
	}
	parts := splitParts(exprs, 4096)
	total := 0
	for _, p := range parts {
		enc, _ := json.Marshal(p)
		if len(enc) > 4096 {
			t.Fatalf("part of %d bytes", len(enc))
		}
		total += len(p)
	}
	if total != len(exprs) || len(parts) < 2 {
		t.Fatalf("%d parts holding %d of %d", len(parts), total, len(exprs))
	}
	if p := splitParts(nil, 4096); len(p) != 1 || len(p[0]) != 0 {
		t.Fatalf("empty set: %q", p)
	}
}

func TestOptionsRejectBadValues(t *testing.T) {
	for _, o := range []Options{
		{},
		{URLs: []string{"nats://127.0.0.1:1"}, Prefix: "a.*"},
		{URLs: []string{"nats://127.0.0.1:1"}, Prefix: "a..b"},
		{URLs: []string{"nats://127.0.0.1:1"}, Advertise: -time.Second},
		{URLs: []string{"nats://127.0.0.1:1"}, Advertise: time.Second, DeadAfter: time.Second},
	} {
		if _, err := o.withDefaults(); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
	o, err := Options{URLs: []string{"nats://127.0.0.1:1"}}.withDefaults()
	if err != nil || o.Prefix != DefaultPrefix || o.DeadAfter != 3*DefaultAdvertise || o.Scan != DefaultScan {
		t.Fatalf("defaults %+v, %v", o, err)
	}
}
