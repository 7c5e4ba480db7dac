package zmtp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
)

// curveConn is the data phase of a CURVE connection seen as a plaintext
// ZMTP byte stream, so that the rest of the package reads and writes
// frames exactly as with NULL. Write takes whole or partial plaintext
// frames and sends one MESSAGE per frame; Read decrypts MESSAGEs and
// yields the frames they carry. One goroutine reads and one writes.
type curveConn struct {
	net.Conn
	raw    *reader // encrypted frames from the socket
	cipher *curveCipher

	plain []byte // decrypted frames not yet returned by Read
	pos   int
	rerr  error // sticky read error

	carry []byte // the incomplete plaintext frame of the last Write
	out   []byte // MESSAGE frames being written
}

// Unwrap returns the socket under the encryption.
func (c *curveConn) Unwrap() net.Conn { return c.Conn }

// Read implements net.Conn: it returns plaintext ZMTP frames.
func (c *curveConn) Read(p []byte) (int, error) {
	for c.pos == len(c.plain) {
		if c.rerr != nil {
			return 0, c.rerr
		}
		if err := c.next(); err != nil {
			c.rerr = err
		}
	}
	n := copy(p, c.plain[c.pos:])
	c.pos += n
	return n, nil
}

// next reads and decrypts one MESSAGE into c.plain as one ZMTP frame.
func (c *curveConn) next() error {
	frames, cmd, err := c.raw.readMessage()
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			// Skipping one encrypted frame would corrupt the message it
			// belongs to: an oversized frame ends the connection.
			return fmt.Errorf("%w: %w", ErrCurve, err)
		}
		return err
	}
	if cmd || len(frames) != 1 {
		return fmt.Errorf("%w: plaintext command or multipart frame after the CURVE handshake", ErrCurve)
	}
	body := frames[0]
	if len(body) < curveMessageExtra {
		return fmt.Errorf("%w: MESSAGE of %d bytes is too short", ErrCurve, len(body))
	}
	// Decrypt so that the flags octet lands on the last octet of the
	// frame header, then write the header over it.
	n := len(body) - curveMessageExtra
	h := FrameHeaderSize(n)
	if cap(c.plain) > 1<<20 {
		c.plain = nil // do not keep a large message's buffer
	}
	buf := append(c.plain[:0], make([]byte, h-1)...)
	out, err := c.cipher.open(buf, body)
	if err != nil {
		return err
	}
	flags := out[h-1]
	AppendFrameHeader(out[:0], n, flags&FlagMore != 0, flags&FlagCommand != 0)
	c.plain, c.pos = out, 0
	return nil
}

// Write implements net.Conn: b is a plaintext ZMTP frame stream; every
// complete frame is sent as one MESSAGE and an incomplete tail waits for
// the next Write.
func (c *curveConn) Write(b []byte) (int, error) {
	data := b
	if len(c.carry) > 0 {
		c.carry = append(c.carry, b...)
		data = c.carry
	}
	c.out = c.out[:0]
	rest, err := c.sealFrames(data)
	if err != nil {
		return 0, err
	}
	c.carry = append(c.carry[:0], rest...)
	if len(c.out) > 0 {
		if _, err := c.Conn.Write(c.out); err != nil {
			return 0, err
		}
	}
	if cap(c.out) > 1<<20 {
		c.out = nil
	}
	return len(b), nil
}

// sealFrames appends a MESSAGE frame to c.out for each complete frame at
// the start of d and returns what is left.
func (c *curveConn) sealFrames(d []byte) ([]byte, error) {
	for len(d) >= 2 {
		flags, hdr := d[0], 2
		size := uint64(d[1])
		if flags&FlagLong != 0 {
			if len(d) < 9 {
				break
			}
			hdr, size = 9, binary.BigEndian.Uint64(d[1:9])
		}
		if uint64(len(d)-hdr) < size {
			break
		}
		body := d[hdr : hdr+int(size)]
		c.out = AppendFrameHeader(c.out, sealedSize(len(body)), false, false)
		var err error
		if c.out, err = c.cipher.seal(c.out, flags&(FlagMore|FlagCommand), body); err != nil {
			return nil, err
		}
		d = d[hdr+int(size):]
	}
	return d, nil
}

// runMechanism runs mech's handshake and, when the mechanism encrypts,
// puts the cipher between the socket and the rest of the connection.
func (c *Conn) runMechanism(ctx context.Context, mech Mechanism) (Session, error) {
	sess, err := mech.Handshake(handshakeIO{c, ctx}, c.opts.metadata())
	if err != nil || sess.cipher == nil {
		return sess, err
	}
	// Encrypted frames carry 33 octets more than the plaintext frame;
	// anything left in the reader's buffer is already encrypted data.
	if c.rd.maxSize > 0 {
		c.rd.maxSize += int64(curveMessageExtra)
	}
	cc := &curveConn{Conn: c.nc, raw: c.rd, cipher: sess.cipher}
	c.nc = cc
	c.rd = newReader(cc, c.opts.MaxMessageSize, c.opts.MaxFrames)
	return sess, nil
}
