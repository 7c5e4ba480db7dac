package scenario

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/zccp-go/zccp/bench/internal/driver"
	"github.com/zccp-go/zccp/bench/internal/procstat"
	"github.com/zccp-go/zccp/bench/internal/server"
)

// Env is how scenarios are run.
type Env struct {
	Paths      server.Paths
	Warmup     time.Duration // load before the measured window
	Window     time.Duration // the measured window
	ProfileDir string        // when set, zccpd runs as zccpdprof writing profiles there
	// QuietWait bounds how long a run waits for other processes to leave
	// the CPUs alone (less than a quarter of a core busy) before it starts.
	QuietWait time.Duration
	// Inflight bounds the publishes not yet received (0: DefaultInflight).
	Inflight int
	Log      func(string)
}

// Run runs scenario s once against target t and returns its result; a
// failure is reported in Result.Err so that the other runs go on.
func (e Env) Run(ctx context.Context, s Scenario, t Target, rep int) (r Result) {
	r = Result{Scenario: s.Name, Target: t.Name, Rep: rep}
	began := time.Now()
	defer func() { r.Total = time.Since(began) }()
	if e.QuietWait > 0 {
		if busy, ok := waitQuiet(ctx, e.QuietWait); !ok && e.Log != nil {
			e.Log(fmt.Sprintf("machine still busy (%.2f cores used by others) after %v: running anyway", busy, e.QuietWait))
		}
	}
	opts := server.Options{Paths: e.Paths, Tag: fmt.Sprintf("%s-%s-r%d", s.Name, t.Name, rep)}
	if t.Broker == "zccpd" {
		opts.ProfileDir = e.ProfileDir
	}
	p, err := server.Start(ctx, t.Broker, opts)
	if err != nil {
		r.Err = err.Error()
		return r
	}
	switch s.Kind {
	case Idle:
		err = e.idle(ctx, s, t, p, &r)
	default:
		err = e.load(ctx, s, t, p, &r)
	}
	if !p.Alive() && err == nil {
		err = fmt.Errorf("%s died during the run: %s", t.Broker, p.LogTail())
	}
	if serr := p.Stop(5 * time.Second); serr != nil && err == nil {
		err = serr
	}
	if err != nil {
		r.Err = err.Error()
	}
	return r
}

// dialAll connects n clients in parallel (at most 64 dials at a time)
// and closes them all if one fails.
func dialAll(ctx context.Context, d driver.Driver, addr, prefix string, n int) ([]driver.Conn, error) {
	conns := make([]driver.Conn, n)
	errs := make([]error, n)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			conns[i], errs[i] = d.Dial(ctx, addr, fmt.Sprintf("%s-%d", prefix, i))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			closeAll(conns)
			return nil, fmt.Errorf("client %d of %d: %w", i+1, n, err)
		}
	}
	return conns, nil
}

// closeAll closes every non-nil connection, in parallel.
func closeAll(conns []driver.Conn) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 256)
	for _, c := range conns {
		if c == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c.Close()
		}()
	}
	wg.Wait()
}

// sumStats adds up the load-client counters of conns.
func sumStats(conns []driver.Conn) driver.Stats {
	var s driver.Stats
	for _, c := range conns {
		st := c.Stats()
		s.Backoffs += st.Backoffs
		s.LocalDrops += st.LocalDrops
	}
	return s
}

// waitQuiet waits until the machine is nearly idle (under a quarter of a
// core busy over 250 ms) or max has passed; it returns the last busy
// level seen, in cores, and whether it was quiet.
func waitQuiet(ctx context.Context, max time.Duration) (float64, bool) {
	const sample = 250 * time.Millisecond
	deadline := time.Now().Add(max)
	for {
		b0, err := procstat.MachineBusy()
		if err != nil {
			return 0, true
		}
		sleep(ctx, sample)
		b1, _ := procstat.MachineBusy()
		busy := float64(b1-b0) / float64(sample)
		if busy < 0.25 || time.Now().After(deadline) || ctx.Err() != nil {
			return busy, busy < 0.25
		}
	}
}
