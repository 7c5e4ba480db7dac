package broker_test

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zccp-go/zccp/internal/rawpeer"
)

// tpeer is one named connection of a transcript: a hand-framed ZMTP/ZCCP
// peer (internal/rawpeer, not our client library) whose reading goroutine
// formats every message the broker sends it into a line.
type tpeer struct {
	name   string
	p      *rawpeer.Peer
	lines  chan string // formatted messages and PONG markers, in arrival order
	done   chan struct{}
	closed bool
	got    []string // this block's messages
	pings  int
}

// pongMark starts the line a PONG turns into.
const pongMark = "\x00pong "

func dialPeer(ctx context.Context, name, endpoint string) (*tpeer, error) {
	p, err := rawpeer.Dial(ctx, endpoint)
	if err != nil {
		return nil, err
	}
	tp := &tpeer{name: name, p: p, lines: make(chan string, 4096), done: make(chan struct{})}
	p.OnCommand = func(body []byte) {
		if strings.HasPrefix(string(body), "\x04PONG") {
			tp.lines <- pongMark + string(body[5:])
		}
	}
	go tp.read()
	return tp, nil
}

func (tp *tpeer) read() {
	defer close(tp.done)
	defer close(tp.lines)
	for {
		m, err := tp.p.Next()
		if err != nil {
			return
		}
		tp.lines <- formatMessage(m)
	}
}

// take returns the next line, failing the test after a while.
func (tp *tpeer) take(t *testing.T, what string) string {
	t.Helper()
	select {
	case l, ok := <-tp.lines:
		if !ok {
			t.Fatalf("%s: connection closed while waiting for %s", tp.name, what)
		}
		return l
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: nothing within 10 s while waiting for %s", tp.name, what)
	}
	return ""
}

// barrier sends a ZMTP PING and collects every message that arrives before
// its PONG. The broker reads the PING after everything the peer sent
// before it and queues the PONG behind everything queued to the peer so
// far, so after it the peer has received all that it was sent up to then.
func (tp *tpeer) barrier(t *testing.T) {
	t.Helper()
	if tp.closed {
		return
	}
	tp.pings++
	ctx := strconv.Itoa(tp.pings)
	if err := tp.p.Ping([]byte(ctx)); err != nil {
		t.Fatalf("%s: ping: %v", tp.name, err)
	}
	for {
		l := tp.take(t, "PONG")
		if l == pongMark+ctx {
			return
		}
		if !strings.HasPrefix(l, pongMark) {
			tp.got = append(tp.got, l)
		}
	}
}

// close closes the connection after collecting what arrived before.
func (tp *tpeer) close(t *testing.T) {
	tp.barrier(t)
	tp.closed = true
	tp.p.Close()
	<-tp.done
}

// Broker properties left out of HELLO-OK lines (they describe the build
// and the configuration, not the session), and values shown as * because
// they are times or counters that differ from run to run.
var (
	helloProps = map[string]bool{"zccp-broker": true, "zccp-version": true, "zccp-extensions": true,
		"zccp-ping-interval": true, "zccp-timeout": true, "zccp-max-message": true, "zccp-session": true}
	masked = map[string]bool{"zccp-duration-ms": true, "zccp-since": true, "zccp-age": true,
		"zccp-session": true, "zccp-ttl": true}
	// maskedFake is masked for mem-only files, whose clock is fake and
	// moves only with advance: a last value's age is exact there.
	maskedFake = map[string]bool{"zccp-duration-ms": true, "zccp-since": true,
		"zccp-session": true, "zccp-ttl": true}
)

var commandNames = map[byte]string{rawpeer.Hello: "HELLO", rawpeer.HelloOK: "HELLO-OK",
	rawpeer.Subscribe: "SUBSCRIBE", rawpeer.SubscribeOK: "SUBSCRIBE-OK", rawpeer.Publish: "PUBLISH",
	rawpeer.Direct: "DIRECT", rawpeer.Deliver: "DELIVER", rawpeer.Goodbye: "GOODBYE",
	rawpeer.GoodbyeOK: "GOODBYE-OK", rawpeer.Ping: "PING", rawpeer.PingOK: "PING-OK", rawpeer.Invalid: "INVALID"}

// formatMessage writes a message from the broker as one line.
func formatMessage(m *rawpeer.Message) string { return formatMessageMasked(m, masked) }

// formatMessageMasked is formatMessage with the values of names in mask
// shown as *.
func formatMessageMasked(m *rawpeer.Message, mask map[string]bool) string {
	name, ok := commandNames[m.ID]
	if !ok {
		name = fmt.Sprintf("command-%d", m.ID)
	}
	words := []string{name}
	var skip map[string]bool
	switch m.ID {
	case rawpeer.Deliver:
		words = append(words, "sender="+quote(string(m.Sender)), "addr="+quote(string(m.Address)))
	case rawpeer.HelloOK:
		skip = helloProps
	}
	words = append(words, formatHeaders(m.Headers(), skip, mask)...)
	content := make([]string, len(m.Content))
	for i, c := range m.Content {
		content[i] = "content=" + quote(string(c))
	}
	if m.ID == rawpeer.Deliver && string(m.Address) == "$zccp.receipt" {
		sort.Strings(content) // a receipt lists its recipients in no particular order
	}
	words = append(words, content...)
	return remoteAddr.ReplaceAllString(strings.Join(words, " "), "from <remote>")
}

// remoteAddr is a peer's address as the broker names it in a text (tcp:
// a port that changes from run to run; abstract ipc: "@").
var remoteAddr = regexp.MustCompile(`from (127\.0\.0\.1:\d+|@)`)

// frameFields says which fields each command's frame 1 has: the number
// of string fields and whether a dictionary follows.
var frameFields = map[string]struct {
	id      byte
	strs    []string // token keys of the string fields, in order
	dict    bool
	content bool
}{
	"HELLO":        {rawpeer.Hello, []string{"id"}, true, false},
	"HELLO-OK":     {rawpeer.HelloOK, nil, true, false},
	"SUBSCRIBE":    {rawpeer.Subscribe, []string{"expr"}, true, false},
	"SUBSCRIBE-OK": {rawpeer.SubscribeOK, nil, false, false},
	"PUBLISH":      {rawpeer.Publish, []string{"addr"}, true, true},
	"DIRECT":       {rawpeer.Direct, []string{"addr"}, true, true},
	"DELIVER":      {rawpeer.Deliver, []string{"sender", "addr"}, true, true},
	"GOODBYE":      {rawpeer.Goodbye, nil, false, false},
	"GOODBYE-OK":   {rawpeer.GoodbyeOK, nil, true, false},
	"PING":         {rawpeer.Ping, nil, false, false},
	"PING-OK":      {rawpeer.PingOK, nil, false, false},
	"INVALID":      {rawpeer.Invalid, nil, false, false},
}

// encodeCommand builds the frames of "VERB key=value ..." (a client may
// send any command, broker commands too, to test the grammar; filler=N
// adds a content frame of N bytes). "raw
// frame=TEXT" sends TEXT (Go-quoted for bytes) as frame 1 unchanged.
func encodeCommand(words []string) ([][]byte, error) {
	toks, err := parseTokens(words[1:])
	if err != nil {
		return nil, err
	}
	var frames [][]byte
	if words[0] == "raw" {
		for _, tk := range toks {
			if tk.key != "frame" {
				return nil, fmt.Errorf("raw takes frame=..., not %s", tk.key)
			}
			frames = append(frames, []byte(tk.value))
		}
		if len(frames) == 0 {
			return nil, fmt.Errorf("raw without frame=")
		}
		return frames, nil
	}
	f, ok := frameFields[words[0]]
	if !ok {
		return nil, fmt.Errorf("unknown command %q", words[0])
	}
	vals := map[string]string{}
	var hs []rawpeer.Header
	for _, tk := range toks {
		switch {
		case tk.key == "header" && f.dict:
			n, v, ok := strings.Cut(tk.value, ":")
			if !ok {
				return nil, fmt.Errorf("header=%q is not name:value", tk.value)
			}
			hs = append(hs, rawpeer.Header{Name: n, Value: v})
		case tk.key == "content" && f.content:
			frames = append(frames, []byte(tk.value))
		case tk.key == "filler" && f.content: // a content frame of N bytes
			n, err := strconv.Atoi(tk.value)
			if err != nil || n < 0 || n > 64<<20 {
				return nil, fmt.Errorf("filler=%q is not a size", tk.value)
			}
			frames = append(frames, bytes.Repeat([]byte{'x'}, n))
		case slices.Contains(f.strs, tk.key):
			vals[tk.key] = tk.value
		default:
			return nil, fmt.Errorf("%s has no %s", words[0], tk.key)
		}
	}
	strs := make([]string, len(f.strs))
	for i, k := range f.strs {
		strs[i] = vals[k]
	}
	return append([][]byte{rawpeer.Frame1(f.id, strs, f.dict, hs)}, frames...), nil
}
