package rawpeer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

// Peer is one hand-framed ZCCP/1 client connection (a ZMTP DEALER with
// the NULL mechanism).
type Peer struct {
	nc  net.Conn
	wmu sync.Mutex

	buf    []byte // read buffer; unread bytes are buf[r:w]
	r, w   int
	mark   int // start of the message being read
	frames [][]byte

	// NoAutoPong, when set before reading, leaves ZCCP PINGs unanswered
	// (they are returned by Next like any other command).
	NoAutoPong bool

	// OnCommand, when set before reading, is called by the reading
	// goroutine with every ZMTP command frame other than PING (e.g. a
	// PONG, whose context makes a per-connection barrier). The body is
	// valid only during the call.
	OnCommand func(body []byte)
}

// Dial connects to endpoint ("tcp://host:port", "ipc://@name" or a bare
// host:port) and runs the ZMTP handshake. The context bounds the
// connection and the handshake.
func Dial(ctx context.Context, endpoint string) (*Peer, error) {
	return DialBuffer(ctx, endpoint, DefaultReadBuffer)
}

// DefaultReadBuffer is the read buffer Dial gives a peer; it grows for a
// larger message.
const DefaultReadBuffer = 256 << 10

// DialBuffer is Dial with a read buffer of size bytes (small for many idle
// peers, large for a fast reader).
func DialBuffer(ctx context.Context, endpoint string, size int) (*Peer, error) {
	network, addr := "tcp", endpoint
	switch {
	case strings.HasPrefix(endpoint, "tcp://"):
		addr = strings.TrimPrefix(endpoint, "tcp://")
	case strings.HasPrefix(endpoint, "ipc://"):
		network, addr = "unix", strings.TrimPrefix(endpoint, "ipc://")
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("rawpeer: %w", err)
	}
	return newPeer(ctx, nc, size)
}

// New runs the ZMTP 3.1 handshake (NULL mechanism, Socket-Type DEALER) on
// nc. On error nc is closed.
func New(ctx context.Context, nc net.Conn) (*Peer, error) {
	return newPeer(ctx, nc, DefaultReadBuffer)
}

func newPeer(ctx context.Context, nc net.Conn, size int) (*Peer, error) {
	p := &Peer{nc: nc, buf: make([]byte, max(size, 128))}
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	if err := p.handshake(); err != nil {
		nc.Close()
		return nil, err
	}
	nc.SetDeadline(time.Time{})
	return p, nil
}

// greeting is our ZMTP 3.1 greeting with the NULL mechanism, as client.
func greeting() []byte {
	g := make([]byte, 64)
	g[0], g[9], g[10], g[11] = 0xFF, 0x7F, 3, 1
	copy(g[12:32], "NULL")
	return g
}

func (p *Peer) handshake() error {
	ready := []byte("\x05READY\x0bSocket-Type\x00\x00\x00\x06DEALER")
	out := appendFrame(greeting(), ready, flagCommand)
	if _, err := p.nc.Write(out); err != nil {
		return fmt.Errorf("rawpeer: greeting: %w", err)
	}
	if err := p.fill(64); err != nil {
		return fmt.Errorf("rawpeer: greeting: %w", err)
	}
	g := p.buf[p.r : p.r+64]
	if g[0] != 0xFF || g[9]&1 != 1 || g[10] != 3 || string(g[12:16]) != "NULL" {
		return fmt.Errorf("rawpeer: unexpected greeting % x", g[:16])
	}
	p.r += 64
	frames, cmd, err := p.readFrames()
	if err != nil {
		return fmt.Errorf("rawpeer: READY: %w", err)
	}
	if !cmd || len(frames[0]) < 6 || string(frames[0][:6]) != "\x05READY" {
		return fmt.Errorf("rawpeer: expected READY, got %q", frames[0][:min(len(frames[0]), 16)])
	}
	return nil
}

// Conn returns the underlying connection (for deadlines, or to close it).
func (p *Peer) Conn() net.Conn { return p.nc }

// Close closes the connection.
func (p *Peer) Close() error { return p.nc.Close() }

// Write writes raw bytes (already framed messages) in one call.
func (p *Peer) Write(b []byte) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	_, err := p.nc.Write(b)
	return err
}

// Send writes one ZMTP message made of frames.
func (p *Peer) Send(frames ...[]byte) error { return p.Write(AppendMessage(nil, frames...)) }

// fill makes sure n unread bytes are buffered, keeping buf[mark:w] (the
// message being read) and rebasing r, w and mark if it moves them.
func (p *Peer) fill(n int) error {
	if p.w-p.r >= n {
		return nil
	}
	if need := p.r - p.mark + n; need > len(p.buf)-p.mark {
		nb := p.buf
		if need > len(p.buf) {
			nb = make([]byte, max(need, 2*len(p.buf)))
		}
		k := copy(nb, p.buf[p.mark:p.w])
		p.r -= p.mark
		p.w, p.mark, p.buf = k, 0, nb
	}
	for p.w-p.r < n {
		m, err := p.nc.Read(p.buf[p.w:])
		p.w += m
		if err != nil {
			if p.w-p.r >= n {
				return nil
			}
			if errors.Is(err, io.EOF) && p.w > p.r {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// maxFrame bounds one frame the peer accepts.
const maxFrame = 1 << 30

// readFrames reads one whole ZMTP message (a command is one frame). The
// frames point into p.buf.
func (p *Peer) readFrames() (frames [][]byte, cmd bool, err error) {
	frames, cmd, err = p.readFrames1()
	if err != nil {
		p.r = p.mark // a timeout mid-message: start it again on the next call
	}
	return frames, cmd, err
}

func (p *Peer) readFrames1() (frames [][]byte, cmd bool, err error) {
	type span struct{ off, n int } // offsets from mark
	var spans [8]span
	sp := spans[:0]
	p.mark = p.r
	for {
		if err := p.fill(2); err != nil {
			return nil, false, err
		}
		flags, size, hl := p.buf[p.r], uint64(p.buf[p.r+1]), 2
		if flags&flagLong != 0 {
			if err := p.fill(9); err != nil {
				return nil, false, err
			}
			size, hl = binary.BigEndian.Uint64(p.buf[p.r+1:]), 9
		}
		if size > maxFrame {
			return nil, false, fmt.Errorf("rawpeer: frame of %d bytes", size)
		}
		if err := p.fill(hl + int(size)); err != nil {
			return nil, false, err
		}
		p.r += hl
		sp = append(sp, span{p.r - p.mark, int(size)})
		p.r += int(size)
		cmd = flags&flagCommand != 0
		if flags&flagMore == 0 || cmd {
			break
		}
	}
	frames = p.frames[:0]
	for _, s := range sp {
		frames = append(frames, p.buf[p.mark+s.off:p.mark+s.off+s.n])
	}
	p.frames = frames
	p.mark = p.r
	return frames, cmd, nil
}

// ReadMessage returns the next ZMTP message, answering ZMTP PING commands
// with PONG and skipping other commands. The frames are valid until the
// next read.
func (p *Peer) ReadMessage() ([][]byte, error) {
	for {
		frames, cmd, err := p.readFrames()
		if err != nil {
			return nil, err
		}
		if !cmd {
			return frames, nil
		}
		f := frames[0]
		if len(f) >= 5 && string(f[:5]) == "\x04PING" {
			ctx := []byte{}
			if len(f) > 7 {
				ctx = f[7:]
			}
			body := append([]byte("\x04PONG"), ctx...)
			if err := p.Write(appendFrame(nil, body, flagCommand)); err != nil {
				return nil, err
			}
		} else if p.OnCommand != nil {
			p.OnCommand(f)
		}
	}
}

// Ping sends a ZMTP 3.1 PING with a zero TTL and the given context (at
// most 16 bytes); the broker answers PONG with the same context, in order
// behind everything it queued to this connection before it read the PING.
func (p *Peer) Ping(context []byte) error {
	body := append([]byte("\x04PING\x00\x00"), context...)
	return p.Write(appendFrame(nil, body, flagCommand))
}

// Next returns the next ZCCP command from the broker. Unless NoAutoPong
// is set, a ZCCP PING is answered with PING-OK and not returned.
func (p *Peer) Next() (*Message, error) {
	for {
		frames, err := p.ReadMessage()
		if err != nil {
			return nil, err
		}
		m, err := parse(frames)
		if err != nil {
			return nil, err
		}
		if m.ID == Ping && !p.NoAutoPong {
			if err := p.Send(Frame1(PingOK, nil, false, nil)); err != nil {
				return nil, err
			}
			continue
		}
		return m, nil
	}
}
