package broker

import (
	"fmt"
	"io"
	"net/http"
)

// WriteMetrics writes the broker's counters in the Prometheus text
// exposition format (version 0.0.4), so that any Prometheus-compatible
// collector can scrape zccpd without a client library.
func (b *Broker) WriteMetrics(w io.Writer) error {
	s := b.Stats()
	metrics := []struct {
		name, kind, help string
		value            float64
	}{
		{"zccp_connections", "gauge", "Open client connections.", float64(s.Connections)},
		{"zccp_sessions", "gauge", "Live ZCCP sessions.", float64(s.Sessions)},
		{"zccp_subscriptions", "gauge", "Expressions held, each session's counted once.", float64(s.Subscriptions)},
		{"zccp_requests_inflight", "gauge", "Requests routed to devices and not yet answered.", float64(s.Inflight)},
		{"zccp_connections_accepted_total", "counter", "Connections accepted.", float64(s.Accepted)},
		{"zccp_sessions_started_total", "counter", "Sessions started (HELLO-OK).", float64(s.Started)},
		{"zccp_published_total", "counter", "PUBLISH commands routed.", float64(s.Published)},
		{"zccp_deliveries_total", "counter", "DELIVERs queued for PUBLISH.", float64(s.Deliveries)},
		{"zccp_directs_total", "counter", "DIRECT commands delivered.", float64(s.Directs)},
		{"zccp_direct_no_recipient_total", "counter", "DIRECT commands to an identifier nobody has.", float64(s.NoRecipient)},
		{"zccp_refused_total", "counter", "Deliveries refused because the recipient's queue was full.", float64(s.Refused)},
		{"zccp_dropped_total", "counter", "Notifications dropped by the overflow policy (oldest first).", float64(s.Dropped)},
		{"zccp_invalid_total", "counter", "INVALID answers.", float64(s.Invalid)},
		{"zccp_expired_connections_total", "counter", "Connections expired for silence.", float64(s.Expired)},
		{"zccp_malformed_total", "counter", "Undecodable commands.", float64(s.Malformed)},
		{"zccp_requests_total", "counter", "Requests to one device.", float64(s.Requests)},
		{"zccp_group_requests_total", "counter", "Group requests.", float64(s.GroupRequests)},
		{"zccp_expired_commands_total", "counter", "Commands dropped because their TTL ran out.", float64(s.ExpiredCmds)},
		{"zccp_queued_bytes", "gauge", "Bytes held by all client queues (the global queue budget's use).", float64(s.QueuedBytes)},
		{"zccp_budget_cuts_total", "counter", "Queues cut (oldest notifications dropped, or disconnected) to keep all queues within the global budget.", float64(s.BudgetCuts)},
		{"zccp_budget_refused_total", "counter", "Large PUBLISHes refused because the global queue budget was full and no queue could be cut.", float64(s.BudgetRefused)},
		{"zccp_stalls_total", "counter", "Publisher reads paused because a recipient's queue passed its high-water mark.", float64(s.Stalls)},
		{"zccp_stall_timeouts_total", "counter", "Publisher pauses that ran to the stall bound.", float64(s.StallTimeouts)},
		{"zccp_stall_seconds_total", "counter", "Time publishers' reads were paused by flow control.", s.StallTime.Seconds()},
	}
	for _, m := range metrics {
		if _, err := fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %g\n", m.name, m.help, m.name, m.kind, m.name, m.value); err != nil {
			return err
		}
	}
	return b.writePolicyMetrics(w) // policy_enforce.go
}

// MetricsHandler serves WriteMetrics over HTTP (mount it at /metrics).
func (b *Broker) MetricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		b.WriteMetrics(w)
	})
}
