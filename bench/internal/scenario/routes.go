package scenario

import (
	"fmt"
	"strconv"

	"github.com/zccp-go/zccp/bench/internal/driver"
)

// routes returns the subjects publishers cycle through and each
// subscriber's patterns, spelled for driver d.
func routes(s Scenario, d driver.Driver) (subjects []string, patterns [][]string) {
	patterns = make([][]string, s.Subscribers)
	switch s.Routing {
	case Shared:
		subjects = []string{d.Subject("bench", "all")}
		for i := range patterns {
			patterns[i] = []string{d.Exact("bench", "all")}
		}
	case Distinct:
		for i := range patterns {
			subjects = append(subjects, d.Subject("bench", "d", strconv.Itoa(i)))
			patterns[i] = []string{d.Exact("bench", "d", strconv.Itoa(i))}
		}
	case Patterns:
		p := s.PatternsPerSub
		key := func(k int) string { return fmt.Sprintf("%05d", k) }
		for i := range patterns {
			for j := range p {
				patterns[i] = append(patterns[i], d.Prefix("bench", "p", key(i*p+j)))
			}
		}
		// Consecutive publishes go to different subscribers.
		for m := range s.Subscribers * p {
			k := (m%s.Subscribers)*p + m/s.Subscribers
			subjects = append(subjects, d.Subject("bench", "p", key(k), "x"))
		}
	}
	return subjects, patterns
}
