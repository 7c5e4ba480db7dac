package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/zccp-go/zccp/internal/rawpeer"
)

// Attacks on CPU (issue 11 items 5, 7) and on the log (item 8).

// wildcards returns n distinct expressions that share only the prefix
// "dev." and need a regexp.
func wildcards(n int) []string {
	out := make([]string, n)
	for i := range out {
		var set strings.Builder
		for b := range 14 {
			if (i+1)&(1<<b) != 0 {
				set.WriteByte(byte('a' + b))
			}
		}
		out[i] = fmt.Sprintf(`^dev\.\d+[%s]`, set.String())
	}
	return out
}

// subscribeAll pipelines SUBSCRIBEs and waits for every SUBSCRIBE-OK; it
// returns how many came with a notice (refusals).
func subscribeAll(p *rawpeer.Peer, exprs []string) (int, error) {
	var buf []byte
	for _, x := range exprs {
		buf = rawpeer.AppendMessage(buf, rawpeer.Frame1(rawpeer.Subscribe, []string{x}, true, nil))
	}
	go p.Write(buf)
	oks, notices := 0, 0
	for oks < len(exprs) {
		m, err := nextWithin(p, 60*time.Second)
		if err != nil {
			return notices, err
		}
		switch m.ID {
		case rawpeer.SubscribeOK:
			oks++
		case rawpeer.Deliver:
			notices++
		}
	}
	return notices, nil
}

// regexThrash: one session with 10,000 wildcard expressions; 20
// publishes per second to ever new addresses under dev.
func regexThrash(ctx context.Context, e *env) (string, error) {
	sub, err := session(ctx, e.addr, "", 0, "wild")
	if err != nil {
		return "", err
	}
	defer sub.Close()
	if _, err := subscribeAll(sub, wildcards(10000)); err != nil {
		return "", err
	}
	pub, err := session(ctx, e.addr, "", 0, "wild-pub")
	if err != nil {
		return "", err
	}
	defer pub.Close()
	cpu0 := cpuTime(e.d.PID)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	n := 0
	for end := time.Now().Add(e.dur); time.Now().Before(end) && ctx.Err() == nil; n++ {
		<-t.C
		pub.Publish(fmt.Sprintf("dev.%dz", n), nil, []byte("x"))
	}
	pub.Publish("dev.0zz", nil) // a marker: the broker has handled the rest when
	used := cpuTime(e.d.PID) - cpu0
	return fmt.Sprintf("%d publishes to new addresses: %.1f ms broker CPU each", n, float64(used.Microseconds())/1000/float64(n)), nil
}

// subRefusals: a session at the 10,000-subscription limit sends 20,000
// more SUBSCRIBEs, each refused.
func subRefusals(ctx context.Context, e *env) (string, error) {
	p, err := session(ctx, e.addr, "", 0, "greedy")
	if err != nil {
		return "", err
	}
	defer p.Close()
	exprs := make([]string, 30000)
	for i := range exprs {
		exprs[i] = fmt.Sprintf(`^a\.%d$`, i)
	}
	if _, err := subscribeAll(p, exprs[:10000]); err != nil {
		return "", err
	}
	cpu0 := cpuTime(e.d.PID)
	refused, err := subscribeAll(p, exprs[10000:])
	if err != nil {
		return "", err
	}
	used := cpuTime(e.d.PID) - cpu0
	return fmt.Sprintf("%d refusals at the limit: %v broker CPU", refused, used), nil
}

// churn: connect, send a broken greeting, close, as fast as one loop can
// (at most 20,000 times); the log must stay short.
func churn(ctx context.Context, e *env) (string, error) {
	garbage := make([]byte, 64)
	n := 0
	for end := time.Now().Add(e.dur); time.Now().Before(end) && ctx.Err() == nil && n < 20000; n++ {
		c, err := dial(ctx, e.addr, "", 0)
		if err != nil {
			continue
		}
		c.Write(garbage)
		c.Close()
	}
	hold(ctx, time.Second)
	return fmt.Sprintf("%d failed handshakes: %d log lines", n, countLines(e, "connection refused")), nil
}

// cutReplies: 20 clients DIRECT 8 KiB to themselves and never read, so
// their queues overflow and the broker cuts them with commands still
// buffered.
func cutReplies(ctx context.Context, e *env) (string, error) {
	var peers []*rawpeer.Peer
	defer func() { closeAll(peers) }()
	body := make([]byte, 8<<10)
	for i := range 20 {
		id := fmt.Sprintf("self-%d", i)
		p, err := session(ctx, e.addr, "", 4096, id)
		if err != nil {
			return "", err
		}
		peers = append(peers, p)
		var burst []byte
		for range 2000 {
			burst = rawpeer.AppendDirect(burst, id, nil, body)
		}
		go p.Write(burst)
	}
	hold(ctx, e.dur)
	return fmt.Sprintf("20 clients cut: %d \"reply not queued\" lines", countLines(e, "reply not queued")), nil
}

func countLines(e *env, phrase string) int {
	n := 0
	for _, l := range strings.Split(e.d.Log(), "\n") {
		if strings.Contains(l, phrase) {
			n++
		}
	}
	return n
}
