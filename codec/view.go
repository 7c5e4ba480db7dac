package codec

import "fmt"

// View is a zero-copy view of a validated frame 1. Its byte slices are
// sub-slices of the frame handed to Parse (with their capacity capped at
// their length), so they are only valid while that frame is, and they must
// not be modified. A field that the command does not carry is nil; a field
// that is present but empty is a non-nil empty slice.
type View struct {
	ID         ID
	Identifier []byte     // HELLO
	Expression []byte     // SUBSCRIBE
	Address    []byte     // PUBLISH, DIRECT, DELIVER
	Sender     []byte     // DELIVER
	Headers    RawHeaders // commands with headers: the encoded dictionary, count included
}

// span locates a field inside frame 1: frame[lo:hi].
type span struct{ lo, hi int }

// layout is the result of walking frame 1: the command and where each of
// its fields lies. Spans of fields the command does not carry are zero.
type layout struct {
	id                                      ID
	identifier, expression, sender, address span
	headers                                 span
}

// Parse validates frame 1 completely, walking every dictionary entry, and
// returns a view of it. It does not allocate when it succeeds, except for
// dictionaries of more than 64 entries, whose duplicate check needs 4 bytes
// per entry. Content frames are not Parse's concern: the caller checks
// View.ID.HasContent before accepting frames after frame 1 (Decode does).
func Parse(frame []byte) (View, error) {
	l, err := walk(frame)
	if err != nil {
		return View{}, err
	}
	v := View{ID: l.id}
	fs := l.id.fields()
	if fs&hasIdentifier != 0 {
		v.Identifier = sub(frame, l.identifier)
	}
	if fs&hasExpression != 0 {
		v.Expression = sub(frame, l.expression)
	}
	if fs&hasSender != 0 {
		v.Sender = sub(frame, l.sender)
	}
	if fs&hasAddress != 0 {
		v.Address = sub(frame, l.address)
	}
	if fs&hasHeaders != 0 {
		v.Headers = RawHeaders(sub(frame, l.headers))
	}
	return v, nil
}

func sub(frame []byte, s span) []byte { return frame[s.lo:s.hi:s.hi] }

// walk validates frame 1 and locates its fields.
func walk(frame []byte) (layout, error) {
	var l layout
	if len(frame) < 3 {
		return l, malformed(KindShort, 0, "", 0,
			fmt.Sprintf("frame 1 is %d bytes, shorter than signature and command id (3 bytes)", len(frame)))
	}
	if frame[0] != 0xAA || frame[1] != 0xAA {
		return l, malformed(KindSignature, 0, "", 0,
			fmt.Sprintf("bad signature 0x%02X 0x%02X, want 0xAA 0xAA", frame[0], frame[1]))
	}
	id := ID(frame[2])
	if !id.Valid() {
		return l, malformed(KindUnknownID, id, "", 2, fmt.Sprintf("unknown command id %d", uint8(id)))
	}
	l.id = id
	fs := id.fields()
	p := 3
	var err error
	if fs&hasIdentifier != 0 {
		if l.identifier, err = walkString(frame, p, id, "identifier"); err != nil {
			return l, err
		}
		p = l.identifier.hi
	}
	if fs&hasExpression != 0 {
		if l.expression, err = walkString(frame, p, id, "expression"); err != nil {
			return l, err
		}
		p = l.expression.hi
	}
	if fs&hasSender != 0 {
		if l.sender, err = walkString(frame, p, id, "sender"); err != nil {
			return l, err
		}
		p = l.sender.hi
	}
	if fs&hasAddress != 0 {
		if l.address, err = walkString(frame, p, id, "address"); err != nil {
			return l, err
		}
		p = l.address.hi
	}
	if fs&hasHeaders != 0 {
		var end int
		if end, err = walkDict(frame, p, id); err != nil {
			return l, err
		}
		l.headers = span{p, end}
		p = end
	}
	if p != len(frame) {
		n := len(frame) - p
		return l, malformed(KindTrailing, id, "", p,
			fmt.Sprintf("%d trailing %s after the last field", n, plural(n, "byte")))
	}
	return l, nil
}

// walkString checks the string field starting at frame[p] and returns the
// span of its octets (without the length octet).
func walkString(frame []byte, p int, id ID, field string) (span, error) {
	if p >= len(frame) {
		return span{}, malformed(KindTruncated, id, field, p, "string length octet is past the end of the frame")
	}
	n := int(frame[p])
	if rem := len(frame) - p - 1; n > rem {
		return span{}, malformed(KindTruncated, id, field, p,
			fmt.Sprintf("string of %d %s exceeds remaining %d %s", n, plural(n, "byte"), rem, plural(rem, "byte")))
	}
	return span{p + 1, p + 1 + n}, nil
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
