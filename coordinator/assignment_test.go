package coordinator

import (
	"errors"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-broker/gregor/broker/apierr"
)

func plain(idList ...int32) []BrokerMetadata {
	out := make([]BrokerMetadata, len(idList))
	for i, id := range idList {
		out[i] = BrokerMetadata{ID: id}
	}
	return out
}

// TestAssignReplicasToBrokers reproduces every example of reference §4.
func TestAssignReplicasToBrokers(t *testing.T) {
	racked := []BrokerMetadata{{0, "rack1"}, {1, "rack3"}, {2, "rack3"}, {3, "rack2"}, {4, "rack2"}, {5, "rack1"}}
	tests := []struct {
		name        string
		brokers     []BrokerMetadata
		partitions  int32
		rf          int16
		start       int32
		startPartID int32
		want        map[int32][]int32
	}{
		{"rack-unaware 5 brokers", plain(0, 1, 2, 3, 4), 10, 3, 0, -1, map[int32][]int32{
			0: {0, 1, 2}, 1: {1, 2, 3}, 2: {2, 3, 4}, 3: {3, 4, 0}, 4: {4, 0, 1},
			5: {0, 2, 3}, 6: {1, 3, 4}, 7: {2, 4, 0}, 8: {3, 0, 1}, 9: {4, 1, 2}}},
		{"rack-aware", racked, 6, 3, 0, -1, map[int32][]int32{
			0: {0, 3, 1}, 1: {3, 1, 5}, 2: {1, 5, 4}, 3: {5, 4, 2}, 4: {4, 2, 0}, 5: {2, 0, 3}}},
		{"partition addition", plain(0, 1, 2, 3, 4), 2, 3, 2, 5, map[int32][]int32{5: {2, 1, 3}, 6: {3, 2, 4}}},
		{"rf 1 single broker", plain(7), 3, 1, 0, -1, map[int32][]int32{0: {7}, 1: {7}, 2: {7}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := assignReplicasToBrokers(tt.brokers, tt.partitions, tt.rf, tt.start, tt.startPartID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v\nwant %v", got, tt.want)
			}
		})
	}
}

// TestAssignRackUnawareStartAndShift covers §4's second example, which uses
// different start index (1) and shift (2).
func TestAssignRackUnawareStartAndShift(t *testing.T) {
	got := assignWith([]int32{1, 2, 3}, 6, 2, 1, 2)
	want := map[int32][]int32{0: {2, 3}, 1: {3, 1}, 2: {1, 2}, 3: {2, 1}, 4: {3, 2}, 5: {1, 3}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}

// assignWith runs the rack-unaware loop with an explicit start index and
// shift (Kafka draws them independently when not fixed).
func assignWith(brokers []int32, nPartitions int32, rf int16, startIndex, shift int) map[int32][]int32 {
	n := len(brokers)
	ret := map[int32][]int32{}
	for p := 0; p < int(nPartitions); p++ {
		if p > 0 && p%n == 0 {
			shift++
		}
		first := (p + startIndex) % n
		replicas := []int32{brokers[first]}
		for j := 0; j < int(rf)-1; j++ {
			replicas = append(replicas, brokers[replicaIndex(first, shift, j, n)])
		}
		ret[int32(p)] = replicas
	}
	return ret
}

func TestAssignRandomIsValid(t *testing.T) {
	for i := 0; i < 50; i++ {
		got, err := assignReplicasToBrokers(plain(1, 2, 3, 4), 8, 3, -1, -1)
		if err != nil || len(got) != 8 {
			t.Fatal(got, err)
		}
		for p, rs := range got {
			seen := map[int32]bool{}
			for _, r := range rs {
				if seen[r] {
					t.Fatalf("partition %d: duplicate replica in %v", p, rs)
				}
				seen[r] = true
			}
			if len(rs) != 3 {
				t.Fatalf("partition %d: %v", p, rs)
			}
		}
	}
}

func TestRackAlternatedBrokerList(t *testing.T) {
	got := rackAlternatedBrokerList([]BrokerMetadata{{0, "rack1"}, {1, "rack3"}, {2, "rack3"}, {3, "rack2"}, {4, "rack2"}, {5, "rack1"}})
	if want := []int32{0, 3, 1, 5, 4, 2}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v want %v", got, want)
	}
}

func TestAssignErrors(t *testing.T) {
	tests := []struct {
		name    string
		brokers []BrokerMetadata
		parts   int32
		rf      int16
		code    *kerr.Error
		msg     string
	}{
		{"rf above brokers", plain(1), 1, 2, kerr.InvalidReplicationFactor, "Replication factor: 2 larger than available brokers: 1."},
		{"rf zero", plain(1), 1, 0, kerr.InvalidReplicationFactor, "Replication factor must be larger than 0."},
		{"partitions zero", plain(1), 0, 1, kerr.InvalidPartitions, "Number of partitions must be larger than 0."},
		{"some racks", []BrokerMetadata{{1, "a"}, {2, ""}}, 1, 1, kerr.UnknownServerError, "Not all brokers have rack information for replica rack aware assignment."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := assignReplicasToBrokers(tt.brokers, tt.parts, tt.rf, 0, -1)
			var ae *apierr.Error
			if !errors.As(err, &ae) || ae.Code != tt.code || ae.Message != tt.msg {
				t.Fatalf("got %v", err)
			}
		})
	}
}
