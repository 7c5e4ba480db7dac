package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/policy"
)

// The permission policy (--policy FILE, package policy): loaded and
// checked before any endpoint is bound (a bad file stops zccpd with every
// error as file:line), reloaded on SIGHUP (a bad file is logged and the
// policy in force kept). Without it every operation is allowed, which a
// CURVE endpoint states in a start-log warning.

// addPolicyFlags registers --policy.
func addPolicyFlags(fs *flag.FlagSet, path *string) {
	fs.StringVar(path, "policy", "", "permission policy file: roles (publish, deliver, direct, group, api rules) assigned to CURVE keys, identifier patterns, labels or ipc uids; reloaded on SIGHUP; check one with 'zccpd policy check FILE'; empty: everything allowed [ZCCPD_POLICY]")
}

// startPolicy installs the policy before the broker serves, and its
// SIGHUP reload.
func startPolicy(path string, binds []string, b *broker.Broker, log *slog.Logger) error {
	if path == "" {
		for _, v := range binds {
			if strings.HasPrefix(v, "curve+") {
				log.Warn("no permission policy (--policy): every client with an admitted key may publish, receive, command any device and call the broker API", "endpoint", v)
				break
			}
		}
		return nil
	}
	p, err := policy.Load(path)
	if err != nil {
		return err
	}
	b.SetPolicy(p)
	reloadHooks = append(reloadHooks, func(log *slog.Logger) error {
		p, err := policy.Load(path)
		if err != nil {
			errs := []error{err}
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				errs = j.Unwrap()
			}
			for _, e := range errs {
				log.Error("policy error", "err", e.Error())
			}
			return fmt.Errorf("policy %s has %d errors; the previous policy stays in force", path, len(errs))
		}
		b.SetPolicy(p)
		return nil
	})
	return nil
}

// policyCommand is `zccpd policy check FILE`: parse and validate a
// policy, print its summary or its errors (exit 1).
func policyCommand(args []string, stdout, stderr io.Writer) int {
	if len(args) != 2 || args[0] != "check" {
		fmt.Fprintln(stderr, "usage: zccpd policy check FILE")
		return 2
	}
	p, err := policy.Load(args[1])
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: ok: %s; roles: %s\n", args[1], p.Summary(), strings.Join(p.Roles(), ", "))
	return 0
}
