package main

import (
	"bytes"
	"net/http"
	"runtime"
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/zccp-go/zccp/broker"
)

// metricsHandler serves /metrics through the Prometheus client library:
// the Go runtime (go_*) and process (process_*) collectors,
// zccpd_build_info, the operator's gauges and drops by reason, and the
// broker's own counters (broker.WriteMetrics, zccp_*) gathered beside
// them.
func metricsHandler(b *broker.Broker) http.Handler {
	reg := prometheus.NewRegistry()
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "zccpd_build_info", Help: "zccpd's version and Go version; always 1."},
		[]string{"version", "goversion"})
	build.WithLabelValues(broker.Version, runtime.Version()).Set(1)
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), build, &opCollector{b: b}, fedCollector{})
	return promhttp.HandlerFor(prometheus.Gatherers{reg, brokerGatherer(b)}, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// brokerGatherer reads the broker's hand-written exposition (zccp_*).
func brokerGatherer(b *broker.Broker) prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		var buf bytes.Buffer
		if err := b.WriteMetrics(&buf); err != nil {
			return nil, err
		}
		p := expfmt.NewTextParser(model.LegacyValidation)
		fams, err := p.TextToMetricFamilies(&buf)
		if err != nil {
			return nil, err
		}
		out := make([]*dto.MetricFamily, 0, len(fams))
		for _, f := range fams {
			out = append(out, f)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
		return out, nil
	})
}

var (
	descDrops     = prometheus.NewDesc("zccpd_drops_total", "Messages not delivered, by reason: overflow (dropped oldest by a full queue), queue_full (refused), ttl (command expired), no_recipient (DIRECT to nobody).", []string{"reason"}, nil)
	descQueueMsgs = prometheus.NewDesc("zccpd_queue_depth_messages", "Messages waiting in client queues: sum over all clients, and the deepest one.", []string{"of"}, nil)
	descQueueB    = prometheus.NewDesc("zccpd_queue_depth_bytes", "Bytes waiting in client queues: sum over all clients, and the deepest one.", []string{"of"}, nil)
	descRetained  = prometheus.NewDesc("zccpd_last_values", "Addresses with a retained last value.", nil, nil)
	descRetainedB = prometheus.NewDesc("zccpd_last_values_bytes", "Bytes of retained last values.", nil, nil)
	descRetPend   = prometheus.NewDesc("zccpd_last_values_pending", "Last value changes not yet committed to the store.", nil, nil)
	descBytesIn   = prometheus.NewDesc("zccpd_received_bytes_total", "Bytes read from client connections, greetings and handshakes included.", nil, nil)
	descBytesOut  = prometheus.NewDesc("zccpd_sent_bytes_total", "Bytes written to client connections (under CURVE, before encryption).", nil, nil)
	descLatency   = prometheus.NewDesc("zccpd_request_duration_seconds", "Time from a request reaching the broker to its final reply (or other outcome) passing back through it; a group request's runs to the end of its last recipient's.", []string{"kind", "outcome"}, nil)
)

// opCollector reads the broker at scrape time.
type opCollector struct{ b *broker.Broker }

func (c *opCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descDrops, descQueueMsgs, descQueueB, descRetained, descRetainedB, descRetPend, descBytesIn, descBytesOut, descLatency} {
		ch <- d
	}
}

func (c *opCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.b.Stats()
	for reason, v := range map[string]uint64{"overflow": st.Dropped, "queue_full": st.Refused, "ttl": st.ExpiredCmds, "no_recipient": st.NoRecipient} {
		ch <- prometheus.MustNewConstMetric(descDrops, prometheus.CounterValue, float64(v), reason)
	}
	var sumM, maxM, sumB, maxB int
	for _, v := range c.b.Observe() {
		sumM, sumB = sumM+v.QueuedMessages, sumB+v.QueuedBytes
		maxM, maxB = max(maxM, v.QueuedMessages), max(maxB, v.QueuedBytes)
	}
	ch <- prometheus.MustNewConstMetric(descQueueMsgs, prometheus.GaugeValue, float64(sumM), "all")
	ch <- prometheus.MustNewConstMetric(descQueueMsgs, prometheus.GaugeValue, float64(maxM), "max")
	ch <- prometheus.MustNewConstMetric(descQueueB, prometheus.GaugeValue, float64(sumB), "all")
	ch <- prometheus.MustNewConstMetric(descQueueB, prometheus.GaugeValue, float64(maxB), "max")
	rs := c.b.RetainStats()
	ch <- prometheus.MustNewConstMetric(descRetained, prometheus.GaugeValue, float64(rs.Values))
	ch <- prometheus.MustNewConstMetric(descRetainedB, prometheus.GaugeValue, float64(rs.Bytes))
	ch <- prometheus.MustNewConstMetric(descRetPend, prometheus.GaugeValue, float64(rs.Pending))
	ch <- prometheus.MustNewConstMetric(descBytesIn, prometheus.CounterValue, float64(st.BytesIn))
	ch <- prometheus.MustNewConstMetric(descBytesOut, prometheus.CounterValue, float64(st.BytesOut))
	collectLatency(ch, c.b.RequestLatency())
}

// collectLatency turns the broker's request latency histograms into
// Prometheus histograms (only those with observations).
func collectLatency(ch chan<- prometheus.Metric, series []broker.LatencySeries) {
	for _, s := range series {
		buckets := make(map[float64]uint64, len(broker.LatencyBuckets))
		for i, le := range broker.LatencyBuckets {
			buckets[le] = s.Buckets[i]
		}
		ch <- prometheus.MustNewConstHistogram(descLatency, s.Count, s.Sum, buckets, s.Kind, s.Outcome)
	}
}
