package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"

	"github.com/gregor-broker/gregor/tools/internal/cli"
)

// reassignment is an ongoing reassignment as ListPartitionReassignments
// reports it (PartitionReassignment).
type reassignment struct {
	replicas, adding, removing []int32
}

// move is PartitionMove: the brokers a partition's data comes from and the
// ones it goes to.
type move struct {
	sources, destinations []int32
}

// moveMap is topic -> partition -> move.
type moveMap map[string]map[int32]move

func without(v, remove []int32) []int32 {
	var out []int32
	for _, x := range v {
		if !slices.Contains(remove, x) && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// currentMoveMap is calculateCurrentMoveMap: the moves of the ongoing
// reassignments (adding replicas are the destinations).
func currentMoveMap(current map[cli.TopicPartition]reassignment) moveMap {
	m := moveMap{}
	for tp, r := range current {
		if m[tp.Topic] == nil {
			m[tp.Topic] = map[int32]move{}
		}
		m[tp.Topic][tp.Partition] = move{sources: without(r.replicas, r.adding), destinations: without(r.adding, nil)}
	}
	return m
}

// proposedMoveMap is calculateProposedMoveMap: the ongoing moves plus the
// proposed ones, whose sources are the ongoing move's or the current
// replicas.
func proposedMoveMap(current map[cli.TopicPartition]reassignment, proposed, currentParts map[cli.TopicPartition][]int32) (moveMap, error) {
	m := currentMoveMap(current)
	for tp, replicas := range proposed {
		if m[tp.Topic] == nil {
			m[tp.Topic] = map[int32]move{}
		}
		var sources []int32
		if mv, ok := m[tp.Topic][tp.Partition]; ok {
			sources = mv.sources
		} else if cur, ok := currentParts[tp]; ok {
			sources = without(cur, nil)
		} else {
			return nil, cli.Errorf("java.lang.RuntimeException", "Trying to reassign a topic partition %s with 0 replicas", tp)
		}
		m[tp.Topic][tp.Partition] = move{sources: sources, destinations: without(replicas, sources)}
	}
	return m, nil
}

// throttles is calculateLeaderThrottles (leader=true: "partition:source")
// or calculateFollowerThrottles ("partition:destination" for destinations
// that are not sources): per topic, Kafka's sorted (TreeSet<String>) list.
func throttles(m moveMap, leader bool) map[string]string {
	out := map[string]string{}
	for topic, parts := range m {
		set := map[string]bool{}
		for p, mv := range parts {
			if leader {
				for _, s := range mv.sources {
					set[fmt.Sprintf("%d:%d", p, s)] = true
				}
				continue
			}
			for _, d := range mv.destinations {
				if !slices.Contains(mv.sources, d) {
					set[fmt.Sprintf("%d:%d", p, d)] = true
				}
			}
		}
		items := make([]string, 0, len(set))
		for s := range set {
			items = append(items, s)
		}
		sort.Strings(items)
		out[topic] = strings.Join(items, ",")
	}
	return out
}

// reassigningBrokers is calculateReassigningBrokers, sorted.
func reassigningBrokers(m moveMap) []int32 {
	var out []int32
	for _, parts := range m {
		for _, mv := range parts {
			for _, b := range append(append([]int32(nil), mv.sources...), mv.destinations...) {
				if !slices.Contains(out, b) {
					out = append(out, b)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// assignRackUnaware is AdminUtils.assignReplicasToBrokersRackUnaware with a
// random start, as --generate calls it: partition p's first replica is
// broker (p + start) mod n, the others follow at a shift that grows every n
// partitions.
func assignRackUnaware(brokers []int32, nPartitions int, rf int, rnd *rand.Rand) (map[int32][]int32, error) {
	if nPartitions <= 0 {
		return nil, cli.Errorf("InvalidPartitionsException", "Number of partitions must be larger than 0.")
	}
	if rf <= 0 {
		return nil, cli.Errorf("InvalidReplicationFactorException", "Replication factor must be larger than 0.")
	}
	n := len(brokers)
	if rf > n {
		return nil, cli.Errorf("InvalidReplicationFactorException", "Replication factor: %d larger than available brokers: %d.", rf, n)
	}
	out := map[int32][]int32{}
	start, shift := rnd.IntN(n), rnd.IntN(n)
	for p := 0; p < nPartitions; p++ {
		if p > 0 && p%n == 0 {
			shift++
		}
		first := (p + start) % n
		replicas := []int32{brokers[first]}
		for j := 0; j < rf-1; j++ {
			replicas = append(replicas, brokers[(first+1+(shift+j)%(n-1))%n])
		}
		out[int32(p)] = replicas
	}
	return out, nil
}
