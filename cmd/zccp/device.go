package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zccp-go/zccp/client"
	"github.com/zccp-go/zccp/codec"
)

const deviceSummary = `Serve requests by running a program for each: this turns any program (a shell,
Python or Perl script) into a ZCCP device driver, no ZeroMQ binding needed.

For each request zccp runs COMMAND [ARGS...] (directly, not through a shell) with
  stdin   the request's content frames, one after the other
  env     the inherited environment, plus
            ZCCP_METHOD         the method, e.g. outlet.off
            ZCCP_REQUEST_ID     the requester's id for the request
            ZCCP_FROM           the requester's identifier
            ZCCP_ADDRESS        where it was sent: this device's identifier, or a group address
            ZCCP_DEVICE         this device's identifier (--id)
            ZCCP_ENDPOINT       the broker's endpoint (the program may run zccp itself)
            ZCCP_DEADLINE       when it must be done, RFC 3339 (unset: no deadline)
            ZCCP_HEADER_<NAME>  each application header (not zccp-*): NAME upper-cased,
                                anything but letters and digits as _ (-H unit=W: ZCCP_HEADER_UNIT=W)
and then
  stdout  is the reply's body (at most --max-output bytes: more is an error reply)
  exit 0  gives an ok reply
  exit N  gives an error reply, code device-error, reason "exit status N: " and the end of
          stderr (trimmed, at most 1 KiB); it also carries stdout and a header exit-status: N.
The request's deadline (its TTL: the requester's --timeout), the requester's
cancellation and --max-time end the program: SIGTERM to its process group, SIGKILL
2 s later.

Without --method every method is served; with --method only those (the others are
answered no-such-method). --subscribe EXPR makes the device a member of the group calls
to addresses EXPR matches (--subscribe '^pdus$': "zccp call --group pdus ..." reaches
it); --label sets the labels that --label selections and "zccp clients" see.
At most --parallel programs run at once (default 1: requests are served one at a time).
On SIGINT or SIGTERM new requests are refused, running ones get --grace to finish (then
they are killed), and the device says GOODBYE and exits 0. Exit codes: 0 stopped by a
signal, 1 error (e.g. the identifier was taken over by a newer session), 2 usage, 3 the
broker cannot be reached, 7 the broker does not support requests (an original broker).`

// stringsFlag collects a repeated flag.
type stringsFlag []string

func (s *stringsFlag) String() string     { return strings.Join(*s, " ") }
func (s *stringsFlag) Set(v string) error { *s = append(*s, v); return nil }

// Bounds of what a program run may produce.
const (
	reasonMax     = 1024                // bytes of stderr in an error reply's reason
	stderrTail    = 4096                // bytes of stderr kept per run
	killDelay     = 2 * time.Second     // SIGTERM → SIGKILL
	headerSlack   = 64 << 10            // room left for headers under the broker's message limit
	defaultMaxOut = 4<<20 - headerSlack // reply body limit when the broker announces none
)

var (
	errShutdown = errors.New("the device is shutting down")
	errMaxTime  = errors.New("ran past --max-time")
	errTooMuch  = errors.New("too much output")
)

func runDevice(ctx context.Context, e *env, args []string) int {
	fs, endpoint := flagsFor(e, "device", "--id ID [flags] [--] COMMAND [ARGS...]", deviceSummary)
	id := fs.String("id", "", "identifier to say HELLO with: requests to it reach this device (required)")
	wait := positiveDurationFlag(fs, "connect-timeout", 3*time.Second, "how long to try reaching the broker")
	labels := labelFlag{}
	fs.Var(labels, "label", "label k=v sent in HELLO, repeatable")
	var subs, methods stringsFlag
	fs.Var(&subs, "subscribe", "join the groups whose address matches EXPR (zrex), repeatable")
	fs.Var(&methods, "method", "serve only this method, repeatable (default: every method)")
	parallel := fs.Int("parallel", 1, "how many requests may run at once")
	maxOut := optIntFlag(fs, "max-output", "auto", "largest reply body, bytes (auto: the broker's message limit less 64 KiB)")
	maxTime := optDurationFlag(fs, "max-time", "off", "kill a run after this long even if the request allows more")
	grace := fs.Duration("grace", 5*time.Second, "on SIGINT/SIGTERM, how long running requests may take to finish")
	verbose := fs.Bool("v", false, "log every request and copy the program's stderr to stderr")
	// Flags stop at COMMAND: everything after it is the program's.
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	argv := fs.Args()
	switch {
	case *id == "":
		return usageError(e, fs, "--id is required: it is how requests reach this device")
	case strings.HasPrefix(*id, "$"):
		return usageError(e, fs, "identifiers starting with $ are reserved for the broker")
	case len(argv) == 0:
		return usageError(e, fs, "missing COMMAND")
	case *parallel < 1:
		return usageError(e, fs, "--parallel must be at least 1")
	}
	if _, err := exec.LookPath(argv[0]); err != nil {
		fmt.Fprintf(e.stderr, "zccp device: %v\n", err)
		return exitError
	}
	takenOver := make(chan error, 1)
	onError := func(err error) {
		if errors.Is(err, client.ErrTakenOver) {
			select {
			case takenOver <- err:
			default:
			}
		}
		fmt.Fprintln(e.stderr, "zccp device:", err)
	}
	kill, killAll := context.WithCancel(context.Background())
	defer killAll()
	d := &driver{
		e: e, argv: argv, id: *id, endpoint: *endpoint,
		maxTime: *maxTime, verbose: *verbose,
		sem: make(chan struct{}, *parallel), kill: kill,
	}
	// The handlers are registered before HELLO: no request can arrive
	// before them, and HELLO declares this session a group member.
	opts := []client.Option{client.WithLabels(labels), client.WithErrorHandler(onError)}
	what := "every method"
	if len(methods) > 0 {
		for _, m := range methods {
			opts = append(opts, client.WithHandler(m, d.handle))
		}
		what = "methods " + strings.Join(methods, ", ")
	} else {
		opts = append(opts, client.WithHandleAll(d.handle))
	}
	c, code := connect(ctx, e, connectFlags{endpoint: endpoint, id: id, wait: wait}, opts...)
	if c == nil {
		return code
	}
	if !c.Supports("requests") {
		c.Close()
		fmt.Fprintf(e.stderr, "zccp device: the broker at %s does not support requests (no %q in its HELLO-OK: an original ZCCP/1 broker?); no request can reach this device\n", *endpoint, "requests")
		return exitUnsupported
	}
	d.maxOut.Store(int64(*maxOut))
	if *maxOut <= 0 {
		if n, err := strconv.Atoi(c.ServerInfo()[codec.HdrMaxMessage]); err == nil && n > 2*headerSlack {
			d.maxOut.Store(int64(n - headerSlack))
		}
	}
	for _, expr := range subs {
		if _, err := c.Subscribe(ctx, expr, func(*client.Delivery) {}); err != nil {
			fmt.Fprintf(e.stderr, "zccp device: subscribe %q: %v\n", expr, err)
			c.Close()
			return exitFor(err)
		}
	}
	fmt.Fprintf(e.stderr, "zccp device: %s ready at %s, serving %s with %s\n", *id, *endpoint, what, strings.Join(argv, " "))
	code = exitOK
	select {
	case <-ctx.Done():
	case err := <-takenOver:
		fmt.Fprintf(e.stderr, "zccp device: stopping: %v\n", err)
		code = exitError
	}
	idle := d.stop()
	select {
	case <-idle:
	case <-time.After(*grace):
		fmt.Fprintln(e.stderr, "zccp device: killing the requests still running")
		killAll()
		<-idle // bounded: every run ends within killDelay and the pipes' WaitDelay
	}
	d.settle()
	c.Close()
	return code
}

// driver runs the program for each request.
type driver struct {
	e        *env
	argv     []string
	id       string
	endpoint string
	maxOut   atomic.Int64 // largest reply body; 0 until connected: defaultMaxOut
	maxTime  time.Duration
	verbose  bool
	sem      chan struct{}   // one slot per run allowed at once
	kill     context.Context // ended when running programs must die

	mu       sync.Mutex
	stopping bool          // guarded by mu
	running  int           // handlers in progress; guarded by mu
	idle     chan struct{} // closed when stopping and nothing runs; guarded by mu
	late     bool          // a handler returned while stopping; guarded by mu
}

// enter counts a handler in, unless the device is stopping.
func (d *driver) enter() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopping {
		return false
	}
	d.running++
	return true
}

func (d *driver) leave() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.running--
	d.late = d.late || d.stopping
	if d.stopping && d.running == 0 && d.idle != nil {
		close(d.idle)
		d.idle = nil
	}
}

func (d *driver) isStopping() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stopping
}

// stop refuses new requests; the channel closes when none runs.
func (d *driver) stop() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopping = true
	ch := make(chan struct{})
	if d.running == 0 {
		close(ch)
	} else {
		d.idle = ch
	}
	return ch
}

// settleTime is how long the client gets to send the replies of the
// handlers that returned while the device was stopping.
const settleTime = 50 * time.Millisecond

// settle gives the replies of handlers that just returned time to be
// queued before GOODBYE: the client sends a reply after its handler
// returns, and offers no way to wait for that (see the report: a
// CloseContext that lets running handlers answer first would make this
// exact).
func (d *driver) settle() {
	d.mu.Lock()
	late := d.late
	d.mu.Unlock()
	if late {
		time.Sleep(settleTime)
	}
}

// handle is the request handler for every served method.
func (d *driver) handle(ctx context.Context, r *client.Request) (*client.Reply, error) {
	if !d.enter() {
		d.mu.Lock()
		d.late = true
		d.mu.Unlock()
		return nil, &client.RequestError{Code: codec.ErrCodeDeviceError, Reason: errShutdown.Error()}
	}
	defer d.leave()
	select {
	case d.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for a free --parallel slot: %w", ctx.Err())
	case <-d.kill.Done():
		return nil, &client.RequestError{Code: codec.ErrCodeDeviceError, Reason: errShutdown.Error()}
	}
	defer func() { <-d.sem }()
	if d.isStopping() { // waited for the slot while the device began to stop
		return nil, &client.RequestError{Code: codec.ErrCodeDeviceError, Reason: errShutdown.Error()}
	}
	start := time.Now()
	reply, err := d.exec(ctx, r)
	if d.verbose {
		outcome := "ok"
		if err != nil {
			outcome = "error: " + err.Error()
		}
		n := 0
		if reply != nil {
			for _, f := range reply.Content {
				n += len(f)
			}
		}
		fmt.Fprintf(d.e.stderr, "zccp device: %s from %s (id %s): %s, %d bytes, %v\n",
			text(r.Method), text(r.From), text(r.ID), outcome, n, time.Since(start).Round(time.Millisecond))
	}
	return reply, err
}

// exec runs the program once for r.
func (d *driver) exec(ctx context.Context, r *client.Request) (*client.Reply, error) {
	env, err := d.environ(r)
	if err != nil {
		return nil, &client.RequestError{Code: codec.ErrCodeBadRequest, Reason: err.Error()}
	}
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	defer context.AfterFunc(d.kill, func() { cancel(errShutdown) })()
	if d.maxTime > 0 {
		var stop context.CancelFunc
		cctx, stop = context.WithTimeoutCause(cctx, d.maxTime, errMaxTime)
		defer stop()
	}
	cmd := exec.CommandContext(cctx, d.argv[0], d.argv[1:]...)
	cmd.Env = env
	in := make([]io.Reader, len(r.Content))
	for i, f := range r.Content {
		in[i] = bytes.NewReader(f)
	}
	cmd.Stdin = io.MultiReader(in...)
	maxOut := int(d.maxOut.Load())
	if maxOut <= 0 { // a request that came before HELLO-OK was handled here
		maxOut = defaultMaxOut
	}
	stdout := &limitWriter{max: maxOut, over: func() { cancel(errTooMuch) }}
	stderr := &tailWriter{max: stderrTail}
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	if d.verbose {
		cmd.Stderr = io.MultiWriter(stderr, d.e.stderr)
	}
	done := prepareCommand(cmd)
	runErr := cmd.Run()
	done()

	if stdout.overflow {
		return nil, &client.RequestError{Code: codec.ErrCodeDeviceError,
			Reason: fmt.Sprintf("the program wrote more than %d bytes to stdout (--max-output); it was stopped", maxOut)}
	}
	if runErr != nil && cctx.Err() != nil {
		switch cause := context.Cause(cctx); {
		case errors.Is(cause, errShutdown):
			return nil, &client.RequestError{Code: codec.ErrCodeDeviceError, Reason: "the program was stopped: " + errShutdown.Error()}
		case errors.Is(cause, errMaxTime):
			return nil, &client.RequestError{Code: codec.ErrCodeDeviceError, Reason: fmt.Sprintf("the program was stopped: it ran past --max-time %v", d.maxTime)}
		}
		// The request's own deadline or the requester's cancellation:
		// the client turns this into an expired or cancelled reply.
		return nil, fmt.Errorf("the program was stopped: %w", ctx.Err())
	}
	var reply *client.Reply
	if out := stdout.buf.Bytes(); len(out) > 0 {
		reply = &client.Reply{Content: [][]byte{out}}
	}
	if runErr == nil {
		return reply, nil
	}
	var ee *exec.ExitError
	if !errors.As(runErr, &ee) {
		return reply, &client.RequestError{Code: codec.ErrCodeDeviceError, Reason: fmt.Sprintf("cannot run %s: %v", d.argv[0], runErr)}
	}
	if reply == nil {
		reply = &client.Reply{}
	}
	reply.Headers = map[string]string{"exit-status": strconv.Itoa(ee.ExitCode())}
	reason := ee.Error() // "exit status 3", "signal: killed"
	if tail := stderr.text(reasonMax); tail != "" {
		reason += ": " + tail
	}
	return reply, &client.RequestError{Code: codec.ErrCodeDeviceError, Reason: reason}
}

// environ returns the program's environment for r.
func (d *driver) environ(r *client.Request) ([]string, error) {
	env := os.Environ()
	vars := [][2]string{
		{"ZCCP_METHOD", r.Method},
		{"ZCCP_REQUEST_ID", r.ID},
		{"ZCCP_FROM", r.From},
		{"ZCCP_ADDRESS", r.Address},
		{"ZCCP_DEVICE", d.id},
		{"ZCCP_ENDPOINT", d.endpoint},
	}
	if !r.Deadline.IsZero() {
		vars = append(vars, [2]string{"ZCCP_DEADLINE", r.Deadline.UTC().Format("2006-01-02T15:04:05.000Z07:00")})
	}
	for _, kv := range vars {
		if strings.IndexByte(kv[1], 0) >= 0 {
			return nil, fmt.Errorf("%s would contain a NUL byte", kv[0])
		}
		env = append(env, kv[0]+"="+kv[1])
	}
	for k, v := range r.Headers {
		if strings.HasPrefix(k, "zccp-") || strings.IndexByte(v, 0) >= 0 {
			continue // ours, or not representable in an environment
		}
		env = append(env, headerVar(k)+"="+v)
	}
	return env, nil
}

// headerVar names the environment variable of header k.
func headerVar(k string) string {
	b := []byte("ZCCP_HEADER_" + strings.ToUpper(k))
	for i := len("ZCCP_HEADER_"); i < len(b); i++ {
		if c := b[i]; !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	return string(b)
}

// limitWriter keeps up to max bytes; beyond, it discards and calls over
// once.
type limitWriter struct {
	buf      bytes.Buffer
	max      int
	overflow bool
	over     func()
}

func (w *limitWriter) Write(p []byte) (int, error) {
	if w.overflow {
		return len(p), nil
	}
	if w.buf.Len()+len(p) > w.max {
		w.overflow = true
		w.over()
		return len(p), nil
	}
	return w.buf.Write(p)
}

// tailWriter keeps the last max bytes written.
type tailWriter struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (w *tailWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if len(w.buf) > w.max {
		w.buf = append(w.buf[:0], w.buf[len(w.buf)-w.max:]...)
	}
	return len(p), nil
}

// text returns the last n bytes at most, trimmed, as valid UTF-8.
func (w *tailWriter) text(n int) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := strings.TrimSpace(string(w.buf))
	if len(s) > n {
		s = "…" + strings.TrimSpace(s[len(s)-n:])
	}
	return strings.ToValidUTF8(s, "?")
}
