package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/zccp-go/zccp/client"
)

const recvSummary = "Print every message sent to this client with 'zccp send' (ZCCP DIRECT), one per\n" +
	"line as 'zccp sub' prints them. Give --id: it is the identifier senders address."

func runRecv(ctx context.Context, e *env, args []string) int {
	fs, endpoint := flagsFor(e, "recv", "--id ID", recvSummary)
	cf := addConnectFlags(fs, endpoint, defaultID("recv"))
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	count := optIntFlag(fs, "count", "never", "exit after this many messages")
	within := optDurationFlag(fs, "for", "never", "exit after this long; exit code 5 if --count was not reached")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(pos) != 0 {
		return usageError(e, fs, "unexpected argument %q (the identifier goes in --id)", pos[0])
	}
	ch := make(chan *client.Delivery, 4096)
	c, code := connect(ctx, e, cf, stateReporter(e, "recv"), client.WithDirectHandler(func(d *client.Delivery) {
		select {
		case ch <- d:
		default: // the terminal is too slow: the client counts nothing here, so say so
			fmt.Fprintln(e.stderr, "zccp recv: output too slow, a message was dropped")
		}
	}))
	if c == nil {
		return code
	}
	defer c.Close()
	fmt.Fprintf(e.stderr, "zccp recv: receiving as %q\n", *cf.id)
	return printDeliveries(ctx, e, "recv", ch, *count, *within, *asJSON)
}

// stateReporter tells on stderr when the connection to the broker is
// lost and when it is back, so that a long-running command does not sit
// silently while nothing can arrive.
func stateReporter(e *env, name string) client.Option {
	var mu sync.Mutex
	lost := false
	return client.WithStateHandler(func(s client.State) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case s == client.Reconnecting && !lost:
			lost = true
			fmt.Fprintf(e.stderr, "zccp %s: connection to the broker lost; reconnecting\n", name)
		case s == client.Connected && lost:
			lost = false
			fmt.Fprintf(e.stderr, "zccp %s: connection to the broker restored\n", name)
		}
	})
}
