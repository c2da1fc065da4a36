package coordinator

import (
	"fmt"
	"math/rand/v2"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/gregor-broker/gregor/broker/apierr"
)

// BrokerMetadata is a broker id and its rack ("" = none), the input of
// replica assignment (Kafka's BrokerMetadata).
type BrokerMetadata struct {
	ID   int32
	Rack string
}

// assignReplicasToBrokers is AdminUtils.assignReplicasToBrokers (reference
// §4): rack-aware when every broker has a rack, rack-unaware when none has,
// an error when only some have. fixedStartIndex < 0 draws the start index
// and the replica shift at random (two independent draws);
// startPartitionID < 0 means 0. brokers should be sorted by id
// (AdminZkClient.getBrokerMetadatas).
func assignReplicasToBrokers(brokers []BrokerMetadata, nPartitions int32, rf int16, fixedStartIndex, startPartitionID int32) (map[int32][]int32, error) {
	if nPartitions <= 0 {
		return nil, apierr.New(kerr.InvalidPartitions, "Number of partitions must be larger than 0.")
	}
	if rf <= 0 {
		return nil, apierr.New(kerr.InvalidReplicationFactor, "Replication factor must be larger than 0.")
	}
	if int(rf) > len(brokers) {
		return nil, apierr.New(kerr.InvalidReplicationFactor, fmt.Sprintf("Replication factor: %d larger than available brokers: %d.", rf, len(brokers)))
	}
	withRack := 0
	for _, b := range brokers {
		if b.Rack != "" {
			withRack++
		}
	}
	switch {
	case withRack == 0:
		return assignRackUnaware(ids(brokers), nPartitions, rf, fixedStartIndex, startPartitionID), nil
	case withRack == len(brokers):
		return assignRackAware(brokers, nPartitions, rf, fixedStartIndex, startPartitionID), nil
	default:
		return nil, apierr.New(kerr.UnknownServerError, "Not all brokers have rack information for replica rack aware assignment.")
	}
}

func ids(brokers []BrokerMetadata) []int32 {
	out := make([]int32, len(brokers))
	for i, b := range brokers {
		out[i] = b.ID
	}
	return out
}

// replicaIndex is AdminUtils.replicaIndex.
func replicaIndex(firstReplicaIndex, secondReplicaShift, replicaIndex, nBrokers int) int {
	shift := 1 + (secondReplicaShift+replicaIndex)%(nBrokers-1)
	return (firstReplicaIndex + shift) % nBrokers
}

func startAndShift(fixedStartIndex int32, n int) (int, int) {
	if fixedStartIndex >= 0 {
		return int(fixedStartIndex), int(fixedStartIndex)
	}
	return rand.IntN(n), rand.IntN(n)
}

func assignRackUnaware(brokers []int32, nPartitions int32, rf int16, fixedStartIndex, startPartitionID int32) map[int32][]int32 {
	n := len(brokers)
	ret := make(map[int32][]int32, nPartitions)
	startIndex, nextReplicaShift := startAndShift(fixedStartIndex, n)
	p := int(max(0, startPartitionID))
	for i := int32(0); i < nPartitions; i++ {
		if p > 0 && p%n == 0 {
			nextReplicaShift++
		}
		first := (p + startIndex) % n
		replicas := []int32{brokers[first]}
		for j := 0; j < int(rf)-1; j++ {
			replicas = append(replicas, brokers[replicaIndex(first, nextReplicaShift, j, n)])
		}
		ret[int32(p)] = replicas
		p++
	}
	return ret
}

// rackAlternatedBrokerList is AdminUtils.getRackAlternatedBrokerList: one
// broker from each rack in turn, racks sorted by name and brokers by id.
func rackAlternatedBrokerList(brokers []BrokerMetadata) []int32 {
	byRack := map[string][]int32{}
	for _, b := range brokers {
		byRack[b.Rack] = append(byRack[b.Rack], b.ID)
	}
	racks := make([]string, 0, len(byRack))
	for r, ids := range byRack {
		racks = append(racks, r)
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	}
	sort.Strings(racks)
	var out []int32
	for len(out) < len(brokers) {
		for _, r := range racks {
			if len(byRack[r]) > 0 {
				out = append(out, byRack[r][0])
				byRack[r] = byRack[r][1:]
			}
		}
	}
	return out
}

func assignRackAware(brokers []BrokerMetadata, nPartitions int32, rf int16, fixedStartIndex, startPartitionID int32) map[int32][]int32 {
	rackOf := map[int32]string{}
	racks := map[string]bool{}
	for _, b := range brokers {
		rackOf[b.ID] = b.Rack
		racks[b.Rack] = true
	}
	numRacks := len(racks)
	list := rackAlternatedBrokerList(brokers)
	n := len(list)
	ret := make(map[int32][]int32, nPartitions)
	startIndex, nextReplicaShift := startAndShift(fixedStartIndex, n)
	p := int(max(0, startPartitionID))
	for i := int32(0); i < nPartitions; i++ {
		if p > 0 && p%n == 0 {
			nextReplicaShift++
		}
		first := (p + startIndex) % n
		leader := list[first]
		replicas := []int32{leader}
		racksWith := map[string]bool{rackOf[leader]: true}
		brokersWith := map[int32]bool{leader: true}
		k := 0
		for j := 0; j < int(rf)-1; j++ {
			for done := false; !done; k++ {
				b := list[replicaIndex(first, nextReplicaShift*numRacks, k, n)]
				r := rackOf[b]
				if (!racksWith[r] || len(racksWith) == numRacks) && (!brokersWith[b] || len(brokersWith) == n) {
					replicas = append(replicas, b)
					racksWith[r] = true
					brokersWith[b] = true
					done = true
				}
			}
		}
		ret[int32(p)] = replicas
		p++
	}
	return ret
}
