package report

import "fmt"

// targetScenarios are where zccpd must beat nats-server by targetFactor
// in deliveries/s and in deliveries per broker CPU-second.
var targetScenarios = []string{"1to1", "1to10", "100distinct"}

const targetFactor = 1.5

// Check is the target verdict for one zccpd row.
type Check struct {
	Target string
	Lines  []string
	Pass   bool
}

// Verdict checks the project's target for target z against nats-server:
// ≥ 1.5× in deliveries/s and in deliveries per broker CPU-second on 1to1,
// 1to10 and 100distinct, and a p99 no worse at 10k msgs/s (latency). It
// returns one line per check and whether all of those that ran passed.
func Verdict(sums []Summary, z string) (lines []string, pass bool) {
	pass = true
	checked := 0
	for _, sc := range targetScenarios {
		zs, ok1 := find(sums, sc, z)
		ns, ok2 := find(sums, sc, "nats")
		if !ok1 || !ok2 || ns.Rate.Med == 0 || ns.PerCPU.Med == 0 {
			continue
		}
		checked++
		r, c := zs.Rate.Med/ns.Rate.Med, zs.PerCPU.Med/ns.PerCPU.Med
		ok := r >= targetFactor && c >= targetFactor
		pass = pass && ok
		lines = append(lines, fmt.Sprintf("%-12s %s/nats deliveries/s %.2f×, per broker CPU-s %.2f× (need ≥ %.1f× both): %s",
			sc, z, r, c, targetFactor, passFail(ok)))
	}
	zs, ok1 := find(sums, "latency", z)
	ns, ok2 := find(sums, "latency", "nats")
	if ok1 && ok2 && ns.P99.Med > 0 {
		checked++
		ok := zs.P99.Med <= ns.P99.Med
		pass = pass && ok
		lines = append(lines, fmt.Sprintf("%-12s %s p99 %s µs vs nats %s µs at 10k msgs/s (need ≤): %s",
			"latency", z, sig(zs.P99.Med), sig(ns.P99.Med), passFail(ok)))
	}
	if checked == 0 {
		return []string{fmt.Sprintf("%s: target not checked (needs nats and the 1to1, 1to10, 100distinct or latency scenarios)", z)}, false
	}
	return lines, pass
}

func passFail(ok bool) string {
	if ok {
		return "MET"
	}
	return "NOT MET"
}
