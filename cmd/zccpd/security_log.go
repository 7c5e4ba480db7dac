package main

import (
	"log/slog"
	"sync"
	"time"
)

// rateLog lets through at most rateBurst warnings per rateWindow and
// summarises the rest in the next line that gets through, so that a
// flood of refused connections cannot flood the log.
type rateLog struct {
	log        *slog.Logger
	mu         sync.Mutex
	start      time.Time
	n          int
	suppressed int
}

const (
	rateBurst  = 10
	rateWindow = 10 * time.Second
)

func newRateLog(log *slog.Logger) *rateLog { return &rateLog{log: log} }

// warn logs msg with args unless the window's budget is spent.
func (r *rateLog) warn(msg string, args ...any) {
	r.mu.Lock()
	now := time.Now()
	if now.Sub(r.start) >= rateWindow {
		r.start, r.n = now, 0
	}
	if r.n >= rateBurst {
		r.suppressed++
		r.mu.Unlock()
		return
	}
	r.n++
	suppressed := r.suppressed
	r.suppressed = 0
	r.mu.Unlock()
	if suppressed > 0 {
		args = append(args, "suppressed_before", suppressed)
	}
	r.log.Warn(msg, args...)
}
