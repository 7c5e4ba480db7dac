package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/zccp-go/zccp/bench/internal/report"
	"github.com/zccp-go/zccp/bench/internal/scenario"
	"github.com/zccp-go/zccp/bench/internal/server"
)

// Output files, in the results directory.
const (
	runsCSV    = "bench-runs.csv"
	summaryCSV = "bench.csv"
	mdFile     = "bench.md"
	pngFile    = "bench.png"
)

// writeAll prints the tables and the verdict and writes the CSV files,
// the Markdown report and the chart.
func writeAll(ctx context.Context, c config, p server.Paths, src string, brokers map[string]bool,
	scens []scenario.Scenario, targets []string, results []scenario.Result, took time.Duration) error {
	sums := report.Summarise(scens, targets, results)
	var zccpRows []string
	for _, t := range targets {
		if strings.HasPrefix(t, "zccpd") {
			zccpRows = append(zccpRows, t)
		}
	}
	tables := report.Tables(sums, zccpRows)
	out := os.Stdout
	for _, t := range tables {
		t.WriteText(out)
	}
	var checks []report.Check
	fmt.Fprintf(out, "\n== target: ≥ 1.5× nats-server in deliveries/s and per broker CPU-s on 1to1, 1to10, 100distinct; p99 no worse at 10k msgs/s\n")
	for _, z := range zccpRows {
		lines, pass := report.Verdict(sums, z)
		checks = append(checks, report.Check{Target: z, Lines: lines, Pass: pass})
		fmt.Fprintf(out, "%s: %s\n", z, map[bool]string{true: "MET", false: "NOT MET"}[pass])
		for _, l := range lines {
			fmt.Fprintf(out, "  %s\n", l)
		}
	}

	write := func(name string, f func(*os.File) error) error {
		path := filepath.Join(c.out, name)
		fh, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := f(fh); err != nil {
			fh.Close()
			return fmt.Errorf("%s: %w", path, err)
		}
		return fh.Close()
	}
	if err := write(runsCSV, func(f *os.File) error { return report.WriteRunsCSV(f, results) }); err != nil {
		return err
	}
	if err := write(summaryCSV, func(f *os.File) error { return report.WriteSummaryCSV(f, sums) }); err != nil {
		return err
	}
	title := fmt.Sprintf("zccpd vs nats-server vs mosquitto — %s, %d×%v windows", time.Now().Format("2006-01-02"), c.reps, c.window)
	if err := report.WriteChart(filepath.Join(c.out, pngFile), sums, targets, title); err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	meta := report.Meta{
		Command:  "cd bench && go run ./cmd/zccpbench " + strings.Join(os.Args[1:], " "),
		When:     time.Now().Format("2006-01-02 15:04 MST"),
		Machine:  machine(),
		Versions: versions(ctx, p, src, brokers),
		Settings: settings(c, took),
		Chart:    pngFile,
	}
	if err := write(mdFile, func(f *os.File) error { report.WriteMarkdown(f, meta, tables, checks); return nil }); err != nil {
		return err
	}
	fmt.Fprintf(out, "\nwrote %s/{%s,%s,%s,%s} in %v\n", c.out, summaryCSV, runsCSV, mdFile, pngFile, took.Round(time.Second))
	return nil
}

// settings lists how the runs were made, for the report.
func settings(c config, took time.Duration) []string {
	s := []string{
		fmt.Sprintf("each run: a fresh broker process, %v warm-up, %v measured window; %d repetitions (idle: %d), brokers interleaved; whole bench took %v",
			c.warmup, c.window, c.reps, c.idleReps, took.Round(time.Second)),
		fmt.Sprintf("flow control: at most %d publishes (and 16 MiB) not yet received by every subscriber (bench/internal/gate), so no queue grows without bound and nothing needs to be dropped", c.inflight),
		fmt.Sprintf("a run during which other processes used more than %.2f cores is run again, up to %d attempts, keeping the least disturbed (column other CPU s)", c.maxOthers, c.attempts),
		"limits raised: zccpd --queue-bytes 256MiB --queue-messages 1000000; nats-server max_pending 256MiB; mosquitto max_queued_messages 1000000 (it drops QoS 0 beyond it), set_tcp_nodelay true",
	}
	if c.profile {
		s = append(s, "zccpd ran as zccpdprof (CPU and allocation profiling on): its numbers are slightly pessimistic")
	}
	return s
}
