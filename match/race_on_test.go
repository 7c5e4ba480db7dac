//go:build race

package match

// raceEnabled is true under -race, where the slow property test runs fewer
// seeds.
const raceEnabled = true
