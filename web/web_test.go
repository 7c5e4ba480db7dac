package web

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/internal/brokertest"
	"github.com/zccp-go/zccp/internal/rawpeer"
	"github.com/zccp-go/zccp/internal/testutil"
)

func start(t *testing.T) (*brokertest.Broker, *httptest.Server) {
	b := brokertest.Start(t, broker.Config{})
	s, err := New(Config{Broker: b.Broker, Endpoint: b.IPC, MaxStreams: 2})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(func() { hs.Close(); s.Close() })
	return b, hs
}

func rawDevice(t *testing.T, ctx context.Context, ep, id string, labels ...rawpeer.Header) *rawpeer.Peer {
	p, err := rawpeer.Dial(ctx, ep)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.Hello(ctx, id, labels...); err != nil {
		t.Fatal(err)
	}
	return p
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	r, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	if r.StatusCode == 200 {
		if err := json.NewDecoder(r.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	return r.StatusCode
}

// Raw ZMTP peers (not our client) are the devices the API reports on.
func TestAPI(t *testing.T) {
	b, hs := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	pdu := rawDevice(t, ctx, b.TCP, "pdu-r1-1", rawpeer.Header{Name: "rack", Value: "r1"})
	pdu.Publish("power.r1.pdu1", []rawpeer.Header{{Name: "zccp-retain", Value: "1"}}, []byte("412 W"))
	testutil.Eventually(t, "value stored", func() bool { return b.RetainStats().Values == 1 })

	var clients []broker.ClientView
	getJSON(t, hs.URL+"/api/clients", &clients)
	if len(clients) != 1 || clients[0].Identifier != "pdu-r1-1" || clients[0].Labels["rack"] != "r1" || clients[0].LastSeen.IsZero() {
		t.Fatalf("clients %+v", clients)
	}
	var last []lastView
	getJSON(t, hs.URL+"/api/last?re="+`^power\.`, &last)
	if len(last) != 1 || last[0].Address != "power.r1.pdu1" || last[0].Content[0] != "412 W" {
		t.Fatalf("last %+v", last)
	}
	if code := getJSON(t, hs.URL+"/api/last?re=rack[1", &last); code != 400 {
		t.Fatalf("bad expression: %d", code)
	}
	var st statsView
	getJSON(t, hs.URL+"/api/stats", &st)
	if st.Retain.Values != 1 || st.Broker.Sessions < 1 || st.Version != broker.Version {
		t.Fatalf("stats %+v", st)
	}
	r, _ := http.Get(hs.URL + "/")
	page, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if !strings.Contains(string(page), "app.js") || !strings.Contains(r.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Fatalf("page: %s", page)
	}
}

// The SSE stream carries what a raw peer publishes; past MaxStreams a
// stream is refused rather than queued.
func TestStream(t *testing.T) {
	b, hs := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", hs.URL+"/api/stream?re="+`^temp\.`, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("content type %q", resp.Header.Get("Content-Type"))
	}
	rd := bufio.NewReader(resp.Body)
	if line, _ := rd.ReadString('\n'); line != ": subscribed\n" {
		t.Fatalf("first line %q", line)
	}
	p := rawDevice(t, ctx, b.TCP, "sensor")
	p.Publish("temp.r1", []rawpeer.Header{{Name: "unit", Value: "C"}}, []byte("31.5"))
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			var ev streamEvent
			json.Unmarshal([]byte(data), &ev)
			if ev.Sender != "sensor" || ev.Address != "temp.r1" || ev.Headers["unit"] != "C" || ev.Content[0] != "31.5" {
				t.Fatalf("event %+v", ev)
			}
			break
		}
	}
	second, err := http.Get(hs.URL + "/api/stream?re=x")
	if err != nil {
		t.Fatal(err)
	}
	defer second.Body.Close()
	third, err := http.Get(hs.URL + "/api/stream?re=y")
	if err != nil {
		t.Fatal(err)
	}
	third.Body.Close()
	if third.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("third stream: %d", third.StatusCode)
	}
}

// A group command to raw peers acting as devices: receipt, every reply,
// summary, as NDJSON lines.
func TestGroupCall(t *testing.T) {
	b, hs := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for _, id := range []string{"sw-1", "sw-2", "sw-3"} {
		p := rawDevice(t, ctx, b.TCP, id, rawpeer.Header{Name: "zccp-serves", Value: "1"}, rawpeer.Header{Name: "kind", Value: "switch"})
		go serve(ctx, p, id)
	}
	testutil.Eventually(t, "devices", func() bool { return len(b.Clients("kind=switch")) == 3 })
	resp, err := http.Post(hs.URL+"/api/call", "application/json", strings.NewReader(`{"labels":{"kind":"switch"},"method":"port.status","timeout_ms":5000}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var evs []callEvent
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var ev callEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("%v: %q", err, sc.Text())
		}
		evs = append(evs, ev)
	}
	if len(evs) != 5 || evs[0].Type != "receipt" || len(evs[0].Expected) != 3 || evs[4].Type != "summary" || len(evs[4].OK) != 3 {
		t.Fatalf("events %+v", evs)
	}
	for _, ev := range evs[1:4] {
		if ev.Type != "reply" || ev.Status != "ok" || ev.Content[0] != ev.From+" up" {
			t.Fatalf("reply %+v", ev)
		}
	}
	r, err := http.Post(hs.URL+"/api/call", "application/json", strings.NewReader(`{"method":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 400 {
		t.Fatalf("no target: %d", r.StatusCode)
	}
}

// serve answers every request the raw peer gets with "<id> up".
func serve(ctx context.Context, p *rawpeer.Peer, id string) {
	for {
		m, err := p.NextContext(ctx)
		if err != nil {
			return
		}
		if rid, ok := m.Header("zccp-request-id"); ok && m.ID == rawpeer.Deliver {
			p.Direct(string(m.Sender), []rawpeer.Header{{Name: "zccp-reply-to", Value: rid}, {Name: "zccp-status", Value: "ok"}}, []byte(id+" up"))
		}
	}
}

// A browser that stops reading its stream slows nobody: a raw publisher's
// 20000 messages all reach a raw subscriber beside it, none missed, while
// the stalled stream's session drops (counted by the broker or the
// dashboard's channel).
func TestStalledStreamDoesNotSlowTheBroker(t *testing.T) {
	b, hs := start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", hs.URL+"/api/stream?re="+`^load\.`, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	bufio.NewReader(resp.Body).ReadString('\n') // subscribed; then never read again
	sub := rawDevice(t, ctx, b.TCP, "fast-sub")
	if err := sub.Subscribe(ctx, `^load\.`); err != nil {
		t.Fatal(err)
	}
	pub := rawDevice(t, ctx, b.TCP, "pub")
	const n = 20000
	body := make([]byte, 512)
	go func() {
		for i := 0; i < n; i++ {
			if pub.Publish("load.x", nil, body) != nil {
				return
			}
		}
	}()
	for got := 0; got < n; {
		m, err := sub.NextContext(ctx)
		if err != nil {
			t.Fatalf("fast subscriber after %d: %v", got, err)
		}
		if m.ID == rawpeer.Deliver {
			if m.Missed() > 0 {
				t.Fatalf("the fast subscriber missed %d", m.Missed())
			}
			got++
		}
	}
	for _, c := range b.Observe() {
		t.Logf("%s: delivered %d dropped %d queued %d", c.Identifier, c.Delivered, c.Dropped, c.QueuedMessages)
	}
}
