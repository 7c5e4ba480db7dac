package report

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"

	"github.com/zccp-go/zccp/bench/internal/scenario"
)

// WriteRunsCSV writes one row per run.
func WriteRunsCSV(w io.Writer, results []scenario.Result) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"scenario", "broker", "rep", "error", "window_s", "published", "delivered", "deliveries_per_s",
		"broker_cpu_s", "client_cpu_s", "other_cpu_s", "deliveries_per_broker_cpu_s", "p50_us", "p99_us", "p999_us",
		"broker_missed", "client_drops", "backoffs", "stalls", "clients", "rss_base_bytes", "rss_bytes", "rss_per_client_bytes", "connect_s", "attempts"})
	for _, r := range results {
		cw.Write([]string{r.Scenario, r.Target, strconv.Itoa(r.Rep), r.Err, f(r.Window.Seconds()),
			u(r.Published), u(r.Delivered), f(r.Rate()), f(r.BrokerCPU.Seconds()), f(r.ClientCPU.Seconds()), f(r.OtherCPU.Seconds()), f(r.PerBrokerCPU()),
			f(micros(r.Quantile(0.5))), f(micros(r.Quantile(0.99))), f(micros(r.Quantile(0.999))),
			u(r.Missed), u(r.LocalDrops), u(r.Backoffs), u(r.Stalls), strconv.Itoa(r.Clients),
			strconv.FormatInt(r.RSSBase, 10), strconv.FormatInt(r.RSS, 10), f(r.RSSPerClient()), f(r.Connect.Seconds()), strconv.Itoa(r.Attempts)})
	}
	cw.Flush()
	return cw.Error()
}

// WriteSummaryCSV writes one row per scenario and broker: median, min
// and max of each measure over the repetitions.
func WriteSummaryCSV(w io.Writer, sums []Summary) error {
	cw := csv.NewWriter(w)
	head := []string{"scenario", "broker", "runs", "failed"}
	for _, m := range []string{"deliveries_per_s", "broker_cpu_s", "deliveries_per_broker_cpu_s", "client_cpu_s", "other_cpu_s", "p50_us", "p99_us", "p999_us", "rss_per_client_bytes"} {
		head = append(head, m+"_med", m+"_min", m+"_max")
	}
	head = append(head, "broker_missed", "client_drops", "backoffs", "stalls")
	cw.Write(head)
	for _, s := range sums {
		row := []string{s.Scenario.Name, s.Target, strconv.Itoa(s.Runs), strconv.Itoa(len(s.Errors))}
		for _, st := range []Stat{s.Rate, s.BrokerCPU, s.PerCPU, s.ClientCPU, s.OtherCPU, s.P50, s.P99, s.P999, s.RSSPerClient} {
			row = append(row, f(st.Med), f(st.Min), f(st.Max))
		}
		row = append(row, u(s.Missed), u(s.LocalDrops), u(s.Backoffs), u(s.Stalls))
		cw.Write(row)
	}
	cw.Flush()
	return cw.Error()
}

func f(x float64) string { return strconv.FormatFloat(x, 'f', 3, 64) }
func u(x uint64) string  { return fmt.Sprint(x) }
