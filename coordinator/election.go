package coordinator

// Pure leader-election decisions, named after Kafka's
// PartitionLeaderElectionAlgorithms (Election.scala) and the replica state
// machine's ISR removal. No I/O; table-tested in election_test.go.

func contains(xs []int32, x int32) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func filter(xs []int32, keep func(int32) bool) []int32 {
	out := []int32{}
	for _, x := range xs {
		if keep(x) {
			out = append(out, x)
		}
	}
	return out
}

// offlinePartitionLeader is offlinePartitionLeaderElection: the first
// replica in assignment order that is live and in the ISR; if there is none
// and unclean election is allowed, the first live replica (uncleanElected).
// ok is false when no replica can lead.
func offlinePartitionLeader(assignment, isr, live []int32, unclean bool) (leader int32, uncleanElected bool, ok bool) {
	for _, r := range assignment {
		if contains(live, r) && contains(isr, r) {
			return r, false, true
		}
	}
	if unclean {
		for _, r := range assignment {
			if contains(live, r) {
				return r, true, true
			}
		}
	}
	return -1, false, false
}

// offlinePartitionISR is the ISR after an offline-partition election: the
// old ISR filtered to live replicas, or just the leader after an unclean
// election.
func offlinePartitionISR(isr, live []int32, leader int32, uncleanElected bool) []int32 {
	if uncleanElected {
		return []int32{leader}
	}
	return filter(isr, func(r int32) bool { return contains(live, r) })
}

// initialLeaderAndISR is the New → Online initialisation of
// PartitionStateMachine.initializeLeaderAndIsrForPartitions: leader is the
// first live replica in assignment order and the ISR all live replicas in
// assignment order. ok is false when no assigned replica is alive.
func initialLeaderAndISR(assignment, live []int32) (leader int32, isr []int32, ok bool) {
	isr = filter(assignment, func(r int32) bool { return contains(live, r) })
	if len(isr) == 0 {
		return -1, nil, false
	}
	return isr[0], isr, true
}

// removeReplicasFromISR is the OfflineReplica transition for one partition
// (ReplicaStateMachine.doRemoveReplicasFromIsr): the leader becomes -1 if it
// is removed, and the removed replicas leave the ISR, except that the ISR
// never becomes empty: when every member would go, the last one stays
// (KIP-966's "last replica standing"). changed is false when none of
// removed is in the ISR.
func removeReplicasFromISR(leader int32, isr, removed []int32) (newLeader int32, newISR []int32, changed bool) {
	newLeader = leader
	if contains(removed, leader) {
		newLeader = -1
	}
	newISR = filter(isr, func(r int32) bool { return !contains(removed, r) })
	if len(newISR) == 0 && len(isr) > 0 {
		newISR = []int32{isr[len(isr)-1]}
	}
	changed = newLeader != leader || len(newISR) != len(isr)
	return newLeader, newISR, changed
}
