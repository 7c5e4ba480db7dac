package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/zccp-go/zccp/client"
	"github.com/zccp-go/zccp/codec"
)

const callSummary = `Send a request to one device and print its reply, or with --group to every
device of a group and print each reply and a summary.

One device: zccp call IDENTIFIER METHOD [BODY...]
  Each BODY is one content frame ("-" reads stdin). The reply's body is
  written to stdout as it is, with a newline added when it does not end in
  one (--raw: never). Errors go to stderr with their code and reason.
  --timeout bounds the whole call and travels with the request as its TTL:
  a command that cannot start in time is never run. --dry-run only says
  whether IDENTIFIER is connected.
  Exit codes: 0 the device answered ok; 6 it answered with an error (or the
  broker did for it: queue-full, too-many-requests, no-such-method,
  cancelled); 4 no client has that identifier, or the device left before
  answering (disconnected); 5 no reply within --timeout, or the command
  expired before it could start; 3 the broker cannot be reached (or the
  connection to it was lost during the call); 7 the broker does not support
  requests (an original ZCCP/1 broker: nothing is sent); 2 bad usage; 1
  anything else.

A group: zccp call --group ADDRESS [--label k=v]... METHOD [BODY...]
  The request goes to every device (a client that declared at HELLO that
  it serves requests: zccp device, or a library client with handlers;
  never a plain subscriber) subscribed to an expression matching
  ADDRESS (--group "" with --label: every client with those labels),
  narrowed to the devices carrying every --label. The broker first says
  who it routed the request to; zccp waits for exactly those. One line per
  device on stdout, as the replies arrive:
      IDENTIFIER ok BODY                  (one trailing newline trimmed)
      IDENTIFIER error CODE REASON        the device (or broker) answered an error
      IDENTIFIER not-connected CODE REASON  the device left (disconnected)
      IDENTIFIER timed-out [CODE REASON]  no answer within --timeout, or expired
      IDENTIFIER unknown                  the connection to the broker was lost first
  then one line: "summary: expected N, ok N, error N, timed out N, not
  connected N" (the four add up to expected; ", unknown N" is added when the
  connection was lost). --dry-run prints the
  identifiers the request would reach, one a line, and sends nothing.
  Exit codes: 3 the connection to the broker was lost before every device
  answered (takes precedence); 0 every expected device answered ok; 5 at
  least one timed out (next in precedence); else 6 at least one answered an error or is not
  connected; 4 the group is empty (nobody would receive it, also with
  --dry-run); 3, 7, 2, 1 as above.

--json prints each reply as a JSON object per line ({"from", "outcome",
"status", "code", "reason", "headers", "content", "encoding"}; content is
base64 when a frame is not UTF-8), and a group's summary as a last line
{"summary": {...}}.`

// Outcomes of one device in a call, as printed.
const (
	outcomeOK           = "ok"
	outcomeError        = "error"
	outcomeTimedOut     = "timed-out"
	outcomeNotConnected = "not-connected"
	outcomeUnknown      = "unknown" // the connection to the broker was lost before it answered
)

// outcomeOf classifies a final reply.
func outcomeOf(r *client.Reply) string {
	if r.Err() == nil {
		return outcomeOK
	}
	switch r.Code {
	case codec.ErrCodeExpired:
		return outcomeTimedOut
	case codec.ErrCodeDisconnected, codec.ErrCodeNoSuchClient:
		return outcomeNotConnected
	}
	return outcomeError
}

// labelFlag collects repeated --label k=v (or k=v,k2=v2).
type labelFlag map[string]string

func (l labelFlag) String() string { return "" }
func (l labelFlag) Set(v string) error {
	for _, kv := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return fmt.Errorf("want k=v, got %q", kv)
		}
		if strings.ContainsAny(k+val, ",=") {
			return fmt.Errorf("label %q: names and values cannot contain ',' or '='", kv)
		}
		l[k] = val
	}
	return nil
}

func runCall(ctx context.Context, e *env, args []string) int {
	fs, endpoint := flagsFor(e, "call", "IDENTIFIER METHOD [BODY...]  |  --group ADDRESS [--label k=v]... METHOD [BODY...]", callSummary)
	cf := addConnectFlags(fs, endpoint, defaultID("call"))
	timeout := positiveDurationFlag(fs, "timeout", 5*time.Second, "give up after this long; also the request's TTL unless --ttl")
	ttl := optDurationFlag(fs, "ttl", "auto", "the command must start within this long (auto: the time left of --timeout)")
	headers := headerFlag{}
	fs.Var(headers, "H", "request header key=value, repeatable")
	asJSON := fs.Bool("json", false, "print replies (and a group's summary) as JSON lines")
	raw := fs.Bool("raw", false, "print the reply body exactly, without adding a final newline")
	group := fs.String("group", "", "send to every device subscribed to an expression matching this address")
	labels := labelFlag{}
	fs.Var(labels, "label", "group: only devices with this label k=v, repeatable")
	dryRun := fs.Bool("dry-run", false, "print who would receive the request; send nothing")
	verbose := fs.Bool("v", false, "print the round-trip time on stderr")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagError(err)
	}
	isGroup := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "group" {
			isGroup = true
		}
	})
	if !isGroup && len(labels) > 0 {
		return usageError(e, fs, "--label selects devices of a --group")
	}
	if isGroup && *group == "" && len(labels) == 0 {
		return usageError(e, fs, "--group needs an address or at least one --label")
	}
	var ident string
	if !isGroup {
		if len(pos) < 2 {
			return usageError(e, fs, "want IDENTIFIER METHOD [BODY...]")
		}
		ident, pos = pos[0], pos[1:]
	} else if len(pos) < 1 {
		return usageError(e, fs, "want METHOD [BODY...]")
	}
	for k := range headers {
		if strings.HasPrefix(k, "zccp-") {
			return usageError(e, fs, "header %q: zccp- names are the protocol's (see --timeout, --ttl, --label)", k)
		}
	}
	if *timeout <= 0 {
		return usageError(e, fs, "--timeout must be positive")
	}
	method := pos[0]
	content, err := bodies(e, pos[1:])
	if err != nil {
		fmt.Fprintln(e.stderr, "zccp call:", err)
		return exitError
	}
	var async asyncErrors
	c, code := connect(ctx, e, cf, client.WithErrorHandler(async.add))
	if c == nil {
		return code
	}
	defer c.Close()
	rctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	call := client.Call{Method: method, Headers: headers, Body: content, TTL: *ttl}
	call.OnProgress = func(r *client.Reply) {
		fmt.Fprintf(e.stderr, "zccp call: %s: progress %s\n", text(r.From), framesText(r.Content))
	}
	cl := &caller{e: e, json: *asJSON, raw: *raw, timeout: *timeout}
	defer reportRTT(e, *verbose, time.Now())
	if isGroup {
		return cl.group(rctx, c, client.Group{Address: *group, Labels: labels, DryRun: *dryRun}, call)
	}
	if *dryRun {
		return cl.dryRunOne(rctx, c, ident, method)
	}
	return cl.one(rctx, c, ident, call)
}

// caller prints the outcome of a call.
type caller struct {
	e       *env
	json    bool
	raw     bool
	timeout time.Duration
}

func (cl *caller) one(ctx context.Context, c *client.Client, ident string, call client.Call) int {
	r, err := c.Do(ctx, ident, call)
	if r != nil {
		if cl.json {
			cl.printJSON(ident, outcomeOf(r), r)
		} else {
			cl.printBody(r)
		}
	}
	if err == nil {
		return exitOK
	}
	var re *client.RequestError
	switch {
	case errors.As(err, &re) && re.Code == codec.ErrCodeNoSuchClient:
		fmt.Fprintf(cl.e.stderr, "zccp call: no client %q is connected (%s)\n", ident, re.Code)
	case errors.As(err, &re) && re.Code == codec.ErrCodeExpired:
		// The deadline travelled as the TTL: the device (or the broker)
		// may notice it first, and says why.
		fmt.Fprintf(cl.e.stderr, "zccp call: no reply from %q within %v (timeout): %s: %s\n", ident, cl.timeout, re.Code, re.Reason)
	case errors.As(err, &re):
		fmt.Fprintf(cl.e.stderr, "zccp call: %s: %s: %s\n", text(ident), codeOrDefault(re.Code), re.Reason)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, client.ErrTimeout):
		fmt.Fprintf(cl.e.stderr, "zccp call: no reply from %q within %v (timeout)\n", ident, cl.timeout)
	case errors.Is(err, context.Canceled):
		fmt.Fprintln(cl.e.stderr, "zccp call: interrupted")
	default:
		fmt.Fprintln(cl.e.stderr, "zccp call:", err)
	}
	return exitFor(err)
}

func codeOrDefault(code string) string {
	if code == "" {
		return codec.ErrCodeDeviceError
	}
	return code
}

// printBody writes the reply's content frames as they are, with a
// newline added when the output does not end in one (unless --raw).
func (cl *caller) printBody(r *client.Reply) {
	n := 0
	var last byte
	for _, f := range r.Content {
		cl.e.stdout.Write(f)
		if len(f) > 0 {
			n += len(f)
			last = f[len(f)-1]
		}
	}
	if n > 0 && last != '\n' && !cl.raw {
		io.WriteString(cl.e.stdout, "\n")
	}
}

// dryRunOne reports whether ident is connected, sending nothing.
func (cl *caller) dryRunOne(ctx context.Context, c *client.Client, ident, method string) int {
	list, err := c.Clients(ctx, nil)
	if err != nil {
		fmt.Fprintln(cl.e.stderr, "zccp call:", err)
		return exitFor(err)
	}
	for _, ci := range list {
		if ci.Identifier == ident {
			fmt.Fprintln(cl.e.stdout, text(ident))
			fmt.Fprintf(cl.e.stderr, "zccp call: dry run: 1 device would receive %s\n", text(method))
			return exitOK
		}
	}
	fmt.Fprintf(cl.e.stderr, "zccp call: dry run: no client %q is connected\n", ident)
	return exitNoSuchPeer
}

// tally counts a group call's outcomes.
type tally struct {
	Expected     int `json:"expected"`
	OK           int `json:"ok"`
	Error        int `json:"error"`
	TimedOut     int `json:"timed_out"`
	NotConnected int `json:"not_connected"`
	Unknown      int `json:"unknown,omitempty"` // connection to the broker lost
}

func (t *tally) add(outcome string) {
	switch outcome {
	case outcomeOK:
		t.OK++
	case outcomeError:
		t.Error++
	case outcomeTimedOut:
		t.TimedOut++
	case outcomeNotConnected:
		t.NotConnected++
	case outcomeUnknown:
		t.Unknown++
	}
}

// exit is the group call's exit code (see the --help text).
func (t *tally) exit() int {
	switch {
	case t.Expected == 0:
		return exitNoSuchPeer
	case t.Unknown > 0:
		return exitUnreachable
	case t.TimedOut > 0:
		return exitTimeout
	case t.Error > 0 || t.NotConnected > 0:
		return exitDeviceError
	}
	return exitOK
}

func (cl *caller) group(ctx context.Context, c *client.Client, g client.Group, call client.Call) int {
	gc, err := c.DoGroup(ctx, g, call)
	if err != nil {
		fmt.Fprintln(cl.e.stderr, "zccp call:", err)
		return exitFor(err)
	}
	t := tally{Expected: len(gc.Expected)}
	if gc.DryRun {
		for _, id := range gc.Expected {
			fmt.Fprintln(cl.e.stdout, text(id))
		}
		fmt.Fprintf(cl.e.stderr, "zccp call: dry run: %d device(s) would receive %s\n", len(gc.Expected), text(call.Method))
		return t.exit()
	}
	for r := range gc.Replies() {
		o := outcomeOf(r)
		t.add(o)
		if cl.json {
			cl.printJSON(r.From, o, r)
		} else {
			cl.printLine(r.From, o, r)
		}
	}
	sum := gc.Summary()
	missing := outcomeTimedOut
	if errors.Is(sum.Err, client.ErrConnLost) || errors.Is(sum.Err, client.ErrClosed) {
		missing = outcomeUnknown
	}
	for _, id := range sum.Missing {
		t.add(missing)
		if cl.json {
			cl.printJSON(id, missing, nil)
		} else {
			cl.printLine(id, missing, nil)
		}
	}
	if cl.json {
		line, _ := json.Marshal(map[string]tally{"summary": t})
		cl.e.stdout.Write(append(line, '\n'))
	} else {
		unknown := ""
		if t.Unknown > 0 {
			unknown = fmt.Sprintf(", unknown %d", t.Unknown)
		}
		fmt.Fprintf(cl.e.stdout, "summary: expected %d, ok %d, error %d, timed out %d, not connected %d%s\n",
			t.Expected, t.OK, t.Error, t.TimedOut, t.NotConnected, unknown)
	}
	if t.Unknown > 0 {
		fmt.Fprintf(cl.e.stderr, "zccp call: connection to the broker lost after the receipt; %d device(s) unaccounted for: %v\n", t.Unknown, sum.Err)
	}
	if t.Expected == 0 {
		fmt.Fprintln(cl.e.stderr, "zccp call: no device is in the group")
	}
	return t.exit()
}

// printLine writes one device's outcome in a group call (r nil: no
// answer).
func (cl *caller) printLine(from, outcome string, r *client.Reply) {
	var b strings.Builder
	b.WriteString(text(from))
	b.WriteByte(' ')
	b.WriteString(outcome)
	switch {
	case r == nil:
	case outcome == outcomeOK:
		if len(r.Content) > 0 {
			b.WriteByte(' ')
			b.WriteString(framesText(r.Content))
		}
	default:
		b.WriteByte(' ')
		b.WriteString(text(codeOrDefault(r.Code)))
		if r.Reason != "" {
			b.WriteByte(' ')
			b.WriteString(text(r.Reason))
		}
	}
	b.WriteByte('\n')
	io.WriteString(cl.e.stdout, b.String())
}

// framesText renders content frames on one line, " | " between them:
// each frame raw (after trimming one trailing newline) unless it is not
// printable text (see rawText).
func framesText(frames [][]byte) string {
	parts := make([]string, len(frames))
	for i, f := range frames {
		parts[i] = rawText(strings.TrimSuffix(string(f), "\n"))
	}
	return strings.Join(parts, " | ")
}

// jsonReply is the --json line format of one device's outcome.
type jsonReply struct {
	From     string            `json:"from"`
	Outcome  string            `json:"outcome"`
	Status   string            `json:"status,omitempty"`
	Code     string            `json:"code,omitempty"`
	Reason   string            `json:"reason,omitempty"`
	Headers  map[string]string `json:"headers,omitempty"`
	Content  []string          `json:"content"`
	Encoding string            `json:"encoding"`
}

func (cl *caller) printJSON(from, outcome string, r *client.Reply) {
	j := jsonReply{From: from, Outcome: outcome, Content: []string{}, Encoding: "utf-8"}
	if r != nil {
		j.Status, j.Code, j.Reason, j.Headers = r.Status, r.Code, r.Reason, r.Headers
		for _, f := range r.Content {
			if !utf8.Valid(f) {
				j.Encoding = "base64"
			}
		}
		for _, f := range r.Content {
			if j.Encoding == "base64" {
				j.Content = append(j.Content, base64.StdEncoding.EncodeToString(f))
			} else {
				j.Content = append(j.Content, string(f))
			}
		}
	}
	line, _ := json.Marshal(j)
	cl.e.stdout.Write(append(line, '\n'))
}
