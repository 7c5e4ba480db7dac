package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Filter selects records; a zero field selects everything.
type Filter struct {
	Since, Until time.Time // Time within [Since, Until]
	Target       string    // an identifier or key the record concerns: target, recipient, key, identifier, or actor
	Method       string
	Kind         string
}

// Match reports whether r passes f.
func (f *Filter) Match(r *Record) bool {
	switch {
	case !f.Since.IsZero() && r.Time.Before(f.Since),
		!f.Until.IsZero() && r.Time.After(f.Until),
		f.Method != "" && r.Method != f.Method,
		f.Kind != "" && r.Kind != f.Kind:
		return false
	case f.Target == "":
		return true
	}
	t := f.Target
	return r.Target == t || r.Key == t || r.Identifier == t || r.By.Identifier == t || r.By.Key == t ||
		slices.Contains(r.Recipients, t)
}

// ErrBadLine is ParseLine's error for a line that is not a record.
var ErrBadLine = errors.New("audit: not a record")

// ParseLine decodes one line (without its newline). A torn line (the
// end of a crashed write) or garbage is ErrBadLine.
func ParseLine(line []byte) (Record, error) {
	var r Record
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &r) != nil || r.Kind == "" || r.Time.IsZero() {
		return Record{}, ErrBadLine
	}
	return r, nil
}

// Scan calls fn for every line of rd that is a record, in order, and
// returns how many lines were skipped (torn, garbage, or longer than
// MaxLine). line is valid only during the call.
func Scan(rd io.Reader, fn func(line []byte, r *Record)) (skipped int, err error) {
	return scan(rd, func(line []byte, r *Record) bool { fn(line, r); return true })
}

// scan is Scan with a way out: it stops when fn returns false.
func scan(rd io.Reader, fn func(line []byte, r *Record) bool) (skipped int, err error) {
	br := bufio.NewReaderSize(rd, MaxLine)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			skipped++
			for errors.Is(err, bufio.ErrBufferFull) { // the rest of an overlong line
				_, err = br.ReadSlice('\n')
			}
			if err == io.EOF {
				return skipped, nil
			}
			if err != nil {
				return skipped, err
			}
			continue
		}
		if len(line) > 0 {
			if r, perr := ParseLine(line); perr == nil {
				if !fn(line, &r) {
					return skipped, nil
				}
			} else if len(bytes.TrimSpace(line)) > 0 {
				skipped++
			}
		}
		if err == io.EOF {
			return skipped, nil
		}
		if err != nil {
			return skipped, err
		}
	}
}

// Files returns the log's files in dir, oldest first (the rotated ones
// from the highest number down, then the current file).
func Files(dir string) ([]string, error) {
	names, err := filepath.Glob(filepath.Join(dir, FileName+".*"))
	if err != nil {
		return nil, err
	}
	type numbered struct {
		n    int
		name string
	}
	var rotated []numbered
	for _, name := range names {
		n, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(name), FileName+"."))
		if err == nil && n > 0 {
			rotated = append(rotated, numbered{n, name})
		}
	}
	slices.SortFunc(rotated, func(a, b numbered) int { return b.n - a.n })
	var out []string
	for _, r := range rotated {
		out = append(out, r.name)
	}
	if _, err := os.Stat(filePath(dir, 0)); err == nil {
		out = append(out, filePath(dir, 0))
	}
	return out, nil
}

// Result is what Query found.
type Result struct {
	Lines   [][]byte // matching records as JSON lines (no newline), oldest first
	Left    int      // older matching records left out by the limits
	Skipped int      // lines that were not records (torn, garbage)
}

// Query reads the log in dir and returns the newest records matching f:
// at most limit of them (0: no limit) and at most maxBytes of lines in all
// (each line counted with 9 bytes of framing, as in a reply's frames;
// 0: no limit). A rotated file last written before f.Since is not read.
func Query(dir string, f Filter, limit int, maxBytes int64) (Result, error) {
	files, err := Files(dir)
	if err != nil {
		return Result{}, err
	}
	var res Result
	var size int64
	head := 0
	keep := func(line []byte, r *Record) bool {
		if !f.Match(r) {
			return true
		}
		res.Lines = append(res.Lines, append([]byte(nil), bytes.TrimSpace(line)...))
		size += int64(len(res.Lines[len(res.Lines)-1])) + 9
		for (limit > 0 && len(res.Lines)-head > limit) || (maxBytes > 0 && size > maxBytes) {
			size -= int64(len(res.Lines[head])) + 9
			res.Lines[head] = nil
			head++
			res.Left++
		}
		if head > 1024 && head > len(res.Lines)/2 {
			res.Lines = append(res.Lines[:0], res.Lines[head:]...)
			head = 0
		}
		return true
	}
	for i, name := range files {
		n, err := scanFile(name, f.Since, i == len(files)-1, keep)
		res.Skipped += n
		if err != nil && !errors.Is(err, os.ErrNotExist) { // rotated away meanwhile
			return res, err
		}
	}
	res.Lines = res.Lines[head:]
	return res, nil
}

// scanFile scans one file, unless it is a rotated one (not current) last
// written before since.
func scanFile(name string, since time.Time, current bool, fn func([]byte, *Record) bool) (int, error) {
	fh, err := os.Open(name)
	if err != nil {
		return 0, err
	}
	defer fh.Close()
	if st, err := fh.Stat(); err == nil && !current && !since.IsZero() && st.ModTime().Before(since) {
		return 0, nil
	}
	return scan(fh, fn)
}

// TailResult is what Tail found besides the records it passed on.
type TailResult struct {
	Left    int // older matching records left out by the limit
	Skipped int // lines that were not records (torn, garbage)
	Held    int // the most lines held at once: 0 without a limit, at most limit with one
}

// Tail passes the records in dir matching f to fn, oldest first, holding
// memory bounded whatever the log's size. Without a limit (0) each is
// passed as it is scanned and none is kept; with one, the newest limit
// are kept in a ring (lines reused as they are overwritten) and passed at
// the end. line is valid only during the call; an error from fn stops
// Tail, which returns it. A rotated file last written before f.Since is
// not read.
func Tail(dir string, f Filter, limit int, fn func(line []byte) error) (TailResult, error) {
	files, err := Files(dir)
	if err != nil {
		return TailResult{}, err
	}
	var (
		res   TailResult
		ring  [][]byte // at most limit lines; ring[next] is the oldest once full
		next  int
		fnErr error
	)
	keep := func(line []byte, r *Record) bool {
		if !f.Match(r) {
			return true
		}
		line = bytes.TrimSpace(line)
		switch {
		case limit <= 0:
			fnErr = fn(line)
		case len(ring) < limit:
			ring = append(ring, append([]byte(nil), line...))
			res.Held = len(ring)
		default:
			ring[next] = append(ring[next][:0], line...)
			next = (next + 1) % limit
			res.Left++
		}
		return fnErr == nil
	}
	for i, name := range files {
		n, err := scanFile(name, f.Since, i == len(files)-1, keep)
		res.Skipped += n
		if fnErr != nil {
			return res, fnErr
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) { // rotated away meanwhile
			return res, err
		}
	}
	for i := range ring {
		if err := fn(ring[(next+i)%len(ring)]); err != nil {
			return res, err
		}
	}
	return res, nil
}
