// Command zccp is the ZCCP command-line client.
//
//	zccp sub PATTERN [--json] [--count N] [--for D]
//	zccp pub ADDRESS [BODY...] [-H key=value]...
//	zccp send IDENTIFIER [BODY...] [-H key=value]...
//	zccp recv --id ID [--json] [--count N] [--for D]
//	zccp call IDENTIFIER METHOD [BODY...] [--timeout D] [-H key=value]... [--json]
//	zccp call --group ADDRESS [--label k=v]... [--dry-run] METHOD [BODY...]
//	zccp device --id ID [--label k=v]... [--subscribe EXPR]... [--method M]... -- COMMAND [ARGS...]
//	zccp clients [--label k=v]... [--json]
//
// Every command takes --endpoint (or ZCCP_ENDPOINT), default
// ipc://@/zccp, the daemon's default; it may also come before the
// command (zccp --endpoint tcp://host:7878 pub ...). zccp --version and
// zccp version both print the version. Exit codes: 0 success, 1 error, 2
// bad usage, 3 cannot reach the broker, 4 no such client (or the device
// left before answering), 5 timed out, 6 the device answered with an
// error, 7 the broker does not support what the command needs (an
// original ZCCP/1 broker: send, call, device, clients). "zccp call --help"
// says how group calls map to them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
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
	// onFlags, when set, sees every command's FlagSet as it is built
	// (the completion and man page generators read the flags there).
	onFlags func(fs *flag.FlagSet, args, summary string)
	sec     *securityFlags // keys.go: --server-key, --key-file
}

func commands() []command {
	return []command{
		{"sub", "PATTERN", "print every message published to an address matching PATTERN", runSub},
		{"pub", "ADDRESS [BODY...]", "publish a message (each BODY is one content frame; - reads stdin)", runPub},
		{"last", "[PATTERN]", "print the last value of every address matching PATTERN (retained publishes)", runLast},
		{"send", "IDENTIFIER [BODY...]", "send a message to one client (ZCCP DIRECT)", runSend},
		{"recv", "--id ID", "print every message sent to this client (what 'zccp send' sends)", runRecv},
		{"call", "IDENTIFIER METHOD [BODY...]", "send a request to one device (or --group) and print the reply", runCall},
		{"device", "--id ID -- COMMAND [ARGS...]", "serve requests by running COMMAND for each (a device driver)", runDevice},
		{"clients", "", "list the clients connected to the broker", runClients},
		{"top", "", "a live view of the broker: rates, clients, queues, busiest addresses", runTop},
		{"demo", "[--racks N]", "simulate a data center of PDUs, switches and hypervisors", runDemo},
		{"completion", "bash|zsh", "print a shell completion script", runCompletion},
		{"keygen", "", "make this client's CURVE key pair and print its public key", runKeygen},
		{"keys", "list|show|accept|reject|revoke [KEY]", "manage the client keys of a broker with --enrol", runKeys},
		{"audit", "[--since D|TIME] [--target ID] [--method M]", "print the broker's audit log (requests, key changes, refusals)", runAudit},
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
	args, code := globalFlags(e, args)
	if code >= 0 {
		return code
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) == 0 {
			shortUsage(e.stderr, "missing COMMAND")
			return exitUsage
		}
		usage(e.stderr)
		return exitOK
	}
	for _, c := range append(commands(), hiddenCommands()...) {
		if c.name == args[0] {
			return c.run(ctx, e, args[1:])
		}
	}
	shortUsage(e.stderr, fmt.Sprintf("unknown command %q", args[0]))
	return exitUsage
}

// shortUsage says what was wrong and where the help is: a mistake gets
// three lines, not the whole manual.
func shortUsage(w io.Writer, problem string) {
	names := make([]string, 0, len(commands()))
	for _, c := range commands() {
		names = append(names, c.name)
	}
	fmt.Fprintf(w, "zccp: %s\nUsage: zccp [--endpoint E] COMMAND [flags] ARGS  (commands: %s)\nRun 'zccp help' or 'zccp COMMAND --help' for more.\n",
		problem, strings.Join(names, ", "))
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
	fmt.Fprintf(e.stderr, "zccp %s: %s\nRun 'zccp %s --help' for its usage.\n", fs.Name(), fmt.Sprintf(format, a...), fs.Name())
	return exitUsage
}

// flagsFor returns a FlagSet with the common --endpoint flag. Asked
// for --help it prints the whole usage; after a bad flag only the error
// and where to find the help.
func flagsFor(e *env, name, args, summary string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	out := &errorSpotter{w: e.stderr}
	fs.SetOutput(out)
	ep := e.getenv("ZCCP_ENDPOINT")
	if ep == "" {
		ep = defaultEndpoint
	}
	endpoint := fs.String("endpoint", ep, "broker endpoint; curve+tcp://… for CURVE (needs --server-key) [ZCCP_ENDPOINT]")
	e.sec = addSecurityFlags(fs, e)
	fs.Usage = func() {
		if out.wrote {
			out.wrote = false
			fmt.Fprintf(e.stderr, "Usage: zccp %s [flags] %s\nRun 'zccp %s --help' for its flags.\n", name, args, name)
			return
		}
		fmt.Fprintf(e.stderr, "Usage: zccp %s [flags] %s\n\n%s\n\nFlags:\n", name, args, summary)
		fs.SetOutput(e.stderr)
		fs.PrintDefaults()
		fs.SetOutput(out)
	}
	if e.onFlags != nil {
		e.onFlags(fs, args, summary)
	}
	return fs, endpoint
}

// errorSpotter passes writes through and remembers that the flag
// package wrote something (it writes only an error before calling Usage;
// a plain --help writes nothing first).
type errorSpotter struct {
	w     io.Writer
	wrote bool
}

func (s *errorSpotter) Write(p []byte) (int, error) {
	s.wrote = true
	return s.w.Write(p)
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
	case errors.Is(err, client.ErrUnsupported):
		return exitUnsupported
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
