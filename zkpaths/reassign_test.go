package zkpaths

import (
	"reflect"
	"testing"
)

func TestReassignPartitionsJSON(t *testing.T) {
	tests := []struct {
		name    string
		targets []ReassignmentTarget
		want    string
	}{
		{"one", []ReassignmentTarget{{"foo", 0, []int32{1, 2, 3}}},
			`{"version":1,"partitions":[{"topic":"foo","partition":0,"replicas":[1,2,3]}]}`},
		{"sorted", []ReassignmentTarget{{"b", 1, []int32{2}}, {"a", 3, []int32{1}}, {"b", 0, []int32{3, 1}}},
			`{"version":1,"partitions":[{"topic":"a","partition":3,"replicas":[1]},{"topic":"b","partition":0,"replicas":[3,1]},{"topic":"b","partition":1,"replicas":[2]}]}`},
		{"empty", nil, `{"version":1,"partitions":[]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := string(EncodeReassignPartitions(tc.targets))
			if got != tc.want {
				t.Fatalf("encode:\n got %s\nwant %s", got, tc.want)
			}
			back, err := DecodeReassignPartitions([]byte(got))
			if err != nil {
				t.Fatal(err)
			}
			if len(back) != len(tc.targets) {
				t.Fatalf("decode: %d entries, want %d", len(back), len(tc.targets))
			}
		})
	}
}

func TestDecodeReassignPartitionsToolOutput(t *testing.T) {
	// kafka-reassign-partitions --generate output carries log_dirs.
	got, err := DecodeReassignPartitions([]byte(`{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2],"log_dirs":["any","any"]},{"topic":"t","partition":0,"replicas":[2,3]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []ReassignmentTarget{{"t", 0, []int32{2, 3}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if _, err := DecodeReassignPartitions([]byte(`{"version":1,"partitions":[{"replicas":[1]}]}`)); err == nil {
		t.Fatal("entry without topic accepted")
	}
}
