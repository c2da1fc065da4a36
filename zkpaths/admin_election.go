package zkpaths

import (
	"encoding/json"
	"fmt"
)

// ElectionPartition names one partition in /admin/preferred_replica_election.
type ElectionPartition struct {
	Topic     string
	Partition int32
}

// EncodePreferredReplicaElection writes the payload of
// /admin/preferred_replica_election (PreferredReplicaElectionZNode):
// {"version":1,"partitions":[{"topic":"t","partition":0},...]} in the order
// given (Scala's Map2 keeps insertion order, so "version" comes first and
// "topic" before "partition").
func EncodePreferredReplicaElection(ps []ElectionPartition) []byte {
	var w jsonWriter
	w.raw(`{"version":1,"partitions":[`)
	for i, p := range ps {
		if i > 0 {
			w.raw(",")
		}
		w.raw(`{"topic":`)
		w.str(p.Topic)
		w.raw(`,"partition":`)
		w.int(int64(p.Partition))
		w.raw("}")
	}
	w.raw("]}")
	return w.b
}

// DecodePreferredReplicaElection parses /admin/preferred_replica_election.
// Duplicates are dropped (Kafka decodes into a set); the order of first
// appearance is kept.
func DecodePreferredReplicaElection(data []byte) ([]ElectionPartition, error) {
	var raw struct {
		Partitions []struct {
			Topic     *string `json:"topic"`
			Partition *int32  `json:"partition"`
		} `json:"partitions"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("zkpaths: preferred replica election: %w", err)
	}
	seen := map[ElectionPartition]bool{}
	out := []ElectionPartition{}
	for _, p := range raw.Partitions {
		if p.Topic == nil || p.Partition == nil {
			return nil, fmt.Errorf("zkpaths: preferred replica election: an entry lacks topic or partition")
		}
		e := ElectionPartition{Topic: *p.Topic, Partition: *p.Partition}
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out, nil
}
