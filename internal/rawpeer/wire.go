package rawpeer

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ZCCP/1 command ids (the protocol's frame 1, after the 0xAA 0xAA signature).
const (
	Hello       byte = 1
	HelloOK     byte = 2
	Subscribe   byte = 3
	SubscribeOK byte = 4
	Publish     byte = 5
	Direct      byte = 6
	Deliver     byte = 7
	Goodbye     byte = 8
	GoodbyeOK   byte = 9
	Ping        byte = 10
	PingOK      byte = 11
	Invalid     byte = 12
)

// HdrMissed is the header in which the broker reports dropped notifications.
const HdrMissed = "zccp-missed"

// ZMTP frame flags.
const (
	flagMore    = 0x01
	flagLong    = 0x02
	flagCommand = 0x04
)

// Header is one entry of a ZCCP headers dictionary.
type Header struct{ Name, Value string }

// appendFrame appends one ZMTP frame (header and body).
func appendFrame(dst, body []byte, flags byte) []byte {
	if len(body) > 255 {
		dst = append(dst, flags|flagLong)
		dst = binary.BigEndian.AppendUint64(dst, uint64(len(body)))
	} else {
		dst = append(dst, flags, byte(len(body)))
	}
	return append(dst, body...)
}

// AppendMessage appends a ZMTP multipart message: MORE on every frame but
// the last.
func AppendMessage(dst []byte, frames ...[]byte) []byte {
	for i, f := range frames {
		var fl byte
		if i < len(frames)-1 {
			fl = flagMore
		}
		dst = appendFrame(dst, f, fl)
	}
	return dst
}

func appendStr(dst []byte, s string) []byte {
	return append(append(dst, byte(len(s))), s...)
}

func appendDict(dst []byte, hs []Header) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(hs)))
	for _, h := range hs {
		dst = appendStr(dst, h.Name)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(h.Value)))
		dst = append(dst, h.Value...)
	}
	return dst
}

// Frame1 builds a ZCCP frame 1: signature, id, then each string field
// (string type, at most 255 bytes) followed by the headers dictionary when
// withDict is set.
func Frame1(id byte, strs []string, withDict bool, hs []Header) []byte {
	b := []byte{0xAA, 0xAA, id}
	for _, s := range strs {
		b = appendStr(b, s)
	}
	if withDict {
		b = appendDict(b, hs)
	}
	return b
}

// AppendPublish appends one PUBLISH as a ZMTP message.
func AppendPublish(dst []byte, address string, hs []Header, content ...[]byte) []byte {
	return AppendMessage(dst, append([][]byte{Frame1(Publish, []string{address}, true, hs)}, content...)...)
}

// AppendDirect appends one DIRECT as a ZMTP message.
func AppendDirect(dst []byte, to string, hs []Header, content ...[]byte) []byte {
	return AppendMessage(dst, append([][]byte{Frame1(Direct, []string{to}, true, hs)}, content...)...)
}

// Burst encodes n PUBLISHes to address into one buffer, back to back. Each
// has one content frame of size bytes (at least 8) whose first 8 bytes are
// its sequence number, big-endian, starting at first; the rest is filler.
func Burst(dst []byte, address string, first uint64, n, size int) []byte {
	size = max(size, 8)
	f1 := Frame1(Publish, []string{address}, true, nil)
	body := make([]byte, size)
	for i := range body[8:] {
		body[8+i] = byte('a' + i%26)
	}
	for i := 0; i < n; i++ {
		binary.BigEndian.PutUint64(body, first+uint64(i))
		dst = appendFrame(dst, f1, flagMore)
		dst = appendFrame(dst, body, 0)
	}
	return dst
}

// Seq returns the sequence number Burst put into a content frame.
func Seq(content [][]byte) (uint64, bool) {
	if len(content) == 0 || len(content[0]) < 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(content[0]), true
}

// Message is one ZCCP command read from the broker. Its slices point into
// the peer's read buffer and are valid until the next read.
type Message struct {
	ID      byte
	Sender  []byte // DELIVER
	Address []byte // DELIVER
	headers []byte // the dictionary's entries, after the count
	count   int
	Content [][]byte
}

var errShort = errors.New("rawpeer: frame 1 is truncated")

// Parse decodes the frames of one ZCCP message from the broker, for a
// test that gets them other than by reading a connection (the broker
// transcripts' in-memory run).
func Parse(frames [][]byte) (*Message, error) { return parse(frames) }

// parse decodes the frames of one ZCCP message from the broker.
func parse(frames [][]byte) (*Message, error) {
	f := frames[0]
	if len(f) < 3 || f[0] != 0xAA || f[1] != 0xAA {
		return nil, fmt.Errorf("rawpeer: bad ZCCP signature in % x", f[:min(len(f), 3)])
	}
	m := &Message{ID: f[2], Content: frames[1:]}
	p := f[3:]
	var err error
	switch m.ID {
	case Deliver:
		if m.Sender, p, err = str(p); err != nil {
			return nil, err
		}
		if m.Address, p, err = str(p); err != nil {
			return nil, err
		}
		fallthrough
	case HelloOK, GoodbyeOK:
		if len(p) < 4 {
			return nil, errShort
		}
		m.count = int(binary.BigEndian.Uint32(p))
		m.headers = p[4:]
	}
	return m, nil
}

func str(p []byte) ([]byte, []byte, error) {
	if len(p) < 1 || len(p) < 1+int(p[0]) {
		return nil, nil, errShort
	}
	return p[1 : 1+int(p[0])], p[1+int(p[0]):], nil
}

// Header returns the value of the named header and whether it is present.
func (m *Message) Header(name string) (string, bool) {
	p := m.headers
	for i := 0; i < m.count; i++ {
		n, rest, err := str(p)
		if err != nil || len(rest) < 4 {
			return "", false
		}
		vl := int(binary.BigEndian.Uint32(rest))
		if len(rest) < 4+vl {
			return "", false
		}
		if string(n) == name {
			return string(rest[4 : 4+vl]), true
		}
		p = rest[4+vl:]
	}
	return "", false
}

// Missed returns the zccp-missed count the message carries (0 if none).
func (m *Message) Missed() uint64 {
	v, ok := m.Header(HdrMissed)
	if !ok {
		return 0
	}
	var n uint64
	for _, c := range []byte(v) {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + uint64(c-'0')
	}
	return n
}

// Headers returns a copy of the message's headers dictionary.
func (m *Message) Headers() map[string]string {
	out := map[string]string{}
	p := m.headers
	for i := 0; i < m.count; i++ {
		n, rest, err := str(p)
		if err != nil || len(rest) < 4 {
			break
		}
		vl := int(binary.BigEndian.Uint32(rest))
		if len(rest) < 4+vl {
			break
		}
		out[string(n)] = string(rest[4 : 4+vl])
		p = rest[4+vl:]
	}
	return out
}
