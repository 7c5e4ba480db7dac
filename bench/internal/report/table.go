package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/zccp-go/zccp/bench/internal/scenario"
)

// Table is one scenario's results, ready to render as text or Markdown.
type Table struct {
	Title  string
	Header []string
	Rows   [][]string
	Notes  []string // ratio lines, errors
}

// Tables builds one table per scenario from the summaries; zccpRows are
// the targets compared with the others in the ratio lines.
func Tables(sums []Summary, zccpRows []string) []Table {
	var out []Table
	for i := 0; i < len(sums); {
		sc := sums[i].Scenario
		j := i
		for j < len(sums) && sums[j].Scenario.Name == sc.Name {
			j++
		}
		out = append(out, scenarioTable(sc, sums[i:j], zccpRows))
		i = j
	}
	return out
}

func scenarioTable(sc scenario.Scenario, sums []Summary, zccpRows []string) Table {
	t := Table{Title: fmt.Sprintf("%s: %s", sc.Name, sc.Title)}
	if sc.Kind == scenario.Idle {
		t.Header = []string{"broker", "clients", "RSS per client", "broker RSS", "broker CPU s", "client CPU s", "other CPU s", "connect s", "window s", "runs"}
		for _, s := range sums {
			t.Rows = append(t.Rows, []string{s.Target, fmt.Sprint(s.Clients), spread(s.RSSPerClient, kib), mib(s.RSS.Med),
				sig(s.BrokerCPU.Med), sig(s.ClientCPU.Med), sig(s.OtherCPU.Med), sig(s.Connect.Med), sig(s.Window.Med), runs(s)})
		}
	} else {
		t.Header = []string{"broker", "deliveries/s [min–max]", "broker CPU s", "deliv/broker-CPU-s", "client CPU s", "other CPU s", "p50 µs", "p99 µs", "p99.9 µs", "drops", "backoffs", "window s", "runs"}
		for _, s := range sums {
			t.Rows = append(t.Rows, []string{s.Target, spread(s.Rate, si), sig(s.BrokerCPU.Med), si(s.PerCPU.Med), sig(s.ClientCPU.Med), sig(s.OtherCPU.Med),
				sig(s.P50.Med), sig(s.P99.Med), sig(s.P999.Med), fmt.Sprint(s.Missed + s.LocalDrops), fmt.Sprint(s.Backoffs), sig(s.Window.Med), runs(s)})
		}
	}
	for _, z := range zccpRows {
		zs, ok := find(sums, sc.Name, z)
		if !ok {
			continue
		}
		for _, other := range []string{"nats", "mosquitto"} {
			o, ok := find(sums, sc.Name, other)
			if !ok {
				continue
			}
			if sc.Kind == scenario.Idle {
				t.Notes = append(t.Notes, fmt.Sprintf("%s/%s: RSS per client %s (lower is better)", z, other, ratio(zs.RSSPerClient.Med, o.RSSPerClient.Med)))
				continue
			}
			t.Notes = append(t.Notes, fmt.Sprintf("%s/%s: deliveries/s %s, per broker CPU-s %s, p99 %s (lower is better)",
				z, other, ratio(zs.Rate.Med, o.Rate.Med), ratio(zs.PerCPU.Med, o.PerCPU.Med), ratio(zs.P99.Med, o.P99.Med)))
		}
	}
	for _, s := range sums {
		for _, e := range s.Errors {
			t.Notes = append(t.Notes, fmt.Sprintf("%s failed: %s", s.Target, oneLine(e)))
		}
		if s.Stalls > 0 {
			t.Notes = append(t.Notes, fmt.Sprintf("%s: the publishers stalled %d times waiting for deliveries that never came (lost without notice)", s.Target, s.Stalls))
		}
	}
	return t
}

func runs(s Summary) string {
	if len(s.Errors) > 0 {
		return fmt.Sprintf("%d (+%d failed)", s.Runs, len(s.Errors))
	}
	return fmt.Sprint(s.Runs)
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " | ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

// WriteText renders t for a terminal.
func (t Table) WriteText(w io.Writer) {
	fmt.Fprintf(w, "\n== %s\n", t.Title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(t.Header, "\t"))
	for _, r := range t.Rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	tw.Flush()
	for _, n := range t.Notes {
		fmt.Fprintf(w, "  %s\n", n)
	}
}

// WriteMarkdown renders t as a Markdown section.
func (t Table) WriteMarkdown(w io.Writer) {
	fmt.Fprintf(w, "\n### %s\n\n", t.Title)
	fmt.Fprintf(w, "| %s |\n", strings.Join(t.Header, " | "))
	fmt.Fprintf(w, "|%s\n", strings.Repeat(" --- |", len(t.Header)))
	for _, r := range t.Rows {
		fmt.Fprintf(w, "| %s |\n", strings.Join(r, " | "))
	}
	if len(t.Notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range t.Notes {
			fmt.Fprintf(w, "* %s\n", n)
		}
	}
}
