// Package audit is zccpd's audit trail: one JSON object per line,
// appended to files in the data directory by one writer goroutine and
// rotated by size, so the trail is bounded on disk, readable with jq or
// grep while the broker runs, and readable after a kill -9 (a torn last
// line is skipped).
//
// Producers never wait: Add puts a record on a bounded channel or, when
// it is full, counts it as dropped; the writer then records the gap in
// the log itself (a record of kind "gap" with the number lost). The
// writer appends everything queued with one write; a second goroutine,
// the syncer, fsyncs the file after writes (at most every SyncGap, 50 ms
// by default: one fsync covers every write of the gap), so that a slow
// disk delays durability, not the writer. A kill -9 loses nothing
// written (it is in the page cache); a power cut loses at most what the
// syncer had not yet synced (the last ~50 ms plus one fsync).
package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Kinds of records.
const (
	KindRequest = "request" // a request to one device, at its end
	KindGroup   = "group"   // a group request, when its last recipient's part ended
	KindKey     = "key"     // a client key or identifier binding changed
	KindRefusal = "refusal" // a refused operation (possibly several, aggregated: Count)
	KindGap     = "gap"     // records lost because the writer could not keep up (Dropped)
)

// Actor is who did what a record tells: a requester, an operator, a
// refused client. Empty fields are unknown (the broker itself has none).
type Actor struct {
	Identifier string `json:"identifier,omitempty"`
	Key        string `json:"key,omitempty"`    // CURVE public key, Z85
	Remote     string `json:"remote,omitempty"` // network address
}

// Record is one line of the audit log. Which fields are set depends on
// Kind; the rest are left out of the JSON.
type Record struct {
	Time time.Time `json:"time"` // when it happened (a request: when it ended)
	Kind string    `json:"kind"`
	By   Actor     `json:"by,omitzero"`

	// Requests.
	Target     string         `json:"target,omitempty"`     // the device of a request; the address of a group request
	Recipients []string       `json:"recipients,omitempty"` // a group's, as in its receipt (at most MaxRecipients)
	NumRecip   int            `json:"num_recipients,omitempty"`
	Method     string         `json:"method,omitempty"`
	RequestID  string         `json:"request_id,omitempty"`
	TTLms      *int64         `json:"ttl_ms,omitempty"`
	Start      time.Time      `json:"start,omitzero"`
	Outcome    string         `json:"outcome,omitempty"` // a request's outcome; a group's worst
	Summary    map[string]int `json:"summary,omitempty"` // a group: recipients per outcome

	// Key changes.
	Key        string `json:"key,omitempty"`        // the key concerned (Z85)
	Identifier string `json:"identifier,omitempty"` // the identifier (or identifier pattern, for bindings) concerned
	Action     string `json:"action,omitempty"`     // pending, accepted, rejected, revoked, bound, released
	From       string `json:"from,omitempty"`       // the key's previous state / the identifier's previous key

	// Refusals.
	Code    string `json:"code,omitempty"`    // the notice's error code (not-authorized, reserved, ...)
	Command string `json:"command,omitempty"` // HELLO, PUBLISH, DIRECT, ...
	Reason  string `json:"reason,omitempty"`
	Count   int    `json:"count,omitempty"` // refusals this record stands for, when more than one

	Dropped uint64 `json:"dropped,omitempty"` // a gap: records lost

	// Broker names the broker whose log holds the record, in a
	// federation's merged answer (never written to the files).
	Broker string `json:"broker,omitempty"`
}

// Limits on what one record holds, so that a line stays small whatever a
// client sends (header values can be megabytes).
const (
	MaxRecipients     = 64   // recipient names kept in a group record (NumRecip has the count)
	MaxRecipientBytes = 2048 // and at most this many bytes of them
	MaxField          = 256  // bytes kept of a client-chosen string (method, request id, identifiers)
	MaxLine           = 64 << 10
)

// So a record holds at most ~4 KiB of client-chosen bytes, and a full
// queue (DefaultQueue records) at most ~32 MiB, whatever clients send;
// typical records are 200-400 bytes.

// Clip returns s cut to MaxField bytes.
func Clip(s string) string {
	if len(s) > MaxField {
		return s[:MaxField]
	}
	return s
}

// File names inside the audit directory: the current file, and its
// rotated predecessors FileName.1 (newest) to FileName.Keep (oldest).
const FileName = "audit.jsonl"

// Options configure a Log.
type Options struct {
	Dir      string        // directory of the files (created, mode 0700)
	MaxBytes int64         // size at which the current file is rotated; default DefaultMaxBytes
	Keep     int           // rotated files kept; default DefaultKeep. Disk use stays under (Keep+1) × MaxBytes
	Queue    int           // records that may wait for the writer; default DefaultQueue
	SyncGap  time.Duration // the syncer's pause after each fsync (fsyncs at most this often); default DefaultSyncGap
	Logger   *slog.Logger  // the writer's own errors
}

// Defaults of Options.
const (
	DefaultMaxBytes = 16 << 20
	DefaultKeep     = 8
	DefaultQueue    = 8192
	DefaultSyncGap  = 50 * time.Millisecond
	maxBatch        = 4096 // records written per fsync at most
)

// entry is what the channel carries: a record, or a barrier (sync) that
// the writer closes once everything queued before it is on disk.
type entry struct {
	rec  Record
	sync chan struct{}
}

// Log is an open audit log. Add and Sync are safe for concurrent use.
type Log struct {
	opts    Options
	log     *slog.Logger
	ch      chan entry
	dropped atomic.Uint64 // records refused by a full channel
	written atomic.Uint64 // records on disk
	done    chan struct{}
	close   sync.Once
	syncReq chan struct{}           // wakes the syncer (capacity 1: requests coalesce)
	cur     atomic.Pointer[os.File] // the file the syncer syncs
	synced  chan struct{}           // closed when the syncer has stopped

	// Writer goroutine only.
	f       *os.File
	size    int64
	buf     []byte
	noted   uint64 // dropped count already recorded as a gap
	lock    *os.File
	failing bool // the last write failed (logged once until one succeeds)
}

// Open opens (creating) the log in opts.Dir and starts its writer. Only
// one process may hold a directory: a second Open fails.
func Open(opts Options) (*Log, error) {
	if opts.Dir == "" {
		return nil, errors.New("audit: no directory")
	}
	if opts.MaxBytes == 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.Keep == 0 {
		opts.Keep = DefaultKeep
	}
	if opts.Queue == 0 {
		opts.Queue = DefaultQueue
	}
	if opts.SyncGap == 0 {
		opts.SyncGap = DefaultSyncGap
	}
	if opts.MaxBytes < 4096 || opts.Keep < 1 || opts.Queue < 1 {
		return nil, fmt.Errorf("audit: max bytes %d (at least 4096), keep %d, queue %d (at least 1)", opts.MaxBytes, opts.Keep, opts.Queue)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	lock, err := lockDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	l := &Log{opts: opts, log: opts.Logger, ch: make(chan entry, opts.Queue), done: make(chan struct{}), lock: lock,
		syncReq: make(chan struct{}, 1), synced: make(chan struct{})}
	if err := l.openCurrent(); err != nil {
		lock.Close()
		return nil, err
	}
	go l.run()
	go l.syncer()
	return l, nil
}

// Dir returns the log's directory.
func (l *Log) Dir() string { return l.opts.Dir }

// Add queues r for the writer without waiting; when the queue is full r
// is dropped and counted, and the log gets a gap record. It reports
// whether r was queued.
func (l *Log) Add(r Record) bool {
	select {
	case l.ch <- entry{rec: r}:
		return true
	default:
		l.dropped.Add(1)
		return false
	}
}

// Dropped returns how many records were lost to a full queue.
func (l *Log) Dropped() uint64 { return l.dropped.Load() }

// Written returns how many records reached the file.
func (l *Log) Written() uint64 { return l.written.Load() }

// Sync waits, at most d, until everything queued before it is written
// and synced; it reports whether that happened.
func (l *Log) Sync(d time.Duration) bool {
	e := entry{sync: make(chan struct{})}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case l.ch <- e:
	case <-l.done:
		return false
	case <-t.C:
		return false
	}
	select {
	case <-e.sync:
		return true
	case <-l.done:
		return false
	case <-t.C:
		return false
	}
}

// Close writes what is queued (waiting at most 5 s for room to ask),
// stops the writer and closes the file. Records added afterwards are
// dropped.
func (l *Log) Close() error {
	l.close.Do(func() {
		select {
		case l.ch <- entry{sync: nil, rec: Record{Kind: stopKind}}:
			<-l.done
		case <-time.After(5 * time.Second):
			l.log.Error("audit log: writer did not take the stop request; records still queued are lost")
		}
	})
	return nil
}

// stopKind marks the entry that stops the writer (never written).
const stopKind = "\x00stop"

// run is the writer goroutine: it takes everything queued, writes it and
// syncs once per batch.
func (l *Log) run() {
	defer close(l.done)
	defer l.closeFiles()
	var syncs []chan struct{}
	for {
		e := <-l.ch
		stop := false
		for n := 0; ; n++ {
			switch {
			case e.sync != nil:
				syncs = append(syncs, e.sync)
			case e.rec.Kind == stopKind:
				stop = true
			default:
				l.append(&e.rec)
			}
			if stop || n >= maxBatch {
				break
			}
			select {
			case e = <-l.ch:
				continue
			default:
			}
			break
		}
		l.flush(len(syncs) > 0 || stop) // a barrier waits for its fsync; otherwise the syncer does it
		for _, s := range syncs {
			close(s)
		}
		syncs = syncs[:0]
		if stop {
			return
		}
	}
}

// append encodes r (after a gap record if records were dropped since the
// last one) into the batch, rotating first if the file would pass
// MaxBytes.
func (l *Log) append(r *Record) {
	if d := l.dropped.Load(); d > l.noted {
		gap := Record{Time: time.Now().UTC(), Kind: KindGap, Dropped: d - l.noted}
		l.noted = d
		l.append1(&gap)
	}
	l.append1(r)
}

func (l *Log) append1(r *Record) {
	line, err := json.Marshal(r)
	if err != nil || len(line) >= MaxLine {
		l.log.Error("audit record not encodable", "kind", r.Kind, "err", err, "bytes", len(line))
		return
	}
	line = append(line, '\n')
	if l.size+int64(len(l.buf))+int64(len(line)) > l.opts.MaxBytes && l.size+int64(len(l.buf)) > 0 {
		l.flush(true)
		l.rotate()
	}
	l.buf = append(l.buf, line...)
	l.written.Add(1)
}

// flush writes the batch and, if sync, fsyncs the file.
func (l *Log) flush(sync bool) {
	if len(l.buf) > 0 && l.f == nil {
		l.openCurrent() // a failed rotation: try again
	}
	if len(l.buf) == 0 || l.f == nil {
		l.buf = l.buf[:0]
		return
	}
	n, err := l.f.Write(l.buf)
	l.size += int64(n)
	if err == nil && sync {
		err = l.f.Sync()
	} else if err == nil {
		select {
		case l.syncReq <- struct{}{}:
		default: // a sync is already asked for; it will cover this write
		}
	}
	l.buf = l.buf[:0]
	switch {
	case err != nil && !l.failing:
		l.failing = true
		l.log.Error("audit log write failed; records are being lost", "file", l.f.Name(), "err", err)
	case err == nil && l.failing:
		l.failing = false
		l.log.Info("audit log writable again", "file", l.f.Name())
	}
	if cap(l.buf) > 1<<20 {
		l.buf = nil // a burst's buffer is not kept
	}
}

// path returns the name of the current file (i == 0) or of rotated file i.
func (l *Log) path(i int) string { return filePath(l.opts.Dir, i) }

func filePath(dir string, i int) string {
	if i == 0 {
		return filepath.Join(dir, FileName)
	}
	return filepath.Join(dir, FileName+"."+strconv.Itoa(i))
}

func (l *Log) openCurrent() error {
	f, err := os.OpenFile(l.path(0), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("audit: %w", err)
	}
	l.f, l.size = f, st.Size()
	l.cur.Store(f)
	if l.size > 0 {
		l.terminate()
	}
	return nil
}

// terminate ends a torn last line (a crash in mid-write) with a newline,
// so that the next record starts a line of its own.
func (l *Log) terminate() {
	r, err := os.Open(l.f.Name())
	if err != nil {
		return
	}
	defer r.Close()
	var last [1]byte
	if _, err := r.ReadAt(last[:], l.size-1); err == nil && last[0] != '\n' {
		n, _ := l.f.Write([]byte{'\n'})
		l.size += int64(n)
	}
}

// rotate renames the current file to .1 (shifting the others, dropping
// the oldest beyond Keep) and starts an empty one.
func (l *Log) rotate() {
	l.f.Close()
	l.f = nil
	os.Remove(l.path(l.opts.Keep))
	for i := l.opts.Keep - 1; i >= 0; i-- {
		if err := os.Rename(l.path(i), l.path(i+1)); err != nil && !errors.Is(err, os.ErrNotExist) {
			l.log.Error("audit log rotation", "err", err)
		}
	}
	syncDir(l.opts.Dir)
	if err := l.openCurrent(); err != nil {
		l.log.Error("audit log: cannot open a new file; records are being lost", "err", err)
	}
}

func (l *Log) closeFiles() {
	close(l.syncReq)
	<-l.synced
	if l.f != nil {
		l.f.Close()
	}
	l.lock.Close()
}

// syncer fsyncs the current file whenever the writer has written to it,
// at most once per SyncGap: under a stream of records one fsync covers
// everything written in the gap (fewer fsyncs, and fewer writes held up
// by one in progress). A file rotated away meanwhile was synced by the
// writer before it was closed; syncing it again just fails, harmlessly.
func (l *Log) syncer() {
	defer close(l.synced)
	for range l.syncReq {
		if f := l.cur.Load(); f != nil {
			f.Sync()
		}
		time.Sleep(l.opts.SyncGap) // pacing, not synchronisation: requests meanwhile coalesce into one
	}
}

// syncDir makes renames in dir durable.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
