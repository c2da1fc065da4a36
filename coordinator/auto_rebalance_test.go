package coordinator

import "testing"

// TestImbalanced: a broker is rebalanced when the share of its preferred
// partitions led elsewhere is strictly above the percentage.
func TestImbalanced(t *testing.T) {
	tests := []struct {
		name                          string
		misled, preferred, percentage int
		want                          bool
	}{
		{"balanced", 0, 10, 10, false},
		{"exactly at the threshold", 1, 10, 10, false},
		{"above the threshold", 2, 10, 10, true},
		{"all misled", 5, 5, 10, true},
		{"zero percent: any misled partition", 1, 1000, 0, true},
		{"no preferred partitions", 0, 0, 10, false},
		{"hundred percent never triggers", 10, 10, 100, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := imbalanced(tc.misled, tc.preferred, tc.percentage); got != tc.want {
				t.Fatalf("imbalanced(%d, %d, %d) = %v, want %v", tc.misled, tc.preferred, tc.percentage, got, tc.want)
			}
		})
	}
}
