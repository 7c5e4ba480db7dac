package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/zccp-go/zccp/client"
)

func runSub(ctx context.Context, e *env, args []string) int {
	fs, endpoint := flagsFor(e, "sub", "PATTERN",
		"Print every message published to an address matching PATTERN (a zrex regular\nexpression, unanchored), one per line: SENDER ADDRESS {HEADERS} CONTENT.")
	cf := addConnectFlags(fs, endpoint, defaultID("sub"))
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	count := optIntFlag(fs, "count", "never", "exit after this many messages")
	within := optDurationFlag(fs, "for", "never", "exit after this long; exit code 5 if --count was not reached")
	last := fs.Bool("last", false, "first print the last value of every matching address (marked zccp-retained), then live messages")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(pos) != 1 {
		return usageError(e, fs, "want exactly one PATTERN")
	}
	warnDashSet(e, "sub", pos[0])
	var async asyncErrors
	c, code := connect(ctx, e, cf, client.WithErrorHandler(async.add), stateReporter(e, "sub"))
	if c == nil {
		return code
	}
	defer c.Close()
	ch := make(chan *client.Delivery, 4096)
	if _, err := subscribeChan(ctx, c, pos[0], ch, *last); err != nil { // retain_cli.go
		fmt.Fprintln(e.stderr, "zccp sub:", err)
		return exitFor(err)
	}
	return printDeliveries(ctx, e, "sub", ch, *count, *within, *asJSON)
}

// printDeliveries prints each delivery from ch (a line, or JSON) until
// ctx ends, count have been printed (0: no limit) or within has passed
// (0: no limit; exit 5 then if count was not reached).
func printDeliveries(ctx context.Context, e *env, cmd string, ch <-chan *client.Delivery, count int, within time.Duration, asJSON bool) int {
	var timeout <-chan time.Time
	if within > 0 {
		timeout = time.After(within)
	}
	for n := 0; ; {
		select {
		case <-ctx.Done():
			return exitOK
		case <-timeout:
			if count > 0 {
				fmt.Fprintf(e.stderr, "zccp %s: %d of %d messages within %v\n", cmd, n, count, within)
				return exitTimeout
			}
			return exitOK
		case d := <-ch:
			if asJSON {
				printJSON(e.stdout, d)
			} else {
				printLine(e.stdout, d)
			}
			if n++; count > 0 && n >= count {
				return exitOK
			}
		}
	}
}

// printLine writes SENDER ADDRESS {k=v ...} CONTENT, quoting anything that
// is not plain printable text; several content frames are separated by
// " | ".
func printLine(w io.Writer, d *client.Delivery) {
	var b strings.Builder
	b.WriteString(text(d.Sender))
	b.WriteByte(' ')
	b.WriteString(text(d.Address))
	b.WriteString(" {")
	keys := make([]string, 0, len(d.Headers))
	for k := range d.Headers {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(text(k) + "=" + text(d.Headers[k]))
	}
	b.WriteByte('}')
	for i, f := range d.Content {
		if i == 0 {
			b.WriteByte(' ')
		} else {
			b.WriteString(" | ")
		}
		b.WriteString(text(string(f)))
	}
	if d.Missed > 0 {
		fmt.Fprintf(&b, " (missed %d before this)", d.Missed)
	}
	b.WriteByte('\n')
	io.WriteString(w, b.String())
}

// text returns s as is when it is printable and has no spaces, quoted
// otherwise.
func text(s string) string {
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if r == ' ' || r == '|' || r == '{' || r == '}' || r == '"' || !strconv.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// jsonDelivery is the --json line format.
type jsonDelivery struct {
	Sender   string            `json:"sender"`
	Address  string            `json:"address"`
	Headers  map[string]string `json:"headers"`
	Content  []string          `json:"content"`
	Encoding string            `json:"encoding"` // "utf-8", or "base64" if any frame is not UTF-8
	Missed   uint64            `json:"missed,omitempty"`
}

func printJSON(w io.Writer, d *client.Delivery) {
	j := jsonDelivery{Sender: d.Sender, Address: d.Address, Headers: d.Headers, Encoding: "utf-8", Missed: d.Missed}
	if j.Headers == nil {
		j.Headers = map[string]string{}
	}
	for _, f := range d.Content {
		if !utf8.Valid(f) {
			j.Encoding = "base64"
		}
	}
	j.Content = make([]string, len(d.Content))
	for i, f := range d.Content {
		if j.Encoding == "base64" {
			j.Content[i] = base64.StdEncoding.EncodeToString(f)
		} else {
			j.Content[i] = string(f)
		}
	}
	line, _ := json.Marshal(j)
	w.Write(append(line, '\n'))
}
