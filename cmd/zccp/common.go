package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/client"
	"github.com/zccp-go/zccp/codec"
)

// exitUnsupported: the broker lacks an extension the command needs (an
// original ZCCP/1 broker announces none: DIRECT, requests, clients).
const exitUnsupported = 7

// headerFlag collects repeated -H key=value.
type headerFlag map[string]string

func (h headerFlag) String() string { return "" }
func (h headerFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("want key=value, got %q", v)
	}
	h[k] = val
	return nil
}

// connectFlags are the options every connecting command shares.
type connectFlags struct {
	endpoint *string
	id       *string
	wait     *time.Duration
}

func addConnectFlags(fs *flag.FlagSet, endpoint *string, defaultID string) connectFlags {
	return connectFlags{
		endpoint: endpoint,
		id:       fs.String("id", defaultID, "identifier to say HELLO with"),
		wait:     positiveDurationFlag(fs, "connect-timeout", 3*time.Second, "how long to try reaching the broker"),
	}
}

// asyncErrors collects errors the client reports asynchronously.
type asyncErrors struct {
	mu   sync.Mutex
	errs []error
}

func (a *asyncErrors) add(err error) {
	a.mu.Lock()
	a.errs = append(a.errs, err)
	a.mu.Unlock()
}

func (a *asyncErrors) find(target error) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, e := range a.errs {
		if errors.Is(e, target) {
			return e
		}
	}
	return nil
}

func dial(ctx context.Context, cf connectFlags, opts ...client.Option) (*client.Client, error) {
	cctx, cancel := context.WithTimeout(ctx, *cf.wait)
	defer cancel()
	opts = append([]client.Option{client.WithIdentifier(*cf.id)}, opts...)
	c, err := client.Connect(cctx, *cf.endpoint, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w at %s: %w", errUnreachable, *cf.endpoint, err)
	}
	return c, nil
}

// connect is dial for a command: on failure it prints why and returns the
// exit code to end with (0 on success).
func connect(ctx context.Context, e *env, cf connectFlags, opts ...client.Option) (*client.Client, int) {
	sec, err := e.sec.clientOptions(cf.endpoint) // keys.go: CURVE
	if err != nil {
		fmt.Fprintln(e.stderr, "zccp:", err)
		return nil, exitUsage
	}
	c, err := dial(ctx, cf, append(sec, opts...)...)
	if err != nil {
		fmt.Fprintln(e.stderr, "zccp:", err)
		return nil, exitFor(err)
	}
	return c, exitOK
}

// bodies turns BODY arguments into content frames; "-" reads stdin.
func bodies(e *env, args []string) ([][]byte, error) {
	frames := make([][]byte, 0, len(args))
	for _, a := range args {
		if a == "-" {
			b, err := io.ReadAll(e.stdin)
			if err != nil {
				return nil, err
			}
			frames = append(frames, b)
			continue
		}
		frames = append(frames, []byte(a))
	}
	return frames, nil
}

func defaultID(role string) string {
	host, _ := os.Hostname()
	return fmt.Sprintf("zccp-%s-%s-%d", role, host, os.Getpid())
}

func runVersion(_ context.Context, e *env, _ []string) int {
	fmt.Fprintln(e.stdout, "zccp", broker.Version)
	return exitOK
}

// optDuration is a duration flag whose unset state is spelled by a word
// ("never", "off", "auto"): it takes that word or a positive duration.
// One rule for zero values (docs/architecture.md): zero is refused, never
// a silent default nor a silent "off".
type optDuration struct {
	p    *time.Duration // 0: the word
	word string
}

func (o *optDuration) String() string {
	if o.p == nil || *o.p == 0 {
		return o.word
	}
	return o.p.String()
}

func (o *optDuration) Set(v string) error {
	if v == o.word {
		*o.p = 0
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return err
	}
	if d <= 0 {
		return fmt.Errorf("want a positive duration or %q", o.word)
	}
	*o.p = d
	return nil
}

// optDurationFlag defines an optDuration flag, unset (the word) by default.
func optDurationFlag(fs *flag.FlagSet, name, word, usage string) *time.Duration {
	d := new(time.Duration)
	fs.Var(&optDuration{p: d, word: word}, name, usage)
	return d
}

// optInt is optDuration for counts.
type optInt struct {
	p    *int // 0: the word
	word string
}

func (o *optInt) String() string {
	if o.p == nil || *o.p == 0 {
		return o.word
	}
	return strconv.Itoa(*o.p)
}

func (o *optInt) Set(v string) error {
	if v == o.word {
		*o.p = 0
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return err
	}
	if n <= 0 {
		return fmt.Errorf("want a positive number or %q", o.word)
	}
	*o.p = n
	return nil
}

// optIntFlag defines an optInt flag, unset (the word) by default.
func optIntFlag(fs *flag.FlagSet, name, word, usage string) *int {
	n := new(int)
	fs.Var(&optInt{p: n, word: word}, name, usage)
	return n
}

// positiveDuration is a duration flag that must be positive.
type positiveDuration struct{ p *time.Duration }

func (o positiveDuration) String() string {
	if o.p == nil {
		return ""
	}
	return o.p.String()
}

func (o positiveDuration) Set(v string) error {
	d, err := time.ParseDuration(v)
	if err != nil {
		return err
	}
	if d <= 0 {
		return errors.New("want a positive duration")
	}
	*o.p = d
	return nil
}

// positiveDurationFlag defines a duration flag that refuses zero and
// negative values.
func positiveDurationFlag(fs *flag.FlagSet, name string, def time.Duration, usage string) *time.Duration {
	d := &def
	fs.Var(positiveDuration{d}, name, usage)
	return d
}

// callBroker connects, calls the broker API method with sel as
// zccp-select, waiting at most timeout, and closes. On failure it says
// why on stderr ("zccp NAME: ...") and returns nil and the exit code.
func callBroker(ctx context.Context, e *env, cf connectFlags, name, method, sel string, timeout time.Duration) (*client.Reply, int) {
	c, code := connect(ctx, e, cf)
	if c == nil {
		return nil, code
	}
	defer c.Close()
	qctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r, err := c.Do(qctx, codec.NoticeSender, client.Call{Method: method, Headers: map[string]string{codec.HdrSelect: sel}})
	if err != nil {
		fmt.Fprintln(e.stderr, "zccp "+name+":", err)
		return nil, exitFor(err)
	}
	return r, exitOK
}
