package zkpaths

import (
	"reflect"
	"testing"
)

// TestPreferredReplicaElectionGolden checks the bytes Kafka's
// PreferredReplicaElectionZNode.encode writes and that they decode back.
func TestPreferredReplicaElectionGolden(t *testing.T) {
	want := golden(t, "preferred_replica_election.json")
	ps := []ElectionPartition{{"foo", 1}, {"bar.baz", 0}}
	if got := EncodePreferredReplicaElection(ps); string(got) != string(want) {
		t.Fatalf("encode:\n got %s\nwant %s", got, want)
	}
	back, err := DecodePreferredReplicaElection(want)
	if err != nil || !reflect.DeepEqual(back, ps) {
		t.Fatalf("decode: %v, %v", back, err)
	}
}

func TestDecodePreferredReplicaElection(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []ElectionPartition
		wantErr bool
	}{
		{"empty list", `{"version":1,"partitions":[]}`, []ElectionPartition{}, false},
		{"duplicates dropped", `{"version":1,"partitions":[{"topic":"a","partition":0},{"topic":"a","partition":0}]}`, []ElectionPartition{{"a", 0}}, false},
		{"missing partition", `{"version":1,"partitions":[{"topic":"a"}]}`, nil, true},
		{"not json", `x`, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodePreferredReplicaElection([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if !tc.wantErr && !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}
