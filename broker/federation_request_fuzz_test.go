package broker

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/internal/rawpeer"
)

// FuzzFederatedRequest feeds what another broker may send about requests
// (InjectDirectFrom: requests, replies, cancels, $zccp error replies;
// HoldGroup and CommitGroup: group calls) to a broker with a declared
// device (a hand-framed peer that reads everything) and a requester. It
// must never panic, and held calls never outlive their commit.
func FuzzFederatedRequest(f *testing.F) {
	b, err := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		f.Fatal(err)
	}
	ep, err := b.Listen("tcp://127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var peers []*rawpeer.Peer
	for _, id := range []string{"dev", "ops"} {
		p, err := rawpeer.Dial(ctx, ep)
		if err != nil {
			f.Fatal(err)
		}
		if err := p.Hello(ctx, id, rawpeer.Header{Name: codec.HdrServes, Value: "1"}); err != nil {
			f.Fatal(err)
		}
		if err := p.Subscribe(ctx, "^g$"); err != nil {
			f.Fatal(err)
		}
		go func() { // drain
			for {
				if _, err := p.NextContext(ctx); err != nil {
					return
				}
			}
		}()
		peers = append(peers, p)
	}
	f.Cleanup(func() {
		cancel()
		for _, p := range peers {
			p.Close()
		}
		b.Close()
	})
	deliver := func(sender, address string, h codec.Headers) []byte {
		m := codec.Message{ID: codec.Deliver, Sender: sender, Address: address, Headers: h}
		frames, err := m.Frames()
		if err != nil {
			f.Fatal(err)
		}
		return frames[0]
	}
	f.Add(deliver("far", "dev", codec.Headers{codec.HdrRequestID: "1", codec.HdrTTL: "100"}), uint8(0))
	f.Add(deliver("far", "ops", codec.Headers{codec.HdrReplyTo: "1", codec.HdrStatus: "ok"}), uint8(0))
	f.Add(deliver("far", "dev", codec.Headers{codec.HdrCancelRequest: "1"}), uint8(0))
	f.Add(deliver("$zccp", "ops", codec.Headers{codec.HdrReplyTo: "1", codec.HdrStatus: "error", codec.HdrError: "expired", codec.HdrRecipient: "dev"}), uint8(0))
	f.Add(deliver("far", "g", codec.Headers{codec.HdrRequestID: "2", codec.HdrSelect: "zccp-serves=1"}), uint8(1))
	f.Add(deliver("far", "", codec.Headers{codec.HdrRequestID: "3", codec.HdrDryRun: "1"}), uint8(1))
	f.Add([]byte{0xAA, 0xAA, byte(codec.Deliver)}, uint8(1))
	f.Fuzz(func(t *testing.T, frame []byte, op uint8) {
		content := [][]byte{[]byte("x")}
		if op%2 == 0 {
			b.InjectDirectFrom("00000000000000aa", frame, content)
			return
		}
		names, err := b.HoldGroup("00000000000000aa", "c", frame, content)
		if err == nil {
			b.CommitGroup("00000000000000aa", "c", names)
		}
		b.fed.req.mu.Lock()
		held := len(b.fed.req.held)
		b.fed.req.mu.Unlock()
		if held != 0 {
			t.Fatalf("%d calls still held after the commit", held)
		}
	})
}
