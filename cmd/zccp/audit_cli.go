package main

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/zccp-go/zccp/audit"
	"github.com/zccp-go/zccp/codec"
)

const auditSummary = `Print the broker's audit log (asked of the broker itself: an admin key with
--enrol, or a local session over ipc), oldest first: every request and group
request with its outcome, every key state change and identifier binding, every
refused operation (not-authorized, reserved; repeated ones aggregated).
  --since 10m | 24h | 2026-12-01 | 2026-12-01T10:00:00Z   only records since then
  --target ID      only records concerning ID: a request's device, a group's recipient,
                   the requester, or the key or identifier of a key change
  --method M       only requests with method M
  --kind K         only request, group, key, refusal or gap records
  --limit N        only the newest N records (default all)
A reply holds the newest records that fit in one message; how many older ones
were left out is said on stderr. --json prints the broker's records as stored,
one JSON object per line.`

func runAudit(ctx context.Context, e *env, args []string) int {
	fs, endpoint := flagsFor(e, "audit", "[--since D|TIME] [--target ID] [--method M] [--kind K]", auditSummary)
	cf := addConnectFlags(fs, endpoint, defaultID("audit"))
	since := fs.String("since", "", "only records since this duration ago or this time")
	target := fs.String("target", "", "only records concerning this identifier or key")
	method := fs.String("method", "", "only requests with this method")
	kind := fs.String("kind", "", "only records of this kind (request, group, key, refusal, gap)")
	limit := fs.String("limit", "all", "only the newest N records, or all")
	asJSON := fs.Bool("json", false, "print one JSON object per record")
	timeout := positiveDurationFlag(fs, "timeout", 10*time.Second, "how long to wait for the broker's answer")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(pos) != 0 {
		return usageError(e, fs, "unexpected argument %q", pos[0])
	}
	q := url.Values{}
	if *since != "" {
		t, err := audit.ParseSince(*since, time.Now())
		if err != nil {
			return usageError(e, fs, "%v", err)
		}
		q.Set("since", t.UTC().Format(time.RFC3339Nano))
	}
	if *limit != "all" {
		if n, err := strconv.Atoi(*limit); err != nil || n < 1 {
			return usageError(e, fs, "--limit %q: want a positive number or all", *limit)
		}
		q.Set("limit", *limit)
	}
	for k, v := range map[string]string{"target": *target, "method": *method, "kind": *kind} {
		if v != "" {
			q.Set(k, v)
		}
	}
	r, code := callBroker(ctx, e, cf, "audit", codec.MethodAudit, q.Encode(), *timeout)
	if r == nil {
		return code
	}
	for _, line := range r.Content {
		if len(line) == 0 {
			continue // none
		}
		if *asJSON {
			fmt.Fprintf(e.stdout, "%s\n", line)
		} else if rec, err := audit.ParseLine(line); err == nil {
			fmt.Fprintln(e.stdout, audit.Format(&rec))
		}
	}
	if left := r.Headers[codec.HdrTruncated]; left != "" {
		fmt.Fprintf(e.stderr, "zccp audit: %s older matching records left out (the reply holds what fits in one message); narrow with --since, --target, --method or --kind\n", left)
	}
	if missing := r.Headers[codec.HdrMissingBrokers]; missing != "" {
		fmt.Fprintf(e.stderr, "zccp audit: the records of these brokers of the federation are not included (no answer in time): %s\n", missing)
	}
	return exitOK
}
