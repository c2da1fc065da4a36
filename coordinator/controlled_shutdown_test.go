package coordinator

import "testing"

// TestControlledShutdownLeader: the ControlledShutdown strategy picks the
// first replica in assignment order that is live, in the ISR and not
// shutting down; none leaves the partition where it is.
func TestControlledShutdownLeader(t *testing.T) {
	tests := []struct {
		name         string
		assignment   []int32
		isr          []int32
		live         []int32 // live or shutting down
		shuttingDown []int32
		want         int32
		wantOK       bool
	}{
		{"next in assignment order", []int32{1, 2, 3}, []int32{1, 2, 3}, []int32{1, 2, 3}, []int32{1}, 2, true},
		{"assignment order, not isr order", []int32{1, 3, 2}, []int32{2, 3, 1}, []int32{1, 2, 3}, []int32{1}, 3, true},
		{"skips replica out of isr", []int32{1, 2, 3}, []int32{1, 3}, []int32{1, 2, 3}, []int32{1}, 3, true},
		{"skips dead replica", []int32{1, 2, 3}, []int32{1, 2, 3}, []int32{1, 3}, []int32{1}, 3, true},
		{"skips other shutting-down broker", []int32{1, 2, 3}, []int32{1, 2, 3}, []int32{1, 2, 3}, []int32{1, 2}, 3, true},
		{"only the shutting-down broker in isr", []int32{1, 2, 3}, []int32{1}, []int32{1, 2, 3}, []int32{1}, -1, false},
		{"every other replica dead", []int32{1, 2}, []int32{1, 2}, []int32{1}, []int32{1}, -1, false},
		{"single replica", []int32{1}, []int32{1}, []int32{1}, []int32{1}, -1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := controlledShutdownLeader(tc.assignment, tc.isr, tc.live, tc.shuttingDown)
			if got != tc.want || ok != tc.wantOK {
				t.Fatalf("controlledShutdownLeader = %d, %v; want %d, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}
