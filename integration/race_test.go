//go:build race

package integration

// raceEnabled: the test binary runs with -race, so the broker is built with it too.
const raceEnabled = true
