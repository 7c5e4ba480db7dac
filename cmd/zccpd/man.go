package main

import (
	"bytes"
	"io"
	"time"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/internal/manpage"
)

// writeMan prints zccpd(8), its options read from the daemon's own flag
// definitions (the --help output of the parser the daemon runs).
func writeMan(w io.Writer) error {
	var help bytes.Buffer
	parse([]string{"--help"}, &help)
	p := manpage.Page{Name: "zccpd", Section: "8", Version: broker.Version, Date: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Summary:  "the ZCCP broker daemon",
		Synopsis: "[flags] | version | gen-man",
		Description: "zccpd routes ZCCP notifications, commands and requests between clients over ZeroMQ (ZMTP 3) on tcp and ipc endpoints.\n" +
			"Every flag has an environment variable ZCCPD_NAME (dashes as underscores), and --config names a file of name = value lines; flags win over the environment, the environment over the file.",
		Flags: manpage.ParseDefaults(help.String()),
		More: []manpage.Section{
			{Title: "Signals", Text: "SIGINT, SIGTERM: stop accepting, flush queued messages for up to --shutdown-timeout, exit.\n" +
				"SIGHUP: reload the log level from the configuration file (and the security policy, when configured); never exits."},
			{Title: "Audit log", Text: "With --audit (on by default with --data-dir or a curve+ endpoint), every request and group request (requester, key, target or recipients, method, id, TTL, outcome), every key state change and identifier binding (and who made it) and every refused operation is appended to DATA-DIR/audit/audit.jsonl, one JSON object per line, rotated at --audit-max-bytes with --audit-keep files kept.\n" +
				"zccp audit reads it over the broker API (admin keys, or local ipc sessions); zccpd audit [--data-dir DIR] [--since D|TIME] [--target ID] [--method M] [--kind K] [--limit N] [--json] reads the files directly."},
			{Title: "HTTP", Text: "With --http-addr: /healthz (the process runs), /readyz (endpoints bound, store open, not stopping), the dashboard at /."},
			{Title: "See also", Text: "zccp(1)"},
		},
	}
	return manpage.Write(w, p)
}
