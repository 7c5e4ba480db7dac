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
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/zccp-go/zccp/client"
	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/soak/daemon"
	"github.com/zccp-go/zccp/zmtp"
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

func run() int {
	bin := *zccpdPath
	if bin == "" {
		dir, err := os.MkdirTemp("", "zccp-soak-")
		if err != nil {
			logf("FAIL: %v", err)
			return 1
		}
		defer os.RemoveAll(dir)
		if bin, err = daemon.Build(dir, "github.com/zccp-go/zccp/cmd/zccpd"); err != nil {
			logf("FAIL: %v", err)
			return 1
		}
	}
	if *sampleEvery == 0 {
		*sampleEvery = min(max(*duration/150, time.Second), 5*time.Second)
	}
	if *warmup == 0 {
		*warmup = min(max(*duration/10, 10*time.Second), *duration/3)
	}
	ipc := fmt.Sprintf("ipc://@/zccp-soak-%d", os.Getpid())
	d, err := daemon.Start(bin, "--bind", "tcp://127.0.0.1:0", "--bind", ipc, "--debug-addr", "127.0.0.1:0",
		"--timeout", brokerTimeout.String(), "--ping-interval", "1s", "--shutdown-timeout", shutdownTimeout.String())
	if err != nil {
		logf("FAIL: %v", err)
		return 1
	}
	defer d.Kill()
	eps := []string{d.Endpoint("tcp"), d.Endpoint("ipc")}
	logf("zccpd pid %d on %s; debug %s; load %v: %d publishers × %d msg/s × %d B, %d subscribers, %.0f short-lived clients/s",
		d.PID, strings.Join(eps, " "), d.DebugAddr, *duration, *publishers, *rate, *size, *subscribers, *churn)

	time.Sleep(500 * time.Millisecond)
	idle, err := d.Vars()
	if err != nil {
		logf("FAIL: %v", err)
		return 1
	}
	idleRSS, _, _ := d.RSS()
	logf("idle: %d goroutines, RSS %.1f MiB", idle.Goroutines, mib(idleRSS))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() { <-sigs; logf("interrupted"); cancel() }()

	var failures []string
	var failMu sync.Mutex
	fail := func(format string, args ...any) {
		failMu.Lock()
		failures = append(failures, fmt.Sprintf(format, args...))
		failMu.Unlock()
	}

	// Stable subscribers.
	subs := make([]*stableSub, *subscribers)
	for i := range subs {
		s, err := newStableSub(ctx, eps[i%2], i, *publishers)
		if err != nil {
			logf("FAIL: subscriber %d: %v", i, err)
			return 1
		}
		subs[i] = s
	}
	// Stable publishers.
	pubs := make([]*stablePub, *publishers)
	for i := range pubs {
		p, err := newStablePub(ctx, eps[(i+1)%2], i)
		if err != nil {
			logf("FAIL: publisher %d: %v", i, err)
			return 1
		}
		pubs[i] = p
	}
	loadCtx, stopLoad := context.WithTimeout(ctx, *duration)
	defer stopLoad()
	var pubWG sync.WaitGroup
	for _, p := range pubs {
		pubWG.Add(1)
		go func() { defer pubWG.Done(); p.run(loadCtx, *rate, *size) }()
	}
	ch := &churner{eps: eps, stable: len(subs)}
	churnDone := make(chan struct{})
	go func() {
		defer close(churnDone)
		var wg sync.WaitGroup
		for i := 0; i < *stalled; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Staggered, so that the number of stalled queues at
				// their bound stays the same over time.
				select {
				case <-loadCtx.Done():
					return
				case <-time.After(time.Duration(i) * *stallFor / time.Duration(*stalled)):
				}
				ch.stalledLoop(loadCtx, i, *stallFor)
			}()
		}
		ch.run(loadCtx, *churn)
		wg.Wait()
	}()

	// Sampling.
	f, err := os.Create(*csvPath)
	if err != nil {
		logf("FAIL: %v", err)
		return 1
	}
	defer f.Close()
	fmt.Fprintln(f, "elapsed_s,rss_mib,goroutines,connections,sessions,subscriptions,published,deliveries,heap_inuse_mib,churned,churning,churn_failures")
	var samples []sample
	start := time.Now()
	tick := time.NewTicker(*sampleEvery)
	defer tick.Stop()
	logf("%8s %9s %10s %6s %6s %6s %10s %8s", "elapsed", "rss_mib", "goroutines", "conns", "sess", "subs", "published", "churned")
sampling:
	for {
		select {
		case <-loadCtx.Done():
			break sampling
		case <-d.Exited():
			fail("zccpd exited during the run:\n%s", lastLines(d.Log(), 30))
			break sampling
		case <-tick.C:
		}
		rss, _, err1 := d.RSS()
		v, err2 := d.Vars()
		if err := errors.Join(err1, err2); err != nil {
			fail("sampling: %v", err)
			break
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
	if ctx.Err() != nil {
		logf("FAIL: interrupted")
		return 1
	}

	// Wind down: short-lived clients finish, publishers stop, subscribers
	// must have everything.
	logf("load stopped; waiting for the short-lived clients to finish")
	select {
	case <-churnDone:
	case <-time.After(30 * time.Second):
		fail("short-lived clients still running 30s after the end")
	}
	pubWG.Wait()
	final := make([]int, len(pubs))
	for i, p := range pubs {
		final[i] = p.next - 1
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, s := range subs {
		for !s.caughtUp(final) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if msg := s.check(final); msg != "" {
			fail("stable subscriber %d: %s", s.n, msg)
		}
	}
	var sent int
	for _, p := range pubs {
		sent += p.next
	}
	logf("stable subscribers: %d each received %d messages from %d publishers, in order, none missing", len(subs), sent, len(pubs))
	for _, p := range pubs {
		p.c.Close()
	}
	for _, s := range subs {
		if s.reconnects.Load() > 0 {
			fail("stable subscriber %d reconnected %d times", s.n, s.reconnects.Load())
		}
		s.c.Close()
	}

	// Every client gone: nothing may be left.
	var v daemon.Vars
	deadline = time.Now().Add(brokerTimeout + 30*time.Second)
	for {
		v, err = d.Vars()
		b := v.Broker
		if err == nil && b.Connections == 0 && b.Sessions == 0 && b.Subscriptions == 0 && b.Inflight == 0 && v.Goroutines <= idle.Goroutines {
			break
		}
		if time.Now().After(deadline) {
			fail("after every client left: %d goroutines (idle %d), broker %+v, err %v", v.Goroutines, idle.Goroutines, b, err)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	endRSS, peakRSS, _ := d.RSS()
	logf("after every client left: %d goroutines (idle: %d), %d connections, %d sessions, %d subscriptions; RSS %.1f MiB, peak %.1f MiB",
		v.Goroutines, idle.Goroutines, v.Broker.Connections, v.Broker.Sessions, v.Broker.Subscriptions, mib(endRSS), mib(peakRSS))
	logf("churn: %d short-lived clients (%d failed to connect or talk); broker: %d published, %d deliveries, %d expired, %d malformed, %d invalid",
		ch.started.Load(), ch.failed.Load(), v.Broker.Published, v.Broker.Deliveries, v.Broker.Expired, v.Broker.Malformed, v.Broker.Invalid)
	logf("stalled consumers were told of %d dropped notifications (zccp-missed)", ch.stalledMissed.Load())
	if *stalled > 0 && *duration > 2**stallFor && ch.stalledMissed.Load() == 0 {
		fail("no notification was dropped for the stalled consumers: the drop-oldest path was not exercised")
	}

	// SIGTERM.
	d.Signal(syscall.SIGTERM)
	term := time.Now()
	wctx, wcancel := context.WithTimeout(context.Background(), shutdownTimeout+5*time.Second)
	code, err := d.Wait(wctx)
	wcancel()
	took := time.Since(term)
	if err != nil || code != 0 || took > shutdownTimeout+2*time.Second {
		fail("SIGTERM: exit code %d after %v (%v)", code, took, err)
	} else {
		logf("SIGTERM: exited 0 after %v", took.Round(time.Millisecond))
	}

	// Growth.
	failures = append(failures, growth(samples)...)
	printCurve(samples)
	logf("samples written to %s", *csvPath)
	if len(failures) > 0 {
		for _, m := range failures {
			logf("FAIL: %s", m)
		}
		return 1
	}
	logf("PASS")
	return 0
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

// --- stable clients ------------------------------------------------------------

type stablePub struct {
	n    int
	c    *client.Client
	next int // next sequence number (owned by run)
}

func newStablePub(ctx context.Context, ep string, n int) (*stablePub, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := client.Connect(cctx, ep, client.WithIdentifier(fmt.Sprintf("stable-pub-%d", n)),
		client.WithLabels(map[string]string{"role": "publisher"}))
	if err != nil {
		return nil, err
	}
	return &stablePub{n: n, c: c}, nil
}

// run publishes rate messages per second (in 10 ms steps) until ctx ends;
// a full buffer delays the next sequence number, it never skips one.
func (p *stablePub) run(ctx context.Context, rate, size int) {
	addr := fmt.Sprintf("soak.p%d.", p.n)
	body := make([]byte, max(size, 12))
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	owed := 0.0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		owed += float64(rate) / 100
		for ; owed >= 1; owed-- {
			binary.BigEndian.PutUint32(body, uint32(p.n))
			binary.BigEndian.PutUint64(body[4:], uint64(p.next))
			if err := p.c.Publish(addr+fmt.Sprint(p.next%16), nil, body); err != nil {
				break // buffer full: retry this one at the next step
			}
			p.next++
		}
	}
}

type stableSub struct {
	n          int
	c          *client.Client
	mu         sync.Mutex
	last       []int // per publisher
	gaps       int
	reorders   int
	missed     uint64
	directs    atomic.Int64
	reconnects atomic.Int64
}

func newStableSub(ctx context.Context, ep string, n, publishers int) (*stableSub, error) {
	s := &stableSub{n: n, last: make([]int, publishers)}
	for i := range s.last {
		s.last[i] = -1
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := client.Connect(cctx, ep, client.WithIdentifier(fmt.Sprintf("stable-sub-%d", n)),
		client.WithLabels(map[string]string{"role": "subscriber"}),
		client.WithDirectHandler(func(*client.Delivery) { s.directs.Add(1) }),
		client.WithStateHandler(func(st client.State) {
			if st == client.Reconnecting {
				s.reconnects.Add(1)
			}
		}))
	if err != nil {
		return nil, err
	}
	s.c = c
	if _, err := c.Subscribe(cctx, `^soak\.p`, s.deliver); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *stableSub) deliver(d *client.Delivery) {
	b := d.Body()
	if len(b) < 12 {
		return
	}
	p, seq := int(binary.BigEndian.Uint32(b)), int(binary.BigEndian.Uint64(b[4:]))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.missed += d.Missed
	if p >= len(s.last) {
		return
	}
	switch {
	case seq == s.last[p]+1:
	case seq > s.last[p]+1:
		s.gaps += seq - s.last[p] - 1
	default:
		s.reorders++
	}
	s.last[p] = max(s.last[p], seq)
}

func (s *stableSub) caughtUp(final []int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range final {
		if s.last[i] < f {
			return false
		}
	}
	return true
}

func (s *stableSub) check(final []int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var problems []string
	for i, f := range final {
		if s.last[i] != f {
			problems = append(problems, fmt.Sprintf("publisher %d: last %d, want %d", i, s.last[i], f))
		}
	}
	if s.gaps > 0 || s.reorders > 0 || s.missed > 0 {
		problems = append(problems, fmt.Sprintf("%d lost, %d duplicated or reordered, %d reported missed by the broker", s.gaps, s.reorders, s.missed))
	}
	return strings.Join(problems, "; ")
}

// --- short-lived clients -----------------------------------------------------

type churner struct {
	eps     []string
	stable  int
	started atomic.Int64
	active  atomic.Int64
	failed  atomic.Int64
	seq     atomic.Int64

	stalledMissed atomic.Int64 // zccp-missed reported to the stalled consumers
}

// maxChurning bounds the short-lived clients alive at once.
const maxChurning = 400

func (ch *churner) run(ctx context.Context, perSecond float64) {
	var wg sync.WaitGroup
	defer wg.Wait()
	if perSecond <= 0 {
		<-ctx.Done()
		return
	}
	t := time.NewTicker(time.Duration(float64(time.Second) / perSecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if ch.active.Load() >= maxChurning {
			continue
		}
		n := ch.seq.Add(1)
		ch.started.Add(1)
		ch.active.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer ch.active.Add(-1)
			if err := ch.one(n); err != nil {
				ch.failed.Add(1)
				if ch.failed.Load() <= 5 {
					logf("short-lived client %d: %v", n, err)
				}
			}
		}()
	}
}

func between(lo, hi time.Duration) time.Duration { return lo + rand.N(hi-lo+1) }

var exprs = []string{`^soak\.p0\.`, `^soak\.p1\.1`, `rack\d`, `^nothing$`, `soak\.p.\.7`, `^\$zccp\.presence\.`, `(a|b)+c`}

// one runs one short-lived client with a random behaviour.
func (ch *churner) one(n int64) error {
	ep := ch.eps[n%2]
	ident := fmt.Sprintf("churn-%d", n)
	switch r := rand.IntN(100); {
	case r < 30: // polite: the Go client, a few subscriptions, GOODBYE
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := client.Connect(ctx, ep, client.WithIdentifier(ident), client.WithLabels(map[string]string{"role": "churn"}))
		if err != nil {
			return err
		}
		defer c.Close()
		for i := 0; i < 1+rand.IntN(3); i++ {
			if _, err := c.Subscribe(ctx, exprs[rand.IntN(len(exprs))], func(*client.Delivery) {}); err != nil {
				return err
			}
		}
		time.Sleep(between(200*time.Millisecond, 2*time.Second))
		return nil
	case r < 45: // DIRECTs to a stable subscriber and to nobody
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := client.Connect(ctx, ep, client.WithIdentifier(ident), client.WithErrorHandler(func(error) {}))
		if err != nil {
			return err
		}
		defer c.Close()
		for i := 0; i < 10; i++ {
			c.Send(fmt.Sprintf("stable-sub-%d", rand.IntN(max(ch.stable, 1))), nil, []byte("hello"))
			c.Send("nobody-"+ident, nil, []byte("lost"))
		}
		time.Sleep(between(50*time.Millisecond, 500*time.Millisecond))
		return nil
	case r < 65: // abrupt: subscribe, then drop the socket without GOODBYE
		c, err := rawDial(ep)
		if err != nil {
			return err
		}
		defer c.close()
		if err := c.hello(ident); err != nil {
			return err
		}
		for i := 0; i < 2; i++ {
			if err := c.subscribe(exprs[rand.IntN(len(exprs))]); err != nil {
				return err
			}
		}
		time.Sleep(between(100*time.Millisecond, time.Second))
		return nil
	case r < 80: // silent: never answers PING; expired by the broker
		c, err := rawDial(ep)
		if err != nil {
			return err
		}
		defer c.close()
		if err := c.hello(ident); err != nil {
			return err
		}
		if err := c.subscribe(`rack\d`); err != nil {
			return err
		}
		time.Sleep(brokerTimeout + between(500*time.Millisecond, 2*time.Second))
		return nil
	case r < 90: // hostile: garbage, out-of-sequence and refused commands
		c, err := rawDial(ep)
		if err != nil {
			return err
		}
		defer c.close()
		garbage := [][][]byte{
			{{0xAA, 0xAB, 5}}, {{0xAA, 0xAA, 99}}, {{}}, {{0xAA, 0xAA, 8}, []byte("x")},
		}
		c.send(codec.Message{ID: codec.Publish, Address: "before-hello"})
		c.hello(ident)
		c.send(codec.Message{ID: codec.Subscribe, Expression: "rack[12"})
		c.send(codec.Message{ID: codec.Publish, Address: "$zccp.x"})
		c.send(codec.Message{ID: codec.Deliver, Sender: "x", Address: "y"})
		c.hello(ident)
		for _, g := range garbage {
			c.c.Send(g...)
		}
		c.send(codec.Message{ID: codec.Hello, Identifier: ident})
		c.drainFor(between(50*time.Millisecond, 300*time.Millisecond))
		// And one peer that is not ZMTP at all.
		if nc, err := zmtp.Dial(context.Background(), ep); err == nil {
			nc.Write([]byte("GET / HTTP/1.0\r\n\r\n"))
			nc.Close()
		}
		return nil
	default: // takeover: a second session claims the identifier
		a, err := rawDial(ep)
		if err != nil {
			return err
		}
		defer a.close()
		if err := a.hello(ident); err != nil {
			return err
		}
		a.subscribe(`rack\d`)
		b, err := rawDial(ch.eps[(n+1)%2])
		if err != nil {
			return err
		}
		defer b.close()
		if err := b.hello(ident); err != nil {
			return err
		}
		a.drainFor(between(50*time.Millisecond, 300*time.Millisecond))
		b.send(codec.Message{ID: codec.Goodbye})
		b.drainFor(50 * time.Millisecond)
		return nil
	}
}

// stalledLoop keeps one consumer that subscribes to everything and never
// reads, replacing it every hold, until ctx ends.
func (ch *churner) stalledLoop(ctx context.Context, slot int, hold time.Duration) {
	for n := 0; ctx.Err() == nil; n++ {
		ch.started.Add(1)
		c, err := rawDial(ch.eps[n%2])
		if err == nil {
			if err = c.hello(fmt.Sprintf("stalled-%d-%d", slot, n)); err == nil {
				err = c.subscribe(`^soak\.`)
			}
		}
		if err != nil {
			ch.failed.Add(1)
			logf("stalled consumer %d/%d: %v", slot, n, err)
		}
		// It never reads, but it keeps its session alive (a client PING
		// now and then): otherwise the broker would expire it long before
		// its queue overflows.
		end := time.After(hold)
		beat := time.NewTicker(500 * time.Millisecond)
	stall:
		for {
			select {
			case <-ctx.Done():
				break stall
			case <-end:
				break stall
			case <-beat.C:
				if c != nil {
					c.send(codec.Message{ID: codec.Ping})
				}
			}
		}
		beat.Stop()
		if c != nil {
			// Read what is left: the drops are reported with zccp-missed.
			got, missed := c.missedWithin(time.Second)
			if *verbose {
				logf("stalled %d/%d read %d messages, missed %d", slot, n, got, missed)
			}
			ch.stalledMissed.Add(missed)
			c.close()
		}
	}
}

// rawConn is a bare ZCCP client on a ZMTP connection, read synchronously.
type rawConn struct {
	nc net.Conn
	c  *zmtp.Conn
}

func rawDial(ep string) (*rawConn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nc, err := zmtp.Dial(ctx, ep)
	if err != nil {
		return nil, err
	}
	c, err := zmtp.Handshake(nc, zmtp.Options{Type: zmtp.TypeDealer, HandshakeTimeout: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	return &rawConn{nc: nc, c: c}, nil
}

func (r *rawConn) close() { r.c.Close() }

func (r *rawConn) send(m codec.Message) error {
	f, err := m.Frames()
	if err != nil {
		return err
	}
	return r.c.Send(f...)
}

// expect reads until a message with id arrives (within 5 s).
func (r *rawConn) expect(id codec.ID) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.nc.SetReadDeadline(deadline)
		frames, err := r.c.ReadMessage()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", id, err)
		}
		m, err := codec.Decode(frames)
		if err != nil {
			return fmt.Errorf("undecodable message from the broker: %w", err)
		}
		if m.ID == id {
			return nil
		}
	}
}

func (r *rawConn) hello(ident string) error {
	if err := r.send(codec.Message{ID: codec.Hello, Identifier: ident}); err != nil {
		return err
	}
	return r.expect(codec.HelloOK)
}

func (r *rawConn) subscribe(expr string) error {
	if err := r.send(codec.Message{ID: codec.Subscribe, Expression: expr}); err != nil {
		return err
	}
	return r.expect(codec.SubscribeOK)
}

// missedWithin reads for d and returns how many messages it read and the
// sum of the zccp-missed headers seen.
func (r *rawConn) missedWithin(d time.Duration) (msgs int, n int64) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		r.nc.SetReadDeadline(deadline)
		frames, err := r.c.ReadMessage()
		if err != nil {
			break
		}
		msgs++
		if m, err := codec.Decode(frames); err == nil {
			v, _ := strconv.ParseInt(m.Headers[codec.HdrMissed], 10, 64)
			n += v
		}
	}
	return msgs, n
}

// drainFor reads and discards for d.
func (r *rawConn) drainFor(d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		r.nc.SetReadDeadline(deadline)
		if _, err := r.c.ReadMessage(); err != nil {
			return
		}
	}
}
