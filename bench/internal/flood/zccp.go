package flood

import (
	"context"
	"time"

	"github.com/zccp-go/zccp/internal/rawpeer"
)

// ZCCP is a hand-framed ZCCP/1 peer (internal/rawpeer).
type ZCCP struct{ p *rawpeer.Peer }

// DialZCCP connects to zccpd at addr (host:port), says HELLO as id and
// subscribes to each expression.
func DialZCCP(ctx context.Context, addr, id string, bufSize int, hs []rawpeer.Header, exprs ...string) (*ZCCP, error) {
	p, err := rawpeer.DialBuffer(ctx, "tcp://"+addr, bufSize)
	if err != nil {
		return nil, err
	}
	if err := p.Hello(ctx, id, hs...); err != nil {
		p.Close()
		return nil, err
	}
	for _, e := range exprs {
		if err := p.Subscribe(ctx, e); err != nil {
			p.Close()
			return nil, err
		}
	}
	return &ZCCP{p}, nil
}

// Append implements Pub.
func (z *ZCCP) Append(dst []byte, subject string, payload []byte) []byte {
	return rawpeer.AppendPublish(dst, subject, nil, payload)
}

// Write implements Pub.
func (z *ZCCP) Write(b []byte) error { return z.p.Write(b) }

// Close implements Pub and Sub.
func (z *ZCCP) Close() error { return z.p.Close() }

// Run implements Sub.
func (z *ZCCP) Run(ctx context.Context, c *Counter) {
	stop := context.AfterFunc(ctx, func() { z.p.Conn().SetReadDeadline(time.Now()) })
	defer stop()
	for {
		m, err := z.p.Next()
		if err != nil {
			if ctx.Err() == nil {
				c.Err = err
			}
			return
		}
		if m.ID == rawpeer.Deliver {
			c.add(m.Missed())
			c.last.Store(time.Now().UnixNano())
		}
	}
}
