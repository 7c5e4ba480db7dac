package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/zccp-go/zccp/client"
)

const clientsSummary = `List the clients connected to the broker (asked of the broker itself), sorted by
identifier: IDENTIFIER LABELS SINCE REMOTE PUBLISHED DELIVERED DROPPED, with
ROLE after LABELS when the broker enforces a permission policy (the role it
gave each client; "-" for none). PUBLISHED counts the PUBLISH commands the
client sent, DELIVERED the messages queued to it, DROPPED the notifications
dropped because it did not keep up.
--label k=v (repeatable) lists only the clients carrying every such label.
This command's own session is left out. --json prints one JSON object per
client instead (the broker's record: identifier, labels, role, since,
session, remote, published, directs, delivered, dropped, subscriptions).
The broker's answer is one message: when it had to leave matching clients
out, a warning on stderr says how many (narrow the list with --label).`

func runClients(ctx context.Context, e *env, args []string) int {
	fs, endpoint := flagsFor(e, "clients", "[--label k=v]...", clientsSummary)
	cf := addConnectFlags(fs, endpoint, defaultID("clients"))
	labels := labelFlag{}
	fs.Var(labels, "label", "only clients with this label k=v, repeatable")
	asJSON := fs.Bool("json", false, "print one JSON object per client")
	timeout := positiveDurationFlag(fs, "timeout", 5*time.Second, "how long to wait for the broker's answer")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(pos) != 0 {
		return usageError(e, fs, "unexpected argument %q", pos[0])
	}
	c, code := connect(ctx, e, cf)
	if c == nil {
		return code
	}
	defer c.Close()
	qctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	list, left, err := c.ClientsTruncated(qctx, labels)
	if err != nil {
		fmt.Fprintln(e.stderr, "zccp clients:", err)
		return exitFor(err)
	}
	if left > 0 {
		fmt.Fprintf(e.stderr, "zccp clients: warning: the broker left %d matching clients out of its answer (it must fit in one message); narrow the list with --label\n", left)
	}
	list = slices.DeleteFunc(list, func(ci client.ClientInfo) bool { return ci.Identifier == c.Identifier() })
	if *asJSON {
		for _, ci := range list {
			if ci.Labels == nil {
				ci.Labels = map[string]string{}
			}
			line, _ := json.Marshal(ci)
			e.stdout.Write(append(line, '\n'))
		}
		return exitOK
	}
	printClients(e.stdout, list)
	return exitOK
}

// printClients writes the clients table; the ROLE column is there only
// when some client has a role (the broker enforces a policy).
func printClients(w io.Writer, list []client.ClientInfo) {
	roles := slices.ContainsFunc(list, func(ci client.ClientInfo) bool { return ci.Role != "" })
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	role := func(client.ClientInfo) string { return "" }
	if roles {
		fmt.Fprintln(tw, "IDENTIFIER\tLABELS\tROLE\tSINCE\tREMOTE\tPUBLISHED\tDELIVERED\tDROPPED")
		role = func(ci client.ClientInfo) string { return text(orDash(ci.Role)) + "\t" }
	} else {
		fmt.Fprintln(tw, "IDENTIFIER\tLABELS\tSINCE\tREMOTE\tPUBLISHED\tDELIVERED\tDROPPED")
	}
	for _, ci := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s%s\t%s\t%d\t%d\t%d\n", text(ci.Identifier), labelText(ci.Labels), role(ci),
			ci.Since.Local().Format(time.RFC3339), text(orDash(ci.Remote)), ci.Published, ci.Delivered, ci.Dropped)
	}
	tw.Flush()
}

// labelText renders labels as k=v,k2=v2 sorted by name; "-" for none.
func labelText(labels map[string]string) string {
	if len(labels) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + labels[k]
	}
	s := strings.Join(parts, ",")
	for _, r := range s {
		if r == ' ' || !strconv.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}
