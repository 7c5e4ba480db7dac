package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/zccp-go/zccp/soak/daemon"
)

// snapshot is the broker's footprint at one moment.
type snapshot struct {
	rss, fds, goroutines int64
	heap                 int64 // live heap (HeapAlloc; not collected first)
}

// take reads RSS from /proc/<pid>/status, descriptors from
// /proc/<pid>/fd and goroutines from /debug/vars.
func take(d *daemon.Daemon) (snapshot, error) {
	rss, _, err := d.RSS()
	if err != nil {
		return snapshot{}, err
	}
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", d.PID))
	if err != nil {
		return snapshot{}, err
	}
	v, err := d.Vars()
	if err != nil {
		return snapshot{}, err
	}
	return snapshot{rss: rss, fds: int64(len(ents)), goroutines: int64(v.Goroutines), heap: int64(v.Memory.HeapAlloc)}, nil
}

// peaks samples the broker every 100 ms until stopped and keeps the
// maxima (RSS peak is the kernel's VmHWM, which misses nothing; the heap
// counts what was allocated even where the kernel has not yet backed it
// with pages, as with a large buffer never written).
type peaks struct {
	d    *daemon.Daemon
	mu   sync.Mutex
	max  snapshot
	stop chan struct{}
	done chan struct{}
}

func watch(d *daemon.Daemon) *peaks {
	p := &peaks{d: d, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			if s, err := take(d); err == nil {
				p.mu.Lock()
				p.max.fds = max(p.max.fds, s.fds)
				p.max.goroutines = max(p.max.goroutines, s.goroutines)
				p.max.heap = max(p.max.heap, s.heap)
				p.mu.Unlock()
			}
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
		}
	}()
	return p
}

// end stops sampling and returns the maxima, with the RSS high-water mark.
func (p *peaks) end() snapshot {
	close(p.stop)
	<-p.done
	_, hwm, _ := p.d.RSS()
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.max
	s.rss = hwm
	return s
}

// settle waits (at most 10 s) until the broker holds no connection but
// the pair's, then returns its footprint.
func settle(ctx context.Context, d *daemon.Daemon, conns int) (snapshot, error) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if v, err := d.Vars(); err == nil && v.Broker.Connections <= conns {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return take(d)
}

// result is one row of the table.
type result struct {
	name              string
	base, peak, final snapshot
	sent, got, missed int64
	heap              int64         // live heap at the end, after a collection
	cpu               time.Duration // broker CPU time during the attack
	note              string
	elapsed           time.Duration
}

func mib(b int64) string { return fmt.Sprintf("%.0f", float64(b)/(1<<20)) }

func printTable(w io.Writer, rs []result) {
	fmt.Fprintln(w, "| attack | RSS MiB base / peak / final | heap MiB peak / final after GC | fds base / peak / final | goroutines base / peak / final | broker CPU | pair sent / lost | notes |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- |")
	for _, r := range rs {
		fmt.Fprintf(w, "| %s | %s / %s / %s | %s / %s | %d / %d / %d | %d / %d / %d | %s | %d / %d | %s |\n", r.name,
			mib(r.base.rss), mib(r.peak.rss), mib(r.final.rss), mib(r.peak.heap), mib(r.heap),
			r.base.fds, r.peak.fds, r.final.fds,
			r.base.goroutines, r.peak.goroutines, r.final.goroutines,
			r.cpu.Round(10*time.Millisecond), r.sent, r.sent-r.got, strings.ReplaceAll(r.note, "|", "/"))
	}
}
