package main

import (
	"context"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zccp-go/zccp/internal/rawpeer"
)

// originalBroker is a hand-framed stand-in for the original zccpd: it
// answers HELLO with a HELLO-OK without any extension property,
// SUBSCRIBE with SUBSCRIBE-OK, GOODBYE with GOODBYE-OK, a client PING
// with INVALID, and drops PUBLISH and DIRECT, as that broker does with
// DIRECT (it counts them).
type originalBroker struct {
	ln      net.Listener
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   []net.Conn
	directs atomic.Int64
}

func startOriginalBroker(t *testing.T) (*originalBroker, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &originalBroker{ln: ln}
	o.wg.Add(1)
	go o.accept()
	t.Cleanup(func() {
		ln.Close()
		o.mu.Lock()
		for _, c := range o.conns {
			c.Close()
		}
		o.mu.Unlock()
		o.wg.Wait()
	})
	return o, "tcp://" + ln.Addr().String()
}

func (o *originalBroker) accept() {
	defer o.wg.Done()
	for {
		nc, err := o.ln.Accept()
		if err != nil {
			return
		}
		o.mu.Lock()
		o.conns = append(o.conns, nc)
		o.mu.Unlock()
		o.wg.Add(1)
		go o.serve(nc)
	}
}

func (o *originalBroker) serve(nc net.Conn) {
	defer o.wg.Done()
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	p, err := rawpeer.New(ctx, nc)
	cancel()
	if err != nil {
		return
	}
	for {
		frames, err := p.ReadMessage()
		if err != nil {
			return
		}
		if len(frames[0]) < 3 {
			return
		}
		var reply []byte
		switch frames[0][2] {
		case rawpeer.Hello:
			reply = rawpeer.Frame1(rawpeer.HelloOK, nil, true, nil)
		case rawpeer.Subscribe:
			reply = rawpeer.Frame1(rawpeer.SubscribeOK, nil, false, nil)
		case rawpeer.Goodbye:
			reply = rawpeer.Frame1(rawpeer.GoodbyeOK, nil, true, nil)
		case rawpeer.Ping:
			reply = rawpeer.Frame1(rawpeer.Invalid, nil, false, nil)
		case rawpeer.Direct:
			o.directs.Add(1)
		}
		if reply != nil && p.Send(reply) != nil {
			return
		}
	}
}

// TestOriginalBrokerFailsFast: against a broker without the extensions,
// the commands that need them say so at once and exit 7, instead of
// exiting 0 (send), waiting out the timeout (call) or claiming to serve
// (device); pub, which the original broker supports, still works.
func TestOriginalBrokerFailsFast(t *testing.T) {
	o, ep := startOriginalBroker(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, args := range [][]string{
		{"send", "dev", "x"},
		{"call", "--timeout", "1h", "dev", "status"},
		{"call", "--timeout", "1h", "--group", "pdus", "status"},
		{"device", "--id", "dev", "--", "cat"},
	} {
		code, out, errs := zccp(ctx, ep, "", args...)
		if code != exitUnsupported || !strings.Contains(errs, "original") || strings.Contains(errs, "ready") {
			t.Errorf("zccp %s: exit %d, stdout %q, stderr %q; want exit %d and a clear message",
				strings.Join(args, " "), code, out, errs, exitUnsupported)
		}
	}
	if n := o.directs.Load(); n != 0 {
		t.Errorf("%d DIRECTs reached the original broker, which drops them", n)
	}
	if code, _, errs := zccp(ctx, ep, "", "pub", "a.b", "x"); code != exitOK {
		t.Errorf("pub: exit %d, stderr %q", code, errs)
	}
}
