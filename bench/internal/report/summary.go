// Package report turns the runs' results into per-scenario summaries
// (median and min–max over repetitions) and writes them as text tables,
// CSV, Markdown and a PNG chart.
package report

import (
	"slices"

	"github.com/zccp-go/zccp/bench/internal/scenario"
)

// Stat is the median and range of one measure over repetitions.
type Stat struct{ Med, Min, Max float64 }

// statOf summarises xs (empty: zeros).
func statOf(xs []float64) Stat {
	if len(xs) == 0 {
		return Stat{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Stat{Med: med, Min: s[0], Max: s[len(s)-1]}
}

// Summary is one target's results for one scenario.
type Summary struct {
	Scenario scenario.Scenario
	Target   string
	Runs     int      // successful runs
	Errors   []string // failed runs' errors

	Rate      Stat // deliveries per second
	BrokerCPU Stat // broker CPU seconds per window
	PerCPU    Stat // deliveries per broker CPU-second
	ClientCPU Stat // load client CPU seconds per window
	OtherCPU  Stat // CPU seconds other processes used in the window
	Window    Stat // window seconds
	P50       Stat // latency, microseconds
	P99       Stat
	P999      Stat

	Missed, LocalDrops, Backoffs, Stalls uint64 // totals over the runs

	Clients      int
	RSSPerClient Stat // bytes
	RSS          Stat // bytes, at the end of the window
	Connect      Stat // seconds to connect and subscribe every client
}

// Summarise groups results by scenario and target, in the order of
// scenarios and targets given.
func Summarise(scens []scenario.Scenario, targets []string, results []scenario.Result) []Summary {
	var out []Summary
	for _, sc := range scens {
		for _, t := range targets {
			sm := Summary{Scenario: sc, Target: t}
			var rate, bcpu, per, ccpu, ocpu, win, p50, p99, p999, rssc, rss, conn []float64
			for _, r := range results {
				if r.Scenario != sc.Name || r.Target != t {
					continue
				}
				if r.Err != "" {
					sm.Errors = append(sm.Errors, r.Err)
					continue
				}
				sm.Runs++
				rate = append(rate, r.Rate())
				bcpu = append(bcpu, r.BrokerCPU.Seconds())
				per = append(per, r.PerBrokerCPU())
				ccpu = append(ccpu, r.ClientCPU.Seconds())
				ocpu = append(ocpu, r.OtherCPU.Seconds())
				win = append(win, r.Window.Seconds())
				if r.Latency != nil && r.Latency.Total() > 0 {
					p50 = append(p50, micros(r.Quantile(0.5)))
					p99 = append(p99, micros(r.Quantile(0.99)))
					p999 = append(p999, micros(r.Quantile(0.999)))
				}
				sm.Missed += r.Missed
				sm.LocalDrops += r.LocalDrops
				sm.Backoffs += r.Backoffs
				sm.Stalls += r.Stalls
				sm.Clients = r.Clients
				rss = append(rss, float64(r.RSS))
				if r.Clients > 0 {
					rssc = append(rssc, r.RSSPerClient())
					conn = append(conn, r.Connect.Seconds())
				}
			}
			sm.Rate, sm.BrokerCPU, sm.PerCPU, sm.ClientCPU = statOf(rate), statOf(bcpu), statOf(per), statOf(ccpu)
			sm.OtherCPU = statOf(ocpu)
			sm.Window, sm.P50, sm.P99, sm.P999 = statOf(win), statOf(p50), statOf(p99), statOf(p999)
			sm.RSSPerClient, sm.RSS, sm.Connect = statOf(rssc), statOf(rss), statOf(conn)
			if sm.Runs > 0 || len(sm.Errors) > 0 {
				out = append(out, sm)
			}
		}
	}
	return out
}

// find returns the summary of target for scenario, if any ran.
func find(sums []Summary, scen, target string) (Summary, bool) {
	for _, s := range sums {
		if s.Scenario.Name == scen && s.Target == target && s.Runs > 0 {
			return s, true
		}
	}
	return Summary{}, false
}
