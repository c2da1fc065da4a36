package main

import (
	"strings"
	"testing"
)

// TestFormat checks NodeApiVersions.toString(true)'s layout with fixed
// versions: Kafka 3.7 documented lines such as "Produce(0): 0 to 10
// [usable: 10]", a single version, a version above the client's, an
// unknown key and the UNSUPPORTED lines for client APIs not advertised.
func TestFormat(t *testing.T) {
	got := format([]apiVersion{
		{Key: 1, Min: 0, Max: 16},
		{Key: 0, Min: 0, Max: 10},
		{Key: 18, Min: 0, Max: 3},
		{Key: 3, Min: 0, Max: 14},
		{Key: 45, Min: 0, Max: 0},
		{Key: 1000, Min: 0, Max: 2},
	})
	lines := strings.Split(got, "\n")
	want := map[int]string{
		0: "(",
		1: "\tProduce(0): 0 to 10 [usable: 10],",
		2: "\tFetch(1): 0 to 16 [usable: 16],",
		3: "\tListOffsets(2): UNSUPPORTED,",
		4: "\tMetadata(3): 0 to 14 [usable: 12],",
		5: "\tLeaderAndIsr(4): UNSUPPORTED,",
	}
	for i, w := range want {
		if i >= len(lines) || lines[i] != w {
			t.Errorf("line %d = %q, want %q\n%s", i, lines[i], w, got)
		}
	}
	for _, w := range []string{
		"\tApiVersions(18): 0 to 3 [usable: 3],",
		"\tAlterPartitionReassignments(45): 0 [usable: 0],",
		"\tUNKNOWN(1000): 0 to 2\n)",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("output lacks %q\n%s", w, got)
		}
	}
	for _, controllerOnly := range []string{"Vote(52)", "BrokerHeartbeat(63)", "FetchSnapshot(59)"} {
		if strings.Contains(got, controllerOnly) {
			t.Errorf("output lists the controller-only API %s\n%s", controllerOnly, got)
		}
	}
	if n := strings.Count(got, "\n\t"); n != 68 {
		t.Errorf("%d API lines, want 68 (Kafka 3.7's 75 keys less 8 controller-only ones, plus one unknown)", n)
	}
}
