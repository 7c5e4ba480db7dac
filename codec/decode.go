package codec

import "fmt"

// Decode decodes a whole multipart message: frames[0] is frame 1, the rest
// are content frames. It validates like Parse and also rejects a message
// with no frames and content frames after a command without content.
//
// The result copies everything it needs, so the caller may reuse the input
// buffers. All string fields and header names and values share one copy of
// frame 1 (holding any of them keeps that copy alive); all content frames
// share one copy of their bytes, each capped so that appending to one cannot
// overwrite the next. Headers is
// non-nil (possibly empty) for commands with headers; Content is nil when
// there are no content frames, and an empty content frame decodes as a
// non-nil empty slice.
func Decode(frames [][]byte) (*Message, error) {
	if len(frames) == 0 {
		return nil, malformed(KindEmpty, 0, "", -1, "empty message: no frames")
	}
	frame := frames[0]
	l, err := walk(frame)
	if err != nil {
		return nil, err
	}
	fs := l.id.fields()
	content := frames[1:]
	if len(content) > 0 && fs&hasContent == 0 {
		return nil, malformed(KindUnexpectedContent, l.id, "content", -1,
			fmt.Sprintf("%d content %s after a command without content", len(content), plural(len(content), "frame")))
	}
	m := &Message{ID: l.id}
	if fs == 0 {
		return m, nil
	}
	s := string(frame) // one copy backs every string below
	if fs&hasIdentifier != 0 {
		m.Identifier = s[l.identifier.lo:l.identifier.hi]
	}
	if fs&hasExpression != 0 {
		m.Expression = s[l.expression.lo:l.expression.hi]
	}
	if fs&hasSender != 0 {
		m.Sender = s[l.sender.lo:l.sender.hi]
	}
	if fs&hasAddress != 0 {
		m.Address = s[l.address.lo:l.address.hi]
	}
	if fs&hasHeaders != 0 {
		m.Headers = decodeHeaders(s[l.headers.lo:l.headers.hi])
	}
	if len(content) > 0 {
		m.Content = copyFrames(content)
	}
	return m, nil
}

// decodeHeaders decodes a dictionary already validated by walk. The names
// and values are substrings of d.
func decodeHeaders(d string) Headers {
	n := int(be32(d))
	h := make(Headers, n)
	p := 4
	for range n {
		nl := int(d[p])
		name := d[p+1 : p+1+nl]
		p += 1 + nl
		vl := int(be32(d[p:]))
		p += 4
		h[name] = d[p : p+vl]
		p += vl
	}
	return h
}

// copyFrames copies content frames into one new buffer. Each copy has its
// capacity capped, so appending to one cannot overwrite the next.
func copyFrames(content [][]byte) [][]byte {
	total := 0
	for _, f := range content {
		total += len(f)
	}
	buf := make([]byte, total)
	out := make([][]byte, len(content))
	p := 0
	for i, f := range content {
		end := p + copy(buf[p:], f)
		out[i] = buf[p:end:end]
		p = end
	}
	return out
}

// be32 reads a big-endian uint32 from the start of s.
func be32(s string) uint32 {
	return uint32(s[0])<<24 | uint32(s[1])<<16 | uint32(s[2])<<8 | uint32(s[3])
}
