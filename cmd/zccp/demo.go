package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/zccp-go/zccp/internal/demo"
)

const demoSummary = "Simulate a small data center against the broker: per rack a PDU (power per\n" +
	"outlet; outlet.on/off, status), a switch (port utilisation; port.shut/open,\n" +
	"status) and hypervisors (VM load; vm.migrate, status), each a client with labels\n" +
	"rack, kind. Readings are published as last values every --interval. Rack r2\n" +
	"overheats until outlets are switched off (run examples/overload beside it, as\n" +
	"make demo does); a port of sw-r1-1 saturates in a cycle."

func runDemo(ctx context.Context, e *env, args []string) int {
	fs, endpoint := flagsFor(e, "demo", "[--racks N]", demoSummary)
	racks := fs.Int("racks", 4, "racks to simulate (1 to 64)")
	hvs := fs.Int("hypervisors", 2, "hypervisors per rack (0 to 16)")
	interval := fs.Duration("interval", time.Second, "time between readings")
	within := fs.Duration("for", 0, "stop after this long (0: until interrupted)")
	seed := fs.Uint64("seed", 0, "random seed (0: from the clock)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(pos) != 0 {
		return usageError(e, fs, "unexpected argument %q", pos[0])
	}
	if *seed == 0 {
		*seed = uint64(time.Now().UnixNano())
	}
	cfg := demo.Config{Endpoint: *endpoint, Racks: *racks, Hypervisors: *hvs, Interval: *interval, Seed: *seed,
		Logger: slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if err := cfg.Validate(); err != nil {
		return usageError(e, fs, "%v", strings.TrimPrefix(err.Error(), "demo: "))
	}
	if *within > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *within)
		defer cancel()
	}
	err = demo.Run(ctx, cfg, func(ids []string) {
		fmt.Fprintf(e.stderr, "zccp demo: %d devices in %d racks connected to %s; Ctrl-C stops\n", len(ids), *racks, *endpoint)
	})
	if err != nil {
		fmt.Fprintln(e.stderr, "zccp demo:", err)
		return exitUnreachable
	}
	return exitOK
}
