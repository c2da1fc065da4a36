package group

import "testing"

// TestPartitionFor checks Java's String.hashCode and Kafka's Utils.abs
// (reference §7.1) on values known from Java.
func TestPartitionFor(t *testing.T) {
	for _, tc := range []struct {
		name  string
		group string
		hash  int32
		n     int32
		want  int32
	}{
		{"empty", "", 0, 50, 0},
		{"hello", "hello", 99162322, 50, 22},
		{"negative hash", "my-group", -1906497762, 50, 12},
		{"consumer", "console-consumer-12345", 158455506, 50, 6},
		// "polygenelubricants".hashCode() == Integer.MIN_VALUE; Utils.abs
		// maps it to 0 where Math.abs would stay negative.
		{"Integer.MIN_VALUE", "polygenelubricants", -1 << 31, 50, 0},
		// Outside the BMP a character is two UTF-16 code units.
		{"surrogate pair", "😀", 1772899, 50, 49},
		{"one partition", "test-group-1", 2060176936, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if h := javaStringHashCode(tc.group); h != tc.hash {
				t.Errorf("hashCode(%q) = %d, want %d", tc.group, h, tc.hash)
			}
			if p := PartitionFor(tc.group, tc.n); p != tc.want || p < 0 {
				t.Errorf("PartitionFor(%q, %d) = %d, want %d", tc.group, tc.n, p, tc.want)
			}
		})
	}
}
