package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/store"
	"github.com/zccp-go/zccp/web"
)

// startOperator starts what sits beside the broker, before it binds: the
// store and the last values in it, SIGHUP handling, the HTTP address
// (health, dashboard). markReady flips /readyz once the endpoints are
// bound. stop undoes everything in reverse order (after the broker's
// Shutdown: the last values pending are written then).
func startOperator(s *settings, b *broker.Broker, log *slog.Logger) (stop, markReady func(), err error) {
	var stops []func()
	stop = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	fail := func(err error) (func(), func(), error) { stop(); return nil, nil, err }
	cfg := s.op.retain
	if s.op.dataDir != "" {
		st, err := store.Open(s.op.dataDir)
		if err != nil {
			return fail(err)
		}
		stops = append(stops, func() { st.Close() })
		cfg.Store = st
		s.sec.store = st // security.go: identity bindings
		log.Info("store opened", "path", st.Path())
	}
	if err := b.EnableRetain(cfg); err != nil {
		return fail(err)
	}
	stops = append(stops, b.CloseRetain)
	stopAudit, err := startAudit(s, b, log) // audit.go
	if err != nil {
		return fail(err)
	}
	stops = append(stops, stopAudit)
	stops = append(stops, handleSIGHUP(s, log))
	h := &health{}
	if s.op.httpAddr != "" {
		dash, err := startDashboard(b, log)
		if err != nil {
			return fail(err)
		}
		stops = append(stops, func() { dash.Close() })
		stopHTTP, err := serveOperatorHTTP(&s.op, h, metricsHandler(b), dash, log)
		if err != nil {
			return fail(err)
		}
		stops = append(stops, stopHTTP, func() { h.ready.Store(false) })
	}
	return stop, func() { h.ready.Store(true) }, nil
}

// startDashboard binds a private abstract ipc name for the dashboard's
// own client session and returns the dashboard.
func startDashboard(b *broker.Broker, log *slog.Logger) (*web.Server, error) {
	var nonce [8]byte
	rand.Read(nonce[:])
	ep, err := b.Listen(fmt.Sprintf("ipc://@/zccpd-dashboard-%d-%s", os.Getpid(), hex.EncodeToString(nonce[:])))
	if err != nil {
		return nil, fmt.Errorf("dashboard endpoint: %w", err)
	}
	return web.New(web.Config{Broker: b, Endpoint: ep, Logger: log.With("part", "dashboard")})
}
