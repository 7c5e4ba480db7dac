package cluster

import (
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/internal/rawpeer"
)

// forged is a hand-encoded forwarded notification (the layout of
// federation/wire.go, written here independently): version 1, origin,
// seq, frame count, length-prefixed frames.
func forged(origin [8]byte, seq uint64, address string, content string) []byte {
	deliver := codec.AppendDeliver(nil, []byte("pub-x"), []byte(address), nil, nil)
	b := []byte{1}
	b = append(b, origin[:]...)
	b = binary.BigEndian.AppendUint64(b, seq)
	b = binary.BigEndian.AppendUint32(b, 2)
	b = binary.BigEndian.AppendUint32(b, uint32(len(deliver)))
	b = append(b, deliver...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(content)))
	return append(b, content...)
}

// nextDeliver reads up to the next DELIVER.
func nextDeliver(t *testing.T, ctx context.Context, p *rawpeer.Peer) *rawpeer.Message {
	t.Helper()
	for {
		m, err := p.NextContext(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if m.ID == rawpeer.Deliver {
			return m
		}
	}
}

// Notifications a remote broker forwarded that never arrived (a gap in
// its sequence numbers, here made by a hand-written NATS publisher that
// skips numbers) are told to every local subscriber that stream has
// delivered to, as zccp-missed on its next delivery — the one that
// follows the gap, or a later one from any publisher — and to no session
// the stream never reached; losses before a stream reached anyone go to
// the sessions its first delivered message reaches.
func TestGapToldToSubscribers(t *testing.T) {
	t.Parallel() // own NATS cluster and brokers
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nodes := natsCluster(t)
	b := startMember(t, nodes[1].ClientURL(), "B")
	rack := peer(t, ctx, b.ep, "sub-rack")
	other := peer(t, ctx, b.ep, "sub-other")
	never := peer(t, ctx, b.ep, "sub-never")
	for p, e := range map[*rawpeer.Peer]string{rack: `^rack\.`, other: `^other\.`, never: `^local\.`} {
		if err := p.Subscribe(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	nc, err := nats.Connect(nodes[0].ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	origin := [8]byte{1, 2, 3, 4, 5, 6, 7, 8}
	subject := "zccp.fed.deliver." + b.node.ID()
	send := func(seq uint64, address, content string) {
		t.Helper()
		if err := nc.Publish(subject, forged(origin, seq, address, content)); err != nil {
			t.Fatal(err)
		}
	}
	send(1, "rack.1", "one")
	send(2, "other.1", "two")
	if m := nextDeliver(t, ctx, rack); string(m.Content[0]) != "one" || m.Missed() != 0 {
		t.Fatalf("rack: %q missed %d", m.Content[0], m.Missed())
	}
	if m := nextDeliver(t, ctx, other); string(m.Content[0]) != "two" || m.Missed() != 0 {
		t.Fatalf("other: %q missed %d", m.Content[0], m.Missed())
	}
	send(5, "rack.2", "five") // 3 and 4 never arrive
	if m := nextDeliver(t, ctx, rack); string(m.Content[0]) != "five" || m.Missed() != 2 {
		t.Fatalf("rack after the gap: %q missed %d, want five and 2", m.Content[0], m.Missed())
	}
	// sub-other is owed the 2 as well: its next delivery, from a local
	// publisher, carries them; sub-never's does not.
	pub := peer(t, ctx, b.ep, "pub-b")
	if err := pub.Publish("other.2", nil, []byte("local")); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish("local.1", nil, []byte("local")); err != nil {
		t.Fatal(err)
	}
	if m := nextDeliver(t, ctx, other); string(m.Content[0]) != "local" || m.Missed() != 2 {
		t.Fatalf("other after the gap: %q missed %d, want 2", m.Content[0], m.Missed())
	}
	if m := nextDeliver(t, ctx, never); m.Missed() != 0 {
		t.Fatalf("a session the stream never reached was told of %d missed", m.Missed())
	}
	if st := b.node.Stats(); st.Gaps != 2 || st.Told != 2 {
		t.Fatalf("B: %+v, want 2 gaps told to 2 sessions", st)
	}
	// A new origin whose first 4 messages are lost: nobody had been
	// reached yet, so the sessions its first delivered message reaches
	// are told.
	origin[0] = 9
	send(5, "rack.3", "first seen")
	if m := nextDeliver(t, ctx, rack); string(m.Content[0]) != "first seen" || m.Missed() != 4 {
		t.Fatalf("rack, new origin: %q missed %d, want 4", m.Content[0], m.Missed())
	}
}
