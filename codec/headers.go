package codec

import (
	"encoding/binary"
	"fmt"
	"iter"
	"math"
	"slices"
)

// MaxString is the longest value of a `string` field (and of a header name)
// in bytes: its length travels in one octet.
const MaxString = 255

// Headers is a decoded ZCCP dictionary: names map to values. Values are
// binary-safe (a longstr on the wire); names are at most MaxString bytes.
// Order carries no meaning; the encoder writes names in sorted order.
type Headers map[string]string

// Header is one dictionary entry, used to add entries to a DELIVER built by
// AppendDeliver.
type Header struct{ Name, Value string }

// AppendHeaders appends h encoded as a dictionary (the 4-byte count, then
// each name and value) to dst, names in sorted order so that the output is
// deterministic. A nil or empty h encodes as count 0. On error dst is
// returned unchanged; the error wraps ErrStringTooLong for a name longer
// than MaxString bytes, or ErrValueTooLong.
func AppendHeaders(dst []byte, h Headers) ([]byte, error) {
	n, err := headersSize(h, 0)
	if err != nil {
		return dst, err
	}
	dst = slices.Grow(dst, n)
	return appendHeaders(dst, h), nil
}

// headersSize returns the encoded size of h and checks its limits. id is
// only used in error messages (0 outside a command).
func headersSize(h Headers, id ID) (int, error) {
	if uint64(len(h)) > math.MaxUint32 {
		return 0, fmt.Errorf("%w: %s has %d headers", ErrValueTooLong, where(id), len(h))
	}
	n := 4
	for name, value := range h {
		if len(name) > MaxString {
			return 0, fmt.Errorf("%w: %s header name %.16q... is %d bytes", ErrStringTooLong, where(id), name, len(name))
		}
		if uint64(len(value)) > math.MaxUint32 {
			return 0, fmt.Errorf("%w: %s header %q value is %d bytes", ErrValueTooLong, where(id), name, len(value))
		}
		n += 1 + len(name) + 4 + len(value)
	}
	return n, nil
}

func where(id ID) string {
	if id == 0 {
		return "dictionary"
	}
	return id.String()
}

// appendHeaders encodes h, already checked by headersSize.
func appendHeaders(dst []byte, h Headers) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(h)))
	var stack [16]string
	names := stack[:0]
	for name := range h {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		dst = appendString(dst, name)
		dst = appendLongStr(dst, h[name])
	}
	return dst
}

// appendString appends a `string` field; len(s) must be at most MaxString.
func appendString[S ~string | ~[]byte](dst []byte, s S) []byte {
	dst = append(dst, byte(len(s)))
	return append(dst, s...)
}

// appendLongStr appends a `longstr`; len(s) must fit in 32 bits.
func appendLongStr[S ~string | ~[]byte](dst []byte, s S) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(s)))
	return append(dst, s...)
}

// RawHeaders is an encoded dictionary, including its 4-byte count, as found
// in frame 1 (see View). An empty or nil RawHeaders means count 0.
//
// The methods expect a dictionary validated by Parse. On other input they
// do not panic: iteration stops at the first entry that does not fit.
type RawHeaders []byte

// Len returns the number of entries, as declared by the count.
func (h RawHeaders) Len() int {
	if len(h) < 4 {
		return 0
	}
	c := binary.BigEndian.Uint32(h)
	if uint64(c) > math.MaxInt {
		return math.MaxInt
	}
	return int(c)
}

// entry decodes the entry at h[p]. ok is false when it does not fit.
func (h RawHeaders) entry(p int) (name, value []byte, next int, ok bool) {
	if p < 0 || p >= len(h) {
		return nil, nil, 0, false
	}
	nl := int(h[p])
	p++
	if nl > len(h)-p {
		return nil, nil, 0, false
	}
	name = h[p : p+nl : p+nl]
	p += nl
	if len(h)-p < 4 {
		return nil, nil, 0, false
	}
	vl := binary.BigEndian.Uint32(h[p:])
	p += 4
	if uint64(vl) > uint64(len(h)-p) {
		return nil, nil, 0, false
	}
	end := p + int(vl)
	return name, h[p:end:end], end, true
}

// Get returns the value of the entry called name, a sub-slice of h, and
// whether there is one. It does not allocate.
func (h RawHeaders) Get(name string) ([]byte, bool) {
	p := 4
	for range h.Len() {
		n, v, next, ok := h.entry(p)
		if !ok {
			break
		}
		if string(n) == name {
			return v, true
		}
		p = next
	}
	return nil, false
}

// All returns an iterator over the entries, in wire order, as (name, value)
// sub-slices of h. It does not allocate.
func (h RawHeaders) All() iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		p := 4
		for range h.Len() {
			n, v, next, ok := h.entry(p)
			if !ok || !yield(n, v) {
				return
			}
			p = next
		}
	}
}

// Map decodes the entries into a new Headers (never nil) that shares no
// memory with h.
func (h RawHeaders) Map() Headers {
	m := make(Headers, min(h.Len(), len(h)/minEntry))
	for n, v := range h.All() {
		m[string(n)] = string(v)
	}
	return m
}
