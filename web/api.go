package web

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/zccp-go/zccp/client"
)

// body renders content frames for JSON: text when every frame is UTF-8,
// base64 otherwise.
type body struct {
	Content  []string `json:"content"`
	Encoding string   `json:"encoding"` // "utf-8" or "base64"
}

func bodyOf(frames [][]byte) body {
	b := body{Content: make([]string, len(frames)), Encoding: "utf-8"}
	for _, f := range frames {
		if !utf8.Valid(f) {
			b.Encoding = "base64"
		}
	}
	for i, f := range frames {
		if b.Encoding == "base64" {
			b.Content[i] = base64.StdEncoding.EncodeToString(f)
		} else {
			b.Content[i] = string(f)
		}
	}
	return b
}

type lastView struct {
	Address string            `json:"address"`
	Sender  string            `json:"sender"`
	Headers map[string]string `json:"headers"`
	AgeMS   int64             `json:"age_ms"`
	body
}

// last serves the last values whose address matches ?re= (a zrex
// expression; empty: all), newest first, at most ?limit= (default 500).
func (s *Server) last(w http.ResponseWriter, r *http.Request) {
	expr := r.URL.Query().Get("re")
	if expr == "" {
		expr = "."
	}
	vals, err := s.cfg.Broker.LastValues(expr)
	if err != nil {
		http.Error(w, "bad expression: "+err.Error(), http.StatusBadRequest)
		return
	}
	limit := 500
	fmt.Sscan(r.URL.Query().Get("limit"), &limit)
	now := time.Now()
	out := make([]lastView, 0, min(len(vals), limit))
	for i := len(vals) - 1; i >= 0 && len(out) < limit; i-- {
		v := vals[i]
		out = append(out, lastView{Address: v.Address, Sender: v.Sender, Headers: v.Headers, AgeMS: now.Sub(v.Stored).Milliseconds(), body: bodyOf(v.Content)})
	}
	writeJSON(w, out)
}

type streamEvent struct {
	Sender   string            `json:"sender"`
	Address  string            `json:"address"`
	Headers  map[string]string `json:"headers"`
	Missed   uint64            `json:"missed,omitempty"`  // dropped by the broker for the dashboard
	Dropped  uint64            `json:"dropped,omitempty"` // dropped because this browser was slow
	Received time.Time         `json:"received"`
	body
}

// stream serves the notifications published to addresses matching ?re=
// as Server-Sent Events, through the dashboard's own subscription with a
// bounded channel: when the browser is slow, events are dropped (and
// counted in the next event), nothing waits.
func (s *Server) stream(w http.ResponseWriter, r *http.Request) {
	expr := r.URL.Query().Get("re")
	if expr == "" {
		http.Error(w, "give ?re=EXPRESSION", http.StatusBadRequest)
		return
	}
	select {
	case s.streams <- struct{}{}:
		defer func() { <-s.streams }()
	default:
		http.Error(w, "too many live streams open", http.StatusServiceUnavailable)
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	c, err := s.session(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	ch := make(chan *client.Delivery, 256)
	sub, err := c.SubscribeChan(r.Context(), expr, ch)
	if err != nil {
		http.Error(w, "subscribe: "+err.Error(), http.StatusBadRequest)
		return
	}
	defer sub.Cancel(context.Background())
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	fmt.Fprint(w, ": subscribed\n\n")
	flusher.Flush()
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	var reported uint64
	for {
		select {
		case <-r.Context().Done():
			return
		case <-keepalive.C:
			fmt.Fprint(w, ": keepalive\n\n")
		case d := <-ch:
			ev := streamEvent{Sender: d.Sender, Address: d.Address, Headers: d.Headers, Missed: d.Missed, Received: time.Now(), body: bodyOf(d.Content)}
			if n := sub.Dropped(); n > reported {
				ev.Dropped, reported = n-reported, n
			}
			line, _ := json.Marshal(ev)
			if _, err := fmt.Fprintf(w, "data: %s\n\n", line); err != nil {
				return
			}
		}
		flusher.Flush()
	}
}

// callRequest is the body of POST /api/call.
type callRequest struct {
	Target    string            `json:"target"` // one device's identifier, or
	Group     string            `json:"group"`  // a group address (with Labels: every device with them)
	Labels    map[string]string `json:"labels"`
	Method    string            `json:"method"`
	Body      string            `json:"body"`
	TimeoutMS int               `json:"timeout_ms"` // default 5000, at most 60000
}

// callEvent is one line of the answer (NDJSON): a receipt, each reply
// as it arrives, then the summary.
type callEvent struct {
	Type     string   `json:"type"` // receipt, reply, summary, error
	Expected []string `json:"expected,omitempty"`
	From     string   `json:"from,omitempty"`
	Status   string   `json:"status,omitempty"`
	Code     string   `json:"code,omitempty"`
	Reason   string   `json:"reason,omitempty"`
	RTTMS    float64  `json:"rtt_ms,omitempty"`
	Content  []string `json:"content,omitempty"`
	Encoding string   `json:"encoding,omitempty"`
	OK       []string `json:"ok,omitempty"`
	Failed   []string `json:"failed,omitempty"`
	Missing  []string `json:"missing,omitempty"`
}

func (s *Server) call(w http.ResponseWriter, r *http.Request) {
	var req callRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
		http.Error(w, "bad request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	if req.Method == "" || (req.Target == "") == (req.Group == "" && len(req.Labels) == 0) {
		http.Error(w, "give a method and either a target or a group (address or labels)", http.StatusBadRequest)
		return
	}
	timeout := time.Duration(req.TimeoutMS) * time.Millisecond
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	timeout = min(timeout, time.Minute)
	c, err := s.session(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	out := &ndjson{w: w}
	call := client.Call{Method: req.Method, Timeout: timeout}
	if req.Body != "" {
		call.Body = [][]byte{[]byte(req.Body)}
	}
	start := time.Now()
	if req.Target != "" {
		s.callOne(ctx, c, out, req.Target, call, start)
		return
	}
	g, err := c.DoGroup(ctx, client.Group{Address: req.Group, Labels: req.Labels}, call)
	if err != nil {
		out.send(callEvent{Type: "error", Reason: err.Error()})
		return
	}
	out.send(callEvent{Type: "receipt", Expected: g.Expected})
	for rep := range g.Replies() {
		out.send(replyEvent(rep, start))
	}
	sum := g.Summary()
	ev := callEvent{Type: "summary", OK: sum.OK, Missing: sum.Missing}
	for id := range sum.Failed {
		ev.Failed = append(ev.Failed, id)
	}
	out.send(ev)
}

func (s *Server) callOne(ctx context.Context, c *client.Client, out *ndjson, target string, call client.Call, start time.Time) {
	out.send(callEvent{Type: "receipt", Expected: []string{target}})
	rep, err := c.Do(ctx, target, call)
	sum := callEvent{Type: "summary"}
	switch {
	case rep != nil:
		out.send(replyEvent(rep, start))
		if err == nil {
			sum.OK = []string{target}
		} else {
			sum.Failed = []string{target}
		}
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, client.ErrTimeout):
		sum.Missing = []string{target}
	default:
		out.send(callEvent{Type: "error", From: target, Reason: err.Error()})
		sum.Failed = []string{target}
	}
	out.send(sum)
}

func replyEvent(r *client.Reply, start time.Time) callEvent {
	b := bodyOf(r.Content)
	return callEvent{Type: "reply", From: r.From, Status: r.Status, Code: r.Code, Reason: r.Reason,
		RTTMS: float64(time.Since(start).Microseconds()) / 1000, Content: b.Content, Encoding: b.Encoding}
}

// ndjson writes one JSON object per line and flushes it.
type ndjson struct{ w http.ResponseWriter }

func (n *ndjson) send(v any) {
	line, _ := json.Marshal(v)
	n.w.Write(append(line, '\n'))
	if f, ok := n.w.(http.Flusher); ok {
		f.Flush()
	}
}
