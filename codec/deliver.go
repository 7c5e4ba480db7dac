package codec

import (
	"encoding/binary"
	"math"
	"slices"
)

// DeliverSize returns the length of the DELIVER frame 1 that AppendDeliver
// builds from the same arguments.
func DeliverSize(sender, address []byte, raw RawHeaders, extra []Header) int {
	n := 3 + 1 + clampString(len(sender)) + 1 + clampString(len(address)) + 4 + rawBody(raw)
	for _, h := range extra {
		n += 1 + clampString(len(h.Name)) + 4 + clampLongStr(len(h.Value))
	}
	return n
}

// AppendDeliver appends a DELIVER frame 1 to dst, built from the pieces of
// a parsed PUBLISH without decoding its headers: the dictionary holds raw's
// entries (copied as they are) followed by extra's, and its count is
// raw.Len()+len(extra).
//
// The caller guarantees that extra's names do not collide with raw's, that
// raw was validated (by Parse) and that sender, address and extra names are
// at most MaxString bytes. AppendDeliver does not check any of that and
// never panics: to keep the frame well-formed, over-long strings are cut to
// MaxString bytes (and values to 4294967295 bytes). It does not allocate
// when dst has DeliverSize bytes of spare capacity.
func AppendDeliver(dst []byte, sender, address []byte, raw RawHeaders, extra []Header) []byte {
	dst = slices.Grow(dst, DeliverSize(sender, address, raw, extra))
	dst = append(dst, 0xAA, 0xAA, byte(Deliver))
	dst = appendString(dst, sender[:clampString(len(sender))])
	dst = appendString(dst, address[:clampString(len(address))])
	dst = binary.BigEndian.AppendUint32(dst, uint32(raw.Len()+len(extra)))
	if len(raw) >= 4 {
		dst = append(dst, raw[4:]...)
	}
	for _, h := range extra {
		dst = appendString(dst, h.Name[:clampString(len(h.Name))])
		dst = appendLongStr(dst, h.Value[:clampLongStr(len(h.Value))])
	}
	return dst
}

// rawBody is the length of raw's entries, without the count.
func rawBody(raw RawHeaders) int {
	if len(raw) < 4 {
		return 0
	}
	return len(raw) - 4
}

func clampString(n int) int { return min(n, MaxString) }

func clampLongStr(n int) int {
	if uint64(n) > math.MaxUint32 {
		var limit uint64 = math.MaxUint32 // only reachable where int has 64 bits
		return int(limit)
	}
	return n
}

// DeliverSizeReplacing returns the length of the DELIVER frame 1 that
// AppendDeliverReplacing builds from the same arguments.
func DeliverSizeReplacing(sender, address []byte, raw RawHeaders, replace []Header) int {
	n := DeliverSize(sender, address, nil, replace)
	for name, value := range raw.All() {
		if !replaced(name, replace) {
			n += 1 + len(name) + 4 + len(value)
		}
	}
	return n
}

// AppendDeliverReplacing is AppendDeliver where replace's entries take the
// place of raw's entries with the same names (raw's are left out, replace's
// are appended). Same contract as AppendDeliver otherwise.
func AppendDeliverReplacing(dst []byte, sender, address []byte, raw RawHeaders, replace []Header) []byte {
	dst = slices.Grow(dst, DeliverSizeReplacing(sender, address, raw, replace))
	dst = append(dst, 0xAA, 0xAA, byte(Deliver))
	dst = appendString(dst, sender[:clampString(len(sender))])
	dst = appendString(dst, address[:clampString(len(address))])
	countAt := len(dst)
	dst = append(dst, 0, 0, 0, 0)
	count := len(replace)
	for name, value := range raw.All() {
		if !replaced(name, replace) {
			dst = appendString(dst, name)
			dst = appendLongStr(dst, value)
			count++
		}
	}
	binary.BigEndian.PutUint32(dst[countAt:], uint32(count))
	for _, h := range replace {
		dst = appendString(dst, h.Name[:clampString(len(h.Name))])
		dst = appendLongStr(dst, h.Value[:clampLongStr(len(h.Value))])
	}
	return dst
}

func replaced(name []byte, replace []Header) bool {
	for _, h := range replace {
		if string(name) == h.Name {
			return true
		}
	}
	return false
}
