package main

import (
	"log/slog"

	"github.com/zccp-go/zccp/broker"
)

// startOperator starts what sits beside the broker: SIGHUP handling and
// the HTTP address (health and dashboard). The returned function stops
// them in reverse order.
func startOperator(s *settings, b *broker.Broker, log *slog.Logger) (stop func(), err error) {
	var stops []func()
	stop = func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
	}
	stops = append(stops, handleSIGHUP(s, log))
	h := &health{}
	if s.op.httpAddr != "" {
		stopHTTP, err := serveOperatorHTTP(&s.op, h, nil, log)
		if err != nil {
			stop()
			return nil, err
		}
		stops = append(stops, stopHTTP)
	}
	h.ready.Store(true)
	stops = append(stops, func() { h.ready.Store(false) })
	return stop, nil
}
