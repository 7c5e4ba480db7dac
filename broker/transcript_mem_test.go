package broker_test

import (
	"strings"
	"testing"
	"time"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/internal/rawpeer"
)

// memRunner runs a transcript with no sockets: each connection is a
// broker.MemConn whose inputs are stepped directly into the broker's
// protocol machine, and whose effects (what the broker sends, closing)
// are recorded. Time is a fake clock that only "advance DURATION" moves,
// ticking every connection's liveness machine and the request table as
// the broker's ticker would: PINGs after quiet, sessions expiring,
// requests forgotten after their TTL can be written down exactly. A PING
// the broker sends is shown (the client answers it only if the
// transcript says "NAME: PING-OK"), and a connection the broker closes
// shows as "NAME: closed by the broker".
type memRunner struct {
	t      *testing.T
	cfg    broker.Config
	m      *broker.MemBroker
	names  []string // in the order they connected
	byName map[string]*broker.MemConn
	shown  map[string]bool // a broker close already reported
	mask   map[string]bool // header values shown as *
}

// runTranscriptMem runs tr in memory; with update it stores what the
// broker sent as the expected output.
func runTranscriptMem(t *testing.T, tr *transcript, update bool) {
	r := &memRunner{t: t, cfg: transcriptConfig, byName: map[string]*broker.MemConn{}, shown: map[string]bool{}, mask: masked}
	if tr.movesClock() { // mem only: times on the fake clock are exact
		r.mask = maskedFake
	}
	for _, bl := range tr.blocks {
		got := r.run(bl)
		if update {
			bl.want = got
			continue
		}
		if w, g := strings.Join(bl.want, "\n"), strings.Join(got, "\n"); w != g {
			t.Errorf("%s:%d (mem):\n%s\nwant:\n%s\ngot:\n%s", tr.path, bl.line, strings.Join(bl.cmds, "\n"), w, g)
		}
	}
	if update {
		if err := tr.write(tr.path); err != nil {
			t.Fatal(err)
		}
	}
}

// movesClock reports whether the transcript has "advance" inputs.
func (tr *transcript) movesClock() bool {
	for _, bl := range tr.blocks {
		for _, l := range bl.cmds {
			if strings.HasPrefix(l, "advance ") {
				return true
			}
		}
	}
	return false
}

// run steps one block's inputs and returns what the broker sent, grouped
// by connection in the order they connected.
func (r *memRunner) run(bl *block) []string {
	t := r.t
	t.Helper()
	for i, l := range bl.cmds {
		if err := r.input(l); err != nil {
			t.Fatalf("line %d: %s: %v", bl.line+i, l, err)
		}
	}
	var out []string
	for _, name := range r.names {
		c := r.byName[name]
		for _, frames := range c.Take() {
			m, err := rawpeer.Parse(frames)
			if err != nil {
				t.Fatalf("%s: the broker sent an undecodable message: %v", name, err)
			}
			out = append(out, name+": "+formatMessageMasked(m, r.mask))
		}
		if c.ClosedByBroker() && !r.shown[name] {
			r.shown[name] = true
			out = append(out, name+": closed by the broker")
		}
	}
	return out
}

// input steps one input line (the socket runner's grammar, plus
// "advance DURATION").
func (r *memRunner) input(l string) error {
	if name, cmd, ok := strings.Cut(l, ": "); ok && !strings.Contains(name, " ") {
		c := r.byName[name]
		if c == nil || r.closed(name) {
			return errNoPeer(name)
		}
		words, err := splitWords(cmd)
		if err != nil {
			return err
		}
		frames, err := encodeCommand(words)
		if err != nil {
			return err
		}
		c.Send(frames)
		return nil
	}
	words := strings.Fields(l)
	if len(words) < 2 {
		return errBadLine
	}
	switch words[0] {
	case "broker":
		if r.m != nil {
			return inputError("broker settings must come before the first connect")
		}
		return configure(&r.cfg, words[1:])
	case "advance":
		d, err := time.ParseDuration(words[1])
		if err != nil || d <= 0 || r.m == nil {
			return inputError("advance takes a positive duration, after a connect")
		}
		r.m.Advance(d)
		return nil
	}
	name := words[1]
	c := r.byName[name]
	switch {
	case words[0] == "connect" && c == nil:
		if r.m == nil {
			r.m = broker.NewMemBroker(r.t, r.cfg)
		}
		r.byName[name] = r.m.Connect()
		r.names = append(r.names, name)
	case c == nil || r.closed(name):
		return errNoPeer(name)
	case words[0] == "close":
		c.Close()
		r.shown[name] = true
	case words[0] == "await":
		// What the broker sends on its own was sent while the input that
		// caused it was stepped; run collects it.
	default:
		return errBadLine
	}
	return nil
}

func (r *memRunner) closed(name string) bool { return r.shown[name] }
