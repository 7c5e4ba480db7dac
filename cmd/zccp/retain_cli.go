package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"

	"github.com/zccp-go/zccp/client"
)

// retainFlag adds --retain to zccp pub: the broker keeps the message as
// the address's last value.
func retainFlag(fs *flag.FlagSet, cmd string, headers headerFlag) {
	if cmd != "pub" {
		return
	}
	fs.BoolFunc("retain", "keep this message as the address's last value (no BODY clears it)", func(v string) error {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return err
		}
		if on {
			headers["zccp-retain"] = "1"
		} else {
			delete(headers, "zccp-retain")
		}
		return nil
	})
}

// subscribeChan subscribes, asking for the last values first when last.
func subscribeChan(ctx context.Context, c *client.Client, expr string, ch chan *client.Delivery, last bool) (*client.Subscription, error) {
	if !last {
		return c.SubscribeChan(ctx, expr, ch)
	}
	return c.SubscribeLast(ctx, expr, func(d *client.Delivery) {
		select {
		case ch <- d:
		default: // like SubscribeChan: a full channel drops
		}
	})
}

const lastSummary = "Print the last value of every address matching PATTERN (a zrex expression;\n" +
	"none: every address), oldest first, one per line as 'zccp sub' prints them, with\n" +
	"zccp-age (ms) among the headers. Values are kept by 'zccp pub --retain'."

func runLast(ctx context.Context, e *env, args []string) int {
	fs, endpoint := flagsFor(e, "last", "[PATTERN]", lastSummary)
	cf := addConnectFlags(fs, endpoint, defaultID("last"))
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	timeout := fs.Duration("timeout", 5e9, "give up after this long")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(pos) > 1 {
		return usageError(e, fs, "want at most one PATTERN")
	}
	expr := ""
	if len(pos) == 1 {
		expr = pos[0]
		warnDashSet(e, "last", expr)
	}
	c, code := connect(ctx, e, cf)
	if c == nil {
		return code
	}
	defer c.Close()
	rctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	vals, err := c.Last(rctx, expr)
	if err != nil {
		fmt.Fprintln(e.stderr, "zccp last:", err)
		return exitFor(err)
	}
	for _, v := range vals {
		h := make(map[string]string, len(v.Headers)+1)
		for k, val := range v.Headers {
			h[k] = val
		}
		h["zccp-age"] = strconv.FormatInt(v.Age.Milliseconds(), 10)
		d := &client.Delivery{Sender: v.Sender, Address: v.Address, Headers: h, Content: v.Content}
		if *asJSON {
			printJSON(e.stdout, d)
		} else {
			printLine(e.stdout, d)
		}
	}
	return exitOK
}
