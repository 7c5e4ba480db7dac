package audit

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Format renders r as one line for people (zccp audit, zccpd audit):
// time, kind, who, then what the kind says.
func Format(r *Record) string {
	var b strings.Builder
	b.WriteString(r.Time.Local().Format("2006-01-02 15:04:05.000"))
	if r.Broker != "" {
		b.WriteString("  [" + printable(r.Broker) + "]")
	}
	b.WriteString("  " + r.Kind + "  " + actorText(r.By))
	switch r.Kind {
	case KindRequest, KindGroup:
		fmt.Fprintf(&b, " -> %s %s id=%s", word(r.Target), word(r.Method), word(r.RequestID))
		if r.TTLms != nil {
			fmt.Fprintf(&b, " ttl=%dms", *r.TTLms)
		}
		fmt.Fprintf(&b, "  %s", word(r.Outcome))
		if !r.Start.IsZero() {
			fmt.Fprintf(&b, " in %s", r.Time.Sub(r.Start).Round(time.Microsecond))
		}
		if r.Kind == KindGroup {
			fmt.Fprintf(&b, "  recipients=%d [%s] %s", r.NumRecip, word(strings.Join(r.Recipients, ",")), summaryText(r.Summary))
		}
	case KindKey:
		fmt.Fprintf(&b, "  key %s %s", word(r.Key), word(r.Action))
		if r.Identifier != "" {
			fmt.Fprintf(&b, " identifier %s", strconv.Quote(r.Identifier))
		}
		if r.From != "" {
			fmt.Fprintf(&b, " (was %s)", word(r.From))
		}
	case KindRefusal:
		fmt.Fprintf(&b, "  %s %s %s", word(r.Code), word(r.Command), word(r.Target))
		if r.Method != "" {
			fmt.Fprintf(&b, " method=%s", word(r.Method))
		}
		if r.Count > 0 {
			fmt.Fprintf(&b, " x%d since %s", r.Count, r.Start.Local().Format("15:04:05"))
		}
		fmt.Fprintf(&b, ": %s", printable(r.Reason))
	case KindGap:
		fmt.Fprintf(&b, "  %d records lost (the audit writer could not keep up)", r.Dropped)
	}
	return b.String()
}

func actorText(a Actor) string {
	s := "-"
	if a.Identifier != "" {
		s = strconv.Quote(a.Identifier)
	}
	if a.Key != "" {
		s += " key=" + a.Key
	}
	if a.Remote != "" {
		s += " from " + word(a.Remote)
	}
	return s
}

func summaryText(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Itoa(m[k])
	}
	return strings.Join(parts, " ")
}

// word shows a client-chosen string: "-" when empty, quoted when it has
// spaces or anything unprintable (no terminal control bytes get out).
func word(s string) string {
	if s == "" {
		return "-"
	}
	for _, r := range s {
		if r == ' ' || r == '"' || !strconv.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// printable is s, quoted only if it has unprintable characters.
func printable(s string) string {
	for _, r := range s {
		if !strconv.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// ParseSince reads a --since value: a duration back from now ("10m",
// "24h") or a time (RFC 3339, or "2006-01-02 15:04:05" / "2006-01-02"
// in local time).
func ParseSince(v string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		if d <= 0 {
			return time.Time{}, fmt.Errorf("--since %s: want a positive duration", v)
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	for _, layout := range []string{time.DateTime, "2006-01-02 15:04", time.DateOnly} {
		if t, err := time.ParseInLocation(layout, v, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--since %q: want a duration (10m, 24h) or a time (RFC 3339, 2006-01-02 15:04:05, 2006-01-02)", v)
}
