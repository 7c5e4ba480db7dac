package driver

import (
	"regexp"
	"strings"
)

// dotted spells subjects with '.' between levels (zccp, NATS).
func dotted(parts []string) string { return strings.Join(parts, ".") }

// slashed spells subjects with '/' between levels (MQTT).
func slashed(parts []string) string { return strings.Join(parts, "/") }

// zrexLiteral quotes s for a zccp (zrex) expression: zrex and RE2 agree
// on backslash-escaping punctuation, and the bench's levels hold only
// letters, digits and dots.
func zrexLiteral(s string) string { return regexp.QuoteMeta(s) }

// zccpExact is an anchored zrex expression for exactly subject.
func zccpExact(parts []string) string { return "^" + zrexLiteral(dotted(parts)) + "$" }

// zccpPrefix matches subject + "." + one more level (no further dot).
func zccpPrefix(parts []string) string {
	return "^" + zrexLiteral(dotted(parts)) + `\.\w+$`
}
