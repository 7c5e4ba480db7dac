package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/zccp-go/zccp/internal/testutil"
)

func open(t *testing.T, o Options) *Log {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	l, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func req(i int) Record {
	return Record{Time: time.Now().UTC(), Kind: KindRequest, By: Actor{Identifier: "ctl"}, Target: "pdu" + itoa(i),
		Method: "outlet.off", RequestID: "id-" + itoa(i), Outcome: "ok"}
}

func itoa(i int) string { return strconv.Itoa(i) }

// Records written and synced are read back in order with their fields;
// a second Open of the same directory is refused while the first holds it.
func TestWriteQuery(t *testing.T) {
	l := open(t, Options{})
	for i := range 20 {
		if !l.Add(req(i)) {
			t.Fatal("dropped with an empty queue")
		}
	}
	if !l.Sync(5 * time.Second) {
		t.Fatal("sync")
	}
	res, err := Query(l.Dir(), Filter{}, 0, 0)
	if err != nil || len(res.Lines) != 20 || res.Left != 0 || res.Skipped != 0 {
		t.Fatalf("%d lines, left %d, skipped %d, err %v", len(res.Lines), res.Left, res.Skipped, err)
	}
	r, err := ParseLine(res.Lines[3])
	if err != nil || r.Target != "pdu"+itoa(3) || r.By.Identifier != "ctl" || r.Outcome != "ok" {
		t.Fatalf("%+v %v", r, err)
	}
	res, _ = Query(l.Dir(), Filter{Target: "pdu" + itoa(5)}, 0, 0)
	if len(res.Lines) != 1 {
		t.Fatalf("target filter: %d", len(res.Lines))
	}
	res, _ = Query(l.Dir(), Filter{}, 5, 0)
	if len(res.Lines) != 5 || res.Left != 15 || !bytes.Contains(res.Lines[4], []byte(`"id-`+itoa(19)+`"`)) {
		t.Fatalf("limit: %d lines, left %d, last %s", len(res.Lines), res.Left, res.Lines[len(res.Lines)-1])
	}
	if _, err := Open(Options{Dir: l.Dir()}); err == nil {
		t.Fatal("second Open of one directory succeeded")
	}
}

// Rotation keeps the files under MaxBytes each and at most Keep rotated
// ones, so the directory never holds more than (Keep+1) × MaxBytes; the
// newest records survive.
func TestRotationBound(t *testing.T) {
	const max, keep = 8192, 3
	l := open(t, Options{MaxBytes: max, Keep: keep})
	for i := range 2000 {
		l.Add(req(i))
		if i%100 == 0 {
			l.Sync(5 * time.Second)
		}
	}
	l.Sync(5 * time.Second)
	files, _ := Files(l.Dir())
	if len(files) != keep+1 {
		t.Fatalf("%d files: %v", len(files), files)
	}
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil || st.Size() > max {
			t.Fatalf("%s: %v bytes, err %v", f, st.Size(), err)
		}
	}
	res, _ := Query(l.Dir(), Filter{}, 1, 0)
	if len(res.Lines) != 1 || !bytes.Contains(res.Lines[0], []byte(`"id-`+itoa(1999)+`"`)) {
		t.Fatalf("newest record: %s", res.Lines)
	}
}

// A torn last line (a crash in mid-write) and garbage are skipped, and a
// reopened log starts its next record on a line of its own.
func TestTornLine(t *testing.T) {
	dir := t.TempDir()
	l := open(t, Options{Dir: dir})
	l.Add(req(1))
	l.Sync(5 * time.Second)
	l.Close()
	f, _ := os.OpenFile(filePath(dir, 0), os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString("garbage\n" + `{"time":"2026-01-01T00:00:00Z","kind":"requ`)
	f.Close()
	l = open(t, Options{Dir: dir})
	l.Add(req(2))
	l.Sync(5 * time.Second)
	res, err := Query(dir, Filter{}, 0, 0)
	if err != nil || len(res.Lines) != 2 || res.Skipped != 2 {
		t.Fatalf("%d lines %q, skipped %d, err %v", len(res.Lines), res.Lines, res.Skipped, err)
	}
}

// A full queue drops records without blocking and the log says so with
// a gap record counting them.
func TestGapRecord(t *testing.T) {
	l := open(t, Options{Queue: 1})
	sent := 0
	for i := range 5000 {
		if l.Add(req(i)) {
			sent++
		}
	}
	if l.Dropped() == 0 {
		t.Skip("the writer kept up with a one-record queue")
	}
	l.Add(req(1)) // may drop too; a later one carries the gap
	l.Sync(5 * time.Second)
	testutil.Eventually(t, "room in the queue", func() bool { return l.Add(req(2)) })
	l.Sync(5 * time.Second)
	res, _ := Query(l.Dir(), Filter{Kind: KindGap}, 0, 0)
	var lost uint64
	for _, line := range res.Lines {
		r, _ := ParseLine(line)
		lost += r.Dropped
	}
	if lost == 0 || lost > l.Dropped() {
		t.Fatalf("gap records count %d, dropped %d", lost, l.Dropped())
	}
}

// The limiter writes the first refusal of a kind, counts the rest of the
// window into one summary, and bounds the kinds it tracks.
func TestLimiter(t *testing.T) {
	lim := &Limiter{Window: time.Minute, Slots: 2}
	t0 := time.Now()
	r := Record{Time: t0, Kind: KindRefusal, Code: "reserved", Command: "PUBLISH", By: Actor{Remote: "10.0.0.1:5000"}}
	if n := len(lim.Note(r)); n != 1 {
		t.Fatalf("first: %d records", n)
	}
	for i := range 100 {
		r.By.Remote = "10.0.0.1:" + itoa(i) // reconnecting from new ports is the same client
		if len(lim.Note(r)) != 0 {
			t.Fatal("a repeated refusal was written")
		}
	}
	other := r
	other.By.Remote, other.Command = "10.0.0.2:1", "HELLO"
	lim.Note(other)
	third := other
	third.By.Remote = "10.0.0.3:1"
	if len(lim.Note(third)) != 0 {
		t.Fatal("a refusal beyond the slots was written")
	}
	if len(lim.Flush(t0.Add(time.Second))) != 0 {
		t.Fatal("flushed before the window ended")
	}
	out := lim.Flush(t0.Add(2 * time.Minute))
	total := 0
	for _, s := range out {
		total += s.Count
	}
	if len(out) != 2 || total != 101 {
		t.Fatalf("summaries %+v", out)
	}
}

// Every record kind survives encoding and parsing.
func TestRecordJSON(t *testing.T) {
	ttl := int64(1500)
	r := Record{Time: time.Now().UTC().Truncate(time.Microsecond), Kind: KindGroup, Target: "rack1", Recipients: []string{"a", "b"},
		NumRecip: 2, TTLms: &ttl, Summary: map[string]int{"ok": 1, "missing": 1}}
	line, _ := json.Marshal(r)
	got, err := ParseLine(line)
	if err != nil || *got.TTLms != 1500 || got.Summary["missing"] != 1 || !got.Time.Equal(r.Time) {
		t.Fatalf("%s -> %+v %v", line, got, err)
	}
}

// writeLog writes n request records (ids id-0 … id-n-1) straight into
// dir's current file, faster than through a Log.
func writeLog(t *testing.T, dir string, n int) {
	t.Helper()
	var buf bytes.Buffer
	for i := range n {
		line, _ := json.Marshal(req(i))
		buf.Write(line)
		buf.WriteByte('\n')
	}
	if err := os.WriteFile(filePath(dir, 0), buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Tail holds memory bounded by its limit whatever the log's size: with
// none it holds nothing and passes every record, oldest first; with one
// it holds at most that many lines and passes the newest, oldest first.
func TestTailBounded(t *testing.T) {
	const n = 5000
	dir := t.TempDir()
	writeLog(t, dir, n)
	var got []string
	collect := func(line []byte) error {
		r, err := ParseLine(line)
		got = append(got, r.RequestID)
		return err
	}
	res, err := Tail(dir, Filter{}, 0, collect)
	if err != nil || len(got) != n || got[0] != "id-0" || got[n-1] != "id-"+itoa(n-1) || res.Held != 0 || res.Left != 0 {
		t.Fatalf("no limit: %d records (%v … %v), held %d, left %d, err %v", len(got), got[:1], got[len(got)-1:], res.Held, res.Left, err)
	}
	for _, limit := range []int{1, 7, n - 1, n, n + 10} {
		got = got[:0]
		res, err = Tail(dir, Filter{}, limit, collect)
		want := min(limit, n)
		if err != nil || len(got) != want || got[0] != "id-"+itoa(n-want) || got[want-1] != "id-"+itoa(n-1) ||
			res.Held != want || res.Left != n-want {
			t.Fatalf("limit %d: %d records (%v … %v), held %d, left %d, err %v", limit, len(got), got[:1], got[len(got)-1:], res.Held, res.Left, err)
		}
	}
	got = got[:0]
	res, _ = Tail(dir, Filter{Target: "pdu" + itoa(4321)}, 3, collect)
	if len(got) != 1 || got[0] != "id-4321" || res.Left != 0 {
		t.Fatalf("filtered: %v, left %d", got, res.Left)
	}
}

// Without a limit Tail passes each record as it scans: a log several
// times the reader's buffer, emptied when the first record is passed,
// yields only what the reader had already taken in; an error from fn
// stops it at once.
func TestTailStreams(t *testing.T) {
	const n = 5000 // ~200 bytes each: 1 MB, about fifteen buffers
	dir := t.TempDir()
	writeLog(t, dir, n)
	calls := 0
	_, err := Tail(dir, Filter{}, 0, func([]byte) error {
		if calls++; calls == 1 {
			return os.Truncate(filePath(dir, 0), 0)
		}
		return nil
	})
	if err != nil || calls == 0 || calls*200 > MaxLine*2 {
		t.Fatalf("%d records passed after the log was emptied at the first (err %v)", calls, err)
	}
	writeLog(t, dir, n)
	calls = 0
	stop := errors.New("stop")
	if _, err := Tail(dir, Filter{}, 0, func([]byte) error { calls++; return stop }); err != stop || calls != 1 {
		t.Fatalf("fn's error: %d calls, err %v", calls, err)
	}
}
