package broker

import (
	"testing"
	"time"

	"github.com/zccp-go/zccp/codec"
)

func TestNextActionTable(t *testing.T) {
	type row struct {
		session bool
		id      codec.ID
		want    action
	}
	rows := []row{
		{false, codec.Hello, actHello},
		{true, codec.Hello, actInvalid},
		{true, codec.Subscribe, actSubscribe},
		{true, codec.Publish, actPublish},
		{true, codec.Direct, actDirect},
		{true, codec.Goodbye, actGoodbye},
		{true, codec.PingOK, actPingOK},
		{true, codec.Ping, actPing},
	}
	for id := codec.ID(1); id <= 12; id++ {
		if id != codec.Hello {
			rows = append(rows, row{false, id, actInvalid})
		}
	}
	for _, id := range []codec.ID{codec.HelloOK, codec.SubscribeOK, codec.Deliver, codec.GoodbyeOK, codec.Invalid} {
		rows = append(rows, row{true, id, actInvalid})
	}
	for _, r := range rows {
		if got := nextAction(r.session, r.id); got != r.want {
			t.Errorf("nextAction(session=%v, %s) = %d, want %d", r.session, r.id, got, r.want)
		}
	}
}

func TestLivenessMachine(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	l := liveness{interval: 2 * time.Second, timeout: 15 * time.Second}
	steps := []struct {
		now, recv, sent time.Duration
		session         bool
		want            beat
		sessionless     time.Duration // when it last had a session (no-session rows)
	}{
		{1 * time.Second, 0, 0, true, beatNone, 0},                                     // all fresh
		{2 * time.Second, 0, 0, true, beatPing, 0},                                     // quiet both ways
		{3 * time.Second, 0, 2 * time.Second, true, beatNone, 0},                       // pinged 1 s ago
		{4 * time.Second, 0, 2 * time.Second, true, beatPing, 0},                       // still silent: ping again
		{5 * time.Second, 4500 * time.Millisecond, 4 * time.Second, true, beatNone, 0}, // PING-OK arrived
		{9 * time.Second, 9 * time.Second, 8 * time.Second, true, beatNone, 0},         // busy subscriber answered
		{11 * time.Second, 9 * time.Second, 11 * time.Second, true, beatNone, 0},       // deliveries flow, inbound quiet 2 s: no ping
		{17 * time.Second, 9 * time.Second, 17 * time.Second, true, beatPing, 0},       // inbound quiet 8 s (past timeout/2): ping
		{24 * time.Second, 9 * time.Second, 23 * time.Second, true, beatExpire, 0},     // 15 s of silence
		{20 * time.Second, 0, 0, false, beatExpire, 0},                                 // never said HELLO
		{10 * time.Second, 0, 0, false, beatNone, 0},                                   // no session: never pinged
		{16 * time.Second, 16 * time.Second, 0, false, beatExpire, 0},                  // no HELLO for a timeout, however chatty
		{16 * time.Second, 16 * time.Second, 0, false, beatNone, 2 * time.Second},      // session ended 14 s ago
	}
	for i, s := range steps {
		if got := l.tick(at(s.now), at(s.recv), at(s.sent), at(s.sessionless), s.session, 0); got != s.want {
			t.Fatalf("step %d: got %d want %d", i, got, s.want)
		}
	}
}

// TestLivenessDeclaredHeartbeat: a session that declared a 60 s heartbeat
// in HELLO is pinged after 60 s of silence, not 2 s, and expires 60 s
// later than the broker's timeout.
func TestLivenessDeclaredHeartbeat(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	l := liveness{interval: 2 * time.Second, timeout: 15 * time.Second}
	const hb = 60 * time.Second
	steps := []struct {
		now, recv, sent time.Duration
		want            beat
	}{
		{30 * time.Second, 0, 0, beatNone},                                           // idle 30 s: nothing
		{60 * time.Second, 0, 0, beatPing},                                           // idle a heartbeat: ping
		{61 * time.Second, 60500 * time.Millisecond, 60 * time.Second, beatNone},     // answered
		{119 * time.Second, 60500 * time.Millisecond, 119 * time.Second, beatNone},   // receiving, inbound quiet 58.5 s
		{130 * time.Second, 60500 * time.Millisecond, 129 * time.Second, beatPing},   // inbound quiet 69.5 s ≥ 75 - 7.5
		{136 * time.Second, 60500 * time.Millisecond, 135 * time.Second, beatExpire}, // 75 s of silence
	}
	for i, s := range steps {
		if got := l.tick(at(s.now), at(s.recv), at(s.sent), t0, true, hb); got != s.want {
			t.Fatalf("step %d: got %d want %d", i, got, s.want)
		}
	}
	if got := declaredHeartbeat(codec.RawHeaders(mustRaw(t, codec.Headers{codec.HdrHeartbeat: "60000"})), 2*time.Second); got != hb {
		t.Fatalf("declared %v", got)
	}
	if got := declaredHeartbeat(codec.RawHeaders(mustRaw(t, codec.Headers{codec.HdrHeartbeat: "10"})), 2*time.Second); got != 2*time.Second {
		t.Fatalf("declared 10 ms: %v, want the broker's 2 s", got)
	}
	if got := declaredHeartbeat(codec.RawHeaders(mustRaw(t, codec.Headers{codec.HdrHeartbeat: "soon"})), 2*time.Second); got != 0 {
		t.Fatalf("malformed: %v", got)
	}
}

func mustRaw(t *testing.T, h codec.Headers) []byte {
	t.Helper()
	b, err := codec.AppendHeaders(nil, h)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
