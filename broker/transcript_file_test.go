package broker_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// A transcript file (broker/testdata/transcripts/*.txt) is a sequence of
// blocks in the style of cockroachdb/datadriven:
//
//	# comments and blank lines between blocks are kept as they are
//	connect a
//	a: HELLO id=dev1 header=unit:W
//	----
//	a: HELLO-OK
//
// Inputs: "connect NAME" (a new connection; "connect NAME other" takes
// the other transport), "NAME: COMMAND key=value..." (id=, expr=, addr=,
// sender=, header=name:value, content=, filler=N, repeatable where the
// command has them; "raw frame=..." sends frames as they are), "close
// NAME", "await NAME" (for what the broker sends on its own, such as
// after a disconnection) and, before the first connect, "broker
// max-headers=N ..." to set limits ("broker policy=FILE" installs the
// permission policy in FILE, beside the transcripts). Values with spaces, quotes or
// unprintable bytes are Go-quoted.
//
// The lines before "----" are inputs, run in order; the lines after it, up
// to a blank line, are everything the broker sent each peer because of
// them (grouped by peer, peers in the order they connected, each peer's
// messages in the order they arrived). No lines: the broker sent nothing.
// go test ./broker -run TestTranscripts -rewrite writes what the broker
// actually sent in place of the expected lines.
//
// The broker handles each connection's inputs in order, but different
// connections' inputs concurrently: inputs of several peers whose order
// matters (a SUBSCRIBE and the PUBLISH it should see, two peers sending to
// a third) belong in separate blocks.

// block is one input/output block of a transcript.
type block struct {
	pre  []string // comment and blank lines before it
	line int      // line number of its first input
	cmds []string
	want []string
}

// transcript is a parsed transcript file.
type transcript struct {
	path   string
	blocks []*block
	tail   []string // comment and blank lines after the last block
}

const separator = "----"

func readTranscript(path string) (*transcript, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	tr := &transcript{path: path}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	var cur *block
	var pre []string
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		switch {
		case cur == nil && (strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#")):
			pre = append(pre, l)
		case l == separator:
			if cur == nil {
				return nil, fmt.Errorf("%s:%d: %s without inputs", path, i+1, separator)
			}
			for i+1 < len(lines) && strings.TrimSpace(lines[i+1]) != "" {
				i++
				cur.want = append(cur.want, lines[i])
			}
			tr.blocks = append(tr.blocks, cur)
			cur = nil
		case cur != nil && strings.TrimSpace(l) == "":
			return nil, fmt.Errorf("%s:%d: blank line among inputs (a block is inputs, %s, outputs)", path, i+1, separator)
		default:
			if cur == nil {
				cur = &block{pre: pre, line: i + 1}
				pre = nil
			}
			cur.cmds = append(cur.cmds, l)
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("%s:%d: inputs without %s", path, cur.line, separator)
	}
	tr.tail = pre
	return tr, nil
}

// write stores the transcript at path, with each block's want as its
// output.
func (tr *transcript) write(path string) error {
	var b strings.Builder
	for _, bl := range tr.blocks {
		for _, l := range bl.pre {
			b.WriteString(l + "\n")
		}
		for _, l := range bl.cmds {
			b.WriteString(l + "\n")
		}
		b.WriteString(separator + "\n")
		for _, l := range bl.want {
			b.WriteString(l + "\n")
		}
	}
	for _, l := range tr.tail {
		b.WriteString(l + "\n")
	}
	out := strings.TrimRight(b.String(), "\n") + "\n"
	return os.WriteFile(path, []byte(out), 0o644)
}

// token is one key=value word of an input or output line.
type token struct{ key, value string }

// splitWords splits a line at spaces outside double quotes.
func splitWords(s string) ([]string, error) {
	var words []string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		i, inq := 0, false
		for ; i < len(s) && (inq || s[i] != ' '); i++ {
			switch {
			case inq && s[i] == '\\':
				i++
			case s[i] == '"':
				inq = !inq
			}
		}
		if inq {
			return nil, fmt.Errorf("unterminated quote in %q", s)
		}
		words = append(words, s[:min(i, len(s))])
		s = s[min(i, len(s)):]
	}
	return words, nil
}

// unquoteWord removes the Go-style quoted segments of a word: a"b c"d is
// "ab cd".
func unquoteWord(w string) (string, error) {
	var b strings.Builder
	for w != "" {
		q := strings.IndexByte(w, '"')
		if q < 0 {
			b.WriteString(w)
			break
		}
		b.WriteString(w[:q])
		end := q + 1
		for ; end < len(w) && w[end] != '"'; end++ {
			if w[end] == '\\' {
				end++
			}
		}
		s, err := strconv.Unquote(w[q : end+1])
		if err != nil {
			return "", fmt.Errorf("bad quoted text %s: %w", w[q:end+1], err)
		}
		b.WriteString(s)
		w = w[end+1:]
	}
	return b.String(), nil
}

// parseTokens parses key=value words (values quoted as Go strings where
// they hold spaces, quotes or unprintable bytes).
func parseTokens(words []string) ([]token, error) {
	toks := make([]token, 0, len(words))
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not key=value", w)
		}
		v, err := unquoteWord(v)
		if err != nil {
			return nil, err
		}
		toks = append(toks, token{k, v})
	}
	return toks, nil
}

// quote returns s as a bare word when it is one, else Go-quoted.
func quote(s string) string {
	if s == "" {
		return `""`
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return strconv.Quote(s)
		}
	}
	return s
}

// formatHeaders formats a dictionary as header=name:value words, sorted by
// name, with the values of names in masked shown as *.
func formatHeaders(h map[string]string, skip, masked map[string]bool) []string {
	names := make([]string, 0, len(h))
	for n := range h {
		if !skip[n] {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	out := make([]string, 0, len(names))
	for _, n := range names {
		v := quote(h[n])
		if masked[n] {
			v = "*"
		}
		out = append(out, "header="+quote(n)+":"+v)
	}
	return out
}

// TestTranscriptFormat: every transcript reads and writes back byte for
// byte (so -rewrite changes only outputs), and the word syntax round-trips
// through quote.
func TestTranscriptFormat(t *testing.T) {
	files, _ := filepath.Glob("testdata/transcripts/*.txt")
	for _, path := range files {
		tr, err := readTranscript(path)
		if err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "out.txt")
		if err := tr.write(out); err != nil {
			t.Fatal(err)
		}
		a, _ := os.ReadFile(path)
		b, _ := os.ReadFile(out)
		if string(a) != string(b) {
			t.Errorf("%s does not write back unchanged", path)
		}
	}
	for _, v := range []string{"", "plain", "two words", "a\x00b", `q"uote`, "back\\slash", "é", "k:v=w"} {
		words, err := splitWords("x=" + quote(v) + " y=1")
		if err != nil {
			t.Fatal(err)
		}
		toks, err := parseTokens(words)
		if err != nil || len(toks) != 2 || toks[0].value != v || toks[1].value != "1" {
			t.Errorf("%q: got %+v, %v", v, toks, err)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.txt")
	os.WriteFile(bad, []byte("connect a\n\na: GOODBYE\n----\n"), 0o644)
	if _, err := readTranscript(bad); err == nil {
		t.Error("a blank line among inputs was accepted")
	}
}
