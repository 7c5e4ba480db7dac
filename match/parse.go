package match

import "errors"

// This file parses the zrex dialect into a small syntax tree.
//
// Besides the grammar, the parser keeps a running count of the bytecode
// zrex's compiler (SLRE) would emit, so that expressions SLRE rejects for size
// (more than 256 bytes of code or 256 bytes of literal data) are rejected
// here too. (SLRE also limits forward jumps to 255 bytes, but no block can
// reach that while the whole program fits in 256 bytes.) The accounting mirrors what SLRE emits for each
// construct: 2 bytes to open the whole-match capture, 3 to close it, 3 per
// literal run (plus its bytes as data), 1 per `.`, `^`, `$` or class escape,
// 3 per `[...]` (members as data; a class escape inside costs 2 data bytes),
// 2+2 per group, 3 to split the last byte off a run before a quantifier, and
// an END plus a 2-byte (quantifier) or 3-byte (alternation) header for each
// block that is relocated.

type nodeKind uint8

const (
	nLit    nodeKind = iota // literal bytes
	nSet                    // one byte out of a set (`[...]` or a class escape)
	nAny                    // `.`: any byte
	nBOL                    // `^`
	nEOL                    // `$`
	nGroup                  // `( ... )` with alternatives
	nRepeat                 // sub followed by * + ? *? +?
)

type repeatOp uint8

const (
	opStar repeatOp = iota
	opPlus
	opQuest
)

type node struct {
	kind    nodeKind
	op      repeatOp // nRepeat
	lazy    bool     // nRepeat: *? or +?
	escaped bool     // nLit: came from a backslash escape (its own SLRE EXACT)
	neg     bool     // nSet from [^...]: the set lists the bytes NOT matched
	lit     []byte   // nLit
	set     byteSet  // nSet from [...] or [^...]
	class   string   // nSet from a class escape: the Go text, e.g. "[0-9]"
	alts    [][]*node
	sub     *node // nRepeat
}

// byteSet is a set of bytes.
type byteSet [4]uint64

func (s *byteSet) add(c byte)      { s[c>>6] |= 1 << (c & 63) }
func (s *byteSet) has(c byte) bool { return s[c>>6]&(1<<(c&63)) != 0 }
func (s *byteSet) empty() bool     { return s[0]|s[1]|s[2]|s[3] == 0 }
func (s *byteSet) full() bool      { return s[0]&s[1]&s[2]&s[3] == ^uint64(0) }

// SLRE opcode numbers. A class escape inside [...] is stored by SLRE as the
// two bytes 0x00 and the opcode, and the set is then compared byte by byte,
// so `[\d]` matches the bytes 0x00 and 0x11, not digits. We reproduce that.
const (
	slreSpace    = 15
	slreNonSpace = 16
	slreDigit    = 17
	slreNonDigit = 18
	slreAlpha    = 19
	slreNonAlpha = 20
	slreAlnum    = 21
	slreNonAlnum = 22
)

// classEscapes maps the letter after a backslash to its Go class and SLRE
// opcode. The classes are those of C's <ctype.h> in the "C" locale: \s is
// isspace (space, \t \n \v \f \r), \a isalpha, \w isalnum (no underscore).
var classEscapes = [256]struct {
	goClass string
	opcode  byte
}{
	's': {`[\t-\r ]`, slreSpace},
	'S': {`[^\t-\r ]`, slreNonSpace},
	'd': {`[0-9]`, slreDigit},
	'D': {`[^0-9]`, slreNonDigit},
	'a': {`[A-Za-z]`, slreAlpha},
	'A': {`[^A-Za-z]`, slreNonAlpha},
	'w': {`[0-9A-Za-z]`, slreAlnum},
	'W': {`[^0-9A-Za-z]`, slreNonAlnum},
}

// escapedByte returns the byte a non-class escape stands for: \n \r \t \0
// are control bytes, anything else stands for itself (so \x is just 'x': SLRE
// documents \xDD but does not implement it; likewise \b is 'b').
func escapedByte(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	case '0':
		return 0
	}
	return c
}

// isMeta reports whether c ends a run of literal characters in SLRE.
func isMeta(c byte) bool {
	switch c {
	case '|', '.', '^', '$', '*', '+', '?', '(', ')', '[', '\\':
		return true
	}
	return false
}

const (
	slreCodeMax = 256
	slreDataMax = 256
)

type parser struct {
	src string
	i   int
	cs  int // SLRE code size so far
	ds  int // SLRE data size so far
	err error
}

func (p *parser) fail(msg string) {
	if p.err == nil {
		p.err = errors.New(msg)
	}
}

// parse parses the whole expression into its top-level alternatives.
func (p *parser) parse() ([][]*node, error) {
	p.cs = 2 // OPEN 0
	alts := p.alternatives(0)
	if p.err == nil && p.i < len(p.src) {
		p.fail("unexpected )")
	}
	p.cs += 3 // CLOSE 0, END
	if p.cs > slreCodeMax {
		p.fail("expression too long (zrex code overflow)")
	}
	if p.ds > slreDataMax {
		p.fail("expression too long (zrex data overflow)")
	}
	return alts, p.err
}

// alternatives parses until the end of input or a ')' (not consumed).
func (p *parser) alternatives(depth int) [][]*node {
	branched := false
	alts := [][]*node{nil}
	endBranch := func() {
		if branched {
			p.cs++ // END
		}
	}
	for p.err == nil {
		if p.i == len(p.src) {
			endBranch()
			return alts
		}
		c := p.src[p.i]
		cur := &alts[len(alts)-1]
		switch c {
		case ')':
			if depth == 0 {
				p.fail("unexpected )")
				return alts
			}
			endBranch()
			return alts
		case '|':
			p.i++
			endBranch()
			p.cs += 1 + 3 // END, then BRANCH header
			branched = true
			alts = append(alts, nil)
		case '^', '$':
			p.i++
			k := nBOL
			if c == '$' {
				k = nEOL
			}
			*cur = append(*cur, &node{kind: k})
			p.cs++
		case '.':
			p.i++
			*cur = append(*cur, &node{kind: nAny})
			p.cs++
		case '[':
			p.i++
			*cur = append(*cur, p.bracket())
		case '\\':
			p.i++
			*cur = append(*cur, p.escape())
		case '(':
			p.i++
			n := &node{kind: nGroup}
			p.cs += 2 // OPEN n
			n.alts = p.alternatives(depth + 1)
			if p.err != nil {
				return alts
			}
			if p.i == len(p.src) {
				p.fail("missing )")
				return alts
			}
			p.i++
			p.cs += 2 // CLOSE n
			*cur = append(*cur, n)
		case '*', '+', '?':
			p.i++
			p.quantifier(cur, c)
		default:
			j := p.i
			for j < len(p.src) && !isMeta(p.src[j]) {
				j++
			}
			*cur = append(*cur, &node{kind: nLit, lit: []byte(p.src[p.i:j])})
			p.cs += 3
			p.ds += j - p.i
			p.i = j
		}
	}
	return alts
}

func (p *parser) escape() *node {
	if p.i == len(p.src) {
		p.fail("trailing backslash")
		return nil
	}
	c := p.src[p.i]
	p.i++
	if ce := classEscapes[c]; ce.goClass != "" {
		n := &node{kind: nSet, class: ce.goClass}
		p.cs++
		return n
	}
	n := &node{kind: nLit, lit: []byte{escapedByte(c)}, escaped: true}
	p.cs += 3
	p.ds++
	return n
}

// bracket parses a set after its '['. SLRE has no ranges: `[a-z]` is the
// three bytes 'a', '-', 'z'. A ']' right after '[' closes an empty set.
func (p *parser) bracket() *node {
	n := &node{kind: nSet}
	if p.i < len(p.src) && p.src[p.i] == '^' {
		n.neg = true
		p.i++
	}
	for {
		if p.i == len(p.src) {
			p.fail("missing ]")
			return n
		}
		c := p.src[p.i]
		p.i++
		switch c {
		case ']':
			p.cs += 3
			return n
		case '\\':
			if p.i == len(p.src) {
				p.fail("missing ]")
				return n
			}
			e := p.src[p.i]
			p.i++
			if ce := classEscapes[e]; ce.goClass != "" {
				n.set.add(0)
				n.set.add(ce.opcode)
				p.ds += 2
			} else if b := escapedByte(e); b == 0 {
				n.set.add(0)
				p.ds += 2
			} else {
				n.set.add(b)
				p.ds++
			}
		default:
			n.set.add(c)
			p.ds++
		}
	}
}

// quantifier applies *, +, ? (c) to the last atom of the current sequence.
func (p *parser) quantifier(cur *[]*node, c byte) {
	op := opQuest
	switch c {
	case '*':
		op = opStar
	case '+':
		op = opPlus
	}
	lazy := false
	if c != '?' && p.i < len(p.src) && p.src[p.i] == '?' {
		lazy = true
		p.i++
	}
	seq := *cur
	if len(seq) == 0 {
		p.fail("missing argument to repetition operator " + string(c))
		return
	}
	last := seq[len(seq)-1]
	if last.kind == nBOL || last.kind == nEOL {
		p.fail("repetition of an anchor (^ or $) is not supported")
		return
	}
	if last.kind == nLit && !last.escaped && len(last.lit) > 1 {
		// SLRE splits the last byte off the run into its own EXACT.
		k := len(last.lit) - 1
		tail := &node{kind: nLit, lit: last.lit[k:]}
		last.lit = last.lit[:k:k]
		p.cs += 3
		seq = append(seq, tail)
		last = tail
	}
	if op != opQuest && width(last) == 0 {
		p.fail("repeated sub-expression can match the empty string (zrex would loop forever)")
		return
	}
	p.cs += 1 + 2 // END, then the 2-byte STAR/PLUS/QUEST header
	seq[len(seq)-1] = &node{kind: nRepeat, op: op, lazy: lazy, sub: last}
	*cur = seq
}

// width returns the fewest bytes n can match.
func width(n *node) int {
	switch n.kind {
	case nLit:
		return len(n.lit)
	case nSet, nAny:
		return 1
	case nBOL, nEOL:
		return 0
	case nGroup:
		return altsWidth(n.alts)
	case nRepeat:
		if n.op == opPlus {
			return width(n.sub)
		}
		return 0
	}
	return 0
}

func altsWidth(alts [][]*node) int {
	least := -1
	for _, seq := range alts {
		w := 0
		for _, n := range seq {
			w += width(n)
		}
		if least < 0 || w < least {
			least = w
		}
	}
	return max(least, 0)
}
