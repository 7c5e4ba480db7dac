package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// rawText returns s as it is when it is printable text (spaces and
// punctuation included), Go-quoted when it holds control characters or
// is not UTF-8, so that one reply stays on one line.
func rawText(s string) string {
	if !utf8.ValidString(s) {
		return strconv.Quote(s)
	}
	for _, r := range s {
		if !strconv.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	if s == "" {
		return `""`
	}
	return s
}

// reportRTT prints the time since start on stderr when verbose.
func reportRTT(e *env, verbose bool, start time.Time) {
	if verbose {
		fmt.Fprintf(e.stderr, "zccp call: round trip %v\n", time.Since(start).Round(time.Microsecond))
	}
}

// warnDashSet warns when expr has a set like [a-z]: zrex has no ranges,
// so it is the set of the three bytes 'a', '-' and 'z', rarely what was
// meant.
func warnDashSet(e *env, cmd, expr string) {
	if set, ok := dashSet(expr); ok {
		fmt.Fprintf(e.stderr, "zccp %s: warning: %s in %q is a set of single bytes, dash included: zrex has no ranges (write the characters out, or use \\d)\n", cmd, set, expr)
	}
}

// dashSet finds the first bracket set with a dash between two members.
func dashSet(expr string) (string, bool) {
	for i := 0; i < len(expr); i++ {
		switch expr[i] {
		case '\\':
			i++
		case '[':
			end := i + 1
			if end < len(expr) && expr[end] == '^' {
				end++
			}
			if end < len(expr) && expr[end] == ']' {
				end++ // a leading ] is a member
			}
			for end < len(expr) && expr[end] != ']' {
				if expr[end] == '\\' {
					end++
				}
				end++
			}
			if end >= len(expr) {
				return "", false
			}
			body := expr[i+1 : end]
			if j := strings.Index(strings.TrimPrefix(body, "^"), "-"); j > 0 && j < len(strings.TrimPrefix(body, "^"))-1 {
				return expr[i : end+1], true
			}
			i = end
		}
	}
	return "", false
}
