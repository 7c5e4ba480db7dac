package scenario

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/zccp-go/zccp/bench/internal/driver"
	"github.com/zccp-go/zccp/bench/internal/gate"
	"github.com/zccp-go/zccp/bench/internal/hist"
	"github.com/zccp-go/zccp/bench/internal/procstat"
	"github.com/zccp-go/zccp/bench/internal/server"
)

// Flow control of the load generator (see package gate): at most
// Env.Inflight publishes (default DefaultInflight), and at most
// inflightBytes of payload, are unacknowledged by the subscribers at any
// time, whichever broker runs.
const (
	DefaultInflight = 5000
	inflightBytes   = 16 << 20
	stallTimeout    = 250 * time.Millisecond
)

// snapshot is the counters at one instant.
type snapshot struct {
	at                           time.Time
	delivered, missed, published uint64
	localDrops, backoffs, stalls uint64
	brokerCPU, clientCPU, busy   time.Duration
	lat                          hist.Counts
}

// loadRun is one throughput or latency run in progress.
type loadRun struct {
	s         Scenario
	p         *server.Process
	g         *gate.Gate
	subs      []driver.Conn
	pubs      []driver.Conn
	sinks     []*sink
	published atomic.Uint64
	stop      atomic.Bool
	errMu     sync.Mutex
	err       error
}

func (l *loadRun) fail(err error) {
	l.errMu.Lock()
	if l.err == nil {
		l.err = err
	}
	l.errMu.Unlock()
	l.stop.Store(true)
}

func (l *loadRun) snap() (snapshot, error) {
	var sn snapshot
	cpu, err := l.p.CPU()
	if err != nil {
		return sn, err
	}
	sn.at, sn.brokerCPU, sn.clientCPU = time.Now(), cpu, procstat.SelfCPU()
	if sn.busy, err = procstat.MachineBusy(); err != nil {
		return sn, err
	}
	sn.published = l.published.Load()
	sn.lat = make(hist.Counts, len(l.sinks[0].lat.Snapshot()))
	for _, k := range l.sinks {
		sn.delivered += k.delivered.Load()
		sn.missed += k.missed.Load()
		sn.lat.Add(k.lat.Snapshot())
	}
	st := sumStats(append(append([]driver.Conn{}, l.subs...), l.pubs...))
	sn.localDrops, sn.backoffs, sn.stalls = st.LocalDrops, st.Backoffs, l.g.Stalls()
	return sn, nil
}

// load runs a Throughput or Latency scenario against the broker p.
func (e Env) load(ctx context.Context, s Scenario, t Target, p *server.Process, r *Result) error {
	d := t.Driver
	fan := s.Fanout()
	inflight := e.Inflight
	if inflight <= 0 {
		inflight = DefaultInflight
	}
	inflight = max(1, min(inflight, inflightBytes/(s.Payload+64)))
	l := &loadRun{s: s, p: p, g: gate.New(int64(inflight*fan), stallTimeout)}
	subjects, patterns := routes(s, d)

	setup, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	var err error
	if l.subs, err = dialAll(setup, d, p.Addr, "sub", s.Subscribers); err != nil {
		return err
	}
	defer func() { closeAll(l.subs) }()
	l.sinks = make([]*sink, len(l.subs))
	var wg sync.WaitGroup
	for i, c := range l.subs {
		l.sinks[i] = &sink{gate: l.g}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Subscribe(setup, patterns[i], l.sinks[i].handle); err != nil {
				l.fail(fmt.Errorf("subscribing: %w", err))
			}
		}()
	}
	wg.Wait()
	if l.err != nil {
		return l.err
	}
	if l.pubs, err = dialAll(setup, d, p.Addr, "pub", s.Publishers); err != nil {
		return err
	}
	defer func() { closeAll(l.pubs) }()

	var pwg sync.WaitGroup
	for i, c := range l.pubs {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			start := i * len(subjects) / len(l.pubs)
			if s.Kind == Latency {
				l.paced(c, subjects, start, s.Rate/len(l.pubs))
			} else {
				l.flood(c, subjects, start, max(1, min(32, inflight/8)))
			}
		}()
	}
	sleep(ctx, e.Warmup)
	a, err := l.snap()
	if err != nil {
		l.fail(err)
	}
	sleep(ctx, e.Window)
	b, err := l.snap()
	if err != nil {
		l.fail(err)
	}
	l.stop.Store(true)
	done := make(chan struct{})
	go func() { pwg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		l.fail(errors.New("publishers did not stop within 5 s"))
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	r.Window = b.at.Sub(a.at)
	r.Published = b.published - a.published
	r.Delivered = b.delivered - a.delivered
	r.Missed = b.missed - a.missed
	r.LocalDrops = b.localDrops - a.localDrops
	r.Backoffs = b.backoffs - a.backoffs
	r.Stalls = b.stalls - a.stalls
	r.BrokerCPU = b.brokerCPU - a.brokerCPU
	r.ClientCPU = b.clientCPU - a.clientCPU
	r.OtherCPU = max(0, b.busy-a.busy-r.BrokerCPU-r.ClientCPU)
	r.Latency = b.lat.Sub(a.lat)
	r.RSS, _ = p.RSS()
	return l.err
}

// flood publishes as fast as the gate allows, batch messages per credit
// request, cycling through subjects from start.
func (l *loadRun) flood(c driver.Conn, subjects []string, start, batch int) {
	payload := filler(l.s.Payload)
	fan := int64(l.s.Fanout())
	k := start % len(subjects)
	for !l.stop.Load() {
		l.g.Acquire(int64(batch)*fan, c.Flush)
		for range batch {
			stamp(payload, time.Now().UnixNano())
			if err := c.Publish(subjects[k], payload); err != nil {
				l.fail(fmt.Errorf("publish: %w", err))
				return
			}
			if k++; k == len(subjects) {
				k = 0
			}
		}
		l.published.Add(uint64(batch))
	}
	c.Flush()
}

// pacedSleep is the pacing tick of a Latency publisher. It sleeps with
// nanosleep(2) on its thread: the Go runtime's timers here wake up about
// a millisecond late, which would turn 10k msgs/s into bursts of ten.
const pacedSleep = 50 * time.Microsecond

// paced publishes rate messages per second, each stamped just before it
// is handed to the client, flushing after every tick's messages.
func (l *loadRun) paced(c driver.Conn, subjects []string, start, rate int) {
	payload := filler(l.s.Payload)
	fan := int64(l.s.Fanout())
	interval := time.Second / time.Duration(rate)
	k := start % len(subjects)
	t0 := time.Now()
	var sent int64
	ts := syscall.NsecToTimespec(int64(pacedSleep))
	for !l.stop.Load() {
		due := int64(time.Since(t0)/interval) + 1
		for ; sent < due; sent++ {
			l.g.Acquire(fan, c.Flush)
			stamp(payload, time.Now().UnixNano())
			if err := c.Publish(subjects[k], payload); err != nil {
				l.fail(fmt.Errorf("publish: %w", err))
				return
			}
			if k++; k == len(subjects) {
				k = 0
			}
			l.published.Add(1)
		}
		c.Flush()
		syscall.Nanosleep(&ts, nil)
	}
}

// filler returns a payload of n bytes (at least 8, for the timestamp).
func filler(n int) []byte {
	b := make([]byte, max(n, 8))
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}

// sleep waits for d or ctx.
func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
