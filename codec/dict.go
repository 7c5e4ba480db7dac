package codec

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// Dictionary validation (used by Parse and Decode).
//
// Every entry is at least 5 bytes (a 1-byte name length and a 4-byte value
// length), so a count larger than a fifth of the remaining bytes is rejected
// before anything is allocated or walked. Duplicate names are found by
// comparing every pair for small dictionaries, and by sorting the entries'
// offsets for larger ones; up to dictStack offsets live on the stack, more
// take 4 bytes each (less than the 5 bytes each entry occupies in the input).

const (
	minEntry     = 5  // smallest possible dictionary entry in bytes
	pairwiseMax  = 8  // up to this many entries, compare names pairwise
	dictStack    = 64 // up to this many entries, sort offsets on the stack
	headersField = "headers"
)

// offset is the type that stores entry offsets for the duplicate check.
// uint32 halves the memory of int; int is needed only past 4 GiB.
type offset interface{ ~uint32 | ~int }

// walkDict validates the dictionary that starts at frame[p] and returns the
// offset just past it.
func walkDict(frame []byte, p int, id ID) (int, error) {
	rem := len(frame) - p
	if rem < 4 {
		return 0, malformed(KindTruncated, id, headersField, p,
			fmt.Sprintf("dictionary count needs 4 bytes, %d %s remain", rem, plural(rem, "byte")))
	}
	count := binary.BigEndian.Uint32(frame[p:])
	rem -= 4
	if uint64(count) > uint64(rem)/minEntry {
		return 0, malformed(KindTruncated, id, headersField, p,
			fmt.Sprintf("dictionary count %d exceeds remaining %d %s", count, rem, plural(rem, "byte")))
	}
	n := int(count) // safe: count <= rem/5
	if uint64(len(frame)) <= math.MaxUint32 {
		var stack [dictStack]uint32
		offs := stack[:0]
		if n > dictStack {
			offs = make([]uint32, 0, n)
		}
		return walkEntries(frame, p+4, n, id, offs)
	}
	// Only frames over 4 GiB get here.
	return walkEntries(frame, p+4, n, id, make([]int, 0, n))
}

// walkEntries checks n entries starting at frame[p], recording the offset
// of each entry's name length octet in offs, then checks for duplicates.
func walkEntries[T offset](frame []byte, p, n int, id ID, offs []T) (int, error) {
	for i := range n {
		if p >= len(frame) {
			return 0, malformed(KindTruncated, id, headersField, p,
				fmt.Sprintf("entry %d: name length octet is past the end of the frame", i))
		}
		offs = append(offs, T(p))
		nl := int(frame[p])
		if rem := len(frame) - p - 1; nl > rem {
			return 0, malformed(KindTruncated, id, headersField, p,
				fmt.Sprintf("entry %d: name of %d %s exceeds remaining %d %s", i, nl, plural(nl, "byte"), rem, plural(rem, "byte")))
		}
		p += 1 + nl
		rem := len(frame) - p
		if rem < 4 {
			return 0, malformed(KindTruncated, id, headersField, p,
				fmt.Sprintf("entry %d: value length needs 4 bytes, %d %s remain", i, rem, plural(rem, "byte")))
		}
		vl := binary.BigEndian.Uint32(frame[p:])
		rem -= 4
		if uint64(vl) > uint64(rem) {
			return 0, malformed(KindTruncated, id, headersField, p,
				fmt.Sprintf("entry %d: value of %d %s exceeds remaining %d %s", i, vl, plural(int(vl), "byte"), rem, plural(rem, "byte")))
		}
		p += 4 + int(vl)
	}
	if err := checkDuplicates(frame, offs, id); err != nil {
		return 0, err
	}
	return p, nil
}

// nameAt returns the name of the (already validated) entry at frame[off].
func nameAt(frame []byte, off int) []byte {
	return frame[off+1 : off+1+int(frame[off])]
}

// checkDuplicates reports the first entry, in frame order, whose name was
// already used by an earlier entry.
func checkDuplicates[T offset](frame []byte, offs []T, id ID) error {
	if len(offs) <= pairwiseMax {
		for i := 1; i < len(offs); i++ {
			ni := nameAt(frame, int(offs[i]))
			for j := range i {
				if bytes.Equal(ni, nameAt(frame, int(offs[j]))) {
					return duplicate(frame, int(offs[i]), id)
				}
			}
		}
		return nil
	}
	// Sort by name, then by position: the second of each equal run is a
	// duplicate; report the one that comes first in the frame.
	slices.SortFunc(offs, func(a, b T) int {
		if c := bytes.Compare(nameAt(frame, int(a)), nameAt(frame, int(b))); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	first := -1
	for i := 1; i < len(offs); i++ {
		if bytes.Equal(nameAt(frame, int(offs[i-1])), nameAt(frame, int(offs[i]))) {
			if o := int(offs[i]); first < 0 || o < first {
				first = o
			}
		}
	}
	if first >= 0 {
		return duplicate(frame, first, id)
	}
	return nil
}

func duplicate(frame []byte, off int, id ID) error {
	return malformed(KindDuplicateHeader, id, headersField, off,
		"duplicate header name "+strconv.Quote(string(nameAt(frame, off))))
}
