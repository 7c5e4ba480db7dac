package broker_test

import (
	"context"
	"flag"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/internal/brokertest"
	"github.com/zccp-go/zccp/policy"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output of broker/testdata/transcripts/*.txt with what the broker sends")

// TestTranscripts runs every transcript in testdata/transcripts against a
// real broker, once with every connection on tcp 127.0.0.1 and once on
// abstract ipc (a connect line ending in "other" takes the other one), and
// then without sockets ("mem": the broker's protocol machine stepped
// directly, transcript_mem_test.go). The socket peers are hand-framed
// ZMTP/ZCCP connections (internal/rawpeer), not our client library. A
// transcript that moves the clock ("advance 30s") runs in mem only. See
// transcript_file_test.go for the format.
func TestTranscripts(t *testing.T) {
	files, err := filepath.Glob("testdata/transcripts/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts: %v", err)
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			tr, err := readTranscript(path)
			if err != nil {
				t.Fatal(err)
			}
			for i, transport := range []string{"tcp", "ipc"} {
				t.Run(transport, func(t *testing.T) {
					if tr.movesClock() {
						t.Skip("the transcript moves the clock: mem only")
					}
					runTranscript(t, tr, i, *rewrite && i == 0)
				})
			}
			t.Run("mem", func(t *testing.T) {
				if *rewrite && !tr.movesClock() {
					t.Skip("-rewrite takes the tcp run's output")
				}
				runTranscriptMem(t, tr, *rewrite)
			})
		})
	}
}

// transcriptConfig keeps the broker's own PINGs out of the transcripts
// (none within a minute) and otherwise uses the defaults.
var transcriptConfig = broker.Config{PingInterval: time.Minute, Timeout: 2 * time.Minute}

// runTranscript runs tr against a fresh broker, with connections on
// transport 0 (tcp) or 1 (ipc); with update it stores what the broker
// sent as the expected output.
func runTranscript(t *testing.T, tr *transcript, transport int, update bool) {
	r := &runner{t: t, transport: transport, cfg: transcriptConfig, byName: map[string]*tpeer{}}
	defer r.closeAll()
	for _, bl := range tr.blocks {
		got := r.run(bl)
		if update {
			bl.want = got
			continue
		}
		if w, g := strings.Join(bl.want, "\n"), strings.Join(got, "\n"); w != g {
			t.Errorf("%s:%d:\n%s\nwant:\n%s\ngot:\n%s", tr.path, bl.line, strings.Join(bl.cmds, "\n"), w, g)
		}
	}
	if update {
		if err := tr.write(tr.path); err != nil {
			t.Fatal(err)
		}
	}
}

// runner holds a transcript's named peers.
type runner struct {
	t         *testing.T
	transport int           // 0: tcp, 1: ipc
	cfg       broker.Config // until the broker starts (at the first connect)
	eps       [2]string     // this run's transport, then the other
	started   bool
	peers     []*tpeer // in the order they connected
	byName    map[string]*tpeer
}

// start runs the broker with the configuration the transcript set.
func (r *runner) start() {
	b := brokertest.Start(r.t, r.cfg)
	eps := b.Endpoints()
	r.eps = [2]string{eps[r.transport], eps[1-r.transport]}
	r.started = true
}

// limits are the Config fields a transcript may set with "broker
// key=value ..." before its first connect.
var limits = map[string]func(c *broker.Config, n int){
	"max-message":       func(c *broker.Config, n int) { c.MaxMessageSize = int64(n) },
	"max-frames":        func(c *broker.Config, n int) { c.MaxFrames = n },
	"max-headers":       func(c *broker.Config, n int) { c.MaxHeaders = n },
	"max-subscriptions": func(c *broker.Config, n int) { c.MaxSubscriptions = n },
	"max-clients":       func(c *broker.Config, n int) { c.MaxClients = n },
	"max-label-bytes":   func(c *broker.Config, n int) { c.MaxLabelBytes = n },
	"max-inflight":      func(c *broker.Config, n int) { c.MaxInflight = n },
}

// configure applies "broker key=value ...".
func (r *runner) configure(words []string) error {
	if r.started {
		return inputError("broker settings must come before the first connect")
	}
	return configure(&r.cfg, words)
}

// configure sets the limits "key=value ..." in cfg.
func configure(cfg *broker.Config, words []string) error {
	toks, err := parseTokens(words)
	if err != nil {
		return err
	}
	for _, tk := range toks {
		if tk.key == "policy" { // a permission policy file beside the transcripts
			if cfg.Policy, err = policy.Load(filepath.Join("testdata", "transcripts", tk.value)); err != nil {
				return inputError(err.Error())
			}
			continue
		}
		set, ok := limits[tk.key]
		n, err := strconv.Atoi(tk.value)
		if !ok || err != nil {
			return inputError("unknown broker setting " + tk.key + "=" + tk.value)
		}
		set(cfg, n)
	}
	return nil
}

func (r *runner) closeAll() {
	for _, tp := range r.peers {
		if !tp.closed {
			tp.closed = true
			tp.p.Close()
			<-tp.done
		}
	}
}

// run executes one block's inputs, then makes sure every message they
// caused has arrived: one barrier round so that the broker has handled
// every peer's inputs (and routed their messages), a second to collect
// what each peer was sent. It returns the output lines.
func (r *runner) run(bl *block) []string {
	t := r.t
	t.Helper()
	for i, l := range bl.cmds {
		if err := r.input(l); err != nil {
			t.Fatalf("line %d: %s: %v", bl.line+i, l, err)
		}
	}
	for range 2 {
		for _, tp := range r.peers {
			tp.barrier(t)
		}
	}
	var out []string
	for _, tp := range r.peers {
		for _, l := range tp.got {
			out = append(out, tp.name+": "+l)
		}
		tp.got = nil
	}
	return out
}

// input runs one input line: broker key=value... (limits, before the
// first connect), connect NAME [other], close NAME, await NAME, or NAME:
// COMMAND key=value...
func (r *runner) input(l string) error {
	if name, cmd, ok := strings.Cut(l, ": "); ok && !strings.Contains(name, " ") {
		tp := r.byName[name]
		if tp == nil || tp.closed {
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
		return tp.p.Send(frames...)
	}
	words := strings.Fields(l)
	if len(words) < 2 {
		return errBadLine
	}
	if words[0] == "broker" {
		return r.configure(words[1:])
	}
	tp := r.byName[words[1]]
	switch {
	case words[0] == "connect" && tp == nil:
		if !r.started {
			r.start()
		}
		ep := r.eps[0]
		if len(words) == 3 && words[2] == "other" {
			ep = r.eps[1]
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		tp, err := dialPeer(ctx, words[1], ep)
		if err != nil {
			return err
		}
		r.peers = append(r.peers, tp)
		r.byName[tp.name] = tp
	case tp == nil || tp.closed:
		return errNoPeer(words[1])
	case words[0] == "close":
		tp.close(r.t)
	case words[0] == "await":
		// A message the broker sends on its own (after a disconnection):
		// wait for the first one, the barriers collect the rest.
		for {
			l := tp.take(r.t, "a message")
			if !strings.HasPrefix(l, pongMark) {
				tp.got = append(tp.got, l)
				return nil
			}
		}
	default:
		return errBadLine
	}
	return nil
}

type inputError string

func (e inputError) Error() string { return string(e) }

const errBadLine = inputError("not an input: broker key=value..., connect NAME [other], close NAME, await NAME or NAME: COMMAND ...")

func errNoPeer(name string) error { return inputError("no open connection named " + name) }
