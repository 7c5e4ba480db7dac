package main

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/zccp-go/zccp/client"
	"github.com/zccp-go/zccp/internal/rawpeer"
)

// Attacks on descriptors and session slots (issue 11 item 9), from
// 127.0.0.2 so that the pair and the legitimate client (127.0.0.1) are
// another remote address.

const attacker = "127.0.0.2"

// connFlood: 2,100 idle connections from one address against a limit of
// 1,000 per address; a legitimate client must still connect.
func connFlood(ctx context.Context, e *env) (string, error) {
	var conns []net.Conn
	defer func() { closeAll(conns) }()
	for range 2100 {
		c, err := dial(ctx, e.addr, attacker, 0)
		if err != nil {
			break
		}
		conns = append(conns, c)
	}
	refused := 0
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		var b [1]byte
		if _, err := c.Read(b[:]); err != nil {
			if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
				refused++
			}
		}
	}
	legit := legitimate(ctx, e)
	hold(ctx, e.dur/2)
	return fmt.Sprintf("%d connections from %s, %d refused; legitimate client: %s; %d log lines",
		len(conns), attacker, refused, legit, countLines(e, "too many connections")), nil
}

// sessionFlood: 300 sessions from one address against a limit of 200.
func sessionFlood(ctx context.Context, e *env) (string, error) {
	var peers []*rawpeer.Peer
	defer func() { closeAll(peers) }()
	refused := 0
	for i := range 300 {
		c, err := dial(ctx, e.addr, attacker, 0)
		if err != nil {
			return "", err
		}
		p, err := rawpeer.New(ctx, c)
		if err != nil {
			return "", err
		}
		peers = append(peers, p)
		p.Send(rawpeer.Frame1(rawpeer.Hello, []string{fmt.Sprintf("flood-%d", i)}, true, nil))
		if m, err := nextWithin(p, 5*time.Second); err == nil && m.ID != rawpeer.HelloOK {
			refused++
		}
	}
	legit := legitimate(ctx, e)
	hold(ctx, e.dur/2)
	return fmt.Sprintf("300 HELLOs from %s, %d refused; legitimate client: %s; %d log lines",
		attacker, refused, legit, countLines(e, "too many sessions")), nil
}

// legitimate connects a Go client from 127.0.0.1 and says how it went.
func legitimate(ctx context.Context, e *env) string {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := client.Connect(cctx, "tcp://"+e.addr, client.WithIdentifier("legit"))
	if err != nil {
		return "FAILED (" + err.Error() + ")"
	}
	c.Close()
	return "connected"
}
