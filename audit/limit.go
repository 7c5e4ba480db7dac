package audit

import (
	"net"
	"sync"
	"time"
)

// Limiter aggregates refusals, so that a client refused in a loop costs
// the log a bounded number of records instead of one per attempt: per
// window, the first refusal of a kind (code, command, remote host, CURVE
// key: not the identifier, which a client chooses freely) is written at
// once, the others are counted and written as one record with Count when
// the window ends. It tracks at most Slots kinds at a time; refusals that
// find the table full are counted together in one overflow record. So
// refusals cost the log at most 2 × Slots + 1 records per window, and the
// Limiter at most Slots entries of memory.
type Limiter struct {
	Window time.Duration // default 10 s
	Slots  int           // default 256

	mu       sync.Mutex
	slots    map[limitKey]*limitSlot
	overflow limitSlot
}

type limitKey struct{ code, command, host, key string }

type limitSlot struct {
	first time.Time
	rec   Record
	more  int // refusals after the first in this window
}

// Defaults of Limiter.
const (
	DefaultLimitWindow = 10 * time.Second
	DefaultLimitSlots  = 256
)

func (l *Limiter) config() (time.Duration, int) {
	w, n := l.Window, l.Slots
	if w <= 0 {
		w = DefaultLimitWindow
	}
	if n <= 0 {
		n = DefaultLimitSlots
	}
	return w, n
}

// Note records refusal r and returns the records to write now: r itself
// when it is the first of its kind in the window (plus the summary of the
// kind's previous window, if it had more); none when it is counted.
func (l *Limiter) Note(r Record) []Record {
	window, max := l.config()
	k := limitKey{r.Code, r.Command, hostOf(r.By.Remote), r.By.Key}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.slots == nil {
		l.slots = map[limitKey]*limitSlot{}
	}
	s := l.slots[k]
	switch {
	case s != nil && r.Time.Sub(s.first) < window:
		s.more++
		return nil
	case s != nil:
		var out []Record
		if s.more > 0 {
			out = append(out, summary(s, r.Time))
		}
		*s = limitSlot{first: r.Time, rec: r}
		return append(out, r)
	case len(l.slots) >= max:
		if l.overflow.more == 0 {
			l.overflow.first = r.Time
		}
		l.overflow.more++
		return nil
	}
	l.slots[k] = &limitSlot{first: r.Time, rec: r}
	return []Record{r}
}

// Flush returns the summaries of windows that ended by now, and forgets
// their kinds; call it periodically (the broker's ticker does).
func (l *Limiter) Flush(now time.Time) []Record {
	window, _ := l.config()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Record
	for k, s := range l.slots {
		if now.Sub(s.first) < window {
			continue
		}
		if s.more > 0 {
			out = append(out, summary(s, now))
		}
		delete(l.slots, k)
	}
	if l.overflow.more > 0 && now.Sub(l.overflow.first) >= window {
		out = append(out, Record{Time: now, Kind: KindRefusal, Start: l.overflow.first, Count: l.overflow.more,
			Reason: "refusals not itemised: too many distinct clients refused at once"})
		l.overflow = limitSlot{}
	}
	return out
}

// summary is the record of a slot's counted refusals.
func summary(s *limitSlot, now time.Time) Record {
	r := s.rec
	r.Time, r.Start, r.Count = now, s.first, s.more
	r.Identifier, r.By.Identifier = "", "" // several, possibly
	r.Reason = "more refusals like the one at start: " + r.Reason
	return r
}

// hostOf strips the port of a network address.
func hostOf(remote string) string {
	if h, _, err := net.SplitHostPort(remote); err == nil {
		return h
	}
	return remote
}
