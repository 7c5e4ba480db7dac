package flood

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"
)

// NATS is a NATS text-protocol client written by hand on net.Conn.
type NATS struct {
	nc  net.Conn
	br  *bufio.Reader
	wmu sync.Mutex
}

// DialNATS connects to nats-server at addr, sends CONNECT and subscribes
// to each subject, then synchronises with PING/PONG.
func DialNATS(ctx context.Context, addr string, bufSize int, subjects ...string) (*NATS, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	n := &NATS{nc: nc, br: bufio.NewReaderSize(nc, bufSize)}
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	line, err := n.br.ReadSlice('\n')
	if err != nil || !bytes.HasPrefix(line, []byte("INFO ")) {
		nc.Close()
		return nil, fmt.Errorf("nats: no INFO: %q %v", line, err)
	}
	var b []byte
	b = append(b, "CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1}\r\n"...)
	for i, s := range subjects {
		b = fmt.Appendf(b, "SUB %s %d\r\n", s, i+1)
	}
	b = append(b, "PING\r\n"...)
	if _, err := nc.Write(b); err != nil {
		nc.Close()
		return nil, err
	}
	for {
		line, err := n.br.ReadSlice('\n')
		if err != nil {
			nc.Close()
			return nil, err
		}
		if bytes.HasPrefix(line, []byte("PONG")) {
			break
		}
		if bytes.HasPrefix(line, []byte("-ERR")) {
			nc.Close()
			return nil, fmt.Errorf("nats: %s", bytes.TrimSpace(line))
		}
	}
	nc.SetDeadline(time.Time{})
	return n, nil
}

// Append implements Pub.
func (n *NATS) Append(dst []byte, subject string, payload []byte) []byte {
	dst = append(dst, "PUB "...)
	dst = append(dst, subject...)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(len(payload)), 10)
	dst = append(dst, "\r\n"...)
	dst = append(dst, payload...)
	return append(dst, "\r\n"...)
}

// Write implements Pub.
func (n *NATS) Write(b []byte) error {
	n.wmu.Lock()
	defer n.wmu.Unlock()
	_, err := n.nc.Write(b)
	return err
}

// Close implements Pub and Sub.
func (n *NATS) Close() error { return n.nc.Close() }

// Run implements Sub: it counts MSGs and answers PING.
func (n *NATS) Run(ctx context.Context, c *Counter) {
	stop := context.AfterFunc(ctx, func() { n.nc.SetReadDeadline(time.Now()) })
	defer stop()
	if err := n.read(c); err != nil && ctx.Err() == nil {
		c.Err = err
	}
}

func (n *NATS) read(c *Counter) error {
	for {
		line, err := n.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		switch {
		case bytes.HasPrefix(line, []byte("MSG ")):
			f := bytes.Fields(line)
			size, err := strconv.Atoi(string(f[len(f)-1]))
			if err != nil {
				return fmt.Errorf("nats: bad MSG line %q", line)
			}
			if _, err := n.br.Discard(size + 2); err != nil {
				return err
			}
			c.add(0)
			c.last.Store(time.Now().UnixNano())
		case bytes.HasPrefix(line, []byte("PING")):
			if err := n.Write([]byte("PONG\r\n")); err != nil {
				return err
			}
		case bytes.HasPrefix(line, []byte("-ERR")):
			return errors.New("nats: " + string(bytes.TrimSpace(line)))
		case bytes.HasPrefix(line, []byte("+OK")), bytes.HasPrefix(line, []byte("PONG")), bytes.HasPrefix(line, []byte("INFO")):
		default:
			return fmt.Errorf("nats: unexpected %q: %w", line, io.ErrUnexpectedEOF)
		}
	}
}
