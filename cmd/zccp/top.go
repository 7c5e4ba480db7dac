package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/client"
	"github.com/zccp-go/zccp/codec"
)

const topSummary = "A live view of the broker, refreshed every --interval: totals and rates, the\n" +
	"clients by publish rate with their queue depth and drops, and the busiest\n" +
	"addresses (counted by this view's own subscription to --watch). Works over the\n" +
	"broker API, from any host. Keys: q quits, s changes the sort order."

func runTop(ctx context.Context, e *env, args []string) int {
	fs, endpoint := flagsFor(e, "top", "", topSummary)
	cf := addConnectFlags(fs, endpoint, defaultID("top"))
	interval := fs.Duration("interval", time.Second, "refresh period")
	watch := fs.String("watch", ".", "count messages on addresses matching this expression (empty: none)")
	once := fs.Bool("once", false, "print one view (after one --interval, for the rates) and exit")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(pos) != 0 {
		return usageError(e, fs, "unexpected argument %q", pos[0])
	}
	if *interval < 100*time.Millisecond {
		return usageError(e, fs, "--interval must be at least 100ms")
	}
	c, code := connect(ctx, e, cf, client.WithLabels(map[string]string{"role": "top"}))
	if c == nil {
		return code
	}
	defer c.Close()
	t := &topView{c: c, endpoint: *endpoint, addrs: map[string]uint64{}}
	if *watch != "" {
		if _, err := c.Subscribe(ctx, *watch, t.count); err != nil {
			fmt.Fprintln(e.stderr, "zccp top:", err)
			return exitFor(err)
		}
	}
	if *once {
		return t.runOnce(ctx, e, *interval)
	}
	return t.runLive(ctx, e, *interval)
}

// topView keeps the previous sample to compute rates.
type topView struct {
	c        *client.Client
	endpoint string
	sortBy   int

	mu    sync.Mutex
	addrs map[string]uint64 // messages per address since the last frame; guarded by mu

	prev     *topSample
	prevAddr map[string]uint64
}

type topSample struct {
	at      time.Time
	rec     broker.StatsRecord
	clients []broker.ClientView
}

func (t *topView) count(d *client.Delivery) {
	t.mu.Lock()
	if _, ok := t.addrs[d.Address]; ok || len(t.addrs) < 10000 {
		t.addrs[d.Address]++
	}
	t.mu.Unlock()
}

func (t *topView) sample(ctx context.Context) (*topSample, error) {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	r, err := t.c.Do(rctx, codec.NoticeSender, client.Call{Method: codec.MethodStats})
	if err != nil {
		return nil, err
	}
	if len(r.Content) == 0 {
		return nil, fmt.Errorf("empty stats answer")
	}
	s := &topSample{at: time.Now()}
	if err := json.Unmarshal(r.Content[0], &s.rec); err != nil {
		return nil, fmt.Errorf("bad stats answer: %w", err)
	}
	for _, f := range r.Content[1:] {
		var v broker.ClientView
		if json.Unmarshal(f, &v) == nil {
			s.clients = append(s.clients, v)
		}
	}
	return s, nil
}

func (t *topView) runOnce(ctx context.Context, e *env, interval time.Duration) int {
	var err error
	if t.prev, err = t.sample(ctx); err == nil {
		select {
		case <-ctx.Done():
			return exitOK
		case <-time.After(interval):
		}
		err = t.frame(ctx, e.stdout, 100, 40)
	}
	if err != nil {
		fmt.Fprintln(e.stderr, "zccp top:", err)
		return exitFor(err)
	}
	return exitOK
}

// runLive redraws until q, Ctrl-C or the end of ctx. On a terminal it
// reads keys in raw mode (restored on exit).
func (t *topView) runLive(ctx context.Context, e *env, interval time.Duration) int {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	width, height := 100, 40
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if old, err := term.MakeRaw(int(f.Fd())); err == nil {
			defer term.Restore(int(f.Fd()), old)
		}
	}
	go t.keys(e.stdin, cancel)
	io.WriteString(e.stdout, "\x1b[?25l") // hide the cursor
	defer io.WriteString(e.stdout, "\x1b[?25h\r\n")
	t.prev, _ = t.sample(ctx)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return exitOK
		case <-tick.C:
		}
		if f, ok := e.stdout.(*os.File); ok {
			if w, h, err := term.GetSize(int(f.Fd())); err == nil {
				width, height = w, h
			}
		}
		if err := t.frame(ctx, &crlf{w: e.stdout}, width, height); err != nil && ctx.Err() == nil {
			fmt.Fprintf(e.stdout, "\x1b[H\x1b[2Jzccp top: %v (retrying)\r\n", err)
		}
	}
}

// keys: q or Ctrl-C quits, s cycles the sort order.
func (t *topView) keys(r io.Reader, quit func()) {
	buf := make([]byte, 16)
	for {
		n, err := r.Read(buf)
		for _, b := range buf[:n] {
			switch b {
			case 'q', 'Q', 3, 4:
				quit()
				return
			case 's', 'S':
				t.mu.Lock()
				t.sortBy = (t.sortBy + 1) % len(topSorts)
				t.mu.Unlock()
			}
		}
		if err != nil {
			return
		}
	}
}

// crlf turns \n into \r\n (the terminal is in raw mode).
type crlf struct{ w io.Writer }

func (c *crlf) Write(p []byte) (int, error) {
	out := make([]byte, 0, len(p)+16)
	for _, b := range p {
		if b == '\n' {
			out = append(out, '\r')
		}
		out = append(out, b)
	}
	_, err := c.w.Write(out)
	return len(p), err
}
