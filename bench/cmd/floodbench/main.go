// Command floodbench floods zccpd and nats-server with a load generator
// that goes through neither broker's client library (internal/flood: a
// hand-framed ZCCP/1 peer and a hand-framed NATS peer on net.Conn), one
// fresh broker process per run, both with their default limits. The
// publisher writes its messages back to back in large writes, open loop
// and then paced at 80 % of nats-server's open-loop publish rate; the
// table reports deliveries per second beside loss, the broker's CPU per
// delivery and its peak RSS. With -idle N it also measures the broker CPU
// of N idle clients (zccpd: plain, and declaring a 60 s heartbeat).
//
//	cd bench && go run ./cmd/floodbench [-scenarios 1to1,1to10] [-duration 2s] [-idle 10000]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/zccp-go/zccp/bench/internal/flood"
	"github.com/zccp-go/zccp/bench/internal/procstat"
	"github.com/zccp-go/zccp/bench/internal/server"
)

func main() {
	var (
		scens    = flag.String("scenarios", "all", "comma-separated: 1to1,1to10,100distinct,1to1-1KiB,1to1-64KiB,1to10-64KiB")
		dur      = flag.Duration("duration", 2*time.Second, "publishing time per run")
		idle     = flag.Int("idle", 0, "idle clients to measure (0: skip)")
		idleWin  = flag.Duration("idle-window", 10*time.Second, "idle measuring window")
		out      = flag.String("out", "", "results directory (default bench/results)")
		noPaced  = flag.Bool("open-only", false, "skip the runs at 80 % of nats-server's rate")
		zccpOnly = flag.Bool("zccpd-only", false, "measure zccpd only (no nats-server; no 80 % runs)")
		profile  = flag.Bool("profile", false, "run zccpd as zccpdprof, writing CPU and allocation profiles to <out>/profiles")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	profDir = *profile
	if err := run(ctx, *scens, *dur, *idle, *idleWin, *out, !*noPaced && !*zccpOnly, *zccpOnly); err != nil {
		fmt.Fprintln(os.Stderr, "floodbench:", err)
		os.Exit(1)
	}
}

// profDir says whether zccpd runs profiled (set once from the flags).
var profDir bool

func run(ctx context.Context, list string, dur time.Duration, idle int, idleWin time.Duration, out string, paced, zccpOnly bool) error {
	paths, err := server.FindPaths()
	if err != nil {
		return err
	}
	if out == "" {
		out = filepath.Join(paths.Bench, "results")
	}
	if _, err := procstat.RaiseFileLimit(); err != nil {
		return err
	}
	if err := server.Build(ctx, paths, paths.Repo, !zccpOnly, profDir, func(s string) { fmt.Fprintln(os.Stderr, s) }); err != nil {
		return err
	}
	if profDir {
		profiles = filepath.Join(out, "profiles")
		if err := os.MkdirAll(profiles, 0o755); err != nil {
			return err
		}
	}
	brokers := []string{"nats", "zccpd"}
	if zccpOnly {
		brokers = brokers[1:]
	}
	var results []flood.Result
	for _, s := range flood.Scenarios {
		if list != "all" && !strings.Contains(","+list+",", ","+s.Name+",") {
			continue
		}
		rates := map[string]float64{}
		for _, b := range brokers {
			r, err := once(ctx, paths, b, s, dur, 0)
			if err != nil {
				return err
			}
			rates[b] = r.PubRate
			results = append(results, r)
		}
		if paced && rates["nats"] > 0 {
			for _, b := range brokers {
				r, err := once(ctx, paths, b, s, dur, 0.8*rates["nats"])
				if err != nil {
					return err
				}
				r.Mode = "80 % of nats"
				results = append(results, r)
			}
		}
	}
	var idles []flood.IdleResult
	if idle > 0 {
		for _, b := range brokers {
			hbs := []time.Duration{0}
			if b == "zccpd" {
				hbs = append(hbs, time.Minute)
			}
			for _, hb := range hbs {
				r, err := idleOnce(ctx, paths, b, idle, hb, idleWin)
				if err != nil {
					return err
				}
				idles = append(idles, r)
			}
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(out, "flood.md"))
	if err != nil {
		return err
	}
	defer f.Close()
	w := io.MultiWriter(os.Stdout, f)
	fmt.Fprintf(w, "# floodbench %s (duration %v per run)\n\n", time.Now().UTC().Format(time.RFC3339), dur)
	writeTable(w, results)
	if len(idles) > 0 {
		writeIdle(w, idles)
	}
	return nil
}

// profiles is where profiled runs write (empty: not profiling).
var profiles string

func startBroker(ctx context.Context, paths server.Paths, b, tag string) (*server.Process, flood.Target, error) {
	o := server.Options{Paths: paths, Tag: "flood-" + tag, Defaults: true}
	if b == "zccpd" {
		o.ProfileDir = profiles
	}
	p, err := server.Start(ctx, b, o)
	if err != nil {
		return nil, flood.Target{}, err
	}
	return p, flood.Target{Kind: b, Addr: p.Addr, PID: p.PID()}, nil
}

func once(ctx context.Context, paths server.Paths, b string, s flood.Scenario, dur time.Duration, rate float64) (flood.Result, error) {
	p, t, err := startBroker(ctx, paths, b, s.Name)
	if err != nil {
		return flood.Result{}, err
	}
	defer p.Stop(5 * time.Second)
	r, err := flood.Run(ctx, t, s, dur, rate)
	if err != nil {
		err = fmt.Errorf("%s %s: %w\n%s", b, s.Name, err, p.LogTail())
	}
	fmt.Fprintf(os.Stderr, "%s %s %s: sent %d delivered %.0f/s lost %.2f%% cpu/delivery %v rss %d MiB %s\n",
		s.Name, b, r.Mode, r.Sent, r.Delivered, 100*r.Lost(), r.CPUPerDelivery(), r.PeakRSS>>20, r.Err)
	return r, err
}

func idleOnce(ctx context.Context, paths server.Paths, b string, n int, hb, win time.Duration) (flood.IdleResult, error) {
	p, t, err := startBroker(ctx, paths, b, "idle")
	if err != nil {
		return flood.IdleResult{}, err
	}
	defer p.Stop(5 * time.Second)
	r, err := flood.Idle(ctx, t, n, hb, win)
	fmt.Fprintf(os.Stderr, "idle %s %s: %.4f CPU-s/s, RSS %d MiB\n", b, r.Kind, r.CPUPerSec, r.RSS>>20)
	return r, err
}

func writeTable(w io.Writer, rs []flood.Result) {
	fmt.Fprintln(w, "| scenario | mode | broker | published/s | delivered/s | lost | zccp-missed | broker CPU / delivery | peak RSS | note |")
	fmt.Fprintln(w, "|---|---|---|---:|---:|---:|---:|---:|---:|---|")
	for _, r := range rs {
		note := r.Err
		if len(note) > 60 {
			note = note[:60] + "…"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %.2f %% | %d | %.2f µs | %.0f MiB | %s |\n",
			r.Scenario, r.Mode, r.Broker, human(r.PubRate), human(r.Delivered), 100*r.Lost(), r.Missed,
			float64(r.CPUPerDelivery().Nanoseconds())/1000, float64(r.PeakRSS)/(1<<20), note)
	}
	fmt.Fprintln(w)
}

func writeIdle(w io.Writer, rs []flood.IdleResult) {
	fmt.Fprintln(w, "| idle clients | broker | kind | broker CPU-s/s | RSS |")
	fmt.Fprintln(w, "|---:|---|---|---:|---:|")
	for _, r := range rs {
		fmt.Fprintf(w, "| %d | %s | %s | %.4f | %.0f MiB |\n", r.Clients, r.Broker, r.Kind, r.CPUPerSec, float64(r.RSS)/(1<<20))
	}
	fmt.Fprintln(w)
}

func human(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2f M", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1f k", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}
