// Command soak runs zccpd as a subprocess under a steady, bounded load on
// loopback (tcp and abstract ipc) for a fixed duration and fails if the
// broker's memory or goroutine count grows.
//
// Load: publishers streaming sequence-numbered notifications at a fixed
// rate to stable subscribers (which must lose nothing and see everything
// in order), plus a stream of short-lived clients that connect, subscribe
// and leave in every way a client can: GOODBYE, a dropped socket, going
// silent until expired, never reading (their queues overflow), sending
// garbage and out-of-sequence commands, DIRECTs to known and unknown
// identifiers, and identifier takeovers. A fixed number of consumers that
// subscribe to everything and never read (replaced, staggered, every few
// seconds) keep the drop-oldest path busy at its memory bound.
//
// Every sample period it records the broker's RSS (/proc/<pid>/status)
// and goroutine count and counters (/debug/vars) in a CSV file and prints
// a line. At the end it checks:
//
//   - growth: after the warm-up, the median RSS of the last third of the
//     samples may exceed that of the first third by at most
//     -rss-tolerance (relative) plus -rss-slack-mib; goroutines likewise
//     with -goroutine-tolerance and -goroutine-slack;
//   - leaks: once every client has left, the broker holds no connection,
//     session, subscription or request, and its goroutine count is back
//     to what it was before the first client;
//   - stable subscribers got every message of every publisher, in order;
//   - SIGTERM: the broker exits 0 within its shutdown timeout.
//
// Usage: go run ./soak [-duration 10m] [-zccpd path] (see scripts/soak.sh).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

var (
	zccpdPath   = flag.String("zccpd", "", "zccpd binary (default: go build ./cmd/zccpd into a temporary directory)")
	duration    = flag.Duration("duration", 10*time.Minute, "how long to run the load")
	sampleEvery = flag.Duration("sample", 0, "sampling period (default duration/150, between 1s and 5s)")
	warmup      = flag.Duration("warmup", 0, "initial period left out of the growth check (default duration/10, at least 10s, at most duration/3)")
	publishers  = flag.Int("publishers", 4, "stable publishers")
	subscribers = flag.Int("subscribers", 6, "stable subscribers (each receives every publisher)")
	rate        = flag.Int("rate", 1000, "messages per second per publisher")
	size        = flag.Int("size", 256, "message body bytes")
	churn       = flag.Float64("churn", 20, "short-lived clients started per second")
	stalled     = flag.Int("stalled", 2, "consumers that subscribe to everything and never read, each replaced every -stall")
	stallFor    = flag.Duration("stall", 12*time.Second, "how long each stalled consumer stays (long enough to overflow its queue) before it reads what is left and is replaced")
	csvPath     = flag.String("csv", "soak.csv", "where to write the samples")
	rssTol      = flag.Float64("rss-tolerance", 0.20, "allowed relative growth of the median RSS (last third vs first third)")
	rssSlack    = flag.Int("rss-slack-mib", 8, "allowed absolute growth of the median RSS, MiB, on top of the relative one")
	grTol       = flag.Float64("goroutine-tolerance", 0.10, "allowed relative growth of the median goroutine count")
	grSlack     = flag.Int("goroutine-slack", 10, "allowed absolute growth of the median goroutine count")
	verbose     = flag.Bool("v", false, "log each stalled consumer's drop count")
)

const (
	brokerTimeout   = 3 * time.Second // expiry of silent clients, so that they expire within the run
	shutdownTimeout = 5 * time.Second
)

func main() {
	flag.Parse()
	os.Exit(run())
}

func logf(format string, args ...any) {
	fmt.Printf("%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// failures collects what the run found wrong; any goroutine may add.
type failures struct {
	mu   sync.Mutex
	list []string
}

func (f *failures) add(format string, args ...any) {
	f.mu.Lock()
	f.list = append(f.list, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}

// run drives one soak: zccpd under load for -duration while it is
// sampled, then the wind-down checks, SIGTERM and the growth check. It
// returns the exit code.
func run() int {
	if *sampleEvery == 0 {
		*sampleEvery = min(max(*duration/150, time.Second), 5*time.Second)
	}
	if *warmup == 0 {
		*warmup = min(max(*duration/10, 10*time.Second), *duration/3)
	}
	d, eps, idle, cleanup, err := startBroker()
	if err != nil {
		logf("FAIL: %v", err)
		return 1
	}
	defer cleanup()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() { <-sigs; logf("interrupted"); cancel() }()

	var fails failures
	l, err := startLoad(ctx, eps)
	if err != nil {
		logf("FAIL: %v", err)
		return 1
	}
	defer l.stop()
	samples, err := sampleLoop(l.ctx, d, l.ch, &fails)
	if err != nil {
		logf("FAIL: %v", err)
		return 1
	}
	if ctx.Err() != nil {
		logf("FAIL: interrupted")
		return 1
	}
	l.windDown(&fails)
	checkLeftovers(d, idle, l.ch, &fails)
	checkSIGTERM(d, &fails)

	fails.list = append(fails.list, growth(samples)...)
	printCurve(samples)
	logf("samples written to %s", *csvPath)
	if len(fails.list) > 0 {
		for _, m := range fails.list {
			logf("FAIL: %s", m)
		}
		return 1
	}
	logf("PASS")
	return 0
}
