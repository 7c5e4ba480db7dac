package main

import (
	"fmt"
	"io"
	"strings"
)

// globalFlags takes the flags given before the command: --endpoint
// (which then is every command's default, above ZCCP_ENDPOINT),
// --version and --help. It returns the remaining arguments, and an exit
// code >= 0 when zccp is done already.
func globalFlags(e *env, args []string) ([]string, int) {
	for len(args) > 0 && strings.HasPrefix(args[0], "-") && args[0] != "-" {
		name, value, hasValue := strings.Cut(strings.TrimLeft(args[0], "-"), "=")
		switch name {
		case "version":
			return nil, runVersion(nil, e, nil)
		case "h", "help":
			return []string{"help"}, -1
		case "endpoint":
			if !hasValue {
				if len(args) < 2 {
					shortUsage(e.stderr, "--endpoint needs a value")
					return nil, exitUsage
				}
				value, args = args[1], args[1:]
			}
			setEndpoint(e, value)
			args = args[1:]
		default:
			shortUsage(e.stderr, fmt.Sprintf("unknown flag %q before the command (only --endpoint, --version and --help go there)", args[0]))
			return nil, exitUsage
		}
	}
	return args, -1
}

// setEndpoint makes ep the endpoint every command defaults to.
func setEndpoint(e *env, ep string) {
	getenv := e.getenv
	e.getenv = func(k string) string {
		if k == "ZCCP_ENDPOINT" {
			return ep
		}
		return getenv(k)
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "zccp: the ZCCP command-line client\n\nUsage: zccp [--endpoint E] COMMAND [flags] ARGS\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %-30s %s\n", c.name, c.args, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'zccp COMMAND --help' for a command's flags. The broker endpoint comes from\n--endpoint (before or after COMMAND) or ZCCP_ENDPOINT (default "+defaultEndpoint+").")
	fmt.Fprintln(w, "Exit codes: 0 ok, 1 error, 2 usage, 3 broker unreachable, 4 no such client, 5 timeout,\n6 the device answered with an error (see 'zccp call --help').")
}
