package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/zmtp"
)

const keysSummary = `Manage the CURVE client keys of a broker run with --enrol (asked of the broker
itself, so it works from any host with an admin key, or locally over ipc):
  list [--state pending|accepted|rejected|revoked]   STATE KEY IDENTIFIER REMOTE LAST-SEEN OWNS
  show KEY       one key's record
  accept KEY     let the key open sessions (its connections are closed so it says HELLO again)
                 and set the identifiers it may use: --ident ID or PATTERN, repeatable
                 ('rack1.pdu*': * within a dot-separated part, ** any parts), each taken from
                 any other key; default: the identifier it asked for, if no other key holds it
  reject KEY     refuse the key from now on
  revoke KEY     refuse the key and end its live connections at once
--json prints the broker's records, one JSON object per line.`

func runKeys(ctx context.Context, e *env, args []string) int {
	fs, endpoint := flagsFor(e, "keys", "list|show|accept|reject|revoke [KEY]", keysSummary)
	cf := addConnectFlags(fs, endpoint, defaultID("keys"))
	state := fs.String("state", "", "with list: only keys in this state")
	var idents stringsFlag
	fs.Var(&idents, "ident", "with accept: an identifier or pattern the key may use, repeatable (replaces its bindings)")
	asJSON := fs.Bool("json", false, "print one JSON object per key")
	timeout := positiveDurationFlag(fs, "timeout", 5*time.Second, "how long to wait for the broker's answer")
	verb, args := keyAfterVerb(args)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagError(err)
	}
	pos = append(verb, pos...)
	var sel string
	switch {
	case len(pos) == 1 && pos[0] == "list":
		if *state != "" {
			sel = "state=" + *state
		}
	case len(pos) == 2 && (pos[0] == "show" || pos[0] == "accept" || pos[0] == "reject" || pos[0] == "revoke"):
		sel = "key=" + pos[1]
		if len(idents) > 0 && pos[0] != "accept" {
			return usageError(e, fs, "--ident goes with accept")
		}
		for _, id := range idents {
			if strings.Contains(id, ",") {
				return usageError(e, fs, "--ident %q: no ',' in an identifier or pattern here", id)
			}
			sel += ",ident=" + id
		}
	default:
		return usageError(e, fs, "want list, or show|accept|reject|revoke KEY")
	}
	r, code := callBroker(ctx, e, cf, "keys", "keys."+pos[0], sel, *timeout)
	if r == nil {
		return code
	}
	return printKeys(e, r.Content, *asJSON)
}

// keyAfterVerb takes "show|accept|reject|revoke KEY" out of args before
// the flags are parsed when KEY starts with '-' (a Z85 key may): the flag
// package would read it as a flag. It returns the pair, or nothing.
func keyAfterVerb(args []string) (verb, rest []string) {
	for i := 0; i+1 < len(args); i++ {
		switch args[i] {
		case "show", "accept", "reject", "revoke":
			k := args[i+1]
			if _, err := zmtp.ParseCurveKey(k); err == nil && strings.HasPrefix(k, "-") {
				return args[i : i+2], append(slices.Clip(args[:i]), args[i+2:]...)
			}
			return nil, args
		}
	}
	return nil, args
}

// printKeys prints the broker's key records as a table or as JSON lines.
func printKeys(e *env, lines [][]byte, asJSON bool) int {
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	for _, line := range lines {
		if len(line) == 0 {
			continue // none
		}
		if asJSON {
			fmt.Fprintf(e.stdout, "%s\n", line)
			continue
		}
		var r broker.KeyRecord
		if err := json.Unmarshal(line, &r); err != nil {
			fmt.Fprintln(e.stderr, "zccp keys: bad record from the broker:", err)
			return exitError
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.State, r.Key, orDash(r.Identifier), orDash(r.Remote),
			r.LastSeen.Local().Format(time.DateTime), orDash(strings.Join(r.Owns, ",")))
	}
	tw.Flush()
	return exitOK
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
