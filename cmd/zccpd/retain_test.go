package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/zccp-go/zccp/internal/rawpeer"
	"github.com/zccp-go/zccp/internal/testutil"
)

func rawHello(t *testing.T, ctx context.Context, ep, ident string) *rawpeer.Peer {
	t.Helper()
	p, err := rawpeer.Dial(ctx, ep)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.Hello(ctx, ident); err != nil {
		t.Fatal(err)
	}
	return p
}

type retainStats struct {
	Retain struct{ Values, Pending int }
}

func retainOf(t *testing.T, addr string) retainStats {
	_, body := get(t, "http://"+addr+"/api/stats")
	var s retainStats
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("/api/stats: %v %q", err, body)
	}
	return s
}

// readLast subscribes with zccp-last and returns the retained values it
// gets first (address → content), stopping at a live marker it publishes
// itself through another peer.
func readLast(t *testing.T, ctx context.Context, ep, expr string) map[string]string {
	t.Helper()
	sub := rawHello(t, ctx, ep, "reader")
	if err := sub.Subscribe(ctx, expr, rawpeer.Header{Name: "zccp-last", Value: "1"}); err != nil {
		t.Fatal(err)
	}
	marker := rawHello(t, ctx, ep, "marker")
	marker.Publish("outlet.zzz-end", nil, []byte("end"))
	got := map[string]string{}
	for {
		m, err := sub.NextContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.ID != rawpeer.Deliver {
			continue
		}
		if string(m.Address) == "outlet.zzz-end" {
			return got
		}
		if r, _ := m.Header("zccp-retained"); r != "1" {
			t.Fatalf("%s arrived unmarked before the live marker", m.Address)
		}
		got[string(m.Address)] = string(m.Content[0])
	}
}

// Last values survive kill -9 of zccpd: once written (one group commit
// after the PUBLISH) they are all there after a restart, and a kill in
// the middle of a stream of retained publishes leaves a store that opens
// with whole values only.
func TestLastValuesSurviveKill9(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	d := startDaemon(t, "--data-dir", dir, "--http-addr", "127.0.0.1:0")
	addr := httpAddrOf(t, d)
	pub := rawHello(t, ctx, d.Endpoint("tcp"), "pdu-1")
	const n = 300
	for i := range n {
		pub.Publish(fmt.Sprintf("outlet.%04d", i), []rawpeer.Header{{Name: "zccp-retain", Value: "1"}}, []byte(fmt.Sprint("watts-", i)))
	}
	testutil.Eventually(t, "all written", func() bool { s := retainOf(t, addr); return s.Retain.Values == n && s.Retain.Pending == 0 })
	d.Kill()

	d = startDaemon(t, "--data-dir", dir)
	got := readLast(t, ctx, d.Endpoint("tcp"), `^outlet\.`)
	if len(got) != n {
		t.Fatalf("after kill -9: %d of %d last values", len(got), n)
	}
	for i := range n {
		if v := got[fmt.Sprintf("outlet.%04d", i)]; v != fmt.Sprint("watts-", i) {
			t.Fatalf("outlet %d: %q", i, v)
		}
	}

	// Kill it while retained publishes stream in.
	pub = rawHello(t, ctx, d.Endpoint("tcp"), "pdu-2")
	go func() {
		for i := 0; ctx.Err() == nil; i++ {
			if pub.Publish(fmt.Sprintf("outlet.%04d", i%2000), []rawpeer.Header{{Name: "zccp-retain", Value: "1"}}, []byte(fmt.Sprint("watts-", i%2000))) != nil {
				return
			}
		}
	}()
	time.Sleep(300 * time.Millisecond) // let the stream run: the kill lands mid-stream (not a synchronisation)
	d.Kill()
	d = startDaemon(t, "--data-dir", dir)
	got = readLast(t, ctx, d.Endpoint("tcp"), `^outlet\.`)
	if len(got) < n {
		t.Fatalf("after the second kill: %d values, fewer than the %d written before", len(got), n)
	}
	for a, v := range got {
		if !strings.HasPrefix(v, "watts-") || strings.TrimPrefix(a, "outlet.") != fmt.Sprintf("%04s", strings.TrimPrefix(v, "watts-")) {
			t.Fatalf("torn value %s = %q", a, v)
		}
	}
	t.Logf("%d last values after a kill -9 mid-stream", len(got))
}
