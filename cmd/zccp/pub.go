package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/zccp-go/zccp/client"
)

func runPub(ctx context.Context, e *env, args []string) int {
	return publishOrSend(ctx, e, args, "pub", "ADDRESS [BODY...]", "Publish a message to ADDRESS. Each BODY is one content frame (- reads stdin).")
}

func runSend(ctx context.Context, e *env, args []string) int {
	return publishOrSend(ctx, e, args, "send", "IDENTIFIER [BODY...]", "Send a message to the client whose identifier is IDENTIFIER (DIRECT).\nExits 4 if no such client is connected, 7 if the broker does not support DIRECT\n(an original ZCCP/1 broker, which would drop it).")
}

func publishOrSend(ctx context.Context, e *env, args []string, name, argUsage, summary string) int {
	fs, endpoint := flagsFor(e, name, argUsage, summary)
	cf := addConnectFlags(fs, endpoint, defaultID(name))
	headers := headerFlag{}
	fs.Var(headers, "H", "header key=value, repeatable")
	retainFlag(fs, name, headers) // retain_cli.go: pub --retain
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(pos) < 1 {
		return usageError(e, fs, "missing %s", map[string]string{"pub": "ADDRESS", "send": "IDENTIFIER"}[name])
	}
	content, err := bodies(e, pos[1:])
	if err != nil {
		fmt.Fprintln(e.stderr, "zccp:", err)
		return exitError
	}
	var async asyncErrors
	c, code := connect(ctx, e, cf, client.WithErrorHandler(async.add))
	if c == nil {
		return code
	}
	if name == "pub" {
		err = c.Publish(pos[0], headers, content...)
	} else {
		err = c.Send(pos[0], headers, content...)
	}
	// GOODBYE-OK comes after the broker has handled our message, and any
	// error notice about it comes before: closing settles both.
	c.Close()
	if err == nil {
		if n := async.find(client.ErrNoSuchClient); n != nil {
			err = fmt.Errorf("%w: %w", errNoSuchPeer, n)
		} else if n := async.find(client.ErrRefused); n != nil {
			err = n
		}
	}
	if err != nil {
		if errors.Is(err, errNoSuchPeer) {
			fmt.Fprintf(e.stderr, "zccp %s: no client %q is connected\n", name, pos[0])
		} else {
			fmt.Fprintf(e.stderr, "zccp %s: %v\n", name, err)
		}
		return exitFor(err)
	}
	return exitOK
}
