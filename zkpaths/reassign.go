package zkpaths

import (
	"encoding/json"
	"fmt"
	"sort"
)

// ReassignmentTarget is one entry of /admin/reassign_partitions: the
// replicas a partition should end up on (ReassignPartitionsZNode.ReplicaAssignment).
type ReassignmentTarget struct {
	Topic     string
	Partition int32
	Replicas  []int32
}

// EncodeReassignPartitions writes the legacy reassignment znode
// (ReassignPartitionsZNode.encode): {"version":1,"partitions":[{"topic":
// "t","partition":0,"replicas":[1,2]}]}, in Jackson's bean order (version,
// partitions; topic, partition, replicas). Kafka iterates a hash map, so
// its entry order is unspecified; ours is by topic then partition.
func EncodeReassignPartitions(targets []ReassignmentTarget) []byte {
	ts := append([]ReassignmentTarget(nil), targets...)
	sort.Slice(ts, func(i, j int) bool {
		if ts[i].Topic != ts[j].Topic {
			return ts[i].Topic < ts[j].Topic
		}
		return ts[i].Partition < ts[j].Partition
	})
	var w jsonWriter
	w.raw(`{"version":1,"partitions":[`)
	for i, t := range ts {
		if i > 0 {
			w.raw(",")
		}
		w.raw(`{"topic":`)
		w.str(t.Topic)
		w.raw(`,"partition":`)
		w.int(int64(t.Partition))
		w.raw(`,"replicas":`)
		w.ints(t.Replicas)
		w.raw("}")
	}
	w.raw("]}")
	return w.b
}

// DecodeReassignPartitions parses /admin/reassign_partitions
// (ReassignPartitionsZNode.decode). The tool-side "log_dirs" field is
// ignored, as the controller ignores it. A later entry for the same
// partition replaces an earlier one (Kafka builds a map).
func DecodeReassignPartitions(data []byte) ([]ReassignmentTarget, error) {
	var raw struct {
		Version    int `json:"version"`
		Partitions []struct {
			Topic     *string `json:"topic"`
			Partition *int32  `json:"partition"`
			Replicas  []int32 `json:"replicas"`
		} `json:"partitions"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("zkpaths: reassign partitions: %w", err)
	}
	type key struct {
		topic     string
		partition int32
	}
	idx := map[key]int{}
	var out []ReassignmentTarget
	for _, p := range raw.Partitions {
		if p.Topic == nil || p.Partition == nil {
			return nil, fmt.Errorf("zkpaths: reassign partitions: entry without topic or partition")
		}
		t := ReassignmentTarget{Topic: *p.Topic, Partition: *p.Partition, Replicas: p.Replicas}
		if t.Replicas == nil {
			t.Replicas = []int32{}
		}
		k := key{t.Topic, t.Partition}
		if i, ok := idx[k]; ok {
			out[i] = t
			continue
		}
		idx[k] = len(out)
		out = append(out, t)
	}
	return out, nil
}
