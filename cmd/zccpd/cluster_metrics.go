package main

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/zccp-go/zccp/federation"
)

// clusterNode is the federation membership while --cluster is on (set by
// startCluster), read by the metrics at scrape time.
var clusterNode atomic.Pointer[federation.Node]

var (
	descFedPolicy = prometheus.NewDesc("zccpd_federation_policy_mismatches",
		"Live brokers of the federation whose permission policy digest differs from this broker's (each broker must load the same --policy file).", nil, nil)
	descFedKeys = prometheus.NewDesc("zccpd_federation_key_share_total",
		"Key states and identifier bindings shared with the federation: written (local changes written to the buckets), applied (other brokers' changes applied here), conflicts (first claims lost to another broker's binding), local (first claims the bucket could not take), errors (writes that failed).", []string{"what"}, nil)
)

// fedCollector exposes the federation's security counters; nothing
// without --cluster.
type fedCollector struct{}

func (fedCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descFedPolicy
	ch <- descFedKeys
}

func (fedCollector) Collect(ch chan<- prometheus.Metric) {
	n := clusterNode.Load()
	if n == nil {
		return
	}
	mm, _ := n.PolicyMismatches()
	ch <- prometheus.MustNewConstMetric(descFedPolicy, prometheus.GaugeValue, float64(len(mm)))
	if ks := n.KeyShare(); ks.On {
		for what, v := range map[string]uint64{"written": ks.Written, "applied": ks.Applied, "conflicts": ks.Conflicts, "local": ks.Local, "errors": ks.Errors} {
			ch <- prometheus.MustNewConstMetric(descFedKeys, prometheus.CounterValue, float64(v), what)
		}
	}
}
