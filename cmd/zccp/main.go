// Command zccp is the ZCCP command-line client.
//
//	zccp sub PATTERN [--json] [--count N] [--for D]
//	zccp pub ADDRESS [BODY...] [-H key=value]...
//	zccp send IDENTIFIER [BODY...] [-H key=value]...
//	zccp call IDENTIFIER METHOD [BODY...] [--timeout D] [-H key=value]... [--json]
//	zccp call --group ADDRESS [--label k=v]... [--dry-run] METHOD [BODY...]
//	zccp device --id ID [--label k=v]... [--subscribe EXPR]... [--method M]... -- COMMAND [ARGS...]
//	zccp clients [--label k=v]... [--json]
//
// Every command takes --endpoint (or ZCCP_ENDPOINT), default
// ipc://@/zccp, the daemon's default. Exit codes: 0 success, 1 error, 2
// bad usage, 3 cannot reach the broker, 4 no such client (or the device
// left before answering), 5 timed out, 6 the device answered with an
// error. "zccp call --help" says how group calls map to them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/zccp-go/zccp/client"
)

// Exit codes that scripts can rely on.
const (
	exitOK          = 0
	exitError       = 1
	exitUsage       = 2
	exitUnreachable = 3
	exitNoSuchPeer  = 4
	exitTimeout     = 5
	exitDeviceError = 6
)

// defaultEndpoint is where zccpd listens by default.
const defaultEndpoint = "ipc://@/zccp"

// command is one subcommand.
type command struct {
	name, args, summary string
	run                 func(ctx context.Context, env *env, args []string) int
}

// env is what a subcommand may use: its streams and the environment.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

func commands() []command {
	return []command{
		{"sub", "PATTERN", "print every message published to an address matching PATTERN", runSub},
		{"pub", "ADDRESS [BODY...]", "publish a message (each BODY is one content frame; - reads stdin)", runPub},
		{"send", "IDENTIFIER [BODY...]", "send a message to one client (ZCCP DIRECT)", runSend},
		{"call", "IDENTIFIER METHOD [BODY...]", "send a request to one device (or --group) and print the reply", runCall},
		{"device", "--id ID -- COMMAND [ARGS...]", "serve requests by running COMMAND for each (a device driver)", runDevice},
		{"clients", "", "list the clients connected to the broker", runClients},
		{"version", "", "print the version", runVersion},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := dispatch(ctx, &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}, os.Args[1:])
	stop()
	os.Exit(code)
}

func dispatch(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(e.stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
	}
	fmt.Fprintf(e.stderr, "zccp: unknown command %q\n\n", args[0])
	usage(e.stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "zccp: the ZCCP command-line client\n\nUsage: zccp COMMAND [flags] ARGS\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %-30s %s\n", c.name, c.args, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'zccp COMMAND --help' for a command's flags. The broker endpoint comes from\n--endpoint or ZCCP_ENDPOINT (default "+defaultEndpoint+").")
	fmt.Fprintln(w, "Exit codes: 0 ok, 1 error, 2 usage, 3 broker unreachable, 4 no such client, 5 timeout,\n6 the device answered with an error (see 'zccp call --help').")
}

// parseInterspersed parses flags that may appear before, between or after
// positional arguments, and returns the positionals.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// flagError maps a flag parsing error to an exit code: --help is a
// success, anything else bad usage (the flag package printed why).
func flagError(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	return exitUsage
}

// usageError prints a message and the command's usage; exit code 2.
func usageError(e *env, fs *flag.FlagSet, format string, a ...any) int {
	fmt.Fprintf(e.stderr, "zccp %s: %s\n", fs.Name(), fmt.Sprintf(format, a...))
	fs.Usage()
	return exitUsage
}

// flagsFor returns a FlagSet with the common --endpoint flag.
func flagsFor(e *env, name, args, summary string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	ep := e.getenv("ZCCP_ENDPOINT")
	if ep == "" {
		ep = defaultEndpoint
	}
	endpoint := fs.String("endpoint", ep, "broker endpoint [ZCCP_ENDPOINT]")
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "Usage: zccp %s [flags] %s\n\n%s\n\nFlags:\n", name, args, summary)
		fs.PrintDefaults()
	}
	return fs, endpoint
}

// exitFor maps an error to an exit code. Failed requests
// (*client.RequestError) map by their code: no-such-client and
// disconnected to 4, expired to 5, anything else the device (or the
// broker for it) answered to 6.
func exitFor(err error) int {
	var re *client.RequestError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errUnreachable), errors.Is(err, client.ErrConnLost):
		return exitUnreachable
	case errors.Is(err, errNoSuchPeer):
		return exitNoSuchPeer
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, client.ErrTimeout):
		return exitTimeout
	case errors.As(err, &re):
		switch {
		case errors.Is(re, client.ErrNoSuchClient), errors.Is(re, client.ErrDisconnected):
			return exitNoSuchPeer
		case errors.Is(re, client.ErrExpired):
			return exitTimeout
		}
		return exitDeviceError
	}
	return exitError
}

var (
	errUnreachable = errors.New("cannot reach the broker")
	errNoSuchPeer  = errors.New("no such client")
)
