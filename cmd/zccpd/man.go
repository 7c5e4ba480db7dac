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
		Synopsis: "[flags] | version | gen-man | key | policy check FILE",
		Description: "zccpd routes ZCCP notifications, commands and requests between clients over ZeroMQ (ZMTP 3) on tcp and ipc endpoints.\n" +
			"Every flag has an environment variable ZCCPD_NAME (dashes as underscores), and --config names a file of name = value lines; flags win over the environment, the environment over the file.",
		Flags: manpage.ParseDefaults(help.String()),
		More: []manpage.Section{
			{Title: "Signals", Text: "SIGINT, SIGTERM: stop accepting, flush queued messages for up to --shutdown-timeout, exit.\n" +
				"SIGHUP: reload the log level from the configuration file, the --client-keys file and the --policy file (a bad policy is logged line by line and the one in force kept); never exits."},
			{Title: "Permissions", Text: "With --policy FILE every session holds a role: the first 'assign ROLE key=KEY|ident=PATTERN|label:NAME=VALUE|uid=N ...' line it meets, else 'default ROLE', else nothing is allowed. A role's rules: publish PATTERN..., deliver PATTERN... (filtered at delivery: a .* subscriber receives only these), direct PATTERN... [methods M...], group PATTERN... [methods M...], api METHOD.... Patterns are globs over dot-separated segments: * inside a segment, ** for any number of segments, {id} for the session's identifier.\n" +
				"A refused operation gets the notice not-authorized (a request: its error reply) and is counted in zccp_not_authorized_total{op}. zccpd policy check FILE validates a file (errors as FILE:LINE). Format: docs/protocol.md section 1.2 and examples/zccpd.policy."},
			{Title: "Audit log", Text: "With --audit (on by default with --data-dir or a curve+ endpoint), every request and group request (requester, key, target or recipients, method, id, TTL, outcome), every key state change and identifier binding (and who made it) and every refused operation is appended to DATA-DIR/audit/audit.jsonl, one JSON object per line, rotated at --audit-max-bytes with --audit-keep files kept.\n" +
				"zccp audit reads it over the broker API (admin keys, or local ipc sessions); zccpd audit [--data-dir DIR] [--since D|TIME] [--target ID] [--method M] [--kind K] [--limit N] [--json] reads the files directly."},
			{Title: "HTTP", Text: "With --http-addr: /healthz (the process runs), /readyz (endpoints bound, store open, not stopping), the dashboard at /."},
			{Title: "See also", Text: "zccp(1)"},
		},
	}
	return manpage.Write(w, p)
}
