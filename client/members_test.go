package client_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zccp-go/zccp/broker"
	"github.com/zccp-go/zccp/client"
	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/internal/rawpeer"
)

// rawDial connects a hand-framed peer (internal/rawpeer: not this
// library) and says HELLO.
func rawDial(t *testing.T, ep, ident string, hs ...rawpeer.Header) *rawpeer.Peer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := rawpeer.Dial(ctx, ep)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	if err := p.Hello(ctx, ident, hs...); err != nil {
		t.Fatal(err)
	}
	return p
}

// rawDeliver reads until a DELIVER and returns the named headers and its
// content (copied).
func rawDeliver(t *testing.T, p *rawpeer.Peer, names ...string) (map[string]string, []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		m, err := p.NextContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.ID != rawpeer.Deliver {
			continue
		}
		h := map[string]string{"sender": string(m.Sender), "address": string(m.Address)}
		for _, n := range names {
			if v, ok := m.Header(n); ok {
				h[n] = v
			}
		}
		var content []string
		for _, f := range m.Content {
			content = append(content, string(f))
		}
		return h, content
	}
}

// TestGroupMembersAreDeclared: only sessions that declared at HELLO that
// they serve requests are group recipients. A tap (`.` through this
// library, no handler), a hand-framed subscriber and a hand-framed client
// behaving like the original API (labels, subscription to the group's
// address) are present and never listed.
func TestGroupMembersAreDeclared(t *testing.T) {
	_, eps := startBroker(t, broker.Config{})
	ctx := context.Background()
	ok := func(context.Context, *client.Request) (*client.Reply, error) { return nil, nil }
	for _, id := range []string{"pdu-1", "pdu-2"} {
		d := connect(t, eps[0], client.WithIdentifier(id), client.WithLabels(map[string]string{"kind": "pdu"}),
			client.WithHandler("status", ok))
		if _, err := d.Subscribe(ctx, "^pdus$", func(*client.Delivery) {}); err != nil {
			t.Fatal(err)
		}
	}
	tap := connect(t, eps[1], client.WithIdentifier("tap"), client.WithLabels(map[string]string{"kind": "pdu"}))
	if _, err := tap.Subscribe(ctx, ".", func(*client.Delivery) {}); err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	rawSub := rawDial(t, eps[0], "rawsub")
	orig := rawDial(t, eps[1], "orig", rawpeer.Header{Name: "kind", Value: "pdu"})
	for _, p := range []*rawpeer.Peer{rawSub, orig} {
		if err := p.Subscribe(sctx, "pdus"); err != nil {
			t.Fatal(err)
		}
	}

	app := connect(t, eps[0], client.WithIdentifier("app"))
	for _, g := range []client.Group{{Address: "pdus"}, {Labels: map[string]string{"kind": "pdu"}}} {
		call, err := app.DoGroup(sctx, g, client.Call{Method: "status", Timeout: 3 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		s := call.Wait()
		slices.Sort(s.OK)
		if !slices.Equal(sortedCopy(s.Expected), []string{"pdu-1", "pdu-2"}) || !slices.Equal(s.OK, []string{"pdu-1", "pdu-2"}) ||
			len(s.Failed) != 0 || len(s.Missing) != 0 {
			t.Fatalf("group %+v: summary %+v, want exactly pdu-1 and pdu-2, both ok", g, s)
		}
	}
	// The broker's records say who serves.
	list, err := app.Clients(sctx, map[string]string{"kind": "pdu"})
	if err != nil {
		t.Fatal(err)
	}
	for _, ci := range list {
		want := ci.Identifier == "pdu-1" || ci.Identifier == "pdu-2"
		if ci.Serves != want || ci.Labels[codec.HdrServes] != "" {
			t.Fatalf("client %s: serves %v labels %v", ci.Identifier, ci.Serves, ci.Labels)
		}
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// TestRetryAfterLibraryRefusalRuns: an answer the application did not
// give (no-such-method from the library) is not kept for retries, so the
// same request id tried again once the handler exists runs it.
func TestRetryAfterLibraryRefusalRuns(t *testing.T) {
	_, eps := startBroker(t, broker.Config{})
	dev := connect(t, eps[0], client.WithIdentifier("dev"),
		client.WithHandler("a", func(context.Context, *client.Request) (*client.Reply, error) { return nil, nil }))
	req := rawDial(t, eps[1], "req")
	ask := func() map[string]string {
		t.Helper()
		if err := req.Direct("dev", []rawpeer.Header{{Name: codec.HdrRequestID, Value: "r1"}, {Name: codec.HdrMethod, Value: "b"}}); err != nil {
			t.Fatal(err)
		}
		h, _ := rawDeliver(t, req, codec.HdrReplyTo, codec.HdrStatus, codec.HdrError)
		if h[codec.HdrReplyTo] != "r1" {
			t.Fatalf("reply %v", h)
		}
		return h
	}
	if h := ask(); h[codec.HdrStatus] != codec.StatusError || h[codec.HdrError] != codec.ErrCodeNoSuchMethod {
		t.Fatalf("first try: %v, want no-such-method", h)
	}
	var runs atomic.Int32
	dev.Handle("b", func(context.Context, *client.Request) (*client.Reply, error) {
		runs.Add(1)
		return &client.Reply{Content: [][]byte{[]byte("ran")}}, nil
	})
	if h := ask(); h[codec.HdrStatus] != codec.StatusOK {
		t.Fatalf("retry after the handler was registered: %v, want ok (the refusal must not be replayed)", h)
	}
	// An answer the application gave is replayed: the handler runs once.
	if h := ask(); h[codec.HdrStatus] != codec.StatusOK || runs.Load() != 1 {
		t.Fatalf("second retry: %v, handler ran %d times, want once", h, runs.Load())
	}
}
