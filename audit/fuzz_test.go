package audit

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzScan feeds the record reader arbitrary bytes (torn lines, garbage,
// overlong lines, NULs): it must not panic, every record it returns must
// be a well-formed one, and a valid record written after the garbage (on
// a line of its own, as the writer does after a crash) is always found.
func FuzzScan(f *testing.F) {
	f.Add([]byte(`{"time":"2026-01-01T00:00:00Z","kind":"request","target":"pdu1","outcome":"ok"}` + "\n"))
	f.Add([]byte(`{"time":"2026-01-01T00:00:00Z","kind":"req`))
	f.Add([]byte("garbage\n\n{}\n{\"kind\":\"gap\"}\n"))
	f.Add(bytes.Repeat([]byte("x"), MaxLine+10))
	f.Add([]byte(`{"time":"2026-01-01T00:00:00Z","kind":"group","summary":{"ok":"x"}}`))
	last := []byte(`{"time":"2026-02-02T00:00:00Z","kind":"key","key":"sentinel"}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		n := 0
		_, err := Scan(bytes.NewReader(data), func(line []byte, r *Record) {
			if r.Kind == "" || r.Time.IsZero() {
				t.Fatalf("bad record %+v from %q", r, line)
			}
			if _, err := json.Marshal(r); err != nil {
				t.Fatal(err)
			}
			n++
		})
		if err != nil {
			t.Fatal(err)
		}
		in := append(append(append([]byte{}, data...), '\n'), last...)
		found := false
		Scan(bytes.NewReader(in), func(line []byte, r *Record) { found = found || r.Key == "sentinel" })
		if !found {
			t.Fatalf("record after %q not found", data)
		}
	})
}
