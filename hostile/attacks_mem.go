package main

import (
	"context"
	"fmt"
	"time"

	"github.com/zccp-go/zccp/internal/rawpeer"
)

// Attacks on memory (issue 11 items 1, 2, 4).

// greeting is a ZMTP 3.1 NULL greeting written out byte by byte.
var greeting = func() []byte {
	g := []byte{0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 1}
	g = append(g, "NULL"...)
	g = append(g, make([]byte, 16)...)
	g = append(g, 0)
	return append(g, make([]byte, 31)...)
}()

// bigFrames: 150 connections announce a 4 MiB command frame during the
// handshake, 150 complete it and announce a 4 MiB message frame; all hold.
func bigFrames(ctx context.Context, e *env) (string, error) {
	var peers []*rawpeer.Peer
	var raws []interface{ Close() error }
	defer func() { closeAll(peers); closeAll(raws) }()
	for range 150 {
		c, err := dial(ctx, e.addr, "", 0)
		if err != nil {
			return "", err
		}
		raws = append(raws, c)
		c.Write(greeting)
		c.Write([]byte{0x06, 0, 0, 0, 0, 0, 0x3F, 0xFF, 0x9C})
	}
	for range 150 {
		c, err := dial(ctx, e.addr, "", 0)
		if err != nil {
			return "", err
		}
		p, err := rawpeer.New(ctx, c)
		if err != nil {
			return "", err
		}
		peers = append(peers, p)
		p.Write([]byte{0x02, 0, 0, 0, 0, 0, 0x40, 0, 0})
	}
	hold(ctx, e.dur)
	return "300 connections announced 4 MiB frames (1.2 GB if allocated), 22 KB sent", nil
}

// cacheLeak: waves of 20 subscribers, each with a literal subscription
// and 3 MiB queued that it never reads, then gone; their addresses stay
// in the match cache.
func cacheLeak(ctx context.Context, e *env) (string, error) {
	pub, err := session(ctx, e.addr, "", 0, "leak-pub")
	if err != nil {
		return "", err
	}
	defer pub.Close()
	body := make([]byte, 1<<20)
	const waves, per = 4, 20
	for w := range waves {
		var subs []*rawpeer.Peer
		for i := range per {
			s, err := session(ctx, e.addr, "", 4096, fmt.Sprintf("leak-%d-%d", w, i))
			if err != nil {
				closeAll(subs)
				return "", err
			}
			subs = append(subs, s)
			if err := s.Subscribe(ctx, fmt.Sprintf(`^leak\.%d\.%d$`, w, i)); err != nil {
				closeAll(subs)
				return "", err
			}
		}
		for i := range per {
			for range 3 {
				pub.Publish(fmt.Sprintf("leak.%d.%d", w, i), nil, body)
			}
		}
		hold(ctx, e.dur/waves)
		closeAll(subs)
	}
	return fmt.Sprintf("%d waves of %d sessions with 3 MiB queued each, then gone (none of their addresses published again)", waves, per), nil
}

// labels: 20 sessions with labels just under the 4 KiB bound, all NULs
// (6 bytes each in JSON), one with a 64 KiB label (over the bound, under
// the message size), and clients calls.
func labels(ctx context.Context, e *env) (string, error) {
	var peers []*rawpeer.Peer
	defer func() { closeAll(peers) }()
	label := rawpeer.Header{Name: "blob", Value: string(make([]byte, 4000))}
	for i := range 20 {
		p, err := session(ctx, e.addr, "", 0, fmt.Sprintf("label-%d", i), label)
		if err != nil {
			return "", err
		}
		peers = append(peers, p)
	}
	big, err := dial(ctx, e.addr, "", 0)
	if err != nil {
		return "", err
	}
	bp, err := rawpeer.New(ctx, big)
	if err != nil {
		return "", err
	}
	peers = append(peers, bp)
	bp.Send(rawpeer.Frame1(rawpeer.Hello, []string{"huge"}, true, []rawpeer.Header{{Name: "blob", Value: string(make([]byte, 64<<10))}}))
	bigAnswer := "no answer"
	if m, err := nextWithin(bp, 5*time.Second); err == nil {
		bigAnswer, _ = m.Header("zccp-error")
	}
	asker, err := session(ctx, e.addr, "", 0, "asker")
	if err != nil {
		return "", err
	}
	peers = append(peers, asker)
	largest, truncated := 0, ""
	for i := range 5 {
		asker.Direct("$zccp", []rawpeer.Header{{Name: "zccp-request-id", Value: fmt.Sprint(i)}, {Name: "zccp-method", Value: "clients"}})
		for {
			m, err := nextWithin(asker, 10*time.Second)
			if err != nil {
				return "", fmt.Errorf("clients reply: %w", err)
			}
			if id, _ := m.Header("zccp-reply-to"); id == fmt.Sprint(i) {
				n := 0
				for _, c := range m.Content {
					n += len(c)
				}
				largest = max(largest, n)
				truncated, _ = m.Header("zccp-truncated")
				break
			}
		}
	}
	hold(ctx, e.dur/2)
	return fmt.Sprintf("64 KiB label: notice %q; clients reply %d KiB (zccp-truncated %q)", bigAnswer, largest>>10, truncated), nil
}

func nextWithin(p *rawpeer.Peer, d time.Duration) (*rawpeer.Message, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return p.NextContext(ctx)
}

// bigFanout: 60 subscribers that never read (small receive buffers) and
// four 4 MiB PUBLISHes to them (item 3): 16 MB in. Shared segments keep
// the broker near that; copies held ~1 GB.
func bigFanout(ctx context.Context, e *env) (string, error) {
	var subs []*rawpeer.Peer
	defer func() { closeAll(subs) }()
	for i := range 60 {
		s, err := session(ctx, e.addr, "", 4096, fmt.Sprintf("fan-%d", i))
		if err != nil {
			return "", err
		}
		subs = append(subs, s)
		if err := s.Subscribe(ctx, `^fan$`); err != nil {
			return "", err
		}
	}
	pub, err := session(ctx, e.addr, "", 0, "fan-pub")
	if err != nil {
		return "", err
	}
	defer pub.Close()
	body := make([]byte, 4<<20-4096) // under the default 4 MiB message size with frame 1
	for range 4 {
		if err := pub.Publish("fan", nil, body); err != nil {
			return "", err
		}
	}
	if err := pub.Subscribe(ctx, `^fan-sync$`); err != nil { // the broker has handled all four
		return "", err
	}
	hold(ctx, e.dur)
	return "60 non-reading subscribers, 4 × 4 MiB PUBLISHes (16 MB in)", nil
}
