package match

import "strings"

// emitter writes a zrex syntax tree as Go RE2 syntax.
//
// Every byte of the expression is written as one rune: ASCII as itself,
// 0x80-0xFF as U+0080-U+00FF (`\xE9`), which is what [Latin1] turns address
// bytes into, so the regexp works on bytes exactly like zrex.
type emitter struct {
	b   strings.Builder
	dot bool // a `.` was written; the caller prefixes (?s)
}

func (w *emitter) alts(alts [][]*node) {
	for i, seq := range alts {
		if i > 0 {
			w.b.WriteByte('|')
		}
		w.seq(seq)
	}
}

func (w *emitter) seq(seq []*node) {
	for _, n := range seq {
		w.node(n)
	}
}

func (w *emitter) node(n *node) {
	switch n.kind {
	case nLit:
		for _, c := range n.lit {
			w.litByte(c)
		}
	case nSet:
		if n.class != "" {
			w.b.WriteString(n.class)
		} else {
			w.set(&n.set, n.neg)
		}
	case nAny:
		w.b.WriteByte('.')
		w.dot = true
	case nBOL:
		w.b.WriteByte('^')
	case nEOL:
		w.b.WriteByte('$')
	case nGroup:
		w.b.WriteByte('(')
		w.alts(n.alts)
		w.b.WriteByte(')')
	case nRepeat:
		if n.sub.kind == nRepeat {
			w.b.WriteString("(?:")
			w.node(n.sub)
			w.b.WriteByte(')')
		} else {
			w.node(n.sub) // a single byte, set, dot or group
		}
		w.b.WriteByte("*+?"[n.op])
		if n.lazy {
			w.b.WriteByte('?')
		}
	}
}

// goMeta lists the ASCII characters that must be escaped in Go syntax
// outside a class; `{` and `}` are among them although zrex treats them as
// ordinary characters.
const goMeta = `\.+*?()|[]{}^$`

func (w *emitter) litByte(c byte) {
	if strings.IndexByte(goMeta, c) >= 0 {
		w.b.WriteByte('\\')
		w.b.WriteByte(c)
		return
	}
	w.plainByte(c)
}

// plainByte writes c where it needs no escaping unless it is not printable.
func (w *emitter) plainByte(c byte) {
	switch c {
	case '\t':
		w.b.WriteString(`\t`)
	case '\n':
		w.b.WriteString(`\n`)
	case '\v':
		w.b.WriteString(`\v`)
	case '\f':
		w.b.WriteString(`\f`)
	case '\r':
		w.b.WriteString(`\r`)
	default:
		if c < 0x20 || c >= 0x7f {
			w.b.WriteString(`\x`)
			w.b.WriteByte(hexDigitsUpper[c>>4])
			w.b.WriteByte(hexDigitsUpper[c&15])
		} else {
			w.b.WriteByte(c)
		}
	}
}

const hexDigitsUpper = "0123456789ABCDEF"

// classByte writes c inside a Go class.
func (w *emitter) classByte(c byte) {
	if c < 0x80 && !isAlnum(c) && c > 0x20 && c < 0x7f {
		w.b.WriteByte('\\') // escaping ASCII punctuation is always allowed
		w.b.WriteByte(c)
		return
	}
	w.plainByte(c)
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// set writes a zrex [...] (neg: [^...]) whose listed bytes are s.
func (w *emitter) set(s *byteSet, neg bool) {
	switch {
	case neg && s.empty(), !neg && s.full():
		w.b.WriteString(`(?s:.)`) // [^] matches any byte
		return
	case !neg && s.empty(), neg && s.full():
		w.b.WriteString(`[^\x00-\x{10FFFF}]`) // [] matches nothing
		return
	}
	w.b.WriteByte('[')
	if neg {
		w.b.WriteByte('^')
	}
	for c := 0; c < 256; {
		if !s.has(byte(c)) {
			c++
			continue
		}
		hi := c
		for hi+1 < 256 && s.has(byte(hi+1)) {
			hi++
		}
		w.classByte(byte(c))
		switch {
		case hi == c+1:
			w.classByte(byte(hi))
		case hi > c+1:
			w.b.WriteByte('-')
			w.classByte(byte(hi))
		}
		c = hi + 1
	}
	w.b.WriteByte(']')
}
