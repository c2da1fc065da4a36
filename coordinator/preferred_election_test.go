package coordinator

import "testing"

// TestPreferredReplicaLeader: only the first replica of the assignment may
// be elected, and only when it is live (not shutting down) and in the ISR.
func TestPreferredReplicaLeader(t *testing.T) {
	tests := []struct {
		name       string
		assignment []int32
		isr        []int32
		live       []int32 // live and not shutting down
		want       int32
		wantOK     bool
	}{
		{"preferred live and in isr", []int32{2, 1, 3}, []int32{1, 2, 3}, []int32{1, 2, 3}, 2, true},
		{"preferred not in isr", []int32{2, 1, 3}, []int32{1, 3}, []int32{1, 2, 3}, -1, false},
		{"preferred not live", []int32{2, 1, 3}, []int32{1, 2, 3}, []int32{1, 3}, -1, false},
		{"never the second replica", []int32{2, 1}, []int32{1}, []int32{1}, -1, false},
		{"empty assignment", nil, []int32{1}, []int32{1}, -1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := preferredReplicaLeader(tc.assignment, tc.isr, tc.live)
			if got != tc.want || ok != tc.wantOK {
				t.Fatalf("preferredReplicaLeader = %d, %v; want %d, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}
