package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/zccp-go/zccp/broker"
)

var topSorts = []string{"pub/s", "queue", "dropped", "identifier"}

type clientRow struct {
	v             broker.ClientView
	pubRate, dlvR float64
}

type addrRow struct {
	addr string
	rate float64
}

// frame samples the broker and writes one screen.
func (t *topView) frame(ctx context.Context, w io.Writer, width, height int) error {
	cur, err := t.sample(ctx)
	if err != nil {
		return err
	}
	prev := t.prev
	t.prev = cur
	dt := cur.at.Sub(prev.at).Seconds()
	if dt <= 0 {
		dt = 1
	}
	t.mu.Lock()
	counts := t.addrs
	t.addrs = map[string]uint64{}
	sortBy := t.sortBy
	t.mu.Unlock()

	var b strings.Builder
	b.WriteString("\x1b[H\x1b[2J")
	st, pst := cur.rec.Broker, prev.rec.Broker
	rate := func(now, before uint64) float64 { return float64(now-min(now, before)) / dt }
	fmt.Fprintf(&b, "zccp top — %s — zccpd %s — %s    (q quits, s sorts: %s)\n", t.endpoint, cur.rec.Version, cur.at.Format("15:04:05"), topSorts[sortBy])
	fmt.Fprintf(&b, "sessions %d  connections %d  subscriptions %d  requests in flight %d  last values %d\n",
		st.Sessions, st.Connections, st.Subscriptions, st.Inflight, cur.rec.Retain.Values)
	fmt.Fprintf(&b, "published %.1f/s  delivered %.1f/s  directs %.1f/s  dropped %.1f/s  refused %d  expired %d\n\n",
		rate(st.Published, pst.Published), rate(st.Deliveries, pst.Deliveries), rate(st.Directs, pst.Directs),
		rate(st.Dropped, pst.Dropped), st.Refused, st.Expired)

	rows := clientRows(prev, cur, dt)
	sortClientRows(rows, sortBy)
	addrs := addrRows(counts, dt)
	room := max(height-min(len(addrs), 8)-9, 3)
	fmt.Fprintf(&b, "%-28s %-30s %9s %9s %14s %8s\n", "CLIENT", "LABELS", "PUB/s", "DLV/s", "QUEUE", "DROPPED")
	for i, r := range rows {
		if i >= room {
			fmt.Fprintf(&b, "… %d more\n", len(rows)-room)
			break
		}
		fmt.Fprintf(&b, "%-28s %-30s %9.1f %9.1f %8d/%4dK %8d\n", clip(r.v.Identifier, 28), clip(labelText(r.v.Labels), 30),
			r.pubRate, r.dlvR, r.v.QueuedMessages, r.v.QueuedBytes/1024, r.v.Dropped)
	}
	fmt.Fprintf(&b, "\n%-60s %9s\n", "ADDRESS (this view's subscription)", "MSG/s")
	for i, a := range addrs {
		if i >= 8 {
			break
		}
		fmt.Fprintf(&b, "%-60s %9.1f\n", clip(a.addr, 60), a.rate)
	}
	_, err = io.WriteString(w, clipLines(b.String(), width))
	return err
}

func clientRows(prev, cur *topSample, dt float64) []clientRow {
	before := map[uint64]broker.ClientView{}
	for _, v := range prev.clients {
		before[v.Session] = v
	}
	rows := make([]clientRow, 0, len(cur.clients))
	for _, v := range cur.clients {
		r := clientRow{v: v}
		if p, ok := before[v.Session]; ok {
			r.pubRate = float64(v.Published-min(v.Published, p.Published)) / dt
			r.dlvR = float64(v.Delivered-min(v.Delivered, p.Delivered)) / dt
		}
		rows = append(rows, r)
	}
	return rows
}

func sortClientRows(rows []clientRow, by int) {
	slices.SortStableFunc(rows, func(a, b clientRow) int {
		switch by {
		case 0:
			return cmp.Or(cmp.Compare(b.pubRate, a.pubRate), strings.Compare(a.v.Identifier, b.v.Identifier))
		case 1:
			return cmp.Or(cmp.Compare(b.v.QueuedBytes, a.v.QueuedBytes), strings.Compare(a.v.Identifier, b.v.Identifier))
		case 2:
			return cmp.Or(cmp.Compare(b.v.Dropped, a.v.Dropped), strings.Compare(a.v.Identifier, b.v.Identifier))
		}
		return strings.Compare(a.v.Identifier, b.v.Identifier)
	})
}

func addrRows(counts map[string]uint64, dt float64) []addrRow {
	out := make([]addrRow, 0, len(counts))
	for a, n := range counts {
		out = append(out, addrRow{a, float64(n) / dt})
	}
	slices.SortFunc(out, func(a, b addrRow) int { return cmp.Or(cmp.Compare(b.rate, a.rate), strings.Compare(a.addr, b.addr)) })
	return out
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func clipLines(s string, width int) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if len([]rune(l)) > width && !strings.HasPrefix(l, "\x1b") {
			lines[i] = string([]rune(l)[:width])
		}
	}
	return strings.Join(lines, "\n")
}
