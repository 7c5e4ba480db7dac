// Command relaybench compares a libzmq relay (ROUTER via zmq4) with the
// native zmtp relay: one publisher, N subscribers, the same pure-Go load
// client, each relay in its own child process so that its CPU time is
// measured apart from the load client's. It prints every run and a table
// of medians with the ratios ours/libzmq.
//
//	go run ./cmd/relaybench -subs 1,10 -duration 2s -runs 3
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/zccp-go/zccp/interop/relay"
)

func main() {
	relay.ChildMain() // a relay child re-executed by relay.Run never returns

	subsFlag := flag.String("subs", "1,10", "comma-separated subscriber counts (scenarios 1→N)")
	duration := flag.Duration("duration", 2*time.Second, "publishing time per run")
	runs := flag.Int("runs", 3, "runs per scenario and relay (the median is reported)")
	size := flag.Int("size", 100, "message size in bytes")
	window := flag.Int("window", relay.DefaultWindow, "messages the publisher may be ahead of the slowest subscriber")
	transport := flag.String("transport", "tcp", "tcp or ipc (abstract)")
	profDir := flag.String("cpuprofile-dir", "", "if set, the native relay writes a CPU profile per run into this directory")
	flag.Parse()

	var scenarios []int
	for _, s := range strings.Split(*subsFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "relaybench: bad -subs %q\n", *subsFlag)
			os.Exit(2)
		}
		scenarios = append(scenarios, n)
	}

	impls := []relay.Impl{relay.Libzmq, relay.Native}
	type key struct {
		subs int
		impl relay.Impl
	}
	results := map[key][]relay.Result{}
	runsTW := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(runsTW, "scenario\trelay\trun\tdeliveries/s\trelay CPU s\tdeliveries/CPU-s\tclient CPU s\tstalls\t")
	for _, subs := range scenarios {
		for run := 1; run <= *runs; run++ {
			// Alternate the relays within a round so that drifts in the
			// machine's load hit both alike.
			order := impls
			if run%2 == 0 {
				order = []relay.Impl{relay.Native, relay.Libzmq}
			}
			for _, impl := range order {
				cfg := relay.Config{
					Impl: impl, Subscribers: subs, Transport: *transport,
					MessageSize: *size, Duration: *duration, Window: *window,
				}
				if *profDir != "" && impl == relay.Native {
					cfg.CPUProfile = filepath.Join(*profDir, fmt.Sprintf("native-1to%d-run%d.prof", subs, run))
				}
				res, err := relay.Run(cfg)
				if err != nil {
					fmt.Fprintf(os.Stderr, "relaybench: %s 1→%d run %d: %v\n", impl, subs, run, err)
					os.Exit(1)
				}
				results[key{subs, impl}] = append(results[key{subs, impl}], res)
				fmt.Fprintf(os.Stderr, "relaybench: %s 1→%d run %d: %s deliveries/s\n", impl, subs, run, human(res.DeliveriesPerSec()))
				fmt.Fprintf(runsTW, "1→%d\t%s\t%d\t%s\t%.3f\t%s\t%.3f\t%d\t\n", subs, impl, run,
					human(res.DeliveriesPerSec()), res.RelayCPU().Seconds(), human(res.DeliveriesPerCPUSec()),
					res.ClientCPU.Seconds(), res.RelayStalls)
			}
		}
	}
	runsTW.Flush()

	fmt.Printf("\nmedians of %d runs, %d-byte messages, %s, %v publishing per run\n", *runs, *size, *transport, *duration)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tlibzmq deliv/s\tours deliv/s\tratio\tlibzmq deliv/CPU-s\tours deliv/CPU-s\tratio\tlibzmq µs CPU/deliv\tours µs CPU/deliv\t")
	for _, subs := range scenarios {
		lz, nat := results[key{subs, relay.Libzmq}], results[key{subs, relay.Native}]
		lzRate, natRate := median(lz, relay.Result.DeliveriesPerSec), median(nat, relay.Result.DeliveriesPerSec)
		lzEff, natEff := median(lz, relay.Result.DeliveriesPerCPUSec), median(nat, relay.Result.DeliveriesPerCPUSec)
		fmt.Fprintf(tw, "1→%d\t%s\t%s\t%.2f×\t%s\t%s\t%.2f×\t%.3f\t%.3f\t\n", subs,
			human(lzRate), human(natRate), natRate/lzRate,
			human(lzEff), human(natEff), natEff/lzEff, 1e6/lzEff, 1e6/natEff)
	}
	tw.Flush()
}

// median returns the median of f over the results.
func median(rs []relay.Result, f func(relay.Result) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	slices.Sort(v)
	if len(v) == 0 {
		return 0
	}
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// human formats a rate with a k/M suffix.
func human(x float64) string {
	switch {
	case x >= 1e6:
		return fmt.Sprintf("%.2fM", x/1e6)
	case x >= 1e3:
		return fmt.Sprintf("%.1fk", x/1e3)
	}
	return fmt.Sprintf("%.0f", x)
}
