package driver

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zccp-go/zccp/codec"
	"github.com/zccp-go/zccp/zmtp"
)

// ZCCPRaw drives zccpd with a minimal ZCCP/1 client written straight on
// zmtp.Dealer and codec, as NATS's own benchmark uses a thin client: it
// says HELLO, SUBSCRIBEs (pipelined), encodes each PUBLISH directly into
// the dealer's queue (waking the writer once per batch rather than once
// per message) and hands each DELIVER's content to the handler on the
// reader goroutine without decoding into a Message. It answers PING.
type ZCCPRaw struct{}

// Name implements Driver.
func (ZCCPRaw) Name() string { return "zccp-raw" }

// Subject implements Driver.
func (ZCCPRaw) Subject(parts ...string) string { return dotted(parts) }

// Exact implements Driver.
func (ZCCPRaw) Exact(parts ...string) string { return zccpExact(parts) }

// Prefix implements Driver.
func (ZCCPRaw) Prefix(parts ...string) string { return zccpPrefix(parts) }

// rawFlushEvery is how many PUBLISHes are queued between wake-ups of the
// dealer's writer (Flush and the gate wake it sooner).
const rawFlushEvery = 64

// Dial implements Driver.
func (ZCCPRaw) Dial(ctx context.Context, addr, id string) (Conn, error) {
	c := &rawConn{hello: make(chan struct{}), subOK: make(chan struct{}, 1)}
	hello, err := (&codec.Message{ID: codec.Hello, Identifier: id}).Frames()
	if err != nil {
		return nil, err
	}
	d, err := zmtp.NewDealer("tcp://"+addr, zmtp.DealerOptions{
		Options: zmtp.Options{
			Type:  zmtp.TypeDealer,
			Queue: zmtp.Limits{MaxMessages: zccpBufferMsgs, MaxBytes: zccpBufferBytes, Overflow: zmtp.OverflowReject},
		},
		ReconnectMin: 50 * time.Millisecond,
		ReconnectMax: time.Second,
		OnConnect:    func(conn *zmtp.Conn) error { return conn.SendFirst(hello...) },
		OnMessage:    c.onMessage,
	})
	if err != nil {
		return nil, err
	}
	c.d, c.out = d, d.Outbox() // before Start: onMessage uses them
	d.Start()
	select {
	case <-c.hello:
		return c, nil
	case <-ctx.Done():
		d.Close(0)
		return nil, fmt.Errorf("zccp-raw: no HELLO-OK from %s: %w", addr, ctx.Err())
	}
}

type rawConn struct {
	counters
	d         *zmtp.Dealer
	out       *zmtp.Outbox
	handler   atomic.Pointer[Handler]
	hello     chan struct{}
	helloOnce sync.Once
	oks       atomic.Int64  // SUBSCRIBE-OKs received
	subOK     chan struct{} // signalled at each SUBSCRIBE-OK
	notices   atomic.Uint64 // broker notices (errors) received
	lastErr   atomic.Value  // string: the last notice
	unflushed int           // publisher goroutine only
}

// onMessage runs on the dealer's reader goroutine.
func (c *rawConn) onMessage(frames [][]byte) {
	v, err := codec.Parse(frames[0])
	if err != nil {
		c.notices.Add(1)
		return
	}
	switch v.ID {
	case codec.Deliver:
		if string(v.Sender) == codec.NoticeSender {
			c.notices.Add(1)
			if r, ok := v.Headers.Get(codec.HdrError); ok {
				c.lastErr.Store(string(r))
			}
			return
		}
		var missed uint64
		if len(v.Headers) > 4 {
			if m, ok := v.Headers.Get(codec.HdrMissed); ok {
				missed, _ = strconv.ParseUint(string(m), 10, 64)
			}
		}
		var payload []byte
		if len(frames) > 1 {
			payload = frames[1]
		}
		if h := c.handler.Load(); h != nil {
			(*h)(payload, missed)
		}
	case codec.SubscribeOK:
		c.oks.Add(1)
		select {
		case c.subOK <- struct{}{}:
		default:
		}
	case codec.HelloOK:
		c.helloOnce.Do(func() { close(c.hello) })
	case codec.Ping:
		c.out.Send([][]byte{{0xAA, 0xAA, byte(codec.PingOK)}})
	case codec.Invalid:
		c.notices.Add(1)
		c.lastErr.Store("INVALID")
	}
}

// Subscribe implements Conn.
func (c *rawConn) Subscribe(ctx context.Context, patterns []string, h Handler) error {
	c.handler.Store(&h)
	want := c.oks.Load() + int64(len(patterns))
	for _, p := range patterns {
		f, err := (&codec.Message{ID: codec.Subscribe, Expression: p}).Frames()
		if err != nil {
			return err
		}
		for {
			err = c.d.Send(f...)
			if !errors.Is(err, zmtp.ErrQueueFull) {
				break
			}
			time.Sleep(time.Millisecond)
		}
		if err != nil {
			return err
		}
	}
	for c.oks.Load() < want {
		select {
		case <-c.subOK:
		case <-ctx.Done():
			return fmt.Errorf("zccp-raw: %d of %d SUBSCRIBE-OKs: %w", c.oks.Load()-want+int64(len(patterns)), len(patterns), ctx.Err())
		}
	}
	if n := c.notices.Load(); n > 0 {
		return fmt.Errorf("zccp-raw: broker notices while subscribing (last: %v)", c.lastErr.Load())
	}
	return nil
}

// Publish implements Conn.
func (c *rawConn) Publish(subject string, payload []byte) error {
	if len(subject) > codec.MaxString {
		return codec.ErrStringTooLong
	}
	cmd := 3 + 1 + len(subject) + 4 // signature, id, address, empty headers
	size := zmtp.FrameHeaderSize(cmd) + cmd + zmtp.FrameHeaderSize(len(payload)) + len(payload)
	for {
		_, err := c.out.Append(size, zmtp.Command, func(buf []byte) []byte {
			buf = zmtp.AppendFrameHeader(buf, cmd, true, false)
			buf = append(buf, 0xAA, 0xAA, byte(codec.Publish), byte(len(subject)))
			buf = append(buf, subject...)
			buf = append(buf, 0, 0, 0, 0)
			return zmtp.AppendFrame(buf, payload, false)
		})
		if errors.Is(err, zmtp.ErrQueueFull) {
			c.out.Flush()
			c.backoffs.Add(1)
			time.Sleep(20 * time.Microsecond)
			continue
		}
		if err != nil {
			return err
		}
		break
	}
	if c.unflushed++; c.unflushed >= rawFlushEvery {
		c.Flush()
	}
	return nil
}

// Flush implements Conn.
func (c *rawConn) Flush() {
	c.unflushed = 0
	c.out.Flush()
}

// Stats implements Conn.
func (c *rawConn) Stats() Stats { return c.stats() }

// Close implements Conn.
func (c *rawConn) Close() { c.d.Close(time.Second) }
