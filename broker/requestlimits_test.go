package broker

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/internal/rawpeer"
)

// TestRequestsThatCannotBeAnsweredAreBounded (issue 11 item 10), with
// hand-framed peers: a session without an identifier may not make
// requests (its replies could never be routed), a TTL beyond MaxTTL is
// refused, and one requester cannot take all of a device's in-flight
// slots.
func TestRequestsThatCannotBeAnsweredAreBounded(t *testing.T) {
	_, eps := startBroker(t, Config{MaxInflight: 10, MaxInflightPerRequester: 3, MaxTTL: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dial := func(id string) *rawpeer.Peer {
		t.Helper()
		p, err := rawpeer.Dial(ctx, eps[0])
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		if err := p.Hello(ctx, id, rawpeer.Header{Name: codec.HdrServes, Value: "1"}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// reply reads the broker's answer to request id: "" when it is a
	// receipt, else the error code.
	reply := func(p *rawpeer.Peer, id string) string {
		t.Helper()
		for {
			m, err := p.NextContext(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rt, _ := m.Header(codec.HdrReplyTo); m.ID == rawpeer.Deliver && rt == id {
				code, _ := m.Header(codec.HdrError)
				return code
			}
		}
	}
	req := func(id string, more ...rawpeer.Header) []rawpeer.Header {
		return append([]rawpeer.Header{{Name: codec.HdrRequestID, Value: id}, {Name: codec.HdrMethod, Value: "m"}}, more...)
	}
	dev := dial("dev") // never answers
	if err := dev.Subscribe(ctx, "^grp$"); err != nil {
		t.Fatal(err)
	}

	anon := dial("")
	anon.Direct("dev", req("a1"))
	if code := reply(anon, "a1"); code != codec.ErrCodeBadRequest {
		t.Fatalf("anonymous DIRECT request: %q, want bad-request", code)
	}
	anon.Publish("grp", req("a2"))
	if code := reply(anon, "a2"); code != codec.ErrCodeBadRequest {
		t.Fatalf("anonymous group request: %q, want bad-request (no receipt)", code)
	}

	a := dial("a")
	a.Direct("dev", req("t1", rawpeer.Header{Name: codec.HdrTTL, Value: "9999999999"}))
	if code := reply(a, "t1"); code != codec.ErrCodeBadRequest {
		t.Fatalf("TTL past MaxTTL: %q, want bad-request", code)
	}
	// Per requester at one device: 3, then too-many-requests; another
	// requester still gets its own 3.
	for i := 0; i < 4; i++ {
		id := "x" + strconv.Itoa(i)
		a.Direct("dev", req(id, rawpeer.Header{Name: codec.HdrTTL, Value: "50000"}))
		if i == 3 {
			if code := reply(a, id); code != codec.ErrCodeTooManyRequests {
				t.Fatalf("4th request of one requester: %q, want too-many-requests", code)
			}
		}
	}
	b := dial("b")
	for i := 0; i < 3; i++ {
		b.Direct("dev", req("y"+strconv.Itoa(i)))
	}
	b.Publish("grp", req("g")) // a group request counts at the device too: B's 4th
	if code := reply(b, "g"); code != "" {
		t.Fatalf("group receipt: %q", code)
	}
	if code := reply(b, "g"); code != codec.ErrCodeTooManyRequests {
		t.Fatalf("B's 4th request (by group): %q, want too-many-requests", code)
	}
	// The device got exactly the 6 admitted commands, none of the refused ones.
	got := map[string]bool{}
	for len(got) < 6 {
		m, err := dev.NextContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if id, ok := m.Header(codec.HdrRequestID); ok && m.ID == rawpeer.Deliver {
			got[string(m.Sender)+"/"+id] = true
		}
	}
	for _, k := range []string{"a/x0", "a/x1", "a/x2", "b/y0", "b/y1", "b/y2"} {
		if !got[k] {
			t.Fatalf("device got %v, want %s among them", got, k)
		}
	}
}
