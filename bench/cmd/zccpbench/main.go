// Command zccpbench benchmarks zccpd against nats-server and Mosquitto:
// it builds zccpd and nats-server, starts each broker as its own process
// on 127.0.0.1, runs the same scenarios against each with that broker's
// own Go client, and prints a table per scenario (deliveries/s, broker
// and load-client CPU, latency percentiles, ratios), also written as
// CSV, Markdown and a PNG chart.
//
//	cd bench && go run ./cmd/zccpbench [-quick] [-scenarios 1to1,1to10] [-brokers zccpd,nats] [-out results]
//
// See bench/README.md for the scenarios and the broker settings.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/zccp-go/zccp/bench/internal/procstat"
	"github.com/zccp-go/zccp/bench/internal/scenario"
	"github.com/zccp-go/zccp/bench/internal/server"
)

// config is the command line.
type config struct {
	quick       bool
	scenarios   string
	brokers     string
	out         string
	reps        int
	window      time.Duration
	warmup      time.Duration
	idleClients int
	profile     bool
	zccpSrc     string
	quietWait   time.Duration
	clientProf  string
	inflight    int
	idleReps    int
	budget      time.Duration
	maxOthers   float64
	attempts    int
}

func main() {
	var c config
	flag.BoolVar(&c.quick, "quick", false, "one short repetition and 1000 idle clients: a smoke run in about a minute")
	flag.StringVar(&c.scenarios, "scenarios", "all", "comma-separated scenarios: "+scenarioNames())
	flag.StringVar(&c.brokers, "brokers", strings.Join(scenario.TargetNames, ","), "comma-separated rows: zccpd (Go client), zccpd-raw (thin zmtp load generator), nats, mosquitto")
	flag.StringVar(&c.out, "out", "", "results directory (default: bench/results)")
	flag.IntVar(&c.reps, "reps", 3, "repetitions of each scenario per broker (a fresh broker each)")
	flag.DurationVar(&c.window, "window", 2*time.Second, "measured window of each run")
	flag.DurationVar(&c.warmup, "warmup", 500*time.Millisecond, "load before each measured window")
	flag.IntVar(&c.idleClients, "idle-clients", 10000, "clients of the idle scenario")
	flag.IntVar(&c.idleReps, "idle-reps", 1, "repetitions of the idle scenario (connecting 10k clients takes ~10 s per broker)")
	flag.BoolVar(&c.profile, "profile", false, "run zccpd as zccpdprof, writing CPU and allocation profiles to <out>/profiles")
	flag.StringVar(&c.zccpSrc, "zccp-src", "", "build zccpd from this source tree, or git:REV for a commit (default: the working tree)")
	flag.DurationVar(&c.quietWait, "quiet-wait", 3*time.Second, "before each run, wait up to this long for other processes to stop using the CPUs (0: don't)")
	flag.StringVar(&c.clientProf, "client-cpuprofile", "", "write a CPU profile of the load generator (this process) to this file")
	flag.IntVar(&c.inflight, "inflight", scenario.DefaultInflight, "flow control: most publishes not yet received, per scenario (also at most 16 MiB)")
	flag.Float64Var(&c.maxOthers, "max-others", 0.2, "a run during which other processes used more than this many cores on average is run again (see -attempts)")
	flag.IntVar(&c.attempts, "attempts", 3, "most attempts at a run disturbed by other processes; the least disturbed is kept")
	flag.DurationVar(&c.budget, "budget", 9*time.Minute, "when the remaining runs would end the bench later than this (builds included), stop waiting for a quiet machine and repeating disturbed runs (0: no budget)")
	flag.Parse()
	if c.quick {
		c.reps, c.idleReps, c.window, c.warmup = 1, 1, time.Second, 300*time.Millisecond
		if !flagSet("idle-clients") {
			c.idleClients = 1000
		}
	}
	if c.clientProf != "" {
		f, err := os.Create(c.clientProf)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "zccpbench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "zccpbench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func scenarioNames() string {
	var n []string
	for _, s := range scenario.All(0) {
		n = append(n, s.Name)
	}
	return strings.Join(n, ",")
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, a...)...)
}

func run(ctx context.Context, c config) error {
	began := time.Now()
	paths, err := server.FindPaths()
	if err != nil {
		return err
	}
	if c.out == "" {
		c.out = filepath.Join(paths.Bench, "results")
	}
	if c.out, err = filepath.Abs(c.out); err != nil {
		return err
	}
	scens, err := scenario.Select(scenario.All(c.idleClients), c.scenarios)
	if err != nil {
		return err
	}
	targets, err := scenario.Targets(c.brokers)
	if err != nil {
		return err
	}
	brokers := map[string]bool{}
	for _, t := range targets {
		brokers[t.Broker] = true
	}
	if brokers["mosquitto"] && !server.MosquittoAvailable() {
		return fmt.Errorf("mosquitto is not installed: run bench/run.sh (it installs it) or apt-get install mosquitto, or leave it out with -brokers")
	}
	if n, err := procstat.RaiseFileLimit(); err != nil || n < uint64(c.idleClients)+1000 {
		logf("warning: open-file limit %d (%v): the idle scenario needs %d", n, err, c.idleClients+1000)
	}
	if err := os.MkdirAll(c.out, 0o755); err != nil {
		return err
	}
	profDir := ""
	if c.profile {
		profDir = filepath.Join(c.out, "profiles")
		if err := os.MkdirAll(profDir, 0o755); err != nil {
			return err
		}
	}
	src, err := server.ResolveSource(ctx, paths, c.zccpSrc)
	if err != nil {
		return err
	}
	if err := server.Build(ctx, paths, src, brokers["nats"], c.profile, func(s string) { logf("%s", s) }); err != nil {
		return err
	}
	env := scenario.Env{Paths: paths, Warmup: c.warmup, Window: c.window, ProfileDir: profDir, QuietWait: c.quietWait, Inflight: c.inflight,
		Log: func(s string) { logf("%s", s) }}
	var results []scenario.Result
	repsOf := func(s scenario.Scenario) int {
		if s.Kind == scenario.Idle {
			return c.idleReps
		}
		return c.reps
	}
	// estimate is how long a run takes when nothing has to wait or be
	// repeated; the budget check uses it for the runs still to come.
	estimate := func(s scenario.Scenario) time.Duration {
		if s.Kind == scenario.Idle {
			return time.Duration(s.Clients)*time.Millisecond + 5*time.Second
		}
		return c.warmup + c.window + 700*time.Millisecond
	}
	total, n := 0, 0
	var left time.Duration
	for _, s := range scens {
		total += repsOf(s) * len(targets)
		left += time.Duration(repsOf(s)*len(targets)) * estimate(s)
	}
	hurry := false
	for _, s := range scens {
		for rep := 1; rep <= repsOf(s); rep++ {
			for _, t := range targets {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				n++
				cc, e := c, env
				if !hurry && c.budget > 0 && time.Since(began)+left > c.budget {
					hurry = true
					logf("time budget %v: no more waiting for a quiet machine nor repeating disturbed runs", c.budget)
				}
				if hurry {
					cc.attempts, e.QuietWait = 1, 0
				}
				r := runClean(ctx, e, cc, s, t, rep, func(r scenario.Result) { logf("[%d/%d] %s", n, total, progress(r)) })
				results = append(results, r)
				left -= estimate(s)
			}
		}
	}
	var names []string
	for _, t := range targets {
		names = append(names, t.Name)
	}
	return writeAll(ctx, c, paths, src, brokers, scens, names, results, time.Since(began))
}

// runClean runs s against t, again when other processes used more than
// c.maxOthers cores during its window (up to c.attempts times), and
// returns the least disturbed result.
func runClean(ctx context.Context, env scenario.Env, c config, s scenario.Scenario, t scenario.Target, rep int, log func(scenario.Result)) scenario.Result {
	var best scenario.Result
	for a := 1; a <= max(1, c.attempts); a++ {
		r := env.Run(ctx, s, t, rep)
		r.Attempts = a
		log(r)
		if a == 1 || r.Err == "" && (best.Err != "" || r.OtherCPU < best.OtherCPU) {
			best = r
		}
		if r.Err != "" || r.Window <= 0 || r.OtherCPU.Seconds()/r.Window.Seconds() <= c.maxOthers || ctx.Err() != nil {
			break
		}
	}
	return best
}

// progress is one run's log line.
func progress(r scenario.Result) string {
	head := fmt.Sprintf("%-11s %-9s r%d (%4.1fs):", r.Scenario, r.Target, r.Rep, r.Total.Seconds())
	if r.Attempts > 1 {
		head = fmt.Sprintf("%-11s %-9s r%d attempt %d (%4.1fs):", r.Scenario, r.Target, r.Rep, r.Attempts, r.Total.Seconds())
	}
	switch {
	case r.Err != "":
		return fmt.Sprintf("%s FAILED: %s", head, r.Err)
	case r.Clients > 0:
		return fmt.Sprintf("%s %d clients, RSS %.1f KiB/client, broker CPU %.2fs in %.1fs, connected in %.1fs",
			head, r.Clients, r.RSSPerClient()/1024, r.BrokerCPU.Seconds(), r.Window.Seconds(), r.Connect.Seconds())
	}
	return fmt.Sprintf("%s %9.0f deliv/s, broker CPU %.2fs, client CPU %.2fs, others %.2fs, p50 %v p99 %v, drops %d, backoffs %d, stalls %d",
		head, r.Rate(), r.BrokerCPU.Seconds(), r.ClientCPU.Seconds(), r.OtherCPU.Seconds(), r.Quantile(0.5).Round(time.Microsecond),
		r.Quantile(0.99).Round(time.Microsecond), r.Missed+r.LocalDrops, r.Backoffs, r.Stalls)
}
