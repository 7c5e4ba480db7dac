package main

import (
	"context"
	"fmt"
	"time"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/internal/manpage"
)

// hiddenCommands are not listed in the usage: tools for packaging.
func hiddenCommands() []command {
	return []command{{"gen-man", "", "print the zccp(1) man page, generated from the command definitions", runGenMan}}
}

func runGenMan(_ context.Context, e *env, args []string) int {
	if len(args) != 0 {
		fmt.Fprintln(e.stderr, "Usage: zccp gen-man > zccp.1")
		return exitUsage
	}
	p := manpage.Page{Name: "zccp", Section: "1", Version: broker.Version, Date: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Summary:  "the ZCCP command-line client",
		Synopsis: "[--endpoint ENDPOINT] COMMAND [flags] ARGS",
		Description: "zccp publishes, subscribes, sends commands to devices and runs device drivers against a ZCCP broker (zccpd).\n" +
			"The broker endpoint comes from --endpoint (before or after the command) or ZCCP_ENDPOINT; the default is " + defaultEndpoint + ".",
		Flags: []manpage.Flag{{Name: "endpoint", Arg: "ENDPOINT", Usage: "broker endpoint for every command [ZCCP_ENDPOINT]"},
			{Name: "version", Usage: "print the version"}, {Name: "help", Usage: "list the commands"}},
	}
	cmds := manpage.Section{Title: "Commands"}
	for _, c := range describe() {
		mc := manpage.Command{Name: c.name, Args: c.usage, Summary: c.summary}
		for _, f := range c.flags {
			if f.Name == "endpoint" {
				continue
			}
			def := f.DefValue
			if f.Name == "id" {
				def = "" // host and pid: not a fixed default
			}
			arg := "value"
			if isBool(f) {
				arg = ""
			}
			mc.Flags = append(mc.Flags, manpage.Flag{Name: f.Name, Arg: arg, Usage: f.Usage + defaultNote(def)})
		}
		cmds.Commands = append(cmds.Commands, mc)
	}
	p.More = append(p.More, cmds, manpage.Section{Title: "Exit status",
		Text: "0 ok, 1 error, 2 bad usage, 3 broker unreachable, 4 no such client, 5 timeout, 6 the device answered with an error."},
		manpage.Section{Title: "See also", Text: "zccpd(8)"})
	if err := manpage.Write(e.stdout, p); err != nil {
		fmt.Fprintln(e.stderr, "zccp gen-man:", err)
		return exitError
	}
	return exitOK
}

func defaultNote(def string) string {
	if def == "" || def == "false" || def == "0" || def == "0s" || def == "[]" {
		return ""
	}
	return " (default " + def + ")"
}
