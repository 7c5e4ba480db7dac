package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/zccp-go/zccp/soak/daemon"
)

// Sampling: the broker's RSS, goroutines and counters every -sample, in
// a CSV file and on stdout, and the growth check over them.

// sample is one row of the CSV.
type sample struct {
	elapsed                     time.Duration
	rss                         int64
	goroutines                  int
	conns, sessions, subs       int
	published, deliveries       uint64
	heapInuse                   uint64
	churned, churning, failures int64
}

// sampleLoop samples the broker until ctx ends (or the broker exits) and
// returns the samples; an error means the CSV file could not be created.
func sampleLoop(ctx context.Context, d *daemon.Daemon, ch *churner, fails *failures) ([]sample, error) {
	f, err := os.Create(*csvPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fmt.Fprintln(f, "elapsed_s,rss_mib,goroutines,connections,sessions,subscriptions,published,deliveries,heap_inuse_mib,churned,churning,churn_failures")
	var samples []sample
	start := time.Now()
	tick := time.NewTicker(*sampleEvery)
	defer tick.Stop()
	logf("%8s %9s %10s %6s %6s %6s %10s %8s", "elapsed", "rss_mib", "goroutines", "conns", "sess", "subs", "published", "churned")
	for {
		select {
		case <-ctx.Done():
			return samples, nil
		case <-d.Exited():
			fails.add("zccpd exited during the run:\n%s", lastLines(d.Log(), 30))
			return samples, nil
		case <-tick.C:
		}
		rss, _, err1 := d.RSS()
		v, err2 := d.Vars()
		if err := errors.Join(err1, err2); err != nil {
			fails.add("sampling: %v", err)
			return samples, nil
		}
		s := sample{elapsed: time.Since(start), rss: rss, goroutines: v.Goroutines, conns: v.Broker.Connections,
			sessions: v.Broker.Sessions, subs: v.Broker.Subscriptions, published: v.Broker.Published,
			deliveries: v.Broker.Deliveries, heapInuse: v.Memory.HeapInuse,
			churned: ch.started.Load(), churning: ch.active.Load(), failures: ch.failed.Load()}
		samples = append(samples, s)
		fmt.Fprintf(f, "%.1f,%.2f,%d,%d,%d,%d,%d,%d,%.2f,%d,%d,%d\n", s.elapsed.Seconds(), mib(s.rss), s.goroutines, s.conns,
			s.sessions, s.subs, s.published, s.deliveries, mib(int64(s.heapInuse)), s.churned, s.churning, s.failures)
		logf("%7.0fs %9.1f %10d %6d %6d %6d %10d %8d", s.elapsed.Seconds(), mib(s.rss), s.goroutines, s.conns, s.sessions, s.subs, s.published, s.churned)
	}
}

// growth compares the medians of the first and last thirds of the
// samples taken after the warm-up.
func growth(samples []sample) []string {
	var s []sample
	for _, x := range samples {
		if x.elapsed >= *warmup {
			s = append(s, x)
		}
	}
	if len(s) < 6 {
		return []string{fmt.Sprintf("only %d samples after the warm-up: run longer", len(s))}
	}
	third := len(s) / 3
	first, last := s[:third], s[len(s)-third:]
	med := func(xs []sample, f func(sample) float64) float64 {
		v := make([]float64, len(xs))
		for i, x := range xs {
			v[i] = f(x)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	rss := func(x sample) float64 { return mib(x.rss) }
	gr := func(x sample) float64 { return float64(x.goroutines) }
	r1, r3 := med(first, rss), med(last, rss)
	g1, g3 := med(first, gr), med(last, gr)
	rLimit := r1*(1+*rssTol) + float64(*rssSlack)
	gLimit := g1*(1+*grTol) + float64(*grSlack)
	logf("growth check (after %v warm-up, %d samples): RSS median %.1f → %.1f MiB (limit %.1f); goroutines median %.0f → %.0f (limit %.0f)",
		*warmup, len(s), r1, r3, rLimit, g1, g3, gLimit)
	var out []string
	if r3 > rLimit {
		out = append(out, fmt.Sprintf("RSS grew: median %.1f MiB in the first third, %.1f MiB in the last (limit %.1f)", r1, r3, rLimit))
	}
	if g3 > gLimit {
		out = append(out, fmt.Sprintf("goroutines grew: median %.0f in the first third, %.0f in the last (limit %.0f)", g1, g3, gLimit))
	}
	return out
}

// printCurve prints RSS and goroutines over time in about 20 rows.
func printCurve(samples []sample) {
	if len(samples) == 0 {
		return
	}
	var maxRSS float64
	maxG := 0
	for _, s := range samples {
		maxRSS = max(maxRSS, mib(s.rss))
		maxG = max(maxG, s.goroutines)
	}
	step := max(1, len(samples)/20)
	fmt.Printf("\n%8s  %-42s  %s\n", "elapsed", "RSS (MiB)", "goroutines")
	for i := 0; i < len(samples); i += step {
		s := samples[i]
		bar := strings.Repeat("#", int(30*mib(s.rss)/maxRSS))
		gbar := strings.Repeat("#", 30*s.goroutines/max(maxG, 1))
		fmt.Printf("%7.0fs  %6.1f %-35s  %5d %s\n", s.elapsed.Seconds(), mib(s.rss), bar, s.goroutines, gbar)
	}
	fmt.Println()
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
