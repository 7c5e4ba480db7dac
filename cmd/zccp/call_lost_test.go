package main

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/internal/rawpeer"
)

// TestGroupCallLostConnection (issue 11 item 12): when the broker
// connection drops after the receipt, `zccp call --group` says the
// connection was lost and exits 3, as a single call does — not
// "timed-out", exit 5. The broker is a hand-framed fake that sends the
// receipt and then hangs up.
func TestGroupCallLostConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	served := make(chan struct{})
	go func() {
		defer close(served)
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p, err := rawpeer.New(ctx, nc)
		if err != nil {
			return
		}
		for {
			frames, err := p.ReadMessage()
			if err != nil {
				return
			}
			v, err := codec.Parse(frames[0])
			if err != nil {
				return
			}
			switch v.ID {
			case codec.Hello:
				p.Send(rawpeer.Frame1(rawpeer.HelloOK, nil, true, []rawpeer.Header{{Name: codec.HdrExtensions, Value: "notices,direct,requests"}}))
			case codec.Publish:
				id, _ := v.Headers.Get(codec.HdrRequestID)
				receipt := rawpeer.Frame1(rawpeer.Deliver, []string{codec.NoticeSender, codec.AddrReceipt}, true, []rawpeer.Header{
					{Name: codec.HdrReplyTo, Value: string(id)}, {Name: codec.HdrStatus, Value: codec.StatusOK}, {Name: codec.HdrRecipients, Value: "2"}})
				p.Send(receipt, []byte("d1"), []byte("d2"))
				return // hang up
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	code, out, errs := zccp(ctx, "tcp://"+ln.Addr().String(), "", "call", "--timeout", "10s", "--group", "g", "status")
	<-served
	if code != exitUnreachable || !strings.Contains(errs, "connection") || !strings.Contains(errs, "lost") || strings.Contains(out, "timed-out") {
		t.Fatalf("exit %d, stdout %q, stderr %q; want exit 3 saying the connection was lost", code, out, errs)
	}
	if !strings.Contains(out, "d1 unknown") || !strings.Contains(out, "unknown 2") {
		t.Fatalf("stdout %q: want each device unknown and the count", out)
	}
}
