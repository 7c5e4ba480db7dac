package main

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/zmtp"
)

// rawConn is a bare ZCCP client on a ZMTP connection, read synchronously.
type rawConn struct {
	nc net.Conn
	c  *zmtp.Conn
}

func rawDial(ep string) (*rawConn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	nc, err := zmtp.Dial(ctx, ep)
	if err != nil {
		return nil, err
	}
	c, err := zmtp.Handshake(nc, zmtp.Options{Type: zmtp.TypeDealer, HandshakeTimeout: 5 * time.Second})
	if err != nil {
		return nil, err
	}
	return &rawConn{nc: nc, c: c}, nil
}

func (r *rawConn) close() { r.c.Close() }

func (r *rawConn) send(m codec.Message) error {
	f, err := m.Frames()
	if err != nil {
		return err
	}
	return r.c.Send(f...)
}

// expect reads until a message with id arrives (within 5 s).
func (r *rawConn) expect(id codec.ID) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		r.nc.SetReadDeadline(deadline)
		frames, err := r.c.ReadMessage()
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", id, err)
		}
		m, err := codec.Decode(frames)
		if err != nil {
			return fmt.Errorf("undecodable message from the broker: %w", err)
		}
		if m.ID == id {
			return nil
		}
	}
}

func (r *rawConn) hello(ident string) error {
	if err := r.send(codec.Message{ID: codec.Hello, Identifier: ident}); err != nil {
		return err
	}
	return r.expect(codec.HelloOK)
}

func (r *rawConn) subscribe(expr string) error {
	if err := r.send(codec.Message{ID: codec.Subscribe, Expression: expr}); err != nil {
		return err
	}
	return r.expect(codec.SubscribeOK)
}

// missedWithin reads for d and returns how many messages it read and the
// sum of the zccp-missed headers seen.
func (r *rawConn) missedWithin(d time.Duration) (msgs int, n int64) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		r.nc.SetReadDeadline(deadline)
		frames, err := r.c.ReadMessage()
		if err != nil {
			break
		}
		msgs++
		if m, err := codec.Decode(frames); err == nil {
			v, _ := strconv.ParseInt(m.Headers[codec.HdrMissed], 10, 64)
			n += v
		}
	}
	return msgs, n
}

// drainFor reads and discards for d.
func (r *rawConn) drainFor(d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		r.nc.SetReadDeadline(deadline)
		if _, err := r.c.ReadMessage(); err != nil {
			return
		}
	}
}
