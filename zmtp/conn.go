package zmtp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Conn is one ZMTP connection after a successful handshake. One goroutine
// reads (ReadMessage); any goroutine may send; a writer goroutine owned by
// the Conn drains its Outbox to the socket.
type Conn struct {
	nc       net.Conn
	rd       *reader
	out      *Outbox
	opts     Options
	peer     Metadata
	peerKey  CurveKey // CURVE: the peer's long-term public key
	peerType SocketType
	minor    byte // peer's ZMTP minor version

	lastRecv atomic.Int64  // unix nanoseconds of the last read syscall that returned bytes
	waiting  atomic.Bool   // the reading goroutine is in a read syscall
	lastSent atomic.Int64  // unix nanoseconds of the last completed write syscall
	bytesIn  atomic.Uint64 // bytes read from the socket; written only by the reading goroutine
	bytesOut atomic.Uint64 // bytes handed to the socket; written by the handshake, then only the writer
	vec      net.Buffers   // the writer's scratch for vectored writes
	ownsOut  bool          // the outbox belongs to this connection alone
	stopping atomic.Bool   // the writer must stop

	closeOnce sync.Once
	errMu     sync.Mutex
	err       error         // first reason the connection ended
	done      chan struct{} // closed when the writer has stopped and the socket is closed
}

// Handshake runs the ZMTP greeting and security handshake on nc and
// returns the established connection with its writer running. On error nc
// is closed.
func Handshake(nc net.Conn, opts Options) (*Conn, error) {
	c, err := handshake(nc, opts, nil)
	if err != nil {
		return nil, err
	}
	c.start()
	return c, nil
}

// handshake is Handshake with an optional outbox to reuse (a Dealer's
// queue carried across reconnects) and without starting the writer.
func handshake(nc net.Conn, opts Options, out *Outbox) (*Conn, error) {
	opts = opts.withDefaults()
	if opts.Type == "" {
		nc.Close()
		return nil, errors.New("zmtp: Options.Type is required")
	}
	c := &Conn{nc: nc, opts: opts, done: make(chan struct{})}
	c.rd = newReader(recvMeter{nc, c}, opts.MaxMessageSize, opts.MaxFrames)
	if err := c.handshake(); err != nil {
		nc.Close()
		return nil, err
	}
	if out == nil {
		out = NewOutbox(opts.Queue)
		c.ownsOut = true
		// A queue that overflows under OverflowDisconnect must close the
		// connection at once: the writer may be blocked in a write to the
		// very peer that does not read, and would never notice.
		out.onFail = c.fail
		out.budget.join(out) // a candidate for Budget.Reclaim until finish
	}
	c.out = out
	now := time.Now().UnixNano()
	c.lastRecv.Store(now)
	c.lastSent.Store(now)
	return c, nil
}

// start launches the writer goroutine.
func (c *Conn) start() { go c.writeLoop() }

func (c *Conn) handshake() error {
	deadline := time.Now().Add(c.opts.HandshakeTimeout)
	c.nc.SetDeadline(deadline)
	defer c.nc.SetDeadline(time.Time{})
	mech := mechanismFor(c.nc, c.opts.Mechanism)
	// Greeting in stages, the way libzmq does (negotiate.go); a ZMTP 2.0
	// peer continues in zmtp2.go.
	g, err := c.negotiate(mech.Name(), mech.AsServer())
	if err != nil {
		return err
	}
	if g.major < VersionMajor {
		return c.handshake2(mech)
	}
	c.minor = g.minor
	if g.mechanism != mech.Name() {
		return fmt.Errorf("%w: peer uses security mechanism %q, we use %q", ErrIncompatible, g.mechanism, mech.Name())
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	sess, err := c.runMechanism(ctx, mech)
	if err != nil {
		return err
	}
	md := sess.Metadata
	c.peer, c.peerKey = md, sess.PeerKey
	c.peerType = SocketType(md[PropSocketType])
	if !Compatible(c.opts.Type, c.peerType) {
		c.nc.Write(appendCommand(nil, "ERROR", errorData("incompatible socket type")))
		return fmt.Errorf("%w: a %s socket cannot talk to a %q peer", ErrIncompatible, c.opts.Type, c.peerType)
	}
	return nil
}

// errorData encodes the data of an ERROR command.
func errorData(reason string) []byte {
	if len(reason) > 255 {
		reason = reason[:255]
	}
	return append([]byte{byte(len(reason))}, reason...)
}

// handshakeIO gives a Mechanism direct, unqueued access to the socket.
type handshakeIO struct {
	c   *Conn
	ctx context.Context
}

func (h handshakeIO) RemoteAddr() net.Addr     { return h.c.nc.RemoteAddr() }
func (h handshakeIO) Context() context.Context { return h.ctx }

func (h handshakeIO) ReadCommand() (string, []byte, error) {
	frames, cmd, err := h.c.rd.readHandshakeCommand()
	if err != nil {
		return "", nil, fmt.Errorf("zmtp: handshake: %w", err)
	}
	if !cmd {
		return "", nil, fmt.Errorf("%w: message frame during the handshake", ErrProtocol)
	}
	return parseCommand(frames[0])
}

func (h handshakeIO) WriteCommand(name string, data []byte) error {
	n, err := h.c.nc.Write(appendCommand(nil, name, data))
	count(&h.c.bytesOut, n)
	return err
}

// PeerMetadata returns the properties the peer announced.
func (c *Conn) PeerMetadata() Metadata { return c.peer }

// PeerKey returns the peer's long-term CURVE public key: the client's on
// a CURVE server, the server's on a CURVE client; zero with NULL.
func (c *Conn) PeerKey() CurveKey { return c.peerKey }

// PeerType returns the peer's socket type.
func (c *Conn) PeerType() SocketType { return c.peerType }

// PeerIdentity returns the peer's Identity property (empty if none).
func (c *Conn) PeerIdentity() []byte { return []byte(c.peer[PropIdentity]) }

// RemoteAddr returns the peer's network address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// LocalAddr returns our network address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// Outbox returns the connection's outbound queue.
func (c *Conn) Outbox() *Outbox { return c.out }

// LastReceived returns when bytes last arrived from the peer.
//
// While the reading goroutine is busy with what it received (handling it,
// or paused by its owner's flow control) rather than waiting in a read,
// it returns now: the peer's bytes are waiting for us, so the peer is not
// silent, however long our own backlog takes.
func (c *Conn) LastReceived() time.Time {
	if !c.waiting.Load() {
		return time.Now()
	}
	return time.Unix(0, c.lastRecv.Load())
}

// recvMeter is the socket as the frame reader sees it: it records when
// bytes arrive and whether the reader is waiting for them.
type recvMeter struct {
	nc net.Conn
	c  *Conn
}

func (m recvMeter) Read(b []byte) (int, error) {
	m.c.waiting.Store(true)
	n, err := m.nc.Read(b)
	if n > 0 {
		count(&m.c.bytesIn, n)
		m.c.lastRecv.Store(time.Now().UnixNano())
	}
	m.c.waiting.Store(false)
	return n, err
}

// BytesReceived returns how many bytes were read from the socket: every
// byte on the wire, the greeting and handshake included (ciphertext under
// CURVE). Any goroutine may call it.
func (c *Conn) BytesReceived() uint64 { return c.bytesIn.Load() }

// BytesSent returns how many bytes were handed to the socket: the
// greeting, the handshake and every message (under CURVE, messages are
// counted before encryption). Any goroutine may call it.
func (c *Conn) BytesSent() uint64 { return c.bytesOut.Load() }

// count adds n to a counter that one goroutine at a time writes (the
// reader, or the handshake and then the writer): a plain load and store,
// no locked instruction per syscall; any goroutine may read it.
func count(c *atomic.Uint64, n int) {
	if n > 0 {
		c.Store(c.Load() + uint64(n))
	}
}

// LastSent returns when bytes were last written to the peer.
func (c *Conn) LastSent() time.Time { return time.Unix(0, c.lastSent.Load()) }

// Buffered returns how many received bytes are waiting to be parsed. When
// it is zero the next ReadMessage blocks in a read: a good moment for the
// caller to flush the outboxes it filled while processing the batch.
func (c *Conn) Buffered() int { return c.rd.buffered() }

// ReadMessage returns the next message. The frames point into the
// connection's read buffer and stay valid only until the next call. A
// message over the size or frame limit is skipped without being held in
// memory and reported as a *TooLargeError (errors.Is ErrTooLarge); the
// connection stays usable and the caller may go on reading. ZMTP
// commands are handled here: PING is answered with PONG, PONG and unknown
// commands are ignored, ERROR ends the connection. Only the goroutine that
// owns the connection's reading may call it.
func (c *Conn) ReadMessage() ([][]byte, error) {
	for {
		frames, cmd, err := c.rd.readMessage()
		if err != nil {
			if errors.Is(err, ErrTooLarge) {
				return nil, err // skipped; the connection is still usable
			}
			c.fail(err)
			if first := c.firstErr(); errors.Is(first, ErrSlowConsumer) {
				// The connection was closed because its peer did not read:
				// say so rather than "use of closed network connection".
				return nil, first
			}
			return nil, err
		}
		if !cmd {
			return frames, nil
		}
		if err := c.handleCommand(frames[0]); err != nil {
			c.fail(err)
			return nil, err
		}
	}
}

func (c *Conn) handleCommand(body []byte) error {
	name, data, err := parseCommand(body)
	if err != nil {
		return err
	}
	switch name {
	case "PING":
		if len(data) < 2 || len(data) > 2+16 {
			return fmt.Errorf("%w: malformed PING", ErrProtocol)
		}
		return c.sendCommand("PONG", data[2:])
	case "ERROR":
		return fmt.Errorf("%w: %s", ErrPeerError, errorReason(data))
	case "READY", "HELLO", "WELCOME", "INITIATE":
		return fmt.Errorf("%w: unexpected %s after the handshake", ErrProtocol, name)
	}
	return nil // PONG, SUBSCRIBE, CANCEL and unknown commands
}

// sendCommand queues a command frame ahead of no one (in order) and flushes.
func (c *Conn) sendCommand(name string, data []byte) error {
	size := 1 + len(name) + len(data)
	if _, err := c.out.Append(FrameHeaderSize(size)+size, Control, func(b []byte) []byte {
		return appendCommand(b, name, data)
	}); err != nil {
		return err
	}
	c.out.Flush()
	return nil
}

// Ping sends a ZMTP 3.1 PING with the given TTL (rounded to tenths of a
// second, at most 6553.5 s) and context (at most 16 bytes). The peer
// answers with PONG, which refreshes LastReceived.
func (c *Conn) Ping(ttl time.Duration, context []byte) error {
	if len(context) > 16 {
		return errors.New("zmtp: PING context longer than 16 bytes")
	}
	if c.minor < 1 {
		return nil // ZMTP 3.0 peers have no PING; silently skip
	}
	t := ttl / (100 * time.Millisecond)
	if t > 0xFFFF {
		t = 0xFFFF
	}
	data := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(context)), uint16(t))
	return c.sendCommand("PING", append(data, context...))
}

// Send queues one message (not droppable) and wakes the writer.
func (c *Conn) Send(frames ...[]byte) error { return c.out.Send(frames) }

// SendFirst queues a message ahead of everything already queued; see
// Outbox.SendFirst. A Dealer's OnConnect hook uses it for handshakes.
func (c *Conn) SendFirst(frames ...[]byte) error { return c.out.SendFirst(frames) }

// writeLoop is the connection's only writer: it swaps out everything
// queued and writes it in one call, without holding any lock during I/O.
// progressChunk is how much of a batch the writer puts on the wire
// before it tells the outbox it made progress (see Outbox.progressed).
const progressChunk = 256 << 10

// writeBatch writes b, in chunks when it is large, reporting progress to
// the outbox after each chunk but the last.
func (c *Conn) writeBatch(bt batch) (int, error) {
	if len(bt.segs) > 0 {
		return c.writeVectored(bt)
	}
	b := bt.b
	written := 0
	for len(b)-written > progressChunk {
		n, err := c.nc.Write(b[written : written+progressChunk])
		written += n
		if err != nil {
			return written, err
		}
		c.out.progressed()
	}
	n, err := c.nc.Write(b[written:])
	return written + n, err
}

// writeVectored writes a batch with shared segments: the queued bytes and
// the segments between them, gathered into one vectored write (writev on
// TCP and Unix sockets) per progressChunk, so that the segments are never
// copied. Over CURVE, where each frame is sealed into one MESSAGE, the
// pieces are written one by one, a segment whole (it holds whole frames).
func (c *Conn) writeVectored(bt batch) (int, error) {
	_, curve := c.nc.(*curveConn)
	written, pending := 0, 0
	vec := c.vec[:0]
	defer func() { clear(vec); c.vec = vec[:0] }()
	put := func(p []byte, whole bool) error {
		for len(p) > 0 {
			n := len(p)
			if !whole {
				n = min(n, progressChunk-pending)
			}
			vec = append(vec, p[:n])
			p, pending = p[n:], pending+n
			if pending < progressChunk {
				continue
			}
			v := net.Buffers(vec)
			w, err := v.WriteTo(c.nc)
			written += int(w)
			clear(vec)
			vec, pending = vec[:0], 0
			if err != nil {
				return err
			}
			c.out.progressed()
		}
		return nil
	}
	prev := 0
	for _, sg := range bt.segs {
		if err := put(bt.b[prev:sg.at], false); err != nil {
			return written, err
		}
		if err := put(sg.s.b, curve); err != nil {
			return written, err
		}
		prev = sg.at
	}
	if err := put(bt.b[prev:], false); err != nil {
		return written, err
	}
	v := net.Buffers(vec)
	w, err := v.WriteTo(c.nc)
	return written + int(w), err
}

func (c *Conn) writeLoop() {
	defer c.finish()
	for {
		b, ok := c.out.take(&c.stopping)
		if !ok {
			if err := c.out.Err(); err != nil {
				c.fail(err)
			}
			return
		}
		if c.opts.WriteTimeout > 0 {
			c.nc.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout))
		}
		n, err := c.writeBatch(b)
		count(&c.bytesOut, n)
		c.out.release(b)
		if err != nil {
			c.fail(fmt.Errorf("zmtp: write: %w", err))
			return
		}
		c.lastSent.Store(time.Now().UnixNano())
	}
}

// fail records the first error and stops the connection.
func (c *Conn) fail(err error) {
	c.errMu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.errMu.Unlock()
	c.stopping.Store(true)
	if c.ownsOut {
		c.out.close(false)
	}
	c.out.signal()
	c.nc.Close() // unblocks a reader or writer stuck in a syscall
}

func (c *Conn) finish() {
	c.closeOnce.Do(func() {
		if c.ownsOut {
			c.out.budget.leave(c.out)
		}
		c.nc.Close()
		close(c.done)
	})
}

// firstErr returns the first reason the connection ended, ErrClosed
// included.
func (c *Conn) firstErr() error {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return c.err
}

// Err returns why the connection ended (nil while it is up or after a
// clean Close).
func (c *Conn) Err() error {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	if errors.Is(c.err, ErrClosed) {
		return nil
	}
	return c.err
}

// Done is closed once the connection has ended and its socket is closed.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Close ends the connection at once, discarding queued messages.
func (c *Conn) Close() error {
	c.fail(ErrClosed)
	<-c.done
	return nil
}

// CloseGracefully stops accepting new messages, lets the writer send what
// is queued, then closes; after timeout it closes regardless.
func (c *Conn) CloseGracefully(timeout time.Duration) error {
	if c.ownsOut {
		c.out.close(true)
	} else {
		c.stopping.Store(true)
		c.out.signal()
	}
	select {
	case <-c.done:
	case <-time.After(timeout):
		c.fail(ErrClosed)
		<-c.done
	}
	c.errMu.Lock()
	if c.err == nil {
		c.err = ErrClosed
	}
	c.errMu.Unlock()
	return nil
}
