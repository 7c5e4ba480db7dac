package main

import (
	"context"
	"flag"
	"io"
	"sort"
	"strings"
)

// cmdInfo is one command as its own FlagSet defines it: what the
// completion scripts and the man page are generated from.
type cmdInfo struct {
	command
	usage   string
	summary string
	flags   []*flag.Flag
}

// describe runs every command with --help, output discarded, and
// records the FlagSet each builds: the definitions, not a copy of them.
func describe() []cmdInfo {
	var out []cmdInfo
	for _, c := range commands() {
		info := cmdInfo{command: c, usage: c.args, summary: c.summary}
		var seen *flag.FlagSet
		e := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard,
			getenv: func(string) string { return "" },
			onFlags: func(fs *flag.FlagSet, args, summary string) {
				info.usage, info.summary, seen = args, summary, fs
			}}
		if c.name != "version" && c.name != "completion" {
			c.run(context.Background(), e, []string{"--help"})
		}
		if seen != nil { // by now the command has defined all its flags
			seen.VisitAll(func(f *flag.Flag) { info.flags = append(info.flags, f) })
		}
		sort.Slice(info.flags, func(i, j int) bool { return info.flags[i].Name < info.flags[j].Name })
		out = append(out, info)
	}
	return out
}

// isBool reports whether f takes no value.
func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}
