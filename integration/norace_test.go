//go:build !race

package integration

// raceEnabled: the test binary runs without -race.
const raceEnabled = false
