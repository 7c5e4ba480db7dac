package codec

import (
	"fmt"
	"slices"
)

// Message is one decoded ZCCP command with its own memory.
//
// Only the fields of ID's command are encoded; the others are ignored by
// the encoder and left empty by Decode.
type Message struct {
	ID         ID
	Identifier string   // HELLO
	Expression string   // SUBSCRIBE
	Address    string   // PUBLISH, DIRECT, DELIVER
	Sender     string   // DELIVER
	Headers    Headers  // commands with HasHeaders; nil encodes as count 0
	Content    [][]byte // commands with HasContent: frames 2..n; nil or empty = zero frames
}

// CommandSize returns the length of frame 1 as AppendCommand would encode
// it, or the error AppendCommand would return.
func (m *Message) CommandSize() (int, error) {
	fs := m.ID.fields()
	if !m.ID.Valid() {
		return 0, fmt.Errorf("%w: %d", ErrUnknownCommand, uint8(m.ID))
	}
	n := 3
	for _, f := range m.strings() {
		if f.bit&fs == 0 {
			continue
		}
		if len(f.value) > MaxString {
			return 0, fmt.Errorf("%w: %s field %q is %d bytes", ErrStringTooLong, m.ID, f.name, len(f.value))
		}
		n += 1 + len(f.value)
	}
	if fs&hasHeaders != 0 {
		hs, err := headersSize(m.Headers, m.ID)
		if err != nil {
			return 0, err
		}
		n += hs
	}
	return n, nil
}

type stringField struct {
	bit   fieldSet
	name  string
	value string
}

// strings lists the string fields in wire order.
func (m *Message) strings() [4]stringField {
	return [4]stringField{
		{hasIdentifier, "identifier", m.Identifier},
		{hasExpression, "expression", m.Expression},
		{hasSender, "sender", m.Sender},
		{hasAddress, "address", m.Address},
	}
}

// AppendCommand appends frame 1 of the command (signature, id and fields;
// no ZMTP framing) to dst. On error dst is returned unchanged; errors wrap
// ErrUnknownCommand, ErrStringTooLong or ErrValueTooLong.
func (m *Message) AppendCommand(dst []byte) ([]byte, error) {
	n, err := m.CommandSize()
	if err != nil {
		return dst, err
	}
	dst = slices.Grow(dst, n)
	dst = append(dst, 0xAA, 0xAA, byte(m.ID))
	fs := m.ID.fields()
	for _, f := range m.strings() {
		if f.bit&fs != 0 {
			dst = appendString(dst, f.value)
		}
	}
	if fs&hasHeaders != 0 {
		dst = appendHeaders(dst, m.Headers)
	}
	return dst, nil
}

// Frames returns the whole multipart message: a newly encoded frame 1
// followed by the content frames (for commands with content; the slices are
// shared with m.Content, not copied). A nil Content gives no content frames.
func (m *Message) Frames() ([][]byte, error) {
	n, err := m.CommandSize()
	if err != nil {
		return nil, err
	}
	cmd, err := m.AppendCommand(make([]byte, 0, n))
	if err != nil {
		return nil, err
	}
	var content [][]byte
	if m.ID.HasContent() {
		content = m.Content
	}
	frames := make([][]byte, 1, 1+len(content))
	frames[0] = cmd
	return append(frames, content...), nil
}

// AddressedSize returns the length of frame 1 of a PUBLISH or DIRECT with
// this address and headers: AppendAddressed's fast path for clients.
func AddressedSize(address string, h Headers) (int, error) {
	if len(address) > MaxString {
		return 0, fmt.Errorf("%w: address is %d bytes", ErrStringTooLong, len(address))
	}
	n := 3 + 1 + len(address) + 4
	if len(h) > 0 {
		hs, err := headersSize(h, 0)
		if err != nil {
			return 0, err
		}
		n += hs - 4
	}
	return n, nil
}

// AppendAddressed appends frame 1 of a PUBLISH or DIRECT (id) to dst, the
// same bytes as Message.AppendCommand, without the generic field walk.
// The caller has checked the sizes with AddressedSize.
func AppendAddressed(dst []byte, id ID, address string, h Headers) []byte {
	dst = append(dst, 0xAA, 0xAA, byte(id))
	dst = appendString(dst, address)
	if len(h) == 0 {
		return append(dst, 0, 0, 0, 0)
	}
	return appendHeaders(dst, h)
}
